"""Python Dramatiq 2.2.1's RedisBroker as a worker that dies holding messages, for
tests/js/oracle-brokers.test.mjs (Dramatiq's own test_redis.py scenarios, run against our
broker's maintenance).

    oracle_brokers.py hold URL NAMESPACE QUEUE N   enqueue N bodies, fetch them all as
                                                   this broker (never acked); print the
                                                   broker id and the ids, one JSON line
    oracle_brokers.py dead URL NAMESPACE QUEUE N   enqueue N bodies, fetch and nack them
                                                   all (N dead letters); print the ids
    oracle_brokers.py take URL NAMESPACE QUEUE N   fetch up to N messages others enqueued,
                                                   ack each; print each as Message.asdict()
"""

import json
import sys

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker


def main():
    command, url, namespace, queue, count = sys.argv[1:6]
    broker = RedisBroker(url=url, namespace=namespace, maintenance_chance=0)
    if command == "take":
        for data in broker.do_fetch(queue, int(count)):
            message = Message.decode(data)
            broker.do_ack(queue, message.options["redis_message_id"])
            print(json.dumps(message.asdict()))
        return
    ids = ["message-%d" % i for i in range(int(count))]
    for message_id in ids:
        broker.do_enqueue(queue, message_id, b"message-data")
    fetched = []
    while len(fetched) < len(ids):
        batch = broker.do_fetch(queue, 1000)
        if not batch:
            break
        fetched.extend(batch)
    if command == "dead":
        for message_id in ids:
            broker.do_nack(queue, message_id)
    print(json.dumps({"broker_id": broker.broker_id, "ids": ids, "fetched": len(fetched)}))


if __name__ == "__main__":
    main()
