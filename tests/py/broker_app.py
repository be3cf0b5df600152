"""A real Python Dramatiq 2.2.1 app for the broker interoperability tests and benchmarks.

Both the worker (`dramatiq broker_app`, see tests/js/pyworker.mjs) and the producer
(tests/py/produce.py) import it, so they agree on actors, queue and result backend.
Configured from the environment:

    BROKER             redis (default) | rabbitmq
    BROKER_URL         redis://127.0.0.1:6379 | amqp://guest:guest@127.0.0.1:5672
    BROKER_NAMESPACE   RedisBroker's key namespace (default "dramatiq")
    BROKER_HEARTBEAT_TIMEOUT    RedisBroker's heartbeat_timeout in ms (default Dramatiq's)
    BROKER_MAINTENANCE_CHANCE   RedisBroker's maintenance_chance (default Dramatiq's); with a
                       short heartbeat timeout, a dead worker's messages come back in seconds
    BROKER_CONFIRM     1: RabbitmqBroker with publisher confirms (default off, as Dramatiq's)
    BROKER_MAX_PRIORITY  RabbitmqBroker's max_priority (default unset, as Dramatiq's)
    RESULTS_REDIS_URL  the Redis behind the Results middleware (default: BROKER_URL for redis)
    RESULTS_NAMESPACE  RedisBackend's namespace (default "dramatiq-results", Dramatiq's)
    QUEUE              the queue every actor is on (default "default")
    CALLBACK_QUEUE     the queue of the callback recorders `cb_record` / `cb_exhausted`
                       (default "callbacks"; a worker may leave it to another)
    APP_PREFIX         prefix of the app's own Redis keys (default "broker-app"):
                         <prefix>:processed      list of message ids `record` processed
                         <prefix>:attempts:<key> `retry_once`'s attempt counter
                         <prefix>:callbacks      what the callback recorders received, one
                                                 JSON [recorder, message dict, payload] each
    RECORD_DELAY_MS    `record` sleeps this long first (default 0): a worker to kill mid-batch
    COUNT_TO           benchmarks: once the worker has processed this many messages, it
                       logs `counted {"n": N, "first_to_last_s": S}` (no I/O per message)
"""

import json
import logging
import os
import threading
import time

import dramatiq
import redis
from dramatiq.middleware import CurrentMessage, GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterRedisBackend
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

BROKER = os.environ.get("BROKER", "redis")
BROKER_URL = os.environ.get("BROKER_URL") or (
    "redis://127.0.0.1:6379" if BROKER == "redis" else "amqp://guest:guest@127.0.0.1:5672"
)
RESULTS_REDIS_URL = os.environ.get("RESULTS_REDIS_URL") or (BROKER_URL if BROKER == "redis" else None)
RESULTS_NAMESPACE = os.environ.get("RESULTS_NAMESPACE", "dramatiq-results")
QUEUE = os.environ.get("QUEUE", "default")
CALLBACK_QUEUE = os.environ.get("CALLBACK_QUEUE", "callbacks")
PREFIX = os.environ.get("APP_PREFIX", "broker-app")
RECORD_DELAY_MS = int(os.environ.get("RECORD_DELAY_MS") or 0)

if RESULTS_REDIS_URL is None:
    raise SystemExit("broker_app: RESULTS_REDIS_URL is required with BROKER=rabbitmq")


def make_broker(confirm=None):
    """The broker BROKER names; `confirm` overrides BROKER_CONFIRM (RabbitMQ only)."""
    if BROKER == "redis":
        from dramatiq.brokers.redis import RedisBroker

        tuning = {
            name: int(os.environ[variable])
            for name, variable in (
                ("heartbeat_timeout", "BROKER_HEARTBEAT_TIMEOUT"),
                ("maintenance_chance", "BROKER_MAINTENANCE_CHANCE"),
            )
            if os.environ.get(variable)
        }
        return RedisBroker(url=BROKER_URL, namespace=os.environ.get("BROKER_NAMESPACE", "dramatiq"), **tuning)
    if BROKER == "rabbitmq":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        if confirm is None:
            confirm = os.environ.get("BROKER_CONFIRM") == "1"
        max_priority = os.environ.get("BROKER_MAX_PRIORITY")
        return RabbitmqBroker(
            url=BROKER_URL, confirm_delivery=confirm, max_priority=int(max_priority) if max_priority else None
        )
    raise SystemExit(f"broker_app: unknown BROKER={BROKER!r} (redis or rabbitmq)")


broker = make_broker()
backend = RedisBackend(url=RESULTS_REDIS_URL, namespace=RESULTS_NAMESPACE)
broker.add_middleware(Results(backend=backend))
broker.add_middleware(CurrentMessage())
# Group completion callbacks, their barriers on the results Redis (what the JS side's
# GroupCallbacks is given too, in tests/js/group-callbacks.test.mjs).
broker.add_middleware(GroupCallbacks(RateLimiterRedisBackend(url=RESULTS_REDIS_URL)))


