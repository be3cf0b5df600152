// pkg/src/index.d.ts is written by hand: this checks it against what the package really
// exports. The runtime side is introspected (the exports, each class's prototype chain,
// statics and the own fields of a real instance), never the Rust source, so it holds however
// the classes are built (wasm-bindgen classes, JS subclasses of them, plain JS). The
// declared side is read with the TypeScript compiler API: declared members include those
// inherited (`extends`) and merged (a class and an interface of the same name).
//
// It fails when an exported value, class, method, getter or field is missing from the
// declarations, or declared but absent at run time.
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import * as api from "dramatiq-results";

const declarations = fileURLToPath(new URL("../../pkg/src/index.d.ts", import.meta.url));

// Runtime names that are the wasm-bindgen glue's plumbing (`__wbg_ptr`, `__wrap`, …), not API. The package's own
// modules share their internals through Symbols and #private members (pkg/src/internal/
// symbols.js), so every other string-named member must be declared: no allow-list.
const internal = (name) => name.startsWith("__") || name === "constructor";

// One real instance of every exported class, to see the fields its constructor sets.
const broker = api.setBroker(new api.StubBroker());
const message = new api.Message({ actorName: "add" });
const backend = new api.StubBackend();
const add = new api.Actor((a, b) => a + b, { actorName: "add", broker });
const samples = {
  StubBackend: () => backend,
  KvBackend: () => new api.KvBackend({ get() {}, put() {}, delete() {} }),
  CloudflareKvBackend: () => new api.CloudflareKvBackend({ getWithMetadata() {}, put() {}, delete() {} }),
  IndexedDbBackend: () => new api.IndexedDbBackend(),
  RedisBackend: () => new api.RedisBackend({ sendCommand() {} }),
  MemcachedBackend: () => new api.MemcachedBackend({ get() {}, set() {}, delete() {} }),
  Message: () => message,
  JSONEncoder: () => new api.JSONEncoder(),
  ResultError: () => new api.ResultError("x"),
  ResultMissing: () => new api.ResultMissing("x"),
  ResultTimeout: () => new api.ResultTimeout("x"),
  ResultFailure: () => new api.ResultFailure("x"),
  DecodeError: () => new api.DecodeError("x"),
  Middleware: () => new api.Middleware(),
  Results: () => new api.Results({ backend }),
  Retries: () => new api.Retries(),
  AgeLimit: () => new api.AgeLimit(),
  TimeLimit: () => new api.TimeLimit(),
  Pipelines: () => new api.Pipelines(),
  Callbacks: () => new api.Callbacks(),
  ShutdownNotifications: () => new api.ShutdownNotifications(),
  CurrentMessage: () => new api.CurrentMessage(),
  Shutdown: () => new api.Shutdown(),
  SkipMessage: () => new api.SkipMessage("x"),
  Retry: () => new api.Retry("x"),
  TimeLimitExceeded: () => new api.TimeLimitExceeded("x"),
  ActorNotFound: () => new api.ActorNotFound("x"),
  QueueNotFound: () => new api.QueueNotFound("x"),
  QueueJoinTimeout: () => new api.QueueJoinTimeout("x"),
  Broker: () => new api.Broker(),
  StubBroker: () => broker,
  RedisBroker: () => new api.RedisBroker({ sendCommand() {} }),
  RedisBrokerKeys: () => new api.RedisBrokerKeys("dramatiq"),
  RabbitmqBroker: () => new api.RabbitmqBroker(async () => undefined),
  ConnectionClosed: () => new api.ConnectionClosed("x"),
  Actor: () => add,
  Worker: () => new api.Worker(broker),
  WorkerMessage: () => new api.WorkerMessage(message),
  Pipeline: () => new api.Pipeline([add.message(1, 2)], { broker }),
  Group: () => new api.Group([add.message(1, 2)], { broker }),
  RedisRateLimiterBackend: () => new api.RedisRateLimiterBackend({ sendCommand() {} }),
  MemcachedRateLimiterBackend: () => new api.MemcachedRateLimiterBackend({ get() {}, add() {}, increment() {}, decrement() {} }),
  StubRateLimiterBackend: () => new api.StubRateLimiterBackend(),
  // The base alone (every limiter is a subclass; the base's members are on its prototype).
  RateLimiter: () => Object.create(api.RateLimiter.prototype),
  ConcurrentRateLimiter: () => new api.ConcurrentRateLimiter(new api.StubRateLimiterBackend(), "k"),
  WindowRateLimiter: () => new api.WindowRateLimiter(new api.StubRateLimiterBackend(), "k"),
  BucketRateLimiter: () => new api.BucketRateLimiter(new api.StubRateLimiterBackend(), "k"),
  Barrier: () => new api.Barrier(new api.StubRateLimiterBackend(), "k"),
  RateLimitExceeded: () => new api.RateLimitExceeded("x"),
  GroupCallbacks: () => new api.GroupCallbacks({ rateLimiterBackend: new api.StubRateLimiterBackend() }),
};

