// Type-checked (never run) by tests/js/types.test.mjs: the results part of pkg/src/index.d.ts
// (backends, Message, JSONEncoder, the result errors, connectRedis) against what the runtime
// accepts and refuses (each case checked by running it).
import {
  StubBackend,
  KvBackend,
  MemcachedBackend,
  Message,
  JSONEncoder,
  ResultError,
  ResultMissing,
  connectRedis,
  type KvAdapter,
  type MemcachedClientLike,
  type MessageLike,
} from "dramatiq-results";

declare const kv: KvAdapter;
declare const memcached: MemcachedClientLike;
declare const message: Message;

export async function results(): Promise<unknown[]> {
  const backend = new StubBackend();
  // Bytes: any binary value (its bytes) or a string (its UTF-8), as the runtime reads them.
  await backend.storeResultBytes(message, new TextEncoder().encode("1"));
  await backend.storeResultBytes(message, new ArrayBuffer(1));
  await backend.storeResultBytes(message, new DataView(new ArrayBuffer(1)));
  await backend.storeResultBytes(message, "1", 1000);
  // @ts-expect-error bytes, not a number
  await backend.storeResultBytes(message, 1);
  const json = new JSONEncoder();
  const fromBuffer = json.decode(new ArrayBuffer(1));
  const decoded: Message = Message.decode(message.encode().buffer);
  const dict: Record<string, unknown> = Message.decodeDict(new DataView(message.encode().buffer));
  // A custom encoder may write an ArrayBuffer; it must write bytes or text.
  new StubBackend({ encoder: { encode: (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).buffer, decode: (b: Uint8Array) => b.length } });
  // @ts-expect-error encode must give bytes or text
  new StubBackend({ encoder: { encode: () => 1, decode: (b: Uint8Array) => b.length } });

  // Batch reads take a readonly list (the runtime copies it).
  const messages: readonly MessageLike[] = [message, { queue_name: "q", actor_name: "a", message_id: "1" }];
  const values = await backend.getResults(messages, { block: false });
  for await (const outcome of backend.iterResults(messages, { timeout: 10 })) {
    if (outcome.error) void outcome.error.code;
    else void outcome.value;
  }

  // A readonly argument list.
  const args: readonly number[] = [1, 2];
  const copy = new Message({ actorName: "add", args }).copy({ args });

  // Only the options each backend reads.
  new KvBackend(kv, { valueType: "bytes", maxValueBytes: Infinity });
  // @ts-expect-error cacheTtl is CloudflareKvBackend's
  new KvBackend(kv, { cacheTtl: 60 });
  new MemcachedBackend(memcached, { namespace: "ns" });
  // @ts-expect-error valueType is KvBackend's
  new MemcachedBackend(memcached, { valueType: "bytes" });

  // A hand-made error carries its class's code unless given one.
  const codes: string[] = [new ResultMissing("x").code, new ResultError("x", { code: "RESULT_TOO_LARGE" }).code];

  // connectRedis's client takes a readonly argv.
  const client = await connectRedis("redis://127.0.0.1:6379");
  const argv: readonly string[] = ["PING"];
  await client.sendCommand(argv);
  // @ts-expect-error an argument is a string, a number or bytes
  await client.sendCommand([{}]);
  return [fromBuffer, decoded, dict, values, copy, codes];
}