class CountTo(dramatiq.Middleware):
    """Counts processed messages in memory and logs the time from the first to the n-th:
    a worker's throughput without a per-message write to measure it."""

    def __init__(self, n):
        self.n = n
        self.count = 0
        self.first = None
        self.lock = threading.Lock()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        now = time.perf_counter()
        with self.lock:
            self.count += 1
            if self.count == 1:
                self.first = now
            if self.count == self.n:
                report = {"n": self.n, "first_to_last_s": now - self.first}
                logging.getLogger("broker_app").warning("counted %s", json.dumps(report))


if os.environ.get("COUNT_TO"):
    broker.add_middleware(CountTo(int(os.environ["COUNT_TO"])))
dramatiq.set_broker(broker)

# The app's own bookkeeping (not Dramatiq's keys), on the results Redis.
store = redis.Redis.from_url(RESULTS_REDIS_URL)


class AppError(Exception):
    """The app's own exception class, so its name (not a builtin's) travels in a failure."""


@dramatiq.actor(queue_name=QUEUE, store_results=True)
def add(x, y=0):
    """x + y; in a pipeline the previous result arrives as y."""
    return x + y


@dramatiq.actor(queue_name=QUEUE, store_results=True)
def echo(*args, **kwargs):
    """Its arguments as Python decoded them: shows what bytes a producer sent."""
    return {"args": list(args), "kwargs": kwargs}


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=0)
def fail(msg):
    """Always raises AppError(msg): one stored failure, no retries."""
    raise AppError(msg)


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=3, min_backoff=100, max_backoff=200)
def retry_once(key):
    """Fails its first attempt for each key, then returns the attempt count (2)."""
    attempts = store.incr(f"{PREFIX}:attempts:{key}")
    if attempts == 1:
        raise AppError(f"first attempt for {key}")
    return attempts


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=3, min_backoff=100, max_backoff=200)
def echo_retry(tag, value):
    """Fails its first attempt for each tag, then returns `value`: what a retried message
    carries (a lone surrogate, as surrogateescape makes of an undecodable file name)."""
    attempts = store.incr(f"{PREFIX}:attempts:{tag}")
    if attempts == 1:
        raise AppError(f"first attempt for {tag}")
    return value


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=1, min_backoff=10, max_backoff=20)
def until_fixed(x):
    """Raises AppError while <prefix>:broken exists (a bug not fixed yet), else x * 2: messages
    that dead-letter after one retry, for an operator to requeue once the bug is fixed."""
    if store.exists(f"{PREFIX}:broken"):
        raise AppError(f"broken for {x}")
    return x * 2


@dramatiq.actor(queue_name=QUEUE, store_results=True)
def slow(ms):
    """Sleeps `ms` milliseconds, then returns ms: work to interrupt."""
    time.sleep(ms / 1000)
    return ms


@dramatiq.actor(queue_name=QUEUE)
def record(tag):
    """Appends its message id to <prefix>:processed: count losses and duplicates."""
    if RECORD_DELAY_MS:
        time.sleep(RECORD_DELAY_MS / 1000)
    store.rpush(f"{PREFIX}:processed", CurrentMessage.get_current_message().message_id)
    return tag


@dramatiq.actor(queue_name=QUEUE)
def noop():
    """Nothing: the broker's own cost, for benchmarks."""


# Callbacks (Dramatiq's Callbacks and Retries' on_retry_exhausted): the scenario actors name
# the recorders, which keep exactly what they were sent.


def _record_callback(recorder, message, payload):
    store.rpush(f"{PREFIX}:callbacks", json.dumps([recorder, message, payload], separators=(",", ":")))


@dramatiq.actor(queue_name=CALLBACK_QUEUE)
def cb_record(message, payload):
    """Records an on_success / on_failure (or a message's on_retry_exhausted) callback."""
    _record_callback("cb_record", message, payload)


@dramatiq.actor(queue_name=CALLBACK_QUEUE)
def cb_exhausted(message, payload):
    """Records a callback sent to the other recorder (on_retry_exhausted by default)."""
    _record_callback("cb_exhausted", message, payload)


@dramatiq.actor(queue_name=QUEUE, on_success="cb_record")
def cb_ok(x):
    """Returns 2x; its success goes to cb_record unless the message names another."""
    return x * 2


@dramatiq.actor(
    queue_name=QUEUE,
    on_failure="cb_record",
    on_retry_exhausted="cb_exhausted",
    max_retries=1,
    min_backoff=10,
    max_backoff=20,
)
def cb_fail(x):
    """Always raises AppError: every attempt to cb_record, the give-up to cb_exhausted."""
    raise AppError(f"no {x}")


def _busy(ms):
    """Sleeps `ms` in 10 ms steps: Dramatiq interrupts a thread between two of them."""
    for _ in range(ms // 10):
        time.sleep(0.01)
    return ms


@dramatiq.actor(queue_name=QUEUE, on_failure="cb_record", max_retries=0, time_limit=300)
def cb_overtime(ms):
    """Runs past its 300 ms time limit: TimeLimitExceeded, one failure callback."""
    return _busy(ms)


@dramatiq.actor(queue_name=QUEUE, on_failure="cb_record", notify_shutdown=True, max_retries=1, min_backoff=86_400_000)
def cb_stoppable(ms):
    """Interrupted by its worker's shutdown: Shutdown, a failure callback, a retry a day later."""
    return _busy(ms)
