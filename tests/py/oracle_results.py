"""Dramatiq 2.2.1's own result and composition scenarios (its tests/test_results.py and
tests/test_composition.py), with the real Python Dramatiq on one side of the wire and our
JS package on the other (tests/js/oracle-results-wire.test.mjs).

As a worker app (`dramatiq oracle_results`, see tests/js/pyworker.mjs) it runs the actors
below; as a script it is the producer and result reader of each scenario, for a JS worker:

    oracle_results.py run SCENARIO...   run each scenario as Dramatiq's test does and print
                                        one JSON line per scenario: {"name", ...what it saw}

Configured from the environment:

    BROKER_URL      the Redis of the broker (namespace "dramatiq")
    RESULTS_URL     redis://host:port or memcached://host:port: the result backend
    RESULTS_NAMESPACE  the result backend's namespace (default Dramatiq's)
    QUEUE           the actors' queue (default "oracle")
    APP_PREFIX      prefix of the app's own Redis keys (attempt counters)
"""

import json
import os
import sys
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import ResultFailure, ResultMissing, Results, ResultTimeout
from dramatiq.results.backends.memcached import MemcachedBackend
from dramatiq.results.backends.redis import RedisBackend

BROKER_URL = os.environ["BROKER_URL"]
RESULTS_URL = os.environ.get("RESULTS_URL") or BROKER_URL
RESULTS_NAMESPACE = os.environ.get("RESULTS_NAMESPACE", "dramatiq-results")
QUEUE = os.environ.get("QUEUE", "oracle")
PREFIX = os.environ.get("APP_PREFIX", "oracle")

broker = RedisBroker(url=BROKER_URL)
if RESULTS_URL.startswith("memcached://"):
    backend = MemcachedBackend(servers=[RESULTS_URL[len("memcached://") :]], binary=True, namespace=RESULTS_NAMESPACE)
else:
    backend = RedisBackend(url=RESULTS_URL, namespace=RESULTS_NAMESPACE)
broker.add_middleware(Results(backend=backend))
dramatiq.set_broker(broker)
store = redis.Redis.from_url(BROKER_URL)


class AppError(Exception):
    """This app's exception: its name travels in a stored failure."""


@dramatiq.actor(queue_name=QUEUE, store_results=True)
def add(x, y=0):
    return x + y


@dramatiq.actor(queue_name=QUEUE, store_results=True)
def return_args(*args):
    return args


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=0)
def fail(msg):
    raise AppError(msg)


@dramatiq.actor(queue_name=QUEUE, store_results=True)
def wait(ms):
    """Sleeps `ms` milliseconds; returns ms."""
    time.sleep(ms / 1000)
    return ms


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=3, min_backoff=10, max_backoff=20)
def flaky(key):
    """Fails its first attempt for each key; then returns the attempt count."""
    attempts = store.incr(f"{PREFIX}:attempts:{key}")
    if attempts == 1:
        raise AppError(f"first attempt for {key}")
    return attempts


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=2, min_backoff=10, max_backoff=20)
def doomed(msg):
    """Fails every attempt: its failure is stored once its retries are spent."""
    raise AppError(msg)


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_age=1)
def too_old():
    return 42


# --- the scenarios: the Python side of each, as Dramatiq's tests write it -----------------


def outcome(read):
    """What a read gave: {"value"} or the error Dramatiq raised, with its fields."""
    try:
        return {"value": read()}
    except ResultFailure as e:
        return {"failure": {"str": str(e), "type": e.orig_exc_type, "msg": e.orig_exc_msg}}
    except ResultTimeout:
        return {"timeout": True}
    except ResultMissing:
        return {"missing": True}


def counts_until_completed(composition, limit_s=20):
    """Every distinct completed_count seen while polling, until `completed` (or the limit)."""
    seen = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        done = composition.completed
        # Counted after `completed` was read, so the last count is the completed one.
        count = composition.completed_count
        if not seen or seen[-1] != count:
            seen.append(count)
        if done:
            break
        time.sleep(0.02)
    return {"counts": seen, "completed": composition.completed}


def s_store_results():
    return outcome(lambda: backend.get_result(add.send(40, 2), block=True))


def s_backwards_compatible():
    message = add.message(1)
    backend._store(backend.build_message_key(message), 42, 3600000)
    return outcome(lambda: backend.get_result(message, block=True))


def s_exceptions():
    return outcome(lambda: backend.get_result(fail.send("failed"), block=True))


def s_missing_then_timeout():
    message = wait.send(3000)
    missing = outcome(lambda: backend.get_result(message))
    timeout = outcome(lambda: backend.get_result(message, block=True, timeout=1000))
    value = outcome(lambda: backend.get_result(message, block=True, timeout=10000))
    return {"missing": missing, "timeout": timeout, "value": value}


