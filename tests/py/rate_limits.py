"""Python Dramatiq 2.2.1's own rate limiters and barrier, for the cross-language tests in
tests/js/rate-limits.test.mjs. BACKEND is `redis://host:port` or `memcached://host:port`.

    rate_limits.py scenario BACKEND KIND KEY
        the scenario KIND (concurrent | window | bucket) that the JS test runs too, aligned on
        a time boundary so its keys are predictable; prints {"results": [...], "inside": ...}
    rate_limits.py mutex BACKEND KEY COUNTER N START_MS
        N threads, from START_MS (Unix ms), each entering a critical section guarded by
        ConcurrentRateLimiter(limit=1) once (retrying while refused); inside, INCR COUNTER
        (the number of sections inside now), hold a little, DECR; prints
        {"entered": n, "refusals": n, "max_inside": n}
    rate_limits.py window BACKEND KEY LIMIT WINDOW ATTEMPTS START_MS
        ATTEMPTS acquisitions of WindowRateLimiter(limit, window) from START_MS over 4
        threads; prints {"acquired": n}
    rate_limits.py bucket BACKEND KEY LIMIT BUCKET_MS ATTEMPTS START_MS
        the same with BucketRateLimiter(limit, bucket), each thread pausing 20 ms between
        attempts (as the JS side does, so the two interleave); prints {"acquired": n}
    rate_limits.py lanes BACKEND KIND KEY LIMIT PARAM THREADS ROUNDS PER_ROUND ROUND_MS HOLD_MS START_MS RAISE
        the shape of Dramatiq's own limiter tests (tests/js/oracle-limits.test.mjs): THREADS
        threads over one limiter of KIND (PARAM is a concurrent limiter's ttl, a window's
        seconds or a bucket's ms); round r starts at START_MS + r * ROUND_MS (Unix ms), and
        in it each thread makes PER_ROUND acquisitions in turn, holding each slot HOLD_MS;
        RAISE 1 uses raise_on_failure (a RateLimitExceeded counts as refused); prints
        {"acquired": n}
    rate_limits.py barrier-create BACKEND KEY PARTIES TTL     prints {"created": bool}
    rate_limits.py barrier-wait BACKEND KEY TTL BLOCK TIMEOUT
        prints "waiting" (flushed) before it waits, then {"passed": bool}
"""

import json
import sys
import threading
import time

from dramatiq.rate_limits import (
    Barrier,
    BucketRateLimiter,
    ConcurrentRateLimiter,
    WindowRateLimiter,
)


def backend_of(url):
    if url.startswith("redis://"):
        import redis

        from dramatiq.rate_limits.backends import RedisBackend

        return RedisBackend(client=redis.Redis.from_url(url))
    if url.startswith("memcached://"):
        from dramatiq.rate_limits.backends import MemcachedBackend

        return MemcachedBackend(servers=[url[len("memcached://") :]], binary=True)
    raise SystemExit(f"unknown backend {url}")


def out(value):
    print(json.dumps(value, separators=(",", ":")), flush=True)


