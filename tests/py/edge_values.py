"""Unusual results stored by Python Dramatiq's RedisBackend, for the edge audit
(tests/js/edge-values.test.mjs): what a real service may leave in Redis that our tests
had not used.

    edge_values.py URL store
        Stores every case below with `backend.store_result` / `store_exception` (TTL 60 s)
        and prints one JSON line per case: {"name", "id", "key", "expect"}, where "expect"
        is what Python's own `get_result()` gives back: {"json": <json.dumps of the value,
        Dramatiq's separators, ensure_ascii as Dramatiq's encoder>} or {"error": CLASS,
        "type": orig_exc_type, "msg": orig_exc_msg}.
Messages are on queue "edge", actor "edge_value"; the backend is Dramatiq's RedisBackend with
its default namespace.
"""

import json
import sys

from dramatiq import Message
from dramatiq.results import ResultFailure
from dramatiq.results.backends import RedisBackend


class OddError(Exception):
    """An application exception, its name travelling in the envelope."""


def nested(depth, leaf):
    """`depth` containers, alternately a list and a dict, around `leaf`."""
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def cases():
    yield "floats", [1e308, -1e308, 5e-324, -5e-324, -0.0, 0.1, 1e16, 1e-7, 1.7976931348623157e308, 2.2250738585072014e-308, 1.5e300]
    # docs/python-users.md: an integral float reads as a JS number, written back as an int.
    yield "integral_floats", [0.0, 2.0, -3.0, 1e15]
    yield "big_ints", [2**53, 2**53 + 1, -(2**53) - 1, 2**64, -(2**127), 10**40, 9007199254740991, -9007199254740991]
    yield "mixed_big", {"id": 2**63 - 1, "neg": -(2**63), "f": -0.0, "s": "x", "nested": [[2**100, 1.5], {"z": 10**30}]}
    yield "non_ascii", {"caf\u00e9": "\u65e5\u672c\u8a9e \U0001f680 \u0000 \u001f \u2028\u2029 \ufeff", "\U0001f600": ["\u00ff" * 3]}
    yield "lone_surrogates", ["\ud800", "\udfff", "a\ud83db", "\ude00\ud83d", {"\udc00": "\ud800\ud800"}]
    yield "html", {"<script>alert(1)</script>": "<img src=x onerror=alert(1)>", "&amp;": "\"'`"}
    yield "proto_keys", {"__proto__": {"polluted": True}, "constructor": 1, "prototype": [2]}
    yield "deep_500", nested(500, "leaf")
    yield "deep_512", nested(512, 1)
    yield "deep_513", nested(513, 1)
    yield "deep_900", nested(900, None)
    yield "empty_containers", [[], {}, "", [[]], {"": {}}]
    # Huge: 1-8 MB of bytes in Redis, plain and escaped.
    yield "huge_ascii", "x" * (8 << 20)
    yield "huge_non_ascii", "\u00e9\U0001f600" * (1 << 18)
    yield "huge_floats", [1e308, 5e-324, -0.0, 0.1, 2**60] * 60000
    yield "huge_dict", {f"k{i}\u00e9": [i, -0.0, "\u2603"] for i in range(60000)}
    # A lone surrogate the full decoder reads (here: a top-level object that is not plain
    # JSON), which a JS string holds as Python's str does.
    yield "lone_surrogate_full", {"s": "\ud800", "f": -0.0}
    yield "huge_surrogates", "\ud800x" * (1 << 18)
    # Exceptions whose messages a JS reader must carry exactly.
    yield "exc_empty", OddError()
    yield "exc_non_ascii", OddError("caf\u00e9 \U0001f680 \u0000 end")
    yield "exc_lone_surrogate", OddError("x \ud800 y")
    yield "exc_html", OddError("<script>alert('x')</script><img src=x onerror=alert(1)>")
    yield "exc_multi_args", OddError("a", 2, [3])
    yield "exc_huge", OddError("m" * (2 << 20))
    yield "exc_key", KeyError("missing")
    yield "exc_unicode_error", UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


def main():
    url, command = sys.argv[1], sys.argv[2]
    assert command == "store"
    backend = RedisBackend(url=url)
    for name, value in cases():
        message = Message(queue_name="edge", actor_name="edge_value", args=(), kwargs={}, options={}, message_id=f"edge-{name}")
        if isinstance(value, BaseException):
            backend.store_exception(message, value, 60_000)
        else:
            backend.store_result(message, value, 60_000)
        try:
            expect = {"json": json.dumps(backend.get_result(message), separators=(",", ":"))}
        except ResultFailure as e:
            expect = {"error": type(e).__name__, "type": e.orig_exc_type, "msg": e.orig_exc_msg}
        except Exception as e:  # noqa: BLE001 - what Python raises is the expectation
            expect = {"error": type(e).__name__, "msg": str(e)[:200]}
        print(json.dumps({"name": name, "id": message.message_id, "key": backend.build_message_key(message), "expect": expect}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
