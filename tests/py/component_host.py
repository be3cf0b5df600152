"""A component host that is not JavaScript: wasmtime's Python embedding runs the WebAssembly
component (target/component/dramatiq-results.wasm, from scripts/build-component) over a
`kv-store` kept in a real Redis, in the layout Dramatiq's RedisBackend uses, so a Python
Dramatiq and the component read and write the same results.

As a library:

    host = ComponentHost(RedisKv(redis.Redis.from_url(url)))
    backend = host.backend()                       # namespace="dramatiq-results"
    backend.store_result(message, '{"a": 1}', ttl_ms=600_000)
    backend.get_result(message, block=True, timeout_ms=2_000)   # '{"a":1}', Python's bytes
    # errors: ComponentError with .tag ("missing", "timeout", "failure", ..., or "trap" when
    # the instance trapped and a fresh one replaced it) and .fields

`message` is anything with `queue_name`, `actor_name` and `message_id` (a dramatiq.Message,
or the dict `Message.asdict()` gives).

As a program (tests/js/component-python.test.mjs drives it; each prints one JSON document):

    component_host.py read --redis URL < items     read each item's message through the
        component (items as `interop.py produce` prints them); prints per message id
        {"value_json": ...} | {"failure": {...}} | {"error": {"tag", ...}}
    component_host.py store --redis URL < items    store each item's {"store": {"json": text}}
        or {"store": {"exception": {"type", "message"}}} through the component
    component_host.py late --redis URL --delay-ms N --timeout-ms N
        a blocking read through the component while a real Dramatiq worker (in a thread of
        this process) stores the result N ms later; prints what came back, when, and every
        call the component made to the store
    component_host.py timeout --redis URL --timeout-ms N
        a blocking read of a result nobody stores; prints the error, when it came, and the
        store calls
    component_host.py outage --redis URL     every operation against a Redis nobody listens
        on; prints each one's error
    component_host.py python-values --redis URL   values and exceptions of every kind, stored by
        Python's RedisBackend and read through the component, and stored by the component and
        compared with Python's bytes; prints per case true or what differed
    component_host.py hostile --redis URL    a kv-store that raises, returns wrong shapes, wakes
        spuriously, or is handed a value too big to lift; prints each failing call and the next
    component_host.py gone --redis URL --timeout-ms N   a blocking read while the caller stops
        that Redis, then a plain read

The component's imports are `dramatiq:results/kv-store` (below) and WASI preview 2, which
wasmtime provides (`Linker.add_wasip2`: clocks, random, stdio). A component call is
synchronous: a blocking read blocks this thread, inside the store's `wait` (Redis `BLMOVE`)
or WASI's sleep; ctypes releases the GIL meanwhile, so other threads run.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time

import redis
import wasmtime
from wasmtime import component as wc
from wasmtime.component._types import ResultType

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
COMPONENT = os.path.join(ROOT, "target", "component", "dramatiq-results.wasm")
KV_STORE = "dramatiq:results/kv-store@0.1.0"
RESULTS = "dramatiq:results/results@0.1.0"

# wasmtime-py 51 writes a WIT `result` as a bare Python value when the classes of its two
# cases do not overlap, and picks the case by isinstance. An `option` counts as `object`
# (for its `none`), so `result<option<list<u8>>, kv-error>` (the store's `get` and `wait`)
# would always be lowered as `ok`, and a host could never report a store error: returning
# one fails with "ValueError: value not valid for this variant", which traps the instance.
# Every `result` is tagged here instead: Variant("ok", value) / Variant("err", error), both
# ways, which is unambiguous.
ResultType._tagged = lambda self: True


def ok(value=None):
    """A WIT `result`'s ok case (see the note on ResultType above)."""
    return wc.Variant("ok", value)


def kv_error(kind, text):
    """A WIT `result`'s err case carrying a `kv-error` of `kind`."""
    return wc.Variant("err", wc.Variant(kind, text))


def record(**fields):
    """A WIT record: wasmtime-py names its fields in kebab-case, as the WIT does."""
    r = wc.Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


def fields_of(value):
    """A lifted WIT value as plain Python (records as dicts with snake_case names)."""
    if isinstance(value, wc.Record):
        return {k.replace("-", "_"): fields_of(v) for k, v in vars(value).items()}
    if isinstance(value, wc.Variant):
        return {"tag": value.tag, "val": fields_of(value.payload)}
    return value