def s_inferred_backend():
    message = add.send(2, 3)
    return {"given": outcome(lambda: message.get_result(backend=backend, block=True)), "inferred": outcome(lambda: message.get_result(block=True))}


def s_retried():
    return outcome(lambda: flaky.send(f"k{time.time_ns()}").get_result(block=True, timeout=10000))


def s_failure_after_retries():
    return outcome(lambda: doomed.send("doomed").get_result(block=True, timeout=10000))


def s_age_limit():
    message = too_old.send_with_options(args=[], kwargs={}, delay=2)
    first = outcome(lambda: backend.get_result(message, block=True))
    time.sleep(0.2)
    return {"first": first, "again": outcome(lambda: backend.get_result(message))}


def s_result_ttl():
    message = add.send_with_options(args=(1, 1), result_ttl=120000)
    value = outcome(lambda: backend.get_result(message, block=True))
    if isinstance(backend, RedisBackend):
        ttl = backend.client.pttl(backend.build_message_key(message))
    else:
        ttl = None
    default = add.send(1, 2)
    outcome(lambda: backend.get_result(default, block=True))
    if isinstance(backend, RedisBackend):
        default_ttl = backend.client.pttl(backend.build_message_key(default))
    else:
        default_ttl = None
    return {"value": value, "ttl": ttl, "default_ttl": default_ttl}


def s_pipe_ignore():
    pipe = return_args.message(1) | return_args.message_with_options(pipe_ignore=True, args=(2,)) | return_args.message(3)
    pipe.run()
    pipe.get_result(block=True, timeout=10000)
    return {"results": list(pipe.get_results())}


def s_pipeline_results():
    pipe = add.message(1, 2) | (add.message(3) | add.message(4))
    pipe.run()
    return {"result": pipe.get_result(block=True, timeout=10000), "results": list(pipe.get_results())}


def s_pipeline_timeout():
    pipe = wait.message(3000) | add.message(1) | add.message(2)
    pipe.run()
    return outcome(lambda: list(pipe.get_results(block=True, timeout=1000)))


def s_pipeline_stats():
    pipe = wait.message(800) | wait.message()
    pipe.run()
    return counts_until_completed(pipe)


def s_pipeline_incomplete():
    pipe = add.message(1) | add.message_with_options(pipe_ignore=True)
    pipe.run(delay=60000)
    return {"completed": pipe.completed, "count": pipe.completed_count}


def s_pipeline_delays():
    cases = {
        "own": lambda: (add.message(1, 2) | add.message(3)).run(delay=10000),
        "first": lambda: (add.message_with_options(args=(1, 2), delay=10000) | add.message(3)).run(),
        "second": lambda: (add.message(1, 2) | add.message_with_options(args=(3,), delay=10000)).run(),
        "bigger": lambda: (add.message_with_options(args=(1, 2), delay=100) | add.message(3)).run(delay=10000),
    }
    out = {}
    for name, run in cases.items():
        pipe = run()
        out[name] = outcome(lambda: list(pipe.get_results(block=True, timeout=1000)))
    return out


def s_group_results():
    g = dramatiq.group([add.message(i, i) for i in range(5)] + [add.message(1, 2) | add.message(3)])
    g.run()
    g.wait(timeout=10000)
    return {"results": list(g.get_results()), "completed": g.completed, "count": g.completed_count}


def s_inner_groups():
    g = dramatiq.group(dramatiq.group(add.message(n, n) for _ in range(2)) for n in range(3))
    g.run()
    return {"results": list(g.get_results(block=True, timeout=10000)), "completed": g.completed}


def s_group_timeout():
    g = dramatiq.group(wait.message(3000) for _ in range(2))
    g.run()
    timed_out = outcome(lambda: g.wait(timeout=1000))
    return {"wait": timed_out, "completed": g.completed}


def s_group_stats():
    g = dramatiq.group(wait.message(ms) for ms in [1500, 300, 800])
    g.run()
    return counts_until_completed(g)


def s_group_failure():
    g = dramatiq.group([add.message(1, 1), fail.message("boom")])
    g.run()
    time.sleep(0.5)
    return outcome(lambda: list(g.get_results(block=True, timeout=10000)))


SCENARIOS = {name[2:]: f for name, f in globals().items() if name.startswith("s_")}


def main():
    if len(sys.argv) < 3 or sys.argv[1] != "run":
        raise SystemExit(__doc__)
    try:
        for name in sys.argv[2:]:
            out = SCENARIOS[name]()
            print(json.dumps({"name": name, **out}, separators=(",", ":")), flush=True)
    finally:
        broker.close()


if __name__ == "__main__":
    main()
