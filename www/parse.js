// Reading the messages to watch from what people have at hand: Dramatiq message dicts (a
// JSON file of them, one dict, or one per line, as logs print them), or plain lines of
// `queue actor message_id` (`actor message_id` means queue "default").

/** A message id: a UUID for Dramatiq, but any plain token is accepted. */
const ID_PATTERN = /^[0-9a-zA-Z_-][0-9a-zA-Z_.:-]*$/;

/** One dict (snake_case or camelCase) as `{ queueName, actorName, messageId, messageTimestamp }`. */
function fromDict(d) {
  if (!d || typeof d !== "object" || Array.isArray(d)) throw new Error("expected a message dict");
  const actorName = d.actor_name ?? d.actorName;
  const messageId = d.message_id ?? d.messageId;
  if (typeof actorName !== "string" || !actorName) throw new Error("actor_name is missing");
  if (typeof messageId !== "string" || !messageId) throw new Error("message_id is missing");
  const queueName = d.queue_name ?? d.queueName ?? "default";
  const stamp = d.message_timestamp ?? d.messageTimestamp;
  return { queueName: String(queueName), actorName, messageId, messageTimestamp: Number.isFinite(stamp) ? stamp : undefined };
}

/**
 * The messages in `text`, and a description of each part that could not be read (with
 * its line number), so a bad line is pointed at rather than silently dropped.
 */
export function parseMessages(text) {
  const messages = [];
  const problems = [];
  const trimmed = text.trim();
  if (!trimmed) return { messages, problems };
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    try {
      const parsed = JSON.parse(trimmed);
      for (const [i, d] of (Array.isArray(parsed) ? parsed : [parsed]).entries()) {
        try {
          messages.push(fromDict(d));
        } catch (e) {
          problems.push(`item ${i + 1}: ${e.message}`);
        }
      }
      return { messages, problems };
    } catch {
      // Not one JSON document: read it line by line (JSON lines, or plain lines).
    }
  }
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    try {
      if (line.startsWith("{")) {
        messages.push(fromDict(JSON.parse(line)));
        continue;
      }
      const fields = line.split(/[\s,]+/).filter(Boolean);
      if (fields.length < 2 || fields.length > 3) throw new Error("expected `queue actor message_id`");
      const [queueName, actorName, messageId] = fields.length === 3 ? fields : ["default", ...fields];
      if (!ID_PATTERN.test(messageId)) throw new Error(`not a message id: ${messageId}`);
      messages.push({ queueName, actorName, messageId });
    } catch (e) {
      problems.push(`line ${i + 1}: ${e.message}`);
    }
  }
  return { messages, problems };
}
