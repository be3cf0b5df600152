// The message a worker hands to middleware hooks (Dramatiq's `MessageProxy`).

/**
 * A message being processed (Dramatiq's `MessageProxy`): the `Message` plus whether it
 * failed and the exception it carries. Middleware hooks receive this.
 */
export class WorkerMessage {
  constructor(message) {
    /** The underlying `Message` (a middleware may replace it with an updated copy). */
    this.message = message;
    /** Whether the message failed (it is then nacked and dead-lettered). */
    this.failed = false;
    /** The exception the actor raised, if any. */
    this.exception = undefined;
  }

  /** Marks the message failed. */
  fail() {
    this.failed = true;
  }

  get queueName() {
    return this.message.queueName;
  }
  get actorName() {
    return this.message.actorName;
  }
  get messageId() {
    return this.message.messageId;
  }
  get messageTimestamp() {
    return this.message.messageTimestamp;
  }
  get args() {
    return this.message.args;
  }
  get kwargs() {
    return this.message.kwargs;
  }
  get options() {
    return this.message.options;
  }
  asDict() {
    return this.message.asDict();
  }
  toString() {
    return this.message.toString();
  }
}
