// What the package adds to wasm-bindgen's classes before anyone uses them: a check of every
// receiver and class-typed argument (below), a Message's cached identity, and async
// iteration of result streams. Imported once, for its effects, by api.js.
import * as glue from "../../dist/dramatiq_results.js";
import { ResultStream, Message } from "../../dist/dramatiq_results.js";
import { IDENTITY, joinIdentity } from "../../dist/identity.js";

// Methods called on the wrong `this` (`ResultBackend.prototype.getResult.call({})`), on a
// freed instance, or with a freed instance as an argument would hand wasm a null pointer,
// and Rust answers that by throwing from inside wasm, which leaves wasm's stack pointer
// behind (enough of those and every call fails). So every method and accessor of every
// exported class first checks, in JS, that its receiver and its class-typed arguments hold
// a live pointer of the right class, and throws a TypeError otherwise. Which pointer field a method reads is
// taken from the glue's own source, so this follows wasm-bindgen's output as it changes.
// (Code that writes those fields itself can corrupt the instance, as code that writes the
// module's memory can; SECURITY.md says so.)
const POINTER = /\bthis\.(__wbg_ptr\w*)/;
const CLASS_ARGS = /_assertClass\((\w+), \w+\)/g;

function live(value, field) {
  return value !== null && typeof value === "object" && typeof value[field] === "number" && value[field] !== 0;
}

/** The check `fn` needs before it runs, read from its source; null when it needs none. */
function checkFor(Class, name, fn) {
  const source = Function.prototype.toString.call(fn);
  const field = POINTER.exec(source)?.[1];
  const params = (/^[^(]*\(([^)]*)\)/.exec(source)?.[1] ?? "").split(",").map((p) => p.trim());
  const classArgs = [...source.matchAll(CLASS_ARGS)].map((m) => params.indexOf(m[1])).filter((i) => i >= 0);
  if (field === undefined && classArgs.length === 0) return null;
  const shown = Class.name.replace(/^_+/, ""); // the glue's class behind the public one
  const what = `${shown}.${String(name)}`;
  return function (self, args) {
    if (field !== undefined && !(live(self, field) && self instanceof Class)) {
      throw new TypeError(`${what} called on ${self === null || typeof self !== "object" ? String(self) : `an object that is not a live ${shown} (freed?)`}`);
    }
    for (const i of classArgs) {
      if (!live(args[i], "__wbg_ptr")) throw new TypeError(`${what}: argument ${i + 1} is not a live instance (freed?)`);
    }
  };
}

// The source of each method is read on its first call, not at import: reading all of them
// (some 300) was ~1 ms of every process's start-up (bench/notes.md, start-up).
function guarded(Class, name, fn) {
  let check;
  const wrapper = {
    [name](...args) {
      if (check === undefined) check = checkFor(Class, name, fn);
      if (check !== null) check(this, args);
      return fn.apply(this, args);
    },
  }[name];
  return wrapper;
}

const NO_ARGS = Object.freeze([]);

// A getter takes no argument: its wrapper gathers none (the message getters run a dozen
// times per message, and a rest array per call was garbage on every one of them).
function guardedGetter(Class, name, fn) {
  let check;
  return {
    [name]() {
      if (check === undefined) check = checkFor(Class, name, fn);
      if (check !== null) check(this, NO_ARGS);
      return fn.call(this);
    },
  }[name];
}

for (const Class of Object.values(glue)) {
  if (typeof Class !== "function" || !/^class\b/.test(Function.prototype.toString.call(Class))) continue;
  const proto = Class.prototype;
  for (const name of Reflect.ownKeys(proto)) {
    if (name === "constructor" || name === "__destroy_into_raw") continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (name === "free" || name === Symbol.dispose) {
      // Freeing twice, or freeing what is not an instance, does nothing.
      const free = d.value;
      d.value = function free_() {
        if (live(this, "__wbg_ptr")) return free.call(this);
      };
    } else if (typeof d.value === "function") d.value = guarded(Class, name, d.value);
    else {
      if (d.get) d.get = guardedGetter(Class, name, d.get);
      if (d.set) d.set = guarded(Class, name, d.set);
    }
    Object.defineProperty(proto, name, d);
  }
}

// A Message never changes its identity: compute the joined form once per message, on first
// use, and keep it on the instance (see src/bindings/identity.js).
Object.defineProperty(Message.prototype, IDENTITY, {
  get() {
    const identity = joinIdentity(this.queueName, this.actorName, this.messageId);
    Object.defineProperty(this, IDENTITY, { value: identity });
    return identity;
  },
});

// `for await (const { message, value, error } of backend.iterResults(messages))`.
ResultStream.prototype[Symbol.asyncIterator] = function () {
  return this;
};
