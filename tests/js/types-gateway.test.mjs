// pkg/src/gateway/app.d.ts and protocol.d.ts are written by hand: this checks them against
// what `dramatiq-results/gateway` (both its entries: the default one, ./app.js, and the
// `workerd` one, ./workerd.js) and `dramatiq-results/gateway/protocol` really export, and
// `createGateway`'s declared options against the names it reads. The declared side is read
// with the TypeScript compiler API; the runtime side is introspected (the modules imported,
// or, for the Worker entry, which does not load in Node, its export list read by the
// compiler from the JavaScript source), never copied from the implementation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import * as gateway from "dramatiq-results/gateway";
import * as protocol from "dramatiq-results/gateway/protocol";
import { RedisBackend, RedisBrokerKeys } from "dramatiq-results";
import { EventPoller } from "../../pkg/src/gateway/events.js";

const dir = new URL("../../pkg/src/gateway/", import.meta.url);
const appTypes = fileURLToPath(new URL("app.d.ts", dir));
const protocolTypes = fileURLToPath(new URL("protocol.d.ts", dir));
const workerdEntry = fileURLToPath(new URL("workerd.js", dir));

/** The checker over both declaration files, which must compile without a problem. */
function program() {
  const p = ts.createProgram([appTypes, protocolTypes], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: [],
    noEmit: true,
  });
  const ours = new Set([appTypes, protocolTypes]);
  const problems = ts.getPreEmitDiagnostics(p)
    .filter((d) => !d.file || ours.has(d.file.fileName))
    .map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
  assert.deepEqual(problems, [], "the gateway's declarations compile");
  return { checker: p.getTypeChecker(), file: (path) => p.getSourceFile(path) };
}

/** A declaration file's value exports: name → symbol. */
function declaredValues(checker, sourceFile) {
  const values = new Map();
  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(sourceFile))) {
    // `export default worker` is an alias of the declared const.
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (symbol.flags & ts.SymbolFlags.Value) values.set(exported.name, symbol);
  }
  return values;
}

/** The JavaScript value a declared type spells out (string and number literals, readonly
 * tuples and objects of them), or undefined when it is not such a literal. */
function literal(checker, type) {
  if (type.isStringLiteral() || type.isNumberLiteral()) return type.value;
  if (checker.isTupleType(type)) {
    const items = checker.getTypeArguments(type).map((t) => literal(checker, t));
    return items.every((v) => v !== undefined) ? items : undefined;
  }
  if (type.flags & ts.TypeFlags.Object && !type.getCallSignatures().length && !checker.isArrayType(type)) {
    const entries = checker.getPropertiesOfType(type).map((p) => [p.name, literal(checker, checker.getTypeOfSymbol(p))]);
    return entries.length && entries.every(([, v]) => v !== undefined) ? Object.fromEntries(entries) : undefined;
  }
  return undefined;
}

/** The export names of the Worker entry, read from its source by the compiler. */
function workerdExports() {
  const p = ts.createProgram([workerdEntry], { allowJs: true, noResolve: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext });
  const checker = p.getTypeChecker();
  return checker.getExportsOfModule(checker.getSymbolAtLocation(p.getSourceFile(workerdEntry))).map((s) => s.name).sort();
}

test("dramatiq-results/gateway: every export of both entries is declared, every declared value exported", () => {
  const { checker, file } = program();
  const declared = declaredValues(checker, file(appTypes));
  const workerOnly = new Set(["default", "GatewayObject"]); // app.d.ts says so: the Worker itself
  const entries = { default: Object.keys(gateway).sort(), workerd: workerdExports() };
  for (const [entry, names] of Object.entries(entries)) {
    assert.deepEqual(names.filter((n) => !declared.has(n)), [], `${entry} entry: exported but not declared in app.d.ts`);
    const expected = [...declared.keys()].filter((n) => entry === "workerd" || !workerOnly.has(n)).sort();
    assert.deepEqual(expected.filter((n) => !names.includes(n)), [], `${entry} entry: declared in app.d.ts but not exported`);
  }
  for (const [name, symbol] of declared) {
    if (!(name in gateway)) continue;
    if (symbol.flags & ts.SymbolFlags.Class) assert.equal(typeof gateway[name], "function", `${name} is declared as a class`);
    if (symbol.flags & ts.SymbolFlags.Function) assert.equal(typeof gateway[name], "function", `${name} is declared as a function`);
    const value = literal(checker, checker.getTypeOfSymbol(symbol));
    if (value !== undefined) assert.deepEqual(gateway[name], value, `${name}'s declared value`);
  }
  assert.ok(new gateway.Unavailable(new Error("x")) instanceof Error);
});

test("dramatiq-results/gateway/protocol: exports and their values match protocol.d.ts", () => {
  const { checker, file } = program();
  const declared = declaredValues(checker, file(protocolTypes));
  assert.deepEqual(Object.keys(protocol).sort(), [...declared.keys()].sort());
  for (const [name, symbol] of declared) {
    const value = literal(checker, checker.getTypeOfSymbol(symbol));
    if (value !== undefined) assert.deepEqual(protocol[name], value, `${name}'s declared value`);
  }
  // RECORD_EVENTS is declared as an array of a union: each member is one of the union.
  const recordEvent = checker.getDeclaredTypeOfSymbol(checker.getExportsOfModule(checker.getSymbolAtLocation(file(protocolTypes))).find((s) => s.name === "RecordEvent"));
  assert.deepEqual([...protocol.RECORD_EVENTS].sort(), recordEvent.types.map((t) => t.value).sort());
  // The gateway's STATES are the protocol's.
  assert.equal(gateway.STATES, protocol.BROKER_STATES);
});