/** Public string-named members along `object`'s prototype chain, stopping at a builtin. */
function chainMembers(object) {
  const names = new Set();
  for (let p = object; p && p !== Object.prototype && p !== Function.prototype && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) if (!internal(name)) names.add(name);
  }
  return names;
}

/** What index.d.ts declares: value exports, and each class's instance and static members. */
function declared() {
  const program = ts.createProgram([declarations], { strict: true, target: ts.ScriptTarget.ES2022, lib: ["lib.es2022.d.ts"], types: [] });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  assert.deepEqual(problems, [], "index.d.ts compiles on its own");
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(declarations);
  const values = new Map();
  const visible = (symbol) => !symbol.name.startsWith("__@"); // symbol-keyed members
  const optional = (symbol) => (symbol.flags & ts.SymbolFlags.Optional) !== 0;
  for (const symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(file))) {
    if (!(symbol.flags & ts.SymbolFlags.Value)) continue; // interfaces and type aliases
    const entry = { kind: symbol.flags & ts.SymbolFlags.Class ? "class" : "value" };
    if (entry.kind === "class") {
      const instance = checker.getDeclaredTypeOfSymbol(symbol);
      entry.members = checker.getPropertiesOfType(instance).filter(visible);
      const constructor = checker.getTypeOfSymbolAtLocation(symbol, symbol.valueDeclaration);
      entry.statics = checker.getPropertiesOfType(constructor).filter((s) => visible(s) && s.name !== "prototype");
      entry.required = new Set(entry.members.filter((s) => !optional(s)).map((s) => s.name));
    }
    values.set(symbol.name, entry);
  }
  return values;
}

test("every runtime export is declared, and every declared value exists", () => {
  const values = declared();
  const runtime = Object.keys(api).sort();
  assert.deepEqual(runtime.filter((name) => !values.has(name)), [], "exported but not declared in index.d.ts");
  assert.deepEqual([...values.keys()].filter((name) => !(name in api)).sort(), [], "declared in index.d.ts but not exported");
  for (const [name, entry] of values) {
    if (entry.kind === "class") assert.equal(typeof api[name], "function", `${name} is declared as a class`);
  }
});

// The declarations serve every entry of `.` and `./slim` (one `types` condition), so each entry
// a user can get must export the very names Node's does: the browser's and bundlers' default,
// the one with the module inline (bundlers' `module` condition, Deno), /slim, and workerd's
// (which imports the .wasm as a module, so it does not load in Node: its export list is read
// from the source by the compiler).
test("every entry of the package exports the declared names: node, node_inline, default, slim, workerd", async () => {
  const dist = new URL("../../pkg/dist/", import.meta.url);
  const expected = Object.keys(api).sort();
  for (const file of ["node.js", "node_inline.js", "index.js", "slim.js"]) {
    const names = Object.keys(await import(new URL(file, dist).href)).sort();
    assert.deepEqual(names, expected, `dist/${file}`);
  }
  const workerd = fileURLToPath(new URL("workerd.js", dist));
  const program = ts.createProgram([workerd], { allowJs: true, noResolve: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext });
  const checker = program.getTypeChecker();
  const names = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(workerd))).map((s) => s.name).sort();
  assert.deepEqual(names, expected, "dist/workerd.js");
  // And package.json sends each condition to one of those files.
  const pkg = JSON.parse(readFileSync(new URL("../../pkg/package.json", import.meta.url), "utf8"));
  const targets = (entry) => (typeof entry === "string" ? [entry] : Object.values(entry).flatMap(targets));
  const files = new Set([...targets(pkg.exports["."]), ...targets(pkg.exports["./slim"])].filter((t) => t.endsWith(".js")));
  assert.deepEqual([...files].sort(), ["./dist/index.js", "./dist/node.js", "./dist/node_inline.js", "./dist/slim.js", "./dist/workerd.js"]);
});

