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
    oracle_brokers.py maintain URL NAMESPACE QUEUE MS HEARTBEAT_MS
                                                   for MS ms, a qsize every 50 ms with
                                                   maintenance on every call and that heartbeat
                                                   timeout (what a busy Python fleet does to a
                                                   worker's held messages); print the calls made
"""

import json
import sys
import time

from dramatiq import Message
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker


def main():
    command, url, namespace, queue, count = sys.argv[1:6]
    broker = RedisBroker(url=url, namespace=namespace, maintenance_chance=0)
    if command == "maintain":
        broker = RedisBroker(
            url=url, namespace=namespace, maintenance_chance=MAINTENANCE_SCALE, heartbeat_timeout=int(sys.argv[6])
        )
        deadline = time.monotonic() + int(count) / 1000
        calls = 0
        while time.monotonic() < deadline:
            broker.do_qsize(queue)
            calls += 1
            time.sleep(0.05)
        print(json.dumps({"calls": calls}))
        return
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
