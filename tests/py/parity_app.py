"""A second Python Dramatiq 2.2.1 app, for tests/js/fleet-parity.test.mjs: actors with the
options a mixed fleet shares (retries and back-off, age limits, callbacks, pipelines,
results), which the test declares again in JS, so that one scenario can be run on a Python
worker and on a JS worker and what each leaves in Redis / RabbitMQ compared.

Configured from the environment as broker_app.py is (BROKER, BROKER_URL,
RESULTS_REDIS_URL). Actors run on "pq" (and "ünï✓" on "q_u"); `sink` is on "sink", which
no worker of the test consumes, so the messages a worker sends onward stay to be read.

    parity_app.py send < specs   enqueue each spec of the JSON list on stdin as
                                 broker.enqueue(Message(...), delay=...): fixed message ids,
                                 options as given (Python's JSON: NaN, big integers),
                                 "ts_offset" (ms) moves message_timestamp into the past and
                                 "ts_fraction" adds a fraction of a millisecond to it
    parity_app.py raw < bodies   put each JSON object of the list on stdin on its
                                 "queue_name" as it is, bytes Python's producer would never
                                 write (an unknown top-level key, a missing field): on Redis
                                 under its options' redis_message_id, on RabbitMQ published
                                 as Python's broker publishes
"""

import json
import os
import sys
import time

import dramatiq
from dramatiq import Message
from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterBackend
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

BROKER = os.environ.get("BROKER", "redis")
BROKER_URL = os.environ["BROKER_URL"]
RESULTS_REDIS_URL = os.environ.get("RESULTS_REDIS_URL") or BROKER_URL

if BROKER == "rabbitmq":
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=BROKER_URL)
else:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=BROKER_URL)
broker.add_middleware(Results(backend=RedisBackend(url=RESULTS_REDIS_URL)))
dramatiq.set_broker(broker)

Q = "pq"


class AppError(Exception):
    """The app's own exception class: its name travels in failures."""


@dramatiq.actor(queue_name=Q, store_results=True)
def ok(*args, **kwargs):
    """Its first argument, else its keyword arguments."""
    return args[0] if args else kwargs


@dramatiq.actor(queue_name=Q, store_results=True)
def none_():
    return None


@dramatiq.actor(queue_name=Q, store_results=True, max_retries=0)
def boom(msg):
    raise AppError(msg)


@dramatiq.actor(queue_name=Q, store_results=True, max_retries=1, min_backoff=10, max_backoff=20)
def boom_retry(msg):
    raise AppError(msg)


@dramatiq.actor(queue_name=Q, store_results=True, max_retries=1, min_backoff=60000, max_backoff=120000)
def boom_slow(msg):
    """Retried after a minute, unless a message's own back-off says otherwise."""
    raise AppError(msg)


@dramatiq.actor(queue_name=Q)
def plain(x):
    return x


@dramatiq.actor(queue_name=Q, store_results=True, pipe_ignore=True)
def piper(x):
    return x


@dramatiq.actor(queue_name=Q, store_results=True, throws=(AppError,))
def thrower(msg):
    raise AppError(msg)


# A key Python's repr escapes in RateLimitExceeded's text: a no-break, a zero-width space
# and a line separator.
MUTEX = ConcurrentRateLimiter(RateLimiterBackend(url=RESULTS_REDIS_URL), "mutex\u00a0\u200b\u2028\u00fc", limit=1)


@dramatiq.actor(queue_name=Q, store_results=True, max_retries=0)
def held(ms):
    """Holds the mutex for `ms`; a second one meanwhile fails with RateLimitExceeded."""
    with MUTEX.acquire():
        time.sleep(ms / 1000)
        return ms


@dramatiq.actor(queue_name=Q, store_results=True, max_retries=0)
def spin(ms):
    """Computes for `ms` without yielding: a time limit stops it mid-way."""
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        pass
    return ms


@dramatiq.actor(queue_name=Q, store_results=True)
def retry_later(ms):
    """Asks to be retried after `ms` (a fraction too: the retry's eta is then a float)."""
    raise dramatiq.Retry(delay=ms)


@dramatiq.actor(queue_name="sink")
def sink(*args, **kwargs):
    pass


@dramatiq.actor(queue_name="q_u", actor_name="ünï✓", store_results=True)
def uni(x):
    return x


def send(specs):
    now = int(time.time() * 1000)
    for s in specs:
        message = Message(
            queue_name=s.get("queue", Q),
            actor_name=s["actor"],
            args=tuple(s.get("args", [])),
            kwargs=s.get("kwargs", {}),
            options=s.get("options", {}),
            message_id=s["id"],
            # "ts_fraction" makes it a float, as a hand-made time.time() * 1000 is.
            message_timestamp=now + s.get("ts_offset", 0) + s.get("ts_fraction", 0),
        )
        broker.enqueue(message, delay=s.get("delay"))
    print(len(specs))


def raw(bodies):
    for body in bodies:
        queue = body.get("queue_name", Q)
        data = json.dumps(body, separators=(",", ":")).encode()
        if BROKER == "rabbitmq":
            import pika

            broker.declare_queue(queue, ensure=True)
            broker.channel.basic_publish(
                exchange="", routing_key=queue, body=data, properties=pika.BasicProperties(delivery_mode=2)
            )
        else:
            broker.do_enqueue(queue, body["options"]["redis_message_id"], data)
    print(len(bodies))


if __name__ == "__main__" and sys.argv[1:] == ["send"]:
    send(json.loads(sys.stdin.read()))
elif __name__ == "__main__" and sys.argv[1:] == ["raw"]:
    raw(json.loads(sys.stdin.read()))