class RedisKv:
    """The component's `kv-store` over redis-py, in Dramatiq's RedisBackend layout: a value is
    a one-element list (`DEL`, `LPUSH`, `PEXPIRE` in one transaction), read by `LINDEX k 0`,
    waited on by `BLMOVE k k` (what Dramatiq's `BRPOPLPUSH` does, with a fractional timeout).

    Every Redis failure becomes a `kv-error` value: a host function that raises traps the
    component instance, and a trapped instance refuses every later call. `calls` records
    each call as (op, key, ms since the host started, timeout-ms for `wait`).
    """

    def __init__(self, client):
        self.client = client
        self.calls = []
        self.origin = time.monotonic()
        self.resolution_ms = None

    def _note(self, op, key, extra=None):
        self.calls.append((op, key, (time.monotonic() - self.origin) * 1000, extra))

    @staticmethod
    def _failed(err):
        if isinstance(err, (redis.ConnectionError, redis.TimeoutError)):
            return kv_error("unavailable", str(err))
        if isinstance(err, redis.ResponseError):
            return kv_error("rejected", str(err))
        return kv_error("other", f"{type(err).__name__}: {err}")

    def get(self, _store, key):
        self._note("get", key)
        try:
            return ok(self.client.lindex(key, 0))
        except Exception as err:  # noqa: BLE001 - reported to the guest, never raised into it
            return self._failed(err)

    def put(self, _store, key, value, ttl_ms):
        self._note("put", key, ttl_ms)
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.lpush(key, bytes(value))
                pipe.pexpire(key, ttl_ms)
                pipe.execute()
            return ok()
        except Exception as err:  # noqa: BLE001
            return self._failed(err)

    def delete(self, _store, key):
        self._note("delete", key)
        try:
            self.client.delete(key)
            return ok()
        except Exception as err:  # noqa: BLE001
            return self._failed(err)

    def wait(self, _store, key, timeout_ms):
        self._note("wait", key, timeout_ms)
        due = time.monotonic() + timeout_ms / 1000
        try:
            # Redis ends a blocked command at its timers' resolution (1000 / hz ms, 100 ms by
            # default), so BLMOVE may block that much past its timeout (measured: 46 ms over
            # 356). The WIT says a wait never blocks past `timeout-ms`: BLMOVE is asked for
            # that much less, and the rest is slept. BLMOVE's seconds are fractional.
            block_s = (timeout_ms - self._resolution_ms()) / 1000
            if block_s > 0:
                got = self.client.blmove(key, key, block_s, "RIGHT", "LEFT")
                if got is not None:
                    return ok(got)
        except Exception as err:  # noqa: BLE001
            return self._failed(err)
        left = due - time.monotonic()
        if left > 0:
            time.sleep(left)
        # The guest confirms with its own `get`: `none` here only means "not woken".
        return ok(None)

    def _resolution_ms(self):
        if self.resolution_ms is None:
            try:
                self.resolution_ms = 1000 / int(self.client.config_get("hz")["hz"])
            except Exception:  # noqa: BLE001 - CONFIG may be refused: assume the default hz
                self.resolution_ms = 100.0
        return self.resolution_ms


class ComponentError(Exception):
    """A `result-error` the component returned: `tag` is its case ("missing", "timeout",
    "failure", "store", "decode", ...), `fields` its record as a dict."""

    def __init__(self, tag, fields):
        super().__init__(f"{tag}: {fields.get('message')}")
        self.tag = tag
        self.fields = fields


class ComponentTrap(Exception):
    """The component instance trapped (a host function raised, returned what wasmtime could
    not lower, or a value was too big to copy); the host has replaced it with a fresh one."""


KV_ERROR_KINDS = ("unavailable", "rejected", "other")


