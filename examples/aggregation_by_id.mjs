// Aggregation by message id: a service keeps only ids, and rebuilds the messages later to
// read and combine their results (the key depends only on queue, actor and id).
import { StubBroker, Results, Worker, Message, actor, setBroker } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const backend = makeBackend();
const broker = new StubBroker();
broker.addMiddleware(new Results({ backend, storeResults: true }));
setBroker(broker);
const countWords = actor((text) => text.split(/\s+/).length, { actorName: "count_words" });
const worker = new Worker(broker).start();

const ids = ["the quick brown fox", "jumps over", "the lazy dog"].map((t) => countWords.send(t).messageId);
await broker.join("default");

const rebuilt = ids.map((messageId) => new Message({ actorName: "count_words", messageId }));
const counts = await backend.getResults(rebuilt, { timeout: 1000 });
console.log("per message:", counts);
console.log("total words:", counts.reduce((a, b) => a + b, 0));
await worker.stop();

// Output:
// per message: [ 4, 2, 3 ]
// total words: 9
