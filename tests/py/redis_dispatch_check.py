"""Checks our Redis broker script (src/brokers/redis/dispatch.lua) against real Dramatiq
2.2.1 on a real redis-server.

    redis_dispatch_check.py [--port PORT]

Without --port it starts `redis-server` on a free loopback port (and stops it). Needs
`dramatiq[redis]==2.2.1` (tests/py/requirements.txt). Prints one JSON report and exits 1
when any check fails. The checks:

  vectors     our enqueue of every vector in tests/fixtures/broker-vectors.json leaves
              exactly the keys, types and values Dramatiq's RedisBroker left;
  differential the same sequence of commands (enqueue, fetch, ack, nack, requeue, purge,
              qsize, maintenance of dead workers and old dead letters, unknown ids,
              missing bodies) run through Dramatiq's dispatch.lua and through ours, in two
              namespaces: same replies, same keys after every step;
  python_worker a real dramatiq.Worker processes messages our script enqueued (one plain,
              one delayed on <q>.DQ with an eta) and leaves the queues empty;
  our_consumer our fetch / ack / nack / undelay read what RedisBroker.enqueue wrote;
  dead_workers what a dead worker held goes back to its queue, ours by Python's
              maintenance and Python's by ours.

The ARGV layout used for our script is the one src/brokers/redis/mod.rs documents and
its unit tests pin down.
"""

import argparse
import json
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "src/brokers/redis/dispatch.lua").read_bytes()
VECTORS = json.loads((ROOT / "tests/fixtures/broker-vectors.json").read_text())
HEARTBEAT_TIMEOUT = 60000
DEAD_MESSAGE_TTL = 86400000 * 7


class Server:
    """A throwaway redis-server on a free loopback port."""

    def __enter__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="dispatch-check-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Ours:
    """Our script, called with the documented ARGV layout (EVALSHA, EVAL on NOSCRIPT)."""

    def __init__(self, client, namespace, worker_id):
        self.script = client.register_script(SCRIPT)
        self.namespace = namespace
        self.worker_id = worker_id

    def __call__(self, command, queue, *args, now=None, maintenance=False):
        now = current_millis() if now is None else now
        argv = [command, now, queue, self.worker_id, HEARTBEAT_TIMEOUT, DEAD_MESSAGE_TTL,
                "1" if maintenance else "0", *args]
        reply = self.script(keys=[self.namespace], args=argv)
        if command != "fetch":
            return reply
        # Our fetch replies [id, body] per message (the id it is stored under, which the
        # worker settles it by); Dramatiq's replies the bodies. Checked, then compared as
        # Dramatiq's: the effects on the keys are the contract, and they are compared too.
        for entry in reply:
            assert entry is None or (isinstance(entry, list) and len(entry) == 2), entry
        return [None if entry is None else entry[1] for entry in reply]


class Theirs:
    """Dramatiq's own dispatch.lua, as RedisBroker calls it."""

    def __init__(self, broker, namespace, worker_id):
        self.broker = broker
        self.namespace = namespace
        self.worker_id = worker_id

    def __call__(self, command, queue, *args, now=None, maintenance=False):
        now = current_millis() if now is None else now
        argv = [command, now, queue, self.worker_id, HEARTBEAT_TIMEOUT, DEAD_MESSAGE_TTL,
                int(maintenance), self.broker._max_unpack_size(), *args]
        return self.broker.scripts["dispatch"](keys=[self.namespace], args=argv)


def dump(client, namespace):
    """Every key under namespace: {key without namespace: [type, value]}."""
    out = {}
    for key in sorted(client.keys(namespace + ":*")):
        name = key.decode()[len(namespace) + 1:]
        kind = client.type(key).decode()
        if kind == "list":
            value = [v.decode() for v in client.lrange(key, 0, -1)]
        elif kind == "hash":
            value = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
        elif kind == "set":
            value = sorted(v.decode() for v in client.smembers(key))
        elif kind == "zset":
            value = [[m.decode(), s] for m, s in client.zrange(key, 0, -1, withscores=True)]
        else:
            value = repr(client.get(key))
        out[name] = [kind, value]
    return out


