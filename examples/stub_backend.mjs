// A backend on its own (the stub unless DRAMATIQ_RESULTS_BACKEND says otherwise): store,
// read, wait, namespaces and the keys Dramatiq derives.
import { Message } from "dramatiq-results";
import { makeBackend } from "./backend.mjs";

const backend = makeBackend({ namespace: "reports" });
const message = new Message({ actorName: "build_report", messageId: "0f6d1c2e-7b1a-4c55-9d1e-1a2b3c4d5e6f" });

console.log("key:", backend.buildMessageKey(message));
setTimeout(() => backend.storeResult(message, { rows: 3, ok: true }, 60000), 50);
console.log("waited:", await backend.getResult(message, { block: true, timeout: 5000 }));
console.log("bytes:", new TextDecoder().decode(await backend.getResultBytes(message)));
await backend.deleteResult(message);
console.log("after delete:", String(await backend.tryGetResult(message)));

const readable = makeBackend({ namespace: "reports", useNamespacePrefixKeys: true });
console.log("readable key:", readable.buildMessageKey(message));

// Output:
// key: 746493b0234f796a307490d76aff0a1d
// waited: { rows: 3, ok: true }
// bytes: {"rows":3,"ok":true}
// after delete: Missing
// readable key: reports:default:build_report:0f6d1c2e-7b1a-4c55-9d1e-1a2b3c4d5e6f
