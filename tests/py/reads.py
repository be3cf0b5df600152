"""Python Dramatiq's result reads over Redis, for tests/js/reads.test.mjs.

    reads.py URL group-nonblock < tree
        The tree (JSON) is a list of children: a message {"id", "store"} or a nested list
        (a child group). "store" is {"value": V}, {"exception": [TYPE, MSG]} or null
        (nothing stored). Stores each, then prints what `group.get_results(block=False)`
        gives: {"values": [...]} or {"error": CLASS, "id": message id, "type", "msg"}.
    reads.py URL late MS ID VALUE [MS ID VALUE ...]
        Sleeps MS milliseconds, then stores VALUE (JSON) as the result of message ID; each
        further triple's MS is counted from the start too (one process for many late stores).
    reads.py URL block TIMEOUT_MS ID...
        Blocks in `group.get_results(block=True, timeout=TIMEOUT_MS)` over the messages ID...
        and prints {"values": [...], "ms": elapsed} or {"error": CLASS, "id", "ms"}.
    reads.py URL read ID...
        For each message ID, prints what `get_result()` gives: {"value": V} or {"error":
        CLASS, "type": orig_exc_type, "msg": orig_exc_msg} (None as null).
Messages are on queue "default", actor "act"; the Results backend is a RedisBackend with
Dramatiq's default namespace and keys.
"""

import json
import sys
import time

import dramatiq
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.results import Results, ResultFailure
from dramatiq.results.backends import RedisBackend


def message(mid):
    return Message(queue_name="default", actor_name="act", args=(), kwargs={}, options={}, message_id=mid)


def main():
    url, command = sys.argv[1], sys.argv[2]
    backend = RedisBackend(url=url)
    broker = StubBroker()
    broker.add_middleware(Results(backend=backend))
    dramatiq.set_broker(broker)

    def build(tree):
        children = []
        for child in tree:
            if isinstance(child, list):
                children.append(build(child))
                continue
            m = message(child["id"])
            store = child.get("store")
            if store is not None and "value" in store:
                backend.store_result(m, store["value"], 60_000)
            elif store is not None:
                backend.store_exception(m, type(store["exception"][0], (Exception,), {})(store["exception"][1]), 60_000)
            children.append(m)
        return dramatiq.group(children, broker=broker)

    def report(group, **kwargs):
        start = time.monotonic()
        try:
            out = {"values": list(group.get_results(**kwargs))}
        except Exception as e:
            subject = e.args[0] if e.args else None
            out = {"error": type(e).__name__, "id": getattr(subject, "message_id", None)}
            if isinstance(e, ResultFailure):
                out.update(type=e.orig_exc_type, msg=e.orig_exc_msg)
        out["ms"] = (time.monotonic() - start) * 1000
        print(json.dumps(out))

    if command == "group-nonblock":
        report(build(json.load(sys.stdin)), block=False)
    elif command == "late":
        start = time.monotonic()
        rest = sys.argv[3:]
        for at, mid, value in zip(rest[0::3], rest[1::3], rest[2::3]):
            time.sleep(max(0, start + int(at) / 1000 - time.monotonic()))
            backend.store_result(message(mid), json.loads(value), 60_000)
    elif command == "read":
        for mid in sys.argv[3:]:
            try:
                print(json.dumps({"value": message(mid).get_result(backend=backend)}))
            except ResultFailure as e:
                print(json.dumps({"error": type(e).__name__, "type": e.orig_exc_type, "msg": e.orig_exc_msg}))
    elif command == "block":
        group = dramatiq.group([message(mid) for mid in sys.argv[4:]], broker=broker)
        report(group, block=True, timeout=int(sys.argv[3]))


if __name__ == "__main__":
    main()