test("every class's methods, getters, fields and statics match the declarations", () => {
  const values = declared();
  const problems = [];
  for (const [name, entry] of values) {
    if (entry.kind !== "class") continue;
    const Class = api[name];
    const sample = samples[name];
    if (!sample) {
      problems.push(`${name}: no sample instance in this test (add one to \`samples\`)`);
      continue;
    }
    const instance = sample();
    assert.ok(instance instanceof Class, `the ${name} sample is a ${name}`);
    const runtime = chainMembers(Object.getPrototypeOf(instance));
    for (const field of Object.keys(instance)) if (!internal(field)) runtime.add(field);
    const declaredNames = new Set(entry.members.map((s) => s.name));
    for (const member of runtime) {
      if (!declaredNames.has(member)) problems.push(`${name}.prototype.${member} exists but is not declared`);
    }
    for (const member of entry.required) {
      if (!runtime.has(member) && !(member in instance)) problems.push(`${name}#${member} is declared but absent`);
    }
    const statics = new Set(Object.getOwnPropertyNames(Class).filter((s) => !internal(s) && !["length", "name", "prototype"].includes(s)));
    const declaredStatics = new Set(entry.statics.map((s) => s.name));
    for (const member of statics) if (!declaredStatics.has(member)) problems.push(`${name}.${member} (static) exists but is not declared`);
    for (const member of declaredStatics) if (!(member in Class)) problems.push(`${name}.${member} (static) is declared but absent`);
  }
  assert.deepEqual(problems, []);
});

// --- options: the names the runtime reads, against the names declared ----------------------

/** An options object that records every name read from it; `values` answer the reads. */
function recorder(values = {}) {
  const read = new Set();
  const note = (key) => typeof key === "string" && read.add(key);
  const proxy = new Proxy(values, {
    get(target, key) {
      note(key);
      return Reflect.get(target, key);
    },
    has(target, key) {
      note(key);
      return Reflect.has(target, key);
    },
  });
  return { proxy, read };
}

/** The property names of parameter `index` of `Class`'s constructor (member "constructor") or
 * of one of its methods, across every overload. */
function declaredOptions(checker, exports, className, member, index) {
  return new Set(declaredNullable(checker, exports, className, member, index).keys());
}

/** The checker over the declarations, and their exports by name. */
function declaredExports() {
  const program = ts.createProgram([declarations], { strict: true, target: ts.ScriptTarget.ES2022, lib: ["lib.es2022.d.ts"], types: [] });
  const checker = program.getTypeChecker();
  const exports = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(declarations))).map((s) => [s.name, s]));
  return { checker, exports };
}

/** A case's catch-all for what its call rejects with on its own (no result, no queue): an
 * option refused (a TypeError naming the option) still rejects. */
function unlessOption(error) {
  if (error instanceof TypeError && /\boption\b/.test(error.message)) throw error;
}

/** Every options parameter the tests below call: [class, member, parameter index, call with
 * the options, values the call needs]. */
function optionCases() {
  return [...resultOptionCases(), ...workerOptionCases()];
}

/** The result backends' and messages' options. */
function resultOptionCases() {
  const adapter = { get() {}, put() {}, delete() {} };
  const kvNamespace = { getWithMetadata() {}, put() {}, delete() {} };
  return [
    ["StubBackend", "constructor", 0, (o) => new api.StubBackend(o)],
    ["KvBackend", "constructor", 1, (o) => new api.KvBackend(adapter, o)],
    ["CloudflareKvBackend", "constructor", 1, (o) => new api.CloudflareKvBackend(kvNamespace, o)],
    ["IndexedDbBackend", "constructor", 0, (o) => new api.IndexedDbBackend(o)],
    ["RedisBackend", "constructor", 1, (o) => new api.RedisBackend({ sendCommand() {} }, o)],
    ["MemcachedBackend", "constructor", 1, (o) => new api.MemcachedBackend({ get() {}, set() {}, delete() {} }, o)],
    ["Message", "constructor", 0, (o) => new api.Message(o), { actorName: "add" }],
    ["StubBackend", "getResult", 1, (o) => backend.getResult(message, o).catch(unlessOption)],
    ["StubBackend", "getResults", 1, (o) => backend.getResults([message], o).catch(unlessOption), { timeout: 0 }],
    // A group's wait takes the result reads' options, as the backends read them.
    ["Group", "wait", 0, (o) => new api.Group([], { broker }).wait(o), { backend }],
  ];
}

