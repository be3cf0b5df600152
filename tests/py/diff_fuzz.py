"""The Python half of tests/js/diff-fuzz.test.mjs: randomized differential checks of what
the real Dramatiq 2.2.1 puts on the wire and in the stores against what the package does.
Every command reads JSON lines on stdin (Python's parser: NaN, big integers and `1.0` stay
what Python makes of them) and prints one JSON line per input line.

    diff_fuzz.py enqueue     {"message": dict, "delay": ms?} lines: Message(**dict) through
                             the broker BROKER names (broker_app's environment), delay given
                             only when the line has one; prints {"ok": encoded, "view":
                             encoded as a JS reader sees it} or {"error": "Type: msg"}
    diff_fuzz.py compose     {"kind": "pipeline" | "group", "children": [dict | [dict, …]],
                             "callbacks": [dict]?, "delay": ms?} lines: pipeline(…).run()
                             or group(…) with its completion callbacks .run(); prints
                             {"ok": true} or {"error": …}
    diff_fuzz.py reencode    message texts: prints {"ok": Message.decode(t).encode(),
                             "view": ...} or {"error": ...}
    diff_fuzz.py dump URL    prints every key of that Redis database, one JSON object
                             {key: [type, value]} (bytes as latin-1 text; zsets with scores)
    diff_fuzz.py view        value texts: prints {"view": the value as JS reads it}
    diff_fuzz.py read        {"queue_name", "actor_name", "message_id"} lines: the result
                             RESULTS_REDIS_URL holds for it (get_result, not blocking):
                             {"value": view} | {"failure": [type, msg]} | {"missing": true}

"view" is the documented reading of a value by JavaScript (docs/python-users.md, "Values:
what comes back"): an integral float up to 2^53 is the int, and the integer-like keys of
an object come first, in ascending order, as JS orders them. Everything else must match as
it is.
"""

import json
import math
import sys

import dramatiq
from dramatiq.results import ResultFailure, ResultMissing

# JS writes an integral number up to 2^53 (exact, though not "safe") as an int.
MAX_SAFE = 2**53


def dumps(value):
    return json.dumps(value, separators=(",", ":"))


def _index_key(k):
    # ECMAScript's array index: a canonical decimal below 2^32 - 1.
    return isinstance(k, str) and k.isascii() and k.isdigit() and str(int(k)) == k and int(k) < 2**32 - 1


def view(value):
    """`value` as JSON.parse-alike JS reading leaves it (see the module doc)."""
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) <= MAX_SAFE and not (value == 0 and math.copysign(1, value) < 0):
            return int(value)
        return value
    if isinstance(value, (list, tuple)):
        return [view(v) for v in value]
    if isinstance(value, dict):
        items = [(k, view(v)) for k, v in value.items()]
        first = sorted((kv for kv in items if _index_key(kv[0])), key=lambda kv: int(kv[0]))
        return dict(first + [kv for kv in items if not _index_key(kv[0])])
    return value


def lines():
    for line in sys.stdin:
        if line.strip():
            yield json.loads(line)


def out(value):
    print(dumps(value), flush=True)


def encoded(message):
    return {"ok": message.encode().decode(), "view": dumps(view(message.asdict()))}


def enqueue():
    import broker_app

    # Maintenance runs at random (1 call in 1000): off on both sides, so the two runs match.
    if hasattr(broker_app.broker, "maintenance_chance"):
        broker_app.broker.maintenance_chance = 0
    try:
        for case in lines():
            try:
                message = dramatiq.Message(**case["message"])
                kw = {"delay": case["delay"]} if "delay" in case else {}
                out(encoded(broker_app.broker.enqueue(message, **kw)))
            except Exception as e:  # what Python refuses is compared too
                out({"error": f"{type(e).__name__}: {e}"})
    finally:
        broker_app.broker.close()


def compose():
    import broker_app

    broker_app.broker.maintenance_chance = 0
    try:
        for case in lines():
            message = lambda d: dramatiq.Message(**d)  # noqa: E731
            build = lambda c: dramatiq.pipeline([message(d) for d in c], broker=broker_app.broker) if isinstance(c, list) else message(c)  # noqa: E731
            kw = {"delay": case["delay"]} if "delay" in case else {}
            try:
                if case["kind"] == "pipeline":
                    build(case["children"]).run(**kw)
                else:
                    g = dramatiq.group([build(c) for c in case["children"]], broker=broker_app.broker)
                    for cb in case.get("callbacks", []):
                        g.add_completion_callback(message(cb))
                    g.run(**kw)
                out({"ok": True})
            except Exception as e:
                out({"error": f"{type(e).__name__}: {e}"})
    finally:
        broker_app.broker.close()


def reencode():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out(encoded(dramatiq.Message.decode(json.loads(line).encode("utf-8"))))
        except Exception as e:
            out({"error": type(e).__name__})


def dump(url):
    import redis

    r = redis.Redis.from_url(url)
    text = lambda b: b.decode("latin-1")  # noqa: E731
    state = {}
    for key in sorted(r.scan_iter(count=1000)):
        kind = r.type(key).decode()
        if kind == "string":
            value = text(r.get(key))
        elif kind == "hash":
            value = {text(k): text(v) for k, v in sorted(r.hgetall(key).items())}
        elif kind == "list":
            value = [text(v) for v in r.lrange(key, 0, -1)]
        elif kind == "zset":
            value = [[text(m), s] for m, s in r.zrange(key, 0, -1, withscores=True)]
        elif kind == "set":
            value = sorted(text(v) for v in r.smembers(key))
        else:
            value = None
        state[text(key)] = [kind, value, r.pttl(key)]
    out(state)


def view_text():
    for line in sys.stdin:
        if line.strip():
            out({"view": dumps(view(json.loads(line)))})


def read():
    import broker_app

    for case in lines():
        message = dramatiq.Message(args=(), kwargs={}, options={}, **case)
        try:
            out({"value": dumps(view(broker_app.backend.get_result(message)))})
        except ResultFailure as e:
            out({"failure": [e.orig_exc_type, e.orig_exc_msg]})
        except ResultMissing:
            out({"missing": True})


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "dump":
        dump(sys.argv[2])
    else:
        {"enqueue": enqueue, "compose": compose, "reencode": reencode, "read": read, "view": view_text}[command]()
