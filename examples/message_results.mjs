// The message result interface: from an explicit backend, from the global broker's, and
// for a message rebuilt from Dramatiq's wire form.
import { StubBroker, Results, Worker, Message, actor, setBroker } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const backend = makeBackend();
const broker = new StubBroker();
broker.addMiddleware(new Results({ backend }));
setBroker(broker);
const greet = actor((name) => `hello, ${name}`, { actorName: "greet", storeResults: true });
const worker = new Worker(broker).start();

const message = greet.send("ada");
console.log(await message.getResult({ backend, block: true }));
console.log(await message.getResult({ block: true }));

// What a Python producer would hand over: the message dict.
const wire = JSON.parse(JSON.stringify(message.asDict()));
const again = Message.fromDict(wire);
console.log(again.toString(), "->", await again.getResult());
await worker.stop();

// Output:
// hello, ada
// hello, ada
// greet('ada') -> hello, ada