class Report:
    def __init__(self):
        self.checks = {}
        self.failures = []

    def check(self, section, ok, detail):
        self.checks[section] = self.checks.get(section, 0) + 1
        if not ok:
            self.failures.append({"section": section, "detail": detail})


def check_vectors(client, report):
    ns = VECTORS["namespace"]
    for case in VECTORS["cases"]:
        want = case.get("redis")
        if not want:
            continue
        client.flushdb()
        heartbeat = want.get(ns + ":__heartbeats__", {}).get("value")
        worker, now = (heartbeat[0][0], int(heartbeat[0][1])) if heartbeat else ("w", 1)
        ours = Ours(client, ns, worker)
        if case["case"] == "dead_letter":
            xq = want[ns + ":reports.XQ"]["value"]
            rid, score = xq[0][0], int(xq[0][1])
            body = want[ns + ":reports.XQ.msgs"]["value"][rid]
            ours("enqueue", "reports", rid, body, now=score)
            ours("fetch", "reports", 1, now=score)
            ours("nack", "reports", rid, now=score)
            got = {k: v for k, v in dump(client, ns).items() if k.startswith("reports.XQ")}
            expect = {k[len(ns) + 1:]: [v["type"], v["value"]] for k, v in want.items()}
        else:
            lists = [k for k, v in want.items() if v["type"] == "list"]
            queue = lists[0][len(ns) + 1:]
            for rid, body in want[lists[0] + ".msgs"]["value"].items():
                ours("enqueue", queue, rid, body, now=now)
            got = dump(client, ns)
            expect = {k[len(ns) + 1:]: [v["type"], v["value"]] for k, v in want.items()}
        report.check("vectors", got == expect, {"case": case["case"], "got": got, "want": expect})


def check_differential(client, broker, report):
    t0 = 1_796_000_000_000
    steps = []

    def both(command, queue, *args, worker="w1", now=t0, maintenance=False):
        ours = Ours(client, "ours", worker)(command, queue, *args, now=now, maintenance=maintenance)
        theirs = Theirs(broker, "theirs", worker)(command, queue, *args, now=now, maintenance=maintenance)
        a, b = dump(client, "ours"), dump(client, "theirs")
        steps.append(command)
        report.check("differential", ours == theirs and a == b,
                     {"step": len(steps), "command": command, "args": [queue, *map(str, args)],
                      "replies": [repr(ours), repr(theirs)], "ours": a, "theirs": b})

    for i in range(1, 7):
        both("enqueue", "default", f"a{i}", json.dumps({"n": i}))
    both("enqueue", "default.DQ", "d1", '{"eta":1}')
    both("enqueue", "default.DQ", "d2", '{"eta":2}')
    both("fetch", "default", 3)
    both("ack", "default", "a1")
    both("ack", "default", "nobody")
    both("ack", "default", "a4")            # not held: nothing happens
    both("nack", "default", "a2", now=t0 + 5)
    both("nack", "default", "a5")           # not held: nothing happens
    both("fetch", "default.DQ", 5)
    both("nack", "default.DQ", "d1", now=t0 + 6)   # dead-letters to default.XQ
    both("requeue", "default", "a3", "bogus", "a6")
    both("fetch", "default", 2, worker="w2")
    both("fetch", "default", 0, worker="w3")
    # w1 and w2 fall silent; w3's maintenance on "default" returns w2's ids and drops
    # w2 from the heartbeats; w1 still holds d2 on default.DQ, so it stays.
    late = t0 + HEARTBEAT_TIMEOUT + 1
    both("fetch", "default", 0, worker="w3", now=late, maintenance=True)
    both("fetch", "default.DQ", 0, worker="w3", now=late, maintenance=True)
    # a body gone from the hash: fetch replies nil for it, requeue skips it
    both("enqueue", "default", "gone", "x")
    client.hdel("ours:default.msgs", "gone")
    client.hdel("theirs:default.msgs", "gone")
    both("fetch", "default", 10, worker="w4", now=late)
    both("requeue", "default", "gone", worker="w4", now=late)
    both("qsize", "default", worker="w4", now=late)
    # dead letters older than the TTL go at the next maintenance
    both("fetch", "default", 0, worker="w4", now=t0 + 5 + DEAD_MESSAGE_TTL, maintenance=True)
    both("fetch", "default", 0, worker="w4", now=t0 + 6 + DEAD_MESSAGE_TTL, maintenance=True)
    both("purge", "default", worker="w4", now=late)
    both("purge", "default.DQ", worker="w4", now=late)
    both("qsize", "default", worker="w4", now=late)
    # many dead letters at once (slicing): 2500 nacks, then one expiry
    for i in range(2500):
        for ns in ("ours", "theirs"):
            client.hset(f"{ns}:bulk.msgs", f"b{i}", "x")
            client.sadd(f"{ns}:__acks__.w5.bulk", f"b{i}")
        Ours(client, "ours", "w5")("nack", "bulk", f"b{i}", now=t0)
        Theirs(broker, "theirs", "w5")("nack", "bulk", f"b{i}", now=t0)
    both("fetch", "bulk", 0, worker="w5", now=t0 + DEAD_MESSAGE_TTL + 1, maintenance=True)


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def message(queue, actor, args, options=None):
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=tuple(args), kwargs={},
                            options=options or {})