def guarded(name, fn):
    """`fn` as a `kv-store` import that never traps the instance: an exception it raises, or a
    value of the wrong shape it returns, becomes a `kv-error` `other` naming it (wasmtime
    traps the instance for either, and a trapped instance refuses every later call). A bare
    value (`None`, bytes) is taken as the `ok` case."""
    takes_bytes = name in ("get", "wait")

    def ok_payload(value):
        return value is None or (takes_bytes and isinstance(value, (bytes, bytearray)))

    def call(store, *args):
        try:
            out = fn(store, *args)
        except Exception as err:  # noqa: BLE001 - reported to the guest, never raised into it
            return kv_error("other", f"the host's {name} raised {type(err).__name__}: {err}")
        if isinstance(out, wc.Variant):
            if out.tag == "ok" and ok_payload(out.payload):
                return ok(None if out.payload is None else bytes(out.payload))
            if (
                out.tag == "err"
                and isinstance(out.payload, wc.Variant)
                and out.payload.tag in KV_ERROR_KINDS
                and isinstance(out.payload.payload, str)
            ):
                return out
        elif ok_payload(out):
            return ok(None if out is None else bytes(out))
        return kv_error("other", f"the host's {name} returned {repr(out)[:100]}, not a kv-store result")

    return call


class ComponentHost:
    """One instance of the component over `kv` (an object with `get`, `put`, `delete` and
    `wait` as `RedisKv` has them). Should the instance trap all the same (wasmtime-py cannot
    lift a `list<u8>` much over 2.6 MiB from the guest: its host-call fuel runs out), the call
    raises `ComponentTrap` and a fresh instance takes over, so the next call answers."""

    def __init__(self, kv, path=COMPONENT):
        self.engine = wasmtime.Engine()
        self.component = wc.Component.from_file(self.engine, path)
        self.kv = kv
        self.generation = 0
        self._instantiate()

    def _instantiate(self):
        self.store = wasmtime.Store(self.engine)
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        linker = wc.Linker(self.engine)
        linker.add_wasip2()
        with linker.root() as root:
            with root.add_instance(KV_STORE) as imports:
                for name in ("get", "put", "delete", "wait"):
                    imports.add_func(name, guarded(name, getattr(self.kv, name)))
        self.instance = linker.instantiate(self.store, self.component)
        self._results = self.instance.get_export_index(self.store, RESULTS)
        self._funcs = {}
        self.generation += 1

    def func(self, name):
        """The exported function `name` of the `results` interface."""
        if name not in self._funcs:
            index = self.instance.get_export_index(self.store, name, self._results)
            if index is None:
                raise LookupError(f"the component exports no {name}")
            self._funcs[name] = self.instance.get_func(self.store, index)
        return self._funcs[name]

    def call(self, name, *args):
        try:
            return self.func(name)(self.store, *args)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as err:
            self._instantiate()
            cause = str(err).strip().splitlines()[-1].strip()
            raise ComponentTrap(f"the component instance trapped in {name} ({cause}); a fresh instance replaced it") from err

    def backend(self, namespace="dramatiq-results", use_namespace_prefix_keys=False):
        return Backend(self, record(namespace=namespace, use_namespace_prefix_keys=use_namespace_prefix_keys))


def _message(message):
    get = message.get if isinstance(message, dict) else lambda name: getattr(message, name)
    return record(queue_name=get("queue_name"), actor_name=get("actor_name"), message_id=get("message_id"))


class Backend:
    """The component's `backend` resource, with Dramatiq's method names. Made again in the
    host's fresh instance after a trap."""

    def __init__(self, host, options):
        self.host = host
        self.options = options
        self._handle = None
        self._generation = None

    @property
    def handle(self):
        if self._generation != self.host.generation:
            self._handle = self.host.call("[constructor]backend", self.options)
            self._generation = self.host.generation
        return self._handle

    def _method(self, name, message, *args):
        msg = _message(message)
        try:
            out = self.host.call(f"[method]backend.{name}", self.handle, msg, *args)
        except ComponentTrap as trap:
            raise ComponentError("trap", {"message_key": self.build_message_key(message), "message": str(trap)}) from trap
        if out.tag == "err":
            raise ComponentError(out.payload.tag, fields_of(out.payload.payload))
        return out.payload

    def build_message_key(self, message):
        return self.host.call("[method]backend.build-message-key", self.handle, _message(message))

    def store_result(self, message, result_json, ttl_ms):
        self._method("store-result", message, result_json, ttl_ms)

    def store_exception(self, message, exception_type, exception_message, ttl_ms, traceback=None):
        exception = record(exception_type=exception_type, exception_message=exception_message, traceback=traceback)
        self._method("store-exception", message, exception, ttl_ms)

    def get_result(self, message, block=False, timeout_ms=None):
        """The stored value as Python-exact JSON text."""
        return self._method("get-result", message, record(block=block, timeout_ms=timeout_ms))

    def delete_result(self, message):
        self._method("delete-result", message)


