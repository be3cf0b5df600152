// What the package's own modules say to each other and users never call: the protocol
// between a broker, its worker and its consumer. Symbols (pino's way) rather than
// underscore names, so none of it is reachable by accident, collides with a user's
// subclass, or shows up as API (tests/js/types-exports.test.mjs needs no allow-list).

// A worker and an in-memory broker (`StubBroker`).
/** `broker[kTake](queues)`: the next ready message, `{ message, queue, due }`, or `{ next }`. */
export const kTake = Symbol("dramatiq.take");
/** `broker[kUndelay](message)`: a due delayed message goes to its work queue. */
export const kUndelay = Symbol("dramatiq.undelay");
/** `broker[kListen](listener)`: calls `listener` on every change; returns the unsubscribe. */
export const kListen = Symbol("dramatiq.listen");
/** `broker[kChanged]()`: tells the listeners something changed. */
export const kChanged = Symbol("dramatiq.changed");

// A worker and any broker.
/** `broker[kFinish](queueName, deadLetter, proxy)`: acks, or nacks with `deadLetter`. */
export const kFinish = Symbol("dramatiq.finish");
/** `broker[kConsume](worker, { queues, concurrency })`: a network broker's consumer. */
export const kConsume = Symbol("dramatiq.consume");
/** `worker[kProcess](queueName, proxy)`: runs one message with its hooks, then settles it. */
export const kProcess = Symbol("dramatiq.process");

// A network broker's sends (`NetworkBroker` and its subclasses).
/** `broker[kPrepare](message, delay)`: what will be written, built at once. */
export const kPrepare = Symbol("dramatiq.prepare");
/** `broker[kPreparedMessage](prepared)`: the `Message` a prepared write carries. */
export const kPreparedMessage = Symbol("dramatiq.preparedMessage");
/** `broker[kWrite](prepared, delay)`: the write; resolves with the message as sent. */
export const kWrite = Symbol("dramatiq.write");
/** `broker[kWritesSettled]()`: resolves once every write under way (and any started
 * meanwhile) has settled, for a network broker's `close()`. */
export const kWritesSettled = Symbol("dramatiq.writesSettled");
/** `broker[kAfterEnqueue](message, delay)`: the `afterEnqueue` hooks, logged not raised. */
export const kAfterEnqueue = Symbol("dramatiq.afterEnqueue");
/** `broker[kSent](message, enqueued)`: the message, with `enqueued` and a `getResult` awaiting it. */
export const kSent = Symbol("dramatiq.sent");

// A consumer and the broker-specific half that extends it (`worker/consumer.js`).
/** `consumer[kHandle](item)`: runs one ready item. */
export const kHandle = Symbol("dramatiq.handle");
/** `consumer[kReleased](item)`: a runner is done with `item`. */
export const kReleased = Symbol("dramatiq.released");

// What a message proxy carries for the broker it came from.
/** `proxy[kHeld]`: the broker's handle on a fetched or delivered message (to ack it). */
export const kHeld = Symbol("dramatiq.held");

// An actor's checked declaration (a wasm `ActorSpec`), read by the middleware.
/** `actor[kSpec]`: the actor's `ActorSpec`. */
export const kSpec = Symbol("dramatiq.spec");

// A `RedisBroker` and its consumer (brokers/redis/).
/** `broker[kTransport]`: the protocol over the client (the core's `RedisTransport`). */
export const kTransport = Symbol("dramatiq.redisTransport");
/** `broker[kConsumers]`: this process's consumers, woken when this broker enqueues. */
export const kConsumers = Symbol("dramatiq.redisConsumers");
/** `broker[kNotify](queueName)`: wakes this process's consumers of that queue. */
export const kNotify = Symbol("dramatiq.redisNotify");

// A `RabbitmqBroker` and its consumer (brokers/rabbitmq/).
/** `broker[kNewChannel]({ confirm })`: a new channel on the current connection. */
export const kNewChannel = Symbol("dramatiq.amqpNewChannel");
/** `broker[kEnsureQueue](channel, queue)`: declares the queue's three queues on that channel, once. */
export const kEnsureQueue = Symbol("dramatiq.amqpEnsureQueue");