def check_python_worker(client, broker, report):
    client.flushdb()
    ours = Ours(client, "dramatiq", str(uuid.uuid4()))
    now = current_millis()
    plain = message("default", "add", [1, 2], {"redis_message_id": str(uuid.uuid4())})
    eta = now + 300
    delayed = message("default.DQ", "add", [3, 4],
                      {"redis_message_id": str(uuid.uuid4()), "eta": eta})
    for m in (plain, delayed):
        ours("enqueue", m.queue_name, m.options["redis_message_id"], m.encode())
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=2)
    worker.start()
    try:
        done = wait_for(lambda: client.llen("check:results") >= 2)
    finally:
        worker.stop()
    results = [json.loads(r) for r in client.lrange("check:results", 0, -1)]
    report.check("python_worker", done and sorted(r["sum"] for r in results) == [3, 7],
                 {"results": results})
    late = [r for r in results if r["sum"] == 7]
    report.check("python_worker", bool(late) and late[0]["at"] >= eta, {"eta": eta, "results": results})
    leftover = {k: v for k, v in dump(client, "dramatiq").items() if not k.startswith("__heartbeats__")}
    report.check("python_worker", leftover == {}, {"leftover": leftover})


def check_our_consumer(client, broker, report):
    client.flushdb()
    worker_id = str(uuid.uuid4())
    ours = Ours(client, "dramatiq", worker_id)
    sent = broker.enqueue(message("default", "add", [5, 6]))
    bodies = ours("fetch", "default", 16)
    report.check("our_consumer", bodies == [sent.encode()], {"fetched": repr(bodies)})
    fetched = dramatiq.Message.decode(bodies[0])
    ours("ack", "default", fetched.options["redis_message_id"])
    left = dump(client, "dramatiq")
    report.check("our_consumer", set(left) == {"__heartbeats__"}, {"after_ack": left})

    failed = broker.enqueue(message("default", "add", [7]))
    rid = failed.options["redis_message_id"]
    [body] = ours("fetch", "default", 16)
    t = current_millis()
    ours("nack", "default", rid, now=t)
    left = dump(client, "dramatiq")
    report.check("our_consumer",
                 left.get("default.XQ") == ["zset", [[rid, float(t)]]]
                 and left.get("default.XQ.msgs") == ["hash", {rid: body.decode()}]
                 and "default.msgs" not in left and f"__acks__.{worker_id}.default" not in left,
                 {"after_nack": left})

    # A delayed message from Python: fetched from default.DQ, held until its eta, then
    # re-enqueued on default without eta (fresh id) and acked on default.DQ — the steps
    # Dispatcher::undelay builds — and a Python worker runs it.
    client.flushdb()
    delayed = broker.enqueue(message("default", "add", [10, 20]), delay=200)
    [body] = ours("fetch", "default.DQ", 8000)
    held = dramatiq.Message.decode(body)
    report.check("our_consumer", held.options.get("eta") == delayed.options["eta"], {"held": held.asdict()})
    wait_for(lambda: current_millis() >= held.options["eta"])
    moved = held.copy(queue_name="default", options={"redis_message_id": str(uuid.uuid4())})
    del moved.options["eta"]
    ours("enqueue", "default", moved.options["redis_message_id"], moved.encode())
    ours("ack", "default.DQ", held.options["redis_message_id"])
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        done = wait_for(lambda: client.llen("check:results") >= 1)
    finally:
        worker.stop()
    results = [json.loads(r) for r in client.lrange("check:results", 0, -1)]
    report.check("our_consumer", done and [r["sum"] for r in results] == [30], {"results": results})
    leftover = {k: v for k, v in dump(client, "dramatiq").items() if not k.startswith("__heartbeats__")}
    report.check("our_consumer", leftover == {}, {"leftover": leftover})