/** Wave 3's options: the brokers, the worker, compositions, rate limits, group callbacks. */
function workerOptionCases() {
  const sender = new api.Actor("sent", { broker: new api.StubBroker() });
  return [
    ["Results", "constructor", 0, (o) => new api.Results(o), { backend }],
    ["Retries", "constructor", 0, (o) => new api.Retries(o)],
    ["AgeLimit", "constructor", 0, (o) => new api.AgeLimit(o)],
    ["TimeLimit", "constructor", 0, (o) => new api.TimeLimit(o)],
    ["ShutdownNotifications", "constructor", 0, (o) => new api.ShutdownNotifications(o)],
    ["StubBroker", "constructor", 0, (o) => new api.StubBroker(o)],
    ["Worker", "constructor", 1, (o) => new api.Worker(broker, o)],
    ["StubBroker", "join", 1, (o) => broker.join("default", { timeout: 0, ...o }).catch(unlessOption)],
    ["Broker", "addMiddleware", 1, (o) => new api.StubBroker({ middleware: [new api.Retries()] }).addMiddleware(new api.Middleware(), o)],
    ["RedisBroker", "constructor", 1, (o) => new api.RedisBroker({ sendCommand() {} }, o)],
    ["RabbitmqBroker", "constructor", 1, (o) => new api.RabbitmqBroker(async () => undefined, o)],
    ["Worker", "stop", 0, (o) => new api.Worker(broker).stop(o)],
    ["Worker", "join", 0, (o) => new api.Worker(broker).join({ timeout: 0, ...o }).catch(unlessOption)],
    // On a broker of their own: the shared one's queue must stay empty for the joins.
    ["StubBroker", "enqueue", 1, (o) => sender.broker.enqueue(sender.message(), o)],
    ["Broker", "send", 1, (o) => sender.broker.send(sender.message(), o)],
    // A Redis that answers 0 to everything: every queue is empty.
    ["RedisBroker", "join", 1, (o) => new api.RedisBroker({ sendCommand: async () => 0 }).join("default", o)],
    ["Pipeline", "constructor", 1, (o) => new api.Pipeline([], o)],
    ["Group", "constructor", 1, (o) => new api.Group([], o)],
    ["Pipeline", "run", 0, (o) => new api.Pipeline([], { broker }).run(o)],
    ["Group", "run", 0, (o) => new api.Group([], { broker }).run(o)],
    ["RedisRateLimiterBackend", "constructor", 1, (o) => new api.RedisRateLimiterBackend({ sendCommand() {} }, o)],
    ["ConcurrentRateLimiter", "constructor", 2, (o) => new api.ConcurrentRateLimiter(new api.StubRateLimiterBackend(), "k", o)],
    ["WindowRateLimiter", "constructor", 2, (o) => new api.WindowRateLimiter(new api.StubRateLimiterBackend(), "k", o)],
    ["BucketRateLimiter", "constructor", 2, (o) => new api.BucketRateLimiter(new api.StubRateLimiterBackend(), "k", o)],
    ["ConcurrentRateLimiter", "acquire", 1, (o) => new api.ConcurrentRateLimiter(new api.StubRateLimiterBackend(), "k").acquire(() => {}, o)],
    ["Barrier", "constructor", 2, (o) => new api.Barrier(new api.StubRateLimiterBackend(), "k", o)],
    ["Barrier", "wait", 0, (o) => new api.Barrier(new api.StubRateLimiterBackend(), "k").wait({ block: false, ...o })],
    ["GroupCallbacks", "constructor", 0, (o) => new api.GroupCallbacks(o), { rateLimiterBackend: new api.StubRateLimiterBackend() }],
  ];
}

test("every option the runtime reads is declared, and every declared option is read", async () => {
  const { checker, exports } = declaredExports();
  const cases = optionCases();
  const problems = [];
  for (const [className, member, index, call, values] of cases) {
    const declaredNames = declaredOptions(checker, exports, className, member, index);
    // Every declared name is present (undefined: absent in effect), since the JS options
    // check reads only the names an options object has, each once.
    const { proxy, read } = recorder({ ...Object.fromEntries([...declaredNames].map((n) => [n, undefined])), ...values });
    await call(proxy);
    const where = `${className}${member === "constructor" ? "" : `#${member}`} options`;
    for (const name of read) if (!declaredNames.has(name)) problems.push(`${where}: "${name}" is read but not declared`);
    for (const name of declaredNames) if (!read.has(name)) problems.push(`${where}: "${name}" is declared but never read`);
  }
  assert.deepEqual(problems, []);
});