# --- the program the Node test drives -------------------------------------------------------


def outcome(backend, message, **options):
    """What reading `message` gave, as JSON-ready data."""
    try:
        return {"value_json": backend.get_result(message, **options)}
    except ComponentError as e:
        if e.tag == "failure":
            return {"failure": e.fields}
        return {"error": {"tag": e.tag, **e.fields}}


def cmd_read(backend, _kv, _args):
    items = json.load(sys.stdin)
    return {item["message"]["message_id"]: outcome(backend, item["message"]) for item in items}


def cmd_store(backend, _kv, _args):
    items = json.load(sys.stdin)
    for item in items:
        what = item["store"]
        if "json" in what:
            backend.store_result(item["message"], what["json"], 600_000)
        else:
            exc = what["exception"]
            backend.store_exception(item["message"], exc["type"], exc["message"], 600_000)
    return {"stored": len(items)}


def cmd_late(backend, kv, args):
    """A real Dramatiq worker stores the result `delay_ms` after the component starts
    blocking on it."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker
    from dramatiq.results import Results
    from dramatiq.results.backends.redis import RedisBackend

    broker = StubBroker()
    broker.add_middleware(Results(backend=RedisBackend(url=args.redis)))
    dramatiq.set_broker(broker)
    value = {"late": True, "n": 2**64, "x": float("nan"), "s": "\u00e9\U0001f600"}
    late_actor = dramatiq.actor(lambda: value, actor_name="late_value", store_results=True, max_retries=0)
    message = late_actor.message()
    worker = dramatiq.Worker(broker, worker_timeout=20)
    worker.start()
    enqueued = {}

    def later():
        time.sleep(args.delay_ms / 1000)
        enqueued["at_ms"] = (time.monotonic() - start) * 1000
        broker.enqueue(message)

    start = time.monotonic()
    sender = threading.Thread(target=later)
    sender.start()
    try:
        got = outcome(backend, message.asdict(), block=True, timeout_ms=args.timeout_ms)
        elapsed = (time.monotonic() - start) * 1000
    finally:
        sender.join()
        broker.join(message.queue_name)
        worker.stop()
    return {
        **got,
        "elapsed_ms": elapsed,
        "enqueued_at_ms": enqueued.get("at_ms"),
        "python_encoding": dramatiq.get_encoder().encode(value).decode(),
        "calls": calls_since(kv, start),
    }


def python_values():
    """Values of every kind Python's JSON encoder writes, past what interop.py's actors return."""
    deep = 0
    for _ in range(400):
        deep = [deep]
    return {
        "big": 2**1000,
        "neg_big": -(10**400),
        "max_float": 1.7976931348623157e308,
        "e308": 1e308,
        "denormal": 5e-324,
        "neg_zero": -0.0,
        "floats": [1e-7, 1e16, 123456789012345678.0, 0.1 + 0.2, 1e22, -1.5e-300],
        "specials": [float("inf"), float("-inf"), float("nan")],
        "astral": "\U0001F600\U0010FFFF\u0000\u001f\u007f\u2028",
        "lone_surrogates": ["\ud800x", "\udfff", "\udc00\ud800", "\ud800\U0001F600"],
        "surrogate_key": {"\udbff": 1, "\U0001F600": 2, "b": 3, "a": 4},
        "deep": deep,
        "large_1mb": "x" * (1 << 20),
        "large_8mb": ["\u00e9" * 1000] * 1400,
        "empties": [{}, [], "", None, True, False],
    }


def cmd_python_values(backend, kv, _args):
    """Python's RedisBackend stores each of `python_values()`; the component reads it back.
    Prints per value whether the text matched Python's own encoding, or what came back."""
    import dramatiq
    from dramatiq.results.backends.redis import RedisBackend

    python = RedisBackend(client=kv.client)
    encoder = dramatiq.get_encoder()
    out = {}
    for name, value in python_values().items():
        message = dramatiq.Message(
            queue_name="default", actor_name=f"py_{name}", args=(), kwargs={}, options={},
            message_id=f"{name}-{time.time_ns()}", message_timestamp=0,
        )
        python.store_result(message, value, 600_000)
        want = encoder.encode(value).decode()
        got = outcome(backend, message.asdict())
        out[name] = True if got.get("value_json") == want else {"got": str(got)[:200], "want": want[:200]}

    # Failures: what Python's get_result raises, field for field.
    from dramatiq.results import ResultFailure

    class 例外(Exception):
        pass

    errors = {
        "key_error": KeyError("x"),
        "int_key_error": KeyError(1),
        "no_args": ValueError(),
        "tuple_args": ValueError("a", 2),
        "multiline_non_ascii": 例外("line 1\nline 2 \u00e9\U0001F600"),
        "os_error": OSError(2, "no such file"),
        "unicode_decode": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad byte"),
    }
    for name, error in errors.items():
        message = dramatiq.Message(
            queue_name="default", actor_name=f"py_raise_{name}", args=(), kwargs={}, options={},
            message_id=f"{name}-{time.time_ns()}", message_timestamp=0,
        )
        python.store_exception(message, error, 600_000)
        try:
            python.get_result(message)
            want = None
        except ResultFailure as failure:
            want = {"message": str(failure), "exception_type": failure.orig_exc_type, "exception_message": failure.orig_exc_msg}
        got = outcome(backend, message.asdict()).get("failure") or {}
        got = {k: got.get(k) for k in ("message", "exception_type", "exception_message")}
        out[f"raise_{name}"] = True if got == want else {"got": got, "want": want}

        # The other way: the component stores the same exception; the bytes are Python's.
        mine = dict(message.asdict(), message_id=f"mine-{message.message_id}")
        backend.store_exception(mine, type(error).__name__, str(error), 600_000)
        stored = kv.client.lindex(backend.build_message_key(mine), 0)
        theirs = kv.client.lindex(python.build_message_key(message), 0)
        out[f"store_raise_{name}"] = True if stored == theirs else {"got": str(stored)[:200], "want": str(theirs)[:200]}

    # Values the component stores from Python's JSON text: the bytes Python's backend writes.
    # (Not the 8 MB one: wasmtime-py cannot lift a list<u8> that big for the host's put.)
    for name, value in python_values().items():
        if name == "large_8mb":
            continue
        mine = {"queue_name": "default", "actor_name": f"c_{name}", "message_id": f"{name}-{time.time_ns()}"}
        backend.store_result(mine, json.dumps(value), 600_000)
        stored = kv.client.lindex(backend.build_message_key(mine), 0)
        want = encoder.encode(value)
        out[f"store_{name}"] = True if stored == want else {"got": str(stored)[:200], "want": str(want)[:200]}
    return out


