"""The Python side of the interoperability tests: a real Dramatiq worker and reader.

    interop.py produce --backend redis|memcached --address HOST:PORT [--namespace N] [--prefix]
        Runs actors in a real dramatiq.Worker with the Results middleware over the real
        backend, and prints what JS must read: [{"message": <asdict>, "expect": ...}].
    interop.py consume --backend ... (JSON on stdin, as printed by the JS side)
        Reads every result JS stored with message.get_result() and prints a report:
        {"checked": n, "mismatches": [...]}; exits 1 if there is any mismatch.

"expect" is {"value_json": <Dramatiq's encoding of the value>} or
{"exc_type": ..., "exc_msg": ...}.
"""

import argparse
import json
import logging
import sys

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder
from dramatiq.results import Results, ResultFailure
from dramatiq.results.backends.memcached import MemcachedBackend
from dramatiq.results.backends.redis import RedisBackend


class Boom(Exception):
    """An exception class of the test's own, so its name travels, not a builtin's."""


# name -> what the actor does. Values cover what JS must read faithfully.
RETURNS = {
    "ret_int": 42,
    "ret_negative": -7,
    "ret_float": 1.5,
    "ret_integral_float": 2.0,
    "ret_nan": float("nan"),
    "ret_inf": float("inf"),
    "ret_neg_inf": float("-inf"),
    "ret_unicode": "h\u00e9llo \u2713 \U0001f600 \"quoted\" \\ \n",
    "ret_nested": {"a": [1, {"b": None, "c": [True, False]}], "d": {"e": "f"}, "": 0},
    "ret_none": None,
    "ret_big": 2**70,
    "ret_neg_big": -(2**64) - 1,
    "ret_edge_int": 2**53 + 1,
    "ret_empty": [],
    "ret_tiny": 5e-324,
}
RAISES = {
    "raise_value_error": (ValueError, "bad value: 42"),
    "raise_custom": (Boom, "it went \u2622 boom"),
    "raise_key_error": (KeyError, "missing"),
    # An undecodable file name, as os.fsdecode's surrogateescape makes it: a lone
    # surrogate (and a pair and an astral character beside it) that JS must read as is.
    "raise_lone_surrogate": (FileNotFoundError, "no such file: 'caf\udce9' \ud83d\ude00 \U0001f680"),
}


def make_backend(args):
    options = {"namespace": args.namespace, "use_namespace_prefix_keys": args.prefix}
    if args.backend == "redis":
        return RedisBackend(url=f"redis://{args.address}", **options)
    return MemcachedBackend(servers=[args.address], **options)


def produce(args):
    encoder = JSONEncoder()
    broker = StubBroker()
    broker.add_middleware(Results(backend=make_backend(args)))
    dramatiq.set_broker(broker)

    actors = {}
    for name, value in RETURNS.items():
        actors[name] = dramatiq.actor(
            (lambda v: lambda *a, **k: v)(value), actor_name=name, store_results=True, max_retries=0
        )
    for name, (cls, text) in RAISES.items():

        def fail(*a, _cls=cls, _text=text, **k):
            raise _cls(_text)

        actors[name] = dramatiq.actor(fail, actor_name=name, store_results=True, max_retries=0)

    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    out = []
    try:
        for name, actor in actors.items():
            message = actor.send_with_options(args=(1, "two"), kwargs={"three": 3.0})
            if name in RETURNS:
                expect = {"value_json": encoder.encode(RETURNS[name]).decode()}
            else:
                cls, text = RAISES[name]
                # KeyError's str() quotes its argument: Dramatiq stores str(exception).
                expect = {"exc_type": cls.__name__, "exc_msg": str(cls(text))}
            out.append({"message": message.asdict(), "expect": expect})
        broker.join("default", fail_fast=False)
        worker.join()
        # Every result is there before JS looks (non-blocking read from Python first).
        for item in out:
            message = dramatiq.Message(**item["message"])
            try:
                message.get_result(block=True, timeout=5000)
            except ResultFailure:
                pass
    finally:
        worker.stop()
    json.dump(out, sys.stdout)


def consume(args):
    encoder = JSONEncoder()
    backend = make_backend(args)
    items = json.load(sys.stdin)
    # The JS side may wait for this line to store while we block (stdout is for the report).
    print("consuming", file=sys.stderr, flush=True)
    mismatches = []
    for item in items:
        message = dramatiq.Message(**item["message"])
        expect = item["expect"]
        try:
            got = message.get_result(backend=backend, block=True, timeout=2000)
        except ResultFailure as e:
            got_exc = {"exc_type": e.orig_exc_type, "exc_msg": e.orig_exc_msg}
            if got_exc != expect:
                mismatches.append({"message_id": message.message_id, "expected": expect, "got": got_exc})
            continue
        except Exception as e:  # noqa: BLE001 - every other outcome is a mismatch to report
            mismatches.append({"message_id": message.message_id, "expected": expect, "got": repr(e)})
            continue
        # Byte equality of Python's own encoding: exact for NaN, -0.0, big ints and key order.
        got_json = encoder.encode(got).decode()
        if "value_json" not in expect or got_json != expect["value_json"]:
            mismatches.append({"message_id": message.message_id, "expected": expect, "got": got_json})
    json.dump({"checked": len(items), "mismatches": mismatches}, sys.stdout)
    return 1 if mismatches else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "consume"])
    parser.add_argument("--backend", choices=["redis", "memcached"], required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--namespace", default="dramatiq-results")
    parser.add_argument("--prefix", action="store_true")
    args = parser.parse_args()
    # Actor failures are logged with tracebacks on stderr; keep stdout for the JSON.
    logging.basicConfig(stream=sys.stderr, level=logging.CRITICAL)
    if args.mode == "produce":
        produce(args)
        return 0
    return consume(args)


if __name__ == "__main__":
    sys.exit(main())
