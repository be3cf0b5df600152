// What the poller makes of the bytes it reads: a message body (a Dramatiq message, or
// malformed and said why), a summary of a message too large to keep whole, and a stored
// result as clients see it. Pure functions, no state: the poller (./events.js) keeps the
// records.
import { NOT_A_MESSAGE } from "./codecs.js";

/** What a stored result says, as sent to clients: `{ json }` (the value in Dramatiq's own
 * JSON encoding), `{ exception: { type, message } }`, or `{ error: { type, message } }`
 * for bytes the package could not decode. */
export function describeOutcome({ value, error }, encode, limit = Infinity) {
  if (!error) {
    const json = encode(value);
    // A value too long to keep in every record and event: its length only (`GET /kv/<key>` has it).
    return json.length > limit ? { omitted: json.length } : { json };
  }
  if (error.code === "RESULT_FAILURE") {
    return { exception: { type: String(error.exceptionType ?? ""), message: String(error.exceptionValue ?? "") } };
  }
  return { error: { type: error.name, message: error.message } };
}

/** `body` read as a Dramatiq message: `{ message }`, or `{ malformed }` saying why not. */
export function readMessage(body, decodeMessage) {
  let message;
  try {
    message = decodeMessage(body);
  } catch (error) {
    if (error?.code === NOT_A_MESSAGE) return { malformed: "not a Dramatiq message" };
    return { malformed: /depth|nest|recursion/i.test(String(error?.message)) ? "nested too deeply" : "not JSON" };
  }
  if (!message || typeof message !== "object" || typeof message.message_id !== "string" || typeof message.actor_name !== "string") {
    return { malformed: "not a Dramatiq message" };
  }
  return { message, malformed: null };
}

/** A message too large to keep whole: its scalar fields and options, long strings cut. */
export function summarize(message) {
  const summary = {};
  for (const [name, value] of Object.entries(message)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
      summary[name] = typeof value === "string" && value.length > 200 ? `${value.slice(0, 200)}…` : value;
    }
  }
  if (message.options && typeof message.options === "object") {
    summary.options = {};
    for (const [name, value] of Object.entries(message.options)) {
      if (value === null || typeof value === "number" || typeof value === "boolean" || (typeof value === "string" && value.length <= 200)) summary.options[name] = value;
    }
  }
  return summary;
}
