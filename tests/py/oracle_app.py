"""Dramatiq's own retry, callback, time-limit, eta and shutdown scenarios (its tests
test_retries.py, test_callbacks.py, test_actors.py, test_time_limit.py, test_shutdown.py),
over a real Redis, for tests/js/oracle-actors.test.mjs: the same actors run by a real Python
worker (`dramatiq oracle_app`) and by our JS worker, sent by this module's producer
(`python oracle_app.py send SPEC...`, Python's own `send_with_options`).

Every attempt appends `<tag>` to the Redis list `<APP_PREFIX>:attempts` (a finished sleep
`<tag>:done`); callbacks go to the queue `oracle-cb`, which no worker consumes, so the test
reads what each worker sent there.

Environment: BROKER_URL, BROKER_NAMESPACE (default "dramatiq"), APP_PREFIX (default "oracle").
"""

import json
import os
import sys
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import Retry

URL = os.environ["BROKER_URL"]
broker = RedisBroker(url=URL, namespace=os.environ.get("BROKER_NAMESPACE", "dramatiq"))
dramatiq.set_broker(broker)
store = redis.Redis.from_url(URL)
ATTEMPTS = os.environ.get("APP_PREFIX", "oracle") + ":attempts"


def attempt(tag):
    store.rpush(ATTEMPTS, tag)


@dramatiq.actor(queue_name="oq", max_retries=99, min_backoff=5000, max_backoff=50000)
def flaky(tag):
    attempt(tag)
    raise RuntimeError("failure")


@dramatiq.actor(queue_name="oq", max_retries=3, min_backoff=10000)
def flaky_slow(tag):
    attempt(tag)
    raise RuntimeError("failure")


@dramatiq.actor(queue_name="oq", max_retries=2)
def retry_asker(tag, fail_times):
    attempt(tag)
    if store.incr(ATTEMPTS + ":" + tag) <= fail_times:
        raise Retry(delay=1)


@dramatiq.actor(
    queue_name="oq",
    max_retries=0,
    min_backoff=5,
    max_backoff=5,
    retry_when=lambda retries, exception: retries < 3 and isinstance(exception, RuntimeError),
)
def conditional(tag, runtime):
    attempt(tag)
    if runtime:
        raise RuntimeError("Runtime error")
    raise ValueError("Value error")


class ExpectedError(Exception):
    pass


@dramatiq.actor(queue_name="oq", throws=(KeyError, ExpectedError))
def thrower(tag):
    attempt(tag)
    raise ExpectedError("Expected Failure")


@dramatiq.actor(queue_name="oq", max_retries=0)
def sleeper(tag, ms):
    attempt(tag)
    time.sleep(ms / 1000)
    attempt(tag + ":done")


@dramatiq.actor(queue_name="oq")
def record(tag):
    attempt(tag)


@dramatiq.actor(queue_name="oracle-cb")
def cb(message, payload):
    pass


if __name__ == "__main__" and sys.argv[1] == "send":
    for spec in sys.argv[2:]:
        spec = json.loads(spec)
        actor = broker.get_actor(spec["actor"])
        message = actor.send_with_options(args=tuple(spec.get("args", [])), delay=spec.get("delay"), **spec.get("options", {}))
        print(json.dumps(message.asdict(), separators=(",", ":")))