def cmd_hostile(_backend, kv, args):
    """A kv-store that raises, returns what wasmtime cannot lower, or is handed a value too
    big for wasmtime-py to lift: per case, what the failing call gave and what a plain read
    through the same ComponentHost gives next."""
    good = {"queue_name": "default", "actor_name": "hostile", "message_id": f"good-{time.time_ns()}"}
    probe = {"queue_name": "default", "actor_name": "hostile", "message_id": f"probe-{time.time_ns()}"}
    faults = {}

    class Hostile(RedisKv):
        def get(self, store, key):
            fault = faults.get("get")
            return fault() if fault else super().get(store, key)

        def put(self, store, key, value, ttl_ms):
            fault = faults.get("put")
            return fault() if fault else super().put(store, key, value, ttl_ms)

        def wait(self, store, key, timeout_ms):
            fault = faults.get("wait")
            return fault() if fault else super().wait(store, key, timeout_ms)

    def boom():
        raise RuntimeError("boom")

    hostile = Hostile(kv.client)
    backend = ComponentHost(hostile).backend(args.namespace, args.prefix)
    backend.store_result(good, "[1, 2]", 600_000)
    out = {}
    cases = [
        ("raise", {"get": boom}, lambda: backend.get_result(probe)),
        ("wrong type", {"get": lambda: wc.Variant("ok", "not bytes")}, lambda: backend.get_result(probe)),
        ("bare bytes", {"get": lambda: b"1"}, lambda: backend.get_result(probe)),
        ("bare none", {"get": lambda: None}, lambda: backend.get_result(probe)),
        ("unknown kv-error", {"get": lambda: wc.Variant("err", wc.Variant("weird", "x"))}, lambda: backend.get_result(probe)),
        ("put raises", {"put": boom}, lambda: backend.store_result(probe, "1", 1000)),
        ("wait raises", {"wait": boom}, None),
        ("3 MiB value", {}, lambda: backend.store_result(probe, '"' + "a" * (3 << 20) + '"', 1000)),
    ]
    # A `wait` that always wakes with a value its `get` does not see (an eventually
    # consistent store, a buggy host): the read must not spin on the store until its deadline.
    faults.update({"wait": lambda: ok(b"1")})
    hostile.calls.clear()
    try:
        backend.get_result(probe, block=True, timeout_ms=500)
        spurious = {"ok": True}
    except ComponentError as e:
        spurious = {"tag": e.tag}
    faults.clear()
    spurious["gets"] = sum(1 for op, *_ in hostile.calls if op == "get")
    out["spurious wakes"] = spurious
    for name, fault, call in cases:
        if call is None:
            backend.store_result(probe, "1", 600_000)
            call = lambda: backend.get_result(probe, block=True, timeout_ms=2_000)  # noqa: E731
        faults.clear()
        faults.update(fault)
        try:
            value = call()
            first = {"ok": True} if value is None else {"value_json": value}
        except ComponentError as e:
            first = {"tag": e.tag, **e.fields}
        faults.clear()
        out[name] = {"key": backend.build_message_key(probe), "first": first, "next": outcome(backend, good)}
        backend.delete_result(probe)
    return out