// Under `exactOptionalPropertyTypes` an optional property takes `undefined` only when its type
// says so, and users write `{ blockingClient: wait ? second : undefined }` (docs/edge.md does).
// The runtime takes an option given as undefined for an absent one: each call works with every
// declared option undefined, and a read answers as with none.
test("every declared option given as undefined is taken as absent", async () => {
  const { checker, exports } = declaredExports();
  const problems = [];
  for (const [className, member, index, call, values] of optionCases()) {
    const names = declaredOptions(checker, exports, className, member, index);
    const options = { ...Object.fromEntries([...names].map((n) => [n, undefined])), ...values };
    try {
      await call(options);
    } catch (e) {
      problems.push(`${className}${member === "constructor" ? "" : `#${member}`}: ${e.message}`);
    }
  }
  assert.deepEqual(problems, []);
  const m = new api.Message({ actorName: "add", queueName: undefined, messageId: undefined });
  assert.equal(m.queueName, "default");
  await backend.storeResult(m, 7, undefined);
  assert.equal(await backend.getResult(m, { block: undefined, timeout: undefined }), 7);
});

test("every optional property of the declarations also takes undefined (exactOptionalPropertyTypes)", () => {
  const problems = [];
  for (const file of ["index.d.ts", "gateway/app.d.ts", "gateway/protocol.d.ts"]) {
    const path = fileURLToPath(new URL(`../../pkg/src/${file}`, import.meta.url));
    const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
    const takesUndefined = (t) =>
      [ts.SyntaxKind.UndefinedKeyword, ts.SyntaxKind.AnyKeyword, ts.SyntaxKind.UnknownKeyword].includes(t.kind) ||
      (ts.isUnionTypeNode(t) && t.types.some(takesUndefined)) ||
      (ts.isParenthesizedTypeNode(t) && takesUndefined(t.type));
    const visit = (node) => {
      if (ts.isPropertySignature(node) && node.questionToken && node.type && !takesUndefined(node.type)) {
        const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
        problems.push(`${file}:${line + 1} ${node.name.getText(source)}?: ${node.type.getText(source)}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(problems, [], `${problems.length} optional properties reject undefined under exactOptionalPropertyTypes`);
});

// Python's `None` for an option is `null` here. Where the declarations say `| null`, the
// runtime must take it; and for wave 3's options, where the runtime takes null (as absent,
// or as "no limit"), the declarations must say so, or a TypeScript user is refused what
// works (`worker.join({ timeout: null })`, Python's `join(timeout=None)`, was). (The result
// backends take null for any option as absent, declared or not: the first direction only.)
test("every option declared to take null takes it, and every wave-3 option that takes null declares it", async () => {
  const { checker, exports } = declaredExports();
  const problems = [];
  const strict = new Set(workerOptionCases().map(([c, m]) => `${c}#${m}`));
  for (const [className, member, index, call, values = {}] of optionCases()) {
    const where = `${className}${member === "constructor" ? "" : `#${member}`} options`;
    for (const [name, declaresNull] of declaredNullable(checker, exports, className, member, index)) {
      const checked = declaresNull || strict.has(`${className}#${member}`);
      if (!checked) continue;
      let refused = false;
      try {
        await call({ ...values, [name]: null });
      } catch {
        refused = true;
      }
      if (declaresNull && refused) problems.push(`${where}: "${name}" is declared to take null but refuses it`);
      if (!declaresNull && !refused) problems.push(`${where}: "${name}" takes null but is not declared to`);
    }
  }
  assert.deepEqual(problems, []);
});

/** Each declared option of that parameter, and whether its declared type includes null. */
function declaredNullable(checker, exports, className, member, index) {
  const symbol = exports.get(className);
  const type =
    member === "constructor"
      ? checker.getTypeOfSymbolAtLocation(symbol, symbol.valueDeclaration)
      : checker.getTypeOfSymbol(checker.getPropertyOfType(checker.getDeclaredTypeOfSymbol(symbol), member));
  const signatures = member === "constructor" ? type.getConstructSignatures() : type.getCallSignatures();
  const out = new Map();
  for (const signature of signatures) {
    const parameter = signature.getParameters()[index];
    if (!parameter) continue;
    const parameterType = checker.getNonNullableType(checker.getTypeOfSymbol(parameter));
    for (const property of checker.getPropertiesOfType(parameterType)) {
      const t = checker.getTypeOfSymbol(property);
      const nullable = (t.isUnion() ? t.types : [t]).some((u) => u.flags & (ts.TypeFlags.Null | ts.TypeFlags.Any | ts.TypeFlags.Unknown));
      out.set(property.name, (out.get(property.name) ?? false) || nullable);
    }
  }
  return out;
}