def returned(state, ids, dead):
    """The dead worker's two ids are back on the tail (in set order), its ack set and its
    heartbeat are gone."""
    kind, queue = state.get("default", [None, []])
    return (kind == "list" and queue[0] == ids[2] and sorted(queue[1:]) == sorted(ids[:2])
            and f"__acks__.{dead}.default" not in state
            and dead not in [m for m, _ in state.get("__heartbeats__", [None, []])[1]])


def check_dead_workers(client, broker, report):
    old = current_millis() - HEARTBEAT_TIMEOUT - 1000
    # Ours died holding two messages Python enqueued; Python's maintenance returns them.
    client.flushdb()
    ids = [broker.enqueue(message("default", "add", [i, i])).options["redis_message_id"] for i in range(3)]
    Ours(client, "dramatiq", "js-dead")("fetch", "default", 2, now=old)
    Theirs(broker, "dramatiq", "py-alive")("fetch", "default", 0, maintenance=True)
    state = dump(client, "dramatiq")
    report.check("dead_workers", returned(state, ids, "js-dead"), {"python_maintenance": state})
    # Python died holding two messages ours enqueued; our maintenance returns them.
    client.flushdb()
    ours = Ours(client, "dramatiq", "js-alive")
    ids = [f"r{i}" for i in range(3)]
    for i, rid in enumerate(ids):
        ours("enqueue", "default", rid, message("default", "add", [i, i], {"redis_message_id": rid}).encode())
    Theirs(broker, "dramatiq", "py-dead")("fetch", "default", 2, now=old)
    ours("fetch", "default", 0, maintenance=True)
    state = dump(client, "dramatiq")
    report.check("dead_workers", returned(state, ids, "py-dead"), {"our_maintenance": state})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    opts = parser.parse_args()
    # Each Worker adds its middleware to the one broker and warns about it; not our concern.
    logging.getLogger("dramatiq").setLevel(logging.ERROR)
    report = Report()

    def run(port):
        client = redis.Redis(port=port)
        broker = RedisBroker(port=port)
        dramatiq.set_broker(broker)

        @dramatiq.actor(actor_name="add", max_retries=0)
        def add(x, y):
            client.rpush("check:results", json.dumps({"sum": x + y, "at": current_millis()}))

        script_sha = client.script_load(SCRIPT)
        client.script_flush()  # the first EVALSHA must hit NOSCRIPT and fall back to EVAL
        check_vectors(client, report)
        check_differential(client, broker, report)
        check_python_worker(client, broker, report)
        check_our_consumer(client, broker, report)
        check_dead_workers(client, broker, report)
        broker.close()
        return script_sha

    if opts.port:
        sha = run(opts.port)
    else:
        with Server() as server:
            sha = run(server.port)
    print(json.dumps({"script_sha1": sha, "checks": report.checks, "failures": report.failures}, indent=1))
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