def cmd_gone(backend, _kv, args):
    """A blocking read while the test stops Redis under it, then a plain read: both must be
    errors with the key and the cause, not traps."""
    message = {"queue_name": "default", "actor_name": "gone", "message_id": f"gone-{time.time_ns()}"}
    out = {"key": backend.build_message_key(message)}
    start = time.monotonic()
    out["blocking"] = outcome(backend, message, block=True, timeout_ms=args.timeout_ms)
    out["elapsed_ms"] = (time.monotonic() - start) * 1000
    out["next"] = outcome(backend, message)
    return out


def cmd_timeout(backend, kv, args):
    message = {"queue_name": "default", "actor_name": "never", "message_id": f"never-{os.getpid()}-{time.time_ns()}"}
    start = time.monotonic()
    got = outcome(backend, message, block=True, timeout_ms=args.timeout_ms)
    return {**got, "elapsed_ms": (time.monotonic() - start) * 1000, "calls": calls_since(kv, start)}


def cmd_outage(backend, _kv, _args):
    """Every operation against a Redis nobody listens on: each comes back as the component's
    `store` error (a `kv-error` the host returned, never an exception into the guest), and
    the instance keeps answering."""
    message = {"queue_name": "default", "actor_name": "outage", "message_id": "m-1"}
    out = {}
    for name, call in [
        ("get", lambda: backend.get_result(message)),
        ("store", lambda: backend.store_result(message, "1", 1000)),
        ("blocking get", lambda: backend.get_result(message, block=True, timeout_ms=300)),
        ("delete", lambda: backend.delete_result(message)),
        ("get again", lambda: backend.get_result(message)),
    ]:
        try:
            call()
            out[name] = {"ok": True}
        except ComponentError as e:
            out[name] = {"tag": e.tag, **e.fields}
    return out


def calls_since(kv, start):
    """The store calls made after `start`, with times in ms from `start`."""
    offset = (start - kv.origin) * 1000
    return [
        {"op": op, "at_ms": at - offset, **({} if extra is None else {"arg": extra})}
        for op, _key, at, extra in kv.calls
        if at >= offset
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["read", "store", "late", "timeout", "outage", "hostile", "python-values", "gone"])
    parser.add_argument("--redis", required=True, help="redis://host:port")
    parser.add_argument("--namespace", default="dramatiq-results")
    parser.add_argument("--prefix", action="store_true", help="use_namespace_prefix_keys")
    parser.add_argument("--delay-ms", type=int, default=300)
    parser.add_argument("--timeout-ms", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.CRITICAL)
    kv = RedisKv(redis.Redis.from_url(args.redis))
    backend = ComponentHost(kv).backend(args.namespace, args.prefix)
    commands = {"read": cmd_read, "store": cmd_store, "late": cmd_late, "timeout": cmd_timeout, "outage": cmd_outage, "hostile": cmd_hostile, "python-values": cmd_python_values, "gone": cmd_gone}
    json.dump(commands[args.mode](backend, kv, args), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