/** An options object that records every name read from it; `values` answer the reads. */
function recorder(values = {}) {
  const read = new Set();
  const note = (key) => typeof key === "string" && read.add(key);
  const proxy = new Proxy(values, {
    get: (target, key) => (note(key), Reflect.get(target, key)),
    has: (target, key) => (note(key), Reflect.has(target, key)),
  });
  return { proxy, read };
}

/** The property names of a declared interface. */
function interfaceNames(checker, sourceFile, name) {
  const symbol = checker.getExportsOfModule(checker.getSymbolAtLocation(sourceFile)).find((s) => s.name === name);
  return new Set(checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol)).map((s) => s.name));
}

/** createGateway's declared options parameter (a TypeScript type), and the options every
 * test gives it to start on a fake Redis. */
function gatewayOptionsParameter(checker, sourceFile) {
  const createGateway = declaredValues(checker, sourceFile).get("createGateway");
  const [signature] = checker.getTypeOfSymbol(createGateway).getCallSignatures();
  return checker.getTypeOfSymbol(signature.getParameters()[0]);
}
const startable = () => {
  const redis = { sendCommand: async () => null };
  return { redis, backend: new RedisBackend(redis), readKey: async () => null, brokerKeys: new RedisBrokerKeys("dramatiq") };
};

test("createGateway: every option it reads is declared, and every declared option is read", () => {
  const { checker, file } = program();
  const sourceFile = file(appTypes);
  const parameter = gatewayOptionsParameter(checker, sourceFile);
  const declared = new Set(checker.getPropertiesOfType(parameter).map((s) => s.name));
  assert.deepEqual(declared, interfaceNames(checker, sourceFile, "GatewayOptions"));

  // Every declared name is present (undefined: absent in effect), since the options check
  // reads only the names an options object has, each once.
  const { proxy, read } = recorder({ ...Object.fromEntries([...declared].map((n) => [n, undefined])), ...startable() });
  const app = gateway.createGateway(proxy);
  app.poller.stop();
  const problems = [];
  for (const name of read) if (!declared.has(name)) problems.push(`"${name}" is read but not declared in GatewayOptions`);
  for (const name of declared) if (!read.has(name)) problems.push(`"${name}" is declared in GatewayOptions but never read`);
  assert.deepEqual(problems, []);
});

// Where createGateway takes null for an option (the tokens and `cors` say "none" so), its
// declaration says `| null`, and where it says so the runtime takes it.
test("createGateway: every option that takes null is declared to, and every option declared to takes it", () => {
  const { checker, file } = program();
  const sourceFile = file(appTypes);
  const parameter = gatewayOptionsParameter(checker, sourceFile);
  const required = startable();
  const problems = [];
  for (const property of checker.getPropertiesOfType(parameter)) {
    const name = property.name;
    const t = checker.getTypeOfSymbol(property);
    const declaresNull = (t.isUnion() ? t.types : [t]).some((u) => u.flags & (ts.TypeFlags.Null | ts.TypeFlags.Any | ts.TypeFlags.Unknown));
    let refused = false;
    try {
      gateway.createGateway({ ...required, [name]: null }).poller.stop();
    } catch {
      refused = true;
    }
    if (declaresNull && refused) problems.push(`"${name}" is declared to take null but refuses it`);
    if (!declaresNull && !refused) problems.push(`"${name}" takes null but is not declared to`);
  }
  assert.deepEqual(problems, []);
});

test("createGateway's `events`: every declared poller option reaches the poller, and it reads no other", () => {
  const { checker, file } = program();
  const sourceFile = file(appTypes);
  const declared = interfaceNames(checker, sourceFile, "GatewayEventsOptions");
  // Declared → read: each declared option, given a value of its own, is the poller's setting.
  const redis = { sendCommand: async () => null };
  const backend = new RedisBackend(redis);
  const events = Object.fromEntries([...declared].map((name, i) => [name, 1000 + i]));
  const app = gateway.createGateway({ redis, backend, readKey: async () => null, brokerKeys: new RedisBrokerKeys("dramatiq"), events });
  app.poller.stop();
  for (const [name, value] of Object.entries(events)) assert.equal(app.poller[name], value, `events.${name} reaches the poller`);
  // Read → declared: what the poller reads is an events option, a GatewayOptions one the app
  // hands on (codecs, reads), or one of the parts the app builds itself (`queueCounts`:
  // from the `amqp` option).
  const built = new Set(["reader", "resultKeys", "queueCounts"]);
  const handedOn = interfaceNames(checker, sourceFile, "GatewayOptions");
  const { proxy, read } = recorder({ reader: {}, backend });
  new EventPoller(proxy);
  const undeclared = [...read].filter((name) => !declared.has(name) && !handedOn.has(name) && !built.has(name));
  assert.deepEqual(undeclared, [], "read by the poller but declared nowhere");
});
