"""A Python Dramatiq 2.2.1 app on RabbitMQ alone (no result backend), for
tests/js/rabbitmq-faults.test.mjs: what Python's worker does when things go wrong.

    BROKER_URL      amqp://guest:guest@127.0.0.1:5672
    QUEUE           the queue of its actors
    BROKER_CONFIRM  1: publisher confirms (default off, as Dramatiq's)
"""

import os
import time

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

broker = RabbitmqBroker(url=os.environ["BROKER_URL"], confirm_delivery=os.environ.get("BROKER_CONFIRM") == "1")
dramatiq.set_broker(broker)
QUEUE = os.environ["QUEUE"]
_failed = set()


@dramatiq.actor(queue_name=QUEUE, min_backoff=10, max_backoff=20)
def flaky(key):
    """Fails its first run per key (in this process), so the worker enqueues a retry."""
    if key not in _failed:
        _failed.add(key)
        raise RuntimeError("fails once")


@dramatiq.actor(queue_name=QUEUE)
def ok():
    time.sleep(0.02)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def sized(payload):
    """Checks it got the whole payload (`x` * its length): a short one dead-letters."""
    if payload != "x" * len(payload) or len(payload) < 1 << 20:
        raise ValueError("payload cut short: %d" % len(payload))


if __name__ == "__main__":
    # `python faults_app.py declare`: declares QUEUE (q, q.DQ, q.XQ) as Python's broker does,
    # reading dramatiq_dead_message_ttl from the environment; exits 1 with the error if refused.
    import sys

    if sys.argv[1:] == ["declare"]:
        broker.declare_queue(QUEUE, ensure=True)
        print(broker.get_queue_message_counts(QUEUE))
    elif sys.argv[1] == "send-sized":
        # `send-sized BYTES`: one `sized` message of that many payload bytes.
        print(sized.send("x" * int(sys.argv[2])).message_id)
