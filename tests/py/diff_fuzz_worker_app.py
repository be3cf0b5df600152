"""The Python worker of tests/js/diff-fuzz-worker.test.mjs: broker_app (RedisBroker, Results,
CurrentMessage, GroupCallbacks over a Redis rate limiter backend) plus the actors a fuzz run
declares, read from the JSON file FW_SPEC: `{"actors": [{"name", "priority"?, "options"}]}`,
every one on queue QUEUE running `behave`, and the recorders `fw_rec_a`, `fw_rec_b`,
`fw_rec_c` on CALLBACK_QUEUE. An option `"throws": [names]` is the tuple of those classes
(`"Retry"` is Dramatiq's).

`behave(script, *rest, **kwargs)` follows `script["s"]`, one step per attempt (the
message's `retries` option, truncated, below 0 the first; no number: the first; the last
step repeats): `["ret", value]` returns value,
`["retry", delay]` raises `Retry(delay=delay)`, `["raise", class name, msg]` raises it.
Each attempt appends its message id to the list `fw:att`; a recorder appends
`<its name> <the message it got, encoded>` to `fw:cb` (both on the results Redis);
`fw_rec_late` is a recorder on queue `fwlate`.

Steps that tests/js/diff-fuzz-worker-limits.test.mjs draws, each ending in one of the
above (`then`): `["sleep", ms, then]` sleeps in 10 ms steps (where TimeLimit's
TimeLimitExceeded lands), then does `then`; `["hang", then]` appends its message id to
`fw:hang`, then sleeps 30 s (a worker stop's Shutdown lands there);
`["rl", kind, limit, then]` does `then` inside `<kind>RateLimiter(..., limit=limit)
.acquire()` (raise_on_failure) on the key `fwrl:<message id>:<kind>` over a Redis rate
limiter backend: "window" (window=60 s), "bucket" (bucket=1 h), or "concurrent" (ttl=60 s),
whose step is `["rl", "concurrent", limit, depth, then]`: `depth` nested acquisitions.
`throws` may also name TimeLimitExceeded, Shutdown and RateLimitExceeded. FW_TL_INTERVAL
(ms) sets how often TimeLimit checks (its `interval`; the JS side's is set alike).
"""

import json
import os
import time

import dramatiq
from dramatiq.errors import RateLimitExceeded
from dramatiq.middleware import CurrentMessage, Shutdown, TimeLimit, TimeLimitExceeded
from dramatiq.rate_limits import BucketRateLimiter, ConcurrentRateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterRedisBackend

from broker_app import QUEUE, CALLBACK_QUEUE, RESULTS_REDIS_URL, broker, store  # noqa: F401  (the broker and its middleware)

if os.environ.get("FW_TL_INTERVAL"):
    # TimeLimit's checker thread reads its interval on every turn (it starts at boot).
    for _m in broker.middleware:
        if isinstance(_m, TimeLimit):
            _m.manager.interval = int(os.environ["FW_TL_INTERVAL"]) / 1000

limiters = RateLimiterRedisBackend(url=RESULTS_REDIS_URL)


class AppError(ValueError):
    pass


class Thrown(Exception):
    pass


EXCEPTIONS = {
    "ValueError": ValueError, "RuntimeError": RuntimeError, "AppError": AppError, "Thrown": Thrown,
    "TimeLimitExceeded": TimeLimitExceeded, "Shutdown": Shutdown, "RateLimitExceeded": RateLimitExceeded,
}


def busy(ms):
    for _ in range(ms // 10):
        time.sleep(0.01)


def run(step, message):
    kind = step[0]
    if kind == "ret":
        return step[1]
    if kind == "retry":
        raise dramatiq.Retry(delay=step[1])
    if kind == "raise":
        raise EXCEPTIONS[step[1]](step[2])
    if kind == "sleep":
        busy(step[1])
        return run(step[2], message)
    if kind == "hang":
        store.rpush("fw:hang", message.message_id)
        busy(30_000)
        return run(step[1], message)
    # ["rl", kind, limit, (depth,) then]
    key = f"fwrl:{message.message_id}:{step[1]}"
    if step[1] == "concurrent":
        limiter = ConcurrentRateLimiter(limiters, key, limit=step[2], ttl=60_000)

        def nest(depth):
            with limiter.acquire():
                return nest(depth - 1) if depth > 1 else run(step[4], message)

        return nest(step[3])
    if step[1] == "window":
        limiter = WindowRateLimiter(limiters, key, limit=step[2], window=60)
    else:
        limiter = BucketRateLimiter(limiters, key, limit=step[2], bucket=3_600_000)
    with limiter.acquire():
        return run(step[3], message)


def behave(script, *rest, **kwargs):
    message = CurrentMessage.get_current_message()
    attempt = message.options.get("retries", 0)
    store.rpush("fw:att", message.message_id)
    steps = script["s"]
    # An odd count (a fraction, negative, no number) picks as the JS worker's script does.
    number = isinstance(attempt, (int, float)) and not isinstance(attempt, bool)
    step = steps[max(0, min(int(attempt), len(steps) - 1)) if number else 0]
    return run(step, message)


def recorder(name):
    def record(*args, **kwargs):
        store.rpush("fw:cb", f"{name} {CurrentMessage.get_current_message().encode().decode()}")

    return record


for _name in ("fw_rec_a", "fw_rec_b", "fw_rec_c"):
    dramatiq.actor(recorder(_name), actor_name=_name, queue_name=CALLBACK_QUEUE)
# On a queue the limits fuzzer's workers leave alone (the callbacks sent while one stops).
dramatiq.actor(recorder("fw_rec_late"), actor_name="fw_rec_late", queue_name="fwlate")

with open(os.environ["FW_SPEC"]) as _f:
    for _spec in json.load(_f)["actors"]:
        _options = dict(_spec["options"])
        if "throws" in _options:
            _options["throws"] = tuple(dramatiq.Retry if n == "Retry" else EXCEPTIONS[n] for n in _options["throws"])
        _priority = {"priority": _spec["priority"]} if "priority" in _spec else {}
        dramatiq.actor(behave, actor_name=_spec["name"], queue_name=QUEUE, **_priority, **_options)