def align(period_ms, margin_ms=20):
    """Sleeps until `margin_ms` past the next multiple of `period_ms` (Unix time), so a
    short scenario stays inside one second or bucket."""
    now = time.time() * 1000
    start = (now // period_ms + 1) * period_ms + margin_ms
    time.sleep((start - now) / 1000)


def until(start_ms):
    delay = start_ms / 1000 - time.time()
    if delay > 0:
        time.sleep(delay)


def scenario(backend, kind, key):
    results = []
    if kind == "concurrent":
        limiter = ConcurrentRateLimiter(backend, key, limit=2, ttl=60_000)
        with limiter.acquire() as a:
            results.append(a)
            with limiter.acquire() as b:
                results.append(b)
                with limiter.acquire(raise_on_failure=False) as c:
                    results.append(c)
        return results
    if kind == "window":
        limiter = WindowRateLimiter(backend, key, limit=2, window=3)
        align(1000)
    elif kind == "bucket":
        limiter = BucketRateLimiter(backend, key, limit=2, bucket=2000)
        align(2000)
    else:
        raise SystemExit(f"unknown kind {kind}")
    for _ in range(3):
        with limiter.acquire(raise_on_failure=False) as acquired:
            results.append(acquired)
    return results


def mutex(backend, url, key, counter, n, start_ms):
    import redis

    raw = redis.Redis.from_url(url)
    limiter = ConcurrentRateLimiter(backend, key, limit=1)
    lock = threading.Lock()
    stats = {"entered": 0, "refusals": 0, "max_inside": 0}

    def section():
        until(start_ms)
        while True:
            with limiter.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    inside = raw.incr(counter)
                    time.sleep(0.01)
                    raw.decr(counter)
                    with lock:
                        stats["entered"] += 1
                        stats["max_inside"] = max(stats["max_inside"], inside)
                    return
            with lock:
                stats["refusals"] += 1
            time.sleep(0.002)

    threads = [threading.Thread(target=section) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats


def window(backend, key, limit, window_s, attempts, start_ms, bucket_ms=None, pause_s=0):
    if bucket_ms is None:
        limiter = WindowRateLimiter(backend, key, limit=limit, window=window_s)
    else:
        limiter = BucketRateLimiter(backend, key, limit=limit, bucket=bucket_ms)
    lock = threading.Lock()
    acquired = [0]

    def worker(count):
        until(start_ms)
        for _ in range(count):
            with limiter.acquire(raise_on_failure=False) as ok:
                if ok:
                    with lock:
                        acquired[0] += 1
            time.sleep(pause_s)

    share = [attempts // 4 + (1 if i < attempts % 4 else 0) for i in range(4)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"acquired": acquired[0]}


def lanes(backend, kind, key, limit, param, threads, rounds, per_round, round_ms, hold_ms, start_ms, raising):
    from dramatiq.rate_limits import RateLimitExceeded

    if kind == "concurrent":
        limiter = ConcurrentRateLimiter(backend, key, limit=limit, ttl=param)
    elif kind == "window":
        limiter = WindowRateLimiter(backend, key, limit=limit, window=param)
    elif kind == "bucket":
        limiter = BucketRateLimiter(backend, key, limit=limit, bucket=param)
    else:
        raise SystemExit(f"unknown kind {kind}")
    lock = threading.Lock()
    acquired = [0]

    def attempt():
        with limiter.acquire(raise_on_failure=False) as ok:
            if ok:
                time.sleep(hold_ms / 1000)
            return ok

    def count(ok):
        if ok:
            with lock:
                acquired[0] += 1

    def attempt_holding():
        # raise_on_failure=True: the slot is held inside the with-block, as Dramatiq's test.
        try:
            with limiter.acquire():
                with lock:
                    acquired[0] += 1
                time.sleep(hold_ms / 1000)
        except RateLimitExceeded:
            pass

    def worker():
        for r in range(rounds):
            until(start_ms + r * round_ms)
            for _ in range(per_round):
                if raising:
                    attempt_holding()
                else:
                    count(attempt())

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"acquired": acquired[0]}


def main(argv):
    command, url = argv[0], argv[1]
    backend = backend_of(url)
    if command == "scenario":
        out({"results": scenario(backend, argv[2], argv[3])})
    elif command == "mutex":
        key, counter, n, start = argv[2], argv[3], int(argv[4]), float(argv[5])
        out(mutex(backend, url, key, counter, n, start))
    elif command == "window":
        key, limit, window_s, attempts, start = argv[2], *map(int, argv[3:6]), float(argv[6])
        out(window(backend, key, limit, window_s, attempts, start))
    elif command == "bucket":
        key, limit, bucket_ms, attempts, start = argv[2], *map(int, argv[3:6]), float(argv[6])
        out(window(backend, key, limit, None, attempts, start, bucket_ms=bucket_ms, pause_s=0.02))
    elif command == "lanes":
        kind, key = argv[2], argv[3]
        limit, param, threads, rounds, per_round, round_ms, hold_ms = map(int, argv[4:11])
        out(lanes(backend, kind, key, limit, param, threads, rounds, per_round, round_ms, hold_ms, float(argv[11]), argv[12] == "1"))
    elif command == "barrier-create":
        barrier = Barrier(backend, argv[2], ttl=int(argv[4]))
        out({"created": barrier.create(int(argv[3]))})
    elif command == "barrier-wait":
        barrier = Barrier(backend, argv[2], ttl=int(argv[3]))
        block, timeout = argv[4] == "1", int(argv[5])
        print("waiting", flush=True)
        out({"passed": barrier.wait(block=block, timeout=timeout)})
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
