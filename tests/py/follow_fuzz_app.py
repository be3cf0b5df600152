"""The Python Dramatiq 2.2.1 fleet of tests/js/gateway-follow-fuzz.test.mjs: the actors whose
messages the test drives into every state a message can be in (done, failed, dead-lettered,
retried and waiting, in progress, results expired), on two queues, with Results and
GroupCallbacks in Redis. Configured from the environment (tests/js/pyworker.mjs' `appEnv`):
BROKER ("redis", the default, or "rabbitmq": tests/js/gateway-follow-fuzz-amqp.test.mjs),
BROKER_URL, BROKER_NAMESPACE (RedisBroker's), RESULTS_REDIS_URL (the results, the rate
limiter and the app's own list: the broker's Redis by default, required with RabbitMQ),
APP_PREFIX.

    <prefix>:ran    (in the results' Redis) list of the message ids every actor started (a requeued message that
                    runs once more appears once more: lost and duplicated runs are counted)
"""

import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterRedisBackend
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

BROKER = os.environ.get("BROKER", "redis")
URL = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379")
RESULTS_URL = os.environ.get("RESULTS_REDIS_URL") or (URL if BROKER == "redis" else None)
if RESULTS_URL is None:
    raise SystemExit("follow_fuzz_app: RESULTS_REDIS_URL is required with BROKER=rabbitmq")
PREFIX = os.environ.get("APP_PREFIX", "follow-fuzz")
QUEUES = ("fa", "fb", "fc")

if BROKER == "rabbitmq":
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=URL)
else:
    broker = RedisBroker(url=URL, namespace=os.environ.get("BROKER_NAMESPACE", "dramatiq"))
backend = RedisBackend(url=RESULTS_URL)
broker.add_middleware(Results(backend=backend))
broker.add_middleware(CurrentMessage())
broker.add_middleware(GroupCallbacks(RateLimiterRedisBackend(url=RESULTS_URL)))
dramatiq.set_broker(broker)
store = redis.Redis.from_url(RESULTS_URL)


class AppError(Exception):
    """The app's own exception class."""


ERRORS = {"AppError": AppError, "ValueError": ValueError, "KeyError": KeyError, "RuntimeError": RuntimeError}


def ran():
    store.rpush(f"{PREFIX}:ran", CurrentMessage.get_current_message().message_id)


@dramatiq.actor(queue_name="fa", store_results=True, max_retries=0)
def ok(value, *rest):
    """Returns `value` (in a pipeline, the previous step's result arrives as a second argument)."""
    ran()
    return value


@dramatiq.actor(queue_name="fa", store_results=True, result_ttl=400, max_retries=0)
def brief(value):
    """Returns `value`, kept 400 ms: a result that expires."""
    ran()
    return value


@dramatiq.actor(queue_name="fa", store_results=True, max_retries=0)
def boom(kind, text, *rest):
    """Raises ERRORS[kind](text) once: dead-lettered at once, its exception stored (in a
    pipeline, the previous step's result arrives as a third argument)."""
    ran()
    raise ERRORS[kind](text)


@dramatiq.actor(queue_name="fa", store_results=True, max_retries=1, min_backoff=10, max_backoff=20)
def boom_twice(kind, text):
    """Raises twice (one retry): dead-lettered with the first failure's traceback in its body."""
    ran()
    raise ERRORS[kind](text)


@dramatiq.actor(queue_name="fa", max_retries=0)
def silent(text):
    """Raises, storing nothing: a dead letter with no result and no traceback."""
    ran()
    raise AppError(text)


@dramatiq.actor(queue_name="fa", store_results=True, max_retries=3, min_backoff=600_000, max_backoff=600_000)
def later(text):
    """Fails its first attempt, then waits ten minutes for its retry: retried and waiting."""
    ran()
    if CurrentMessage.get_current_message().options.get("retries", 0) == 0:
        raise AppError(f"try later: {text}")
    return text


@dramatiq.actor(queue_name="fa", store_results=True, max_retries=0)
def slow(ms, value):
    """Sleeps `ms`, then returns `value`: a message a worker is running."""
    ran()
    time.sleep(ms / 1000)
    return value


for name in QUEUES:
    broker.declare_queue(name)
