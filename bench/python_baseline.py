"""Python Dramatiq's side of the benchmarks: the same workloads as bench/run.mjs, measured
with dramatiq 2.2.1 itself, in the same run on the same machine. Prints one JSON object.

    python bench/python_baseline.py throughput   # StubBackend store_result + get_result
    python bench/python_baseline.py wake         # detection delay of a blocked get_result
    python bench/python_baseline.py polling      # reads and delay of 30 s waits (polling)
    python bench/python_baseline.py redis PORT N # N get_result calls against real Redis
"""

import json
import random
import sys
import threading
import time

import dramatiq
from dramatiq.results.backends import StubBackend


def values():
    return {
        "small int": 42,
        "1 KB object": {f"key{i}": f"value-{i}-xxxx" for i in range(40)},
        "100 KB object": {
            "rows": [{"id": i, "name": f"row {i}", "score": i * 1.5} for i in range(2000)]
        },
    }


def message(i):
    return dramatiq.Message(
        queue_name="default", actor_name="bench", args=(), kwargs={}, options={},
        message_id=f"id-{i}",
    )


def throughput(seconds=1.0):
    backend = StubBackend()
    messages = [message(i) for i in range(1000)]
    out = {}
    for name, value in values().items():
        for warm in (True, False):
            ops = 0
            end = time.perf_counter() + (0.2 if warm else seconds)
            start = time.perf_counter()
            while time.perf_counter() < end:
                for _ in range(20):
                    m = messages[ops % len(messages)]
                    backend.store_result(m, value, 600_000)
                    backend.get_result(m)
                    ops += 1
            elapsed = time.perf_counter() - start
        out[name] = ops / elapsed
    return out


def wake(waiters=60, spread_s=3.0):
    """Each waiter blocks in get_result; the value is stored at a random moment; the
    delay from store to the waiter's return is what Dramatiq's polling costs."""
    backend = StubBackend()
    delays = []
    lock = threading.Lock()

    def run(i):
        m = message(f"wake-{i}-{random.random()}")
        stored_at = {}

        def store():
            time.sleep(random.uniform(0.05, spread_s))
            stored_at["t"] = time.perf_counter()
            backend.store_result(m, i, 600_000)

        t = threading.Thread(target=store)
        t.start()
        backend.get_result(m, block=True, timeout=30_000)
        got = time.perf_counter()
        t.join()
        with lock:
            delays.append((got - stored_at["t"]) * 1000)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(waiters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"delays_ms": delays}


class CountingStub(StubBackend):
    """Dramatiq's stub, counting `_get` calls per key (a polling store's reads)."""

    reads = {}

    def _get(self, message_key):
        CountingStub.reads[message_key] = CountingStub.reads.get(message_key, 0) + 1
        return super()._get(message_key)


def polling(waiters=40, wait_ms=30_000):
    """30 s waits on a polling store: one never gets a value (reads per full wait); the
    others get theirs at a random moment (detection delay)."""
    backend = CountingStub()
    results = []
    lock = threading.Lock()

    def run(i):
        m = message(f"poll-{i}-{random.random()}")
        key = backend.build_message_key(m)
        start = time.perf_counter()
        store_at = None if i == 0 else random.uniform(0.1, wait_ms / 1000 - 0.5)
        if store_at is not None:
            def store():
                time.sleep(store_at)
                backend.store_result(m, i, 600_000)
            threading.Thread(target=store, daemon=True).start()
        outcome = "value"
        try:
            backend.get_result(m, block=True, timeout=wait_ms)
        except dramatiq.results.ResultTimeout:
            outcome = "timeout"
        end = time.perf_counter()
        with lock:
            results.append({
                "outcome": outcome,
                "reads": CountingStub.reads.get(key, 0),
                "elapsed_ms": (end - start) * 1000,
                "delay_ms": None if store_at is None else (end - start - store_at) * 1000,
            })

    threads = [threading.Thread(target=run, args=(i,)) for i in range(waiters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"waits": results}


def redis_batch(port, n):
    from dramatiq.results.backends import RedisBackend

    backend = RedisBackend(url=f"redis://127.0.0.1:{port}/0")
    messages = [message(f"batch-{i}") for i in range(n)]
    for i, m in enumerate(messages):
        backend.store_result(m, {"i": i, "ok": True}, 600_000)
    best = None
    for _ in range(3):
        start = time.perf_counter()
        got = [backend.get_result(m) for m in messages]
        elapsed = (time.perf_counter() - start) * 1000
        assert got[-1] == {"i": n - 1, "ok": True}
        best = elapsed if best is None else min(best, elapsed)
    return {"ms": best}


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "throughput":
        print(json.dumps(throughput()))
    elif what == "wake":
        print(json.dumps(wake()))
    elif what == "polling":
        print(json.dumps(polling()))
    elif what == "redis":
        print(json.dumps(redis_batch(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        sys.exit(f"unknown benchmark {what}")
