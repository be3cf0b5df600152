"""Python Dramatiq 2.2.1's ConcurrentRateLimiter over its RedisBackend: acquire + release
pairs per second, by CALLERS threads sharing one limiter (limit = CALLERS, so every
acquisition succeeds and the figure is the backend's cost, not contention's).

    rate_limits_baseline.py REDIS_URL N CALLERS     prints {"opsPerSec": …, "refused": n}
"""

import json
import sys
import threading
import time

import redis
from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.rate_limits.backends import RedisBackend


def main(url, n, callers):
    backend = RedisBackend(client=redis.Redis.from_url(url, max_connections=callers + 4))
    limiter = ConcurrentRateLimiter(backend, f"bench-py-{callers}", limit=callers)
    refused = [0]
    share = [n // callers + (1 if i < n % callers else 0) for i in range(callers)]

    def caller(count):
        for _ in range(count):
            with limiter.acquire(raise_on_failure=False) as acquired:
                if not acquired:
                    refused[0] += 1

    threads = [threading.Thread(target=caller, args=(c,)) for c in share]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    print(json.dumps({"opsPerSec": n / elapsed, "refused": refused[0]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
