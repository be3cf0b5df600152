// Strict TypeScript with neither DOM nor Node types: the declarations stand alone. The emitted
// JS is run (node out/roundtrip.js) for the round trip.
import { StubBackend, Message, Missing, isMissing, actor, StubBroker, setBroker, Results, type ResultValue } from "dramatiq-results";

const backend = new StubBackend();
setBroker(new StubBroker({ middleware: [new Results({ backend })] }));

// An actor's result type flows to getResult.
const add = actor((a: number, b: number) => a + b, { actorName: "add" });
const sum: number = await add.message(1, 2).getResult({ backend }).catch(() => 0);
void sum;

declare const console: { log(text: string): void };

const message = new Message({ actorName: "add", messageId: "consumer-ts" });
await backend.storeResult(message, { sum: 3 });
const value: ResultValue = await backend.getResult(message);

// `Missing` narrows, by identity or with isMissing.
const maybe = await backend.tryGetResult(new Message({ actorName: "add" }));
let missing = false;
if (maybe === Missing) missing = true;
if (!isMissing(maybe)) {
  const stored: ResultValue = maybe;
  void stored;
}

// Type-level only (never called): an anonymous function has no name the Python side can
// match, so actorName is required.
export function misuse(): void {
  // @ts-expect-error actorName is required
  actor((x: number) => x);
}

const ok = typeof value === "object" && value !== null && !Array.isArray(value) && value["sum"] === 3 && missing;
console.log(JSON.stringify({ ok, value }));
