"""One side of bench/rabbitmq_confirm_probe.mjs: N confirmed publishes one after another,
with raw pika (`pika`) or Python Dramatiq's RabbitmqBroker (`dramatiq`); prints messages/s.

    python bench/rabbitmq_confirm_probe.py URL pika|dramatiq N [DELIVERY_MODE]

DELIVERY_MODE 1 (transient: no disk sync before the confirm) shows the client's own cost;
2 (persistent, Dramatiq's) is what a producer sees. The queue has Dramatiq's arguments.
"""

import json
import sys
import time
import uuid

import dramatiq
import pika
from dramatiq.brokers import rabbitmq

url, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mode_dm = int(sys.argv[4]) if len(sys.argv) > 4 else 2
queue = f"probe-{uuid.uuid4().hex[:8]}"


def message():
    return dramatiq.Message(queue_name=queue, actor_name="noop", args=(), kwargs={}, options={})


if mode_dm != 2:
    # Dramatiq always publishes persistent; for the transient figure, swap its properties.
    import types

    Properties = pika.BasicProperties
    rabbitmq.pika = types.SimpleNamespace(**{
        **vars(pika), "BasicProperties": lambda **kw: Properties(**{**kw, "delivery_mode": mode_dm}),
    })

if mode == "pika":
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(queue, durable=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue + ".XQ"})
    props = pika.BasicProperties(delivery_mode=mode_dm)
    send = lambda: ch.basic_publish("", queue, message().encode(), props, mandatory=True)  # noqa: E731
else:
    broker = rabbitmq.RabbitmqBroker(url=url, confirm_delivery=True)
    broker.declare_queue(queue)
    send = lambda: broker.enqueue(message())  # noqa: E731

for _ in range(200):
    send()
start = time.perf_counter()
for _ in range(n):
    send()
seconds = time.perf_counter() - start
if mode == "pika":
    ch.queue_delete(queue)
    conn.close()
else:
    broker.flush(queue)
    broker.close()
print(json.dumps(n / seconds))