// A message being processed and the middleware that watch its attempt.
/** `proxy[kAbort](reason)`: aborts the attempt's `signal` with `reason` (a time limit, a shutdown). */
export const kAbort = Symbol("dramatiq.abort");
/** `proxy[kWorker]`: the `Worker` processing it (so a stopping worker notifies only its own). */
export const kWorker = Symbol("dramatiq.worker");
/** `proxy[kExposed]`: `CurrentMessage` is on its broker (between its before and after hooks). */
export const kExposed = Symbol("dramatiq.exposed");
/** `proxy[kTimer]`: the `TimeLimit` timer of its attempt. */
export const kTimer = Symbol("dramatiq.timeLimitTimer");
/** `proxy[kOverdue]()`: set by `TimeLimit` for its attempt; aborts the attempt if its
 * limit has passed (a timer cannot fire while synchronous code holds the thread) and
 * answers the abort's reason, else undefined. */
export const kOverdue = Symbol("dramatiq.timeLimitOverdue");

// The `dramatiq-results worker` command (worker/node/) and the brokers. Its files ship as
// sources beside the bundled entry (dist/node.js) and reach the broker from outside the
// bundle, so these two are registered Symbols (`Symbol.for`): the same Symbol on both
// sides of the bundle, still never a string-named member.
/** `broker[kReleaseWorker](deadBrokerId, queues?, { stopped? })`: gives back what a gone
 * worker process held (`stopped`: it stopped cleanly, and keeps its heartbeat). */
export const kReleaseWorker = Symbol.for("dramatiq-results.releaseWorker");
/** `broker[kProbe]()`: one round trip to the server; rejects when it cannot be reached. */
export const kProbe = Symbol.for("dramatiq-results.probe");
/** `worker[kPrefetch] = { queue, delayQueue }`: the prefetch counts the worker command read
 * from Dramatiq's environment variables (0: the default), set before `start()`. */
export const kPrefetch = Symbol.for("dramatiq-results.prefetch");
/** `worker[kExecutorFree]()`: undefined when the `executor` can start a call now, else a
 * Promise of when it may (the `worker` command's pool, while a thread it replaced starts
 * up): the worker takes no message before, so the wait is no part of its time limit. */
export const kExecutorFree = Symbol.for("dramatiq-results.executorFree");
/** `worker[kSupervised] = true`: a `worker` command's process, whose supervisor gives back
 * what it still holds when it exits; a stop's timeout warning says so rather than "after
 * the heartbeat timeout", which holds for an in-process `Worker` only. */
export const kSupervised = Symbol.for("dramatiq-results.supervised");
/** `RabbitmqBroker[kAmqpCore]`: `{ declarations, revive }`, the core's RabbitMQ decisions
 * (`rabbitmqDeclarations`, `rabbitmqRevive`) for the gateway's `--amqp` (gateway/amqp/),
 * which ships as sources outside the bundle and so cannot import the glue itself. */
export const kAmqpCore = Symbol.for("dramatiq-results.amqpCore");
/** `proxy[kOnAbort](listener)`: calls `listener(reason)` when the attempt aborts; returns
 * the unsubscribe. The command's thread pool listens through it rather than through the
 * attempt's `signal`, which would cost an AbortController and an event listener per message. */
export const kOnAbort = Symbol.for("dramatiq-results.onAbort");
/** `proxy[kAborted]`: `{ reason }` once the attempt aborted, else undefined. */
export const kAborted = Symbol.for("dramatiq-results.aborted");
/** `CurrentMessage[kRunExposed](proxy, fn)`: runs `fn()` with `proxy` as the current
 * attempt, exposed to `getCurrentMessage()`: how the command's worker threads give their
 * actors the message they run for. */
export const kRunExposed = Symbol.for("dramatiq-results.runExposed");
/** `WorkerMessage[kStoredAs](thrown)`: `[type, message]`, what Results and the callbacks
 * store for an attempt that threw `thrown` (anything: a string, a revoked Proxy, an Error
 * whose getters throw), as the worker's main thread describes it: the command's worker
 * threads ask it, so an actor's failure is stored alike wherever the actor ran. */
export const kStoredAs = Symbol.for("dramatiq-results.storedAs");
/** `Broker[kSendsLanded]()`: resolves once every write the network brokers of this thread
 * (this module instance) have under way now has settled. A worker thread of the command awaits
 * it before it reports an actor's outcome, so what the actor sent has landed before its
 * message is acked (Python's `send()` has written when it returns), and terminating the
 * thread later (a time limit, a stop) cannot drop it. */
export const kSendsLanded = Symbol.for("dramatiq-results.sendsLanded");
/** Marks a broker whose `send`/`enqueue` writes a copy of the message it is given, made
 * before it returns (the network brokers), so a message no one else holds can be freed. */
export const kSendsCopies = Symbol("dramatiq-results.sendsCopies");
