"""A real Python Dramatiq producer and result reader for the broker interoperability tests.
Broker, results and queue come from the environment, as for broker_app.py.

    produce.py send SPEC...       enqueue; print each message as Dramatiq encoded it
    produce.py pipeline SPEC...   run SPECs as one pipeline; print its messages (the last
                                  one's result is the pipeline's)
    produce.py group SPEC...      run SPECs as one group; print its messages
    produce.py group-callback CALLBACK SPEC...
                                  run SPECs as one group with the CALLBACK spec's message as
                                  its completion callback (GroupCallbacks); print the
                                  callback's message, then the group's
    produce.py enqueue < dicts    for each message dict line on stdin (Python's json, as
                                  `Message.asdict()`), broker.enqueue(Message(**dict));
                                  print the message as Dramatiq encoded it
    produce.py results [--timeout MS] < messages
                                  for each message line on stdin, block in get_result and
                                  print {"value": v} | {"failure": {"type", "msg"}} |
                                  {"timeout": true}
    produce.py processed          print the message ids `record` processed, as one JSON list
    produce.py callbacks          print what the callback recorders received, one JSON
                                  [recorder, message dict, payload] a line (and clear it)

SPEC is JSON (Python's parser: NaN, Infinity and big integers are fine):
    {"actor": "add", "args": [1, 2], "kwargs": {}, "options": {}, "count": 1, "delay": MS}
("options" go to `message_with_options`, e.g. {"on_success": "cb_record"}.)
Every output line is JSON in Dramatiq's own encoding (compact; NaN and big integers as
Python writes them), so a JS test reads it with the package's JSONEncoder.
"""

import argparse
import json
import sys

import dramatiq
from dramatiq.results import ResultFailure, ResultTimeout

import broker_app


def dumps(value):
    return json.dumps(value, separators=(",", ":"))


def build(spec):
    actor = broker_app.broker.get_actor(spec["actor"])
    return actor.message_with_options(
        args=tuple(spec.get("args", [])), kwargs=spec.get("kwargs", {}), **spec.get("options", {})
    )


def send(specs):
    for spec in specs:
        for _ in range(spec.get("count", 1)):
            message = broker_app.broker.enqueue(build(spec), delay=spec.get("delay"))
            print(message.encode().decode(), flush=True)


def pipeline(specs):
    pipe = dramatiq.pipeline(build(spec) for spec in specs).run()
    for message in pipe.messages:
        print(message.encode().decode(), flush=True)


def group(specs):
    for message in dramatiq.group(build(spec) for spec in specs).run().children:
        print(message.encode().decode(), flush=True)


def group_callback(specs):
    callback = build(specs[0])
    g = dramatiq.group(build(spec) for spec in specs[1:])
    g.add_completion_callback(callback)
    g.run()
    print(callback.encode().decode(), flush=True)
    for message in g.children:
        print(message.encode().decode(), flush=True)


def enqueue():
    for line in sys.stdin:
        if line.strip():
            message = broker_app.broker.enqueue(dramatiq.Message(**json.loads(line)))
            print(message.encode().decode(), flush=True)


def results(timeout):
    for line in sys.stdin:
        if not line.strip():
            continue
        message = dramatiq.Message.decode(line.encode())
        try:
            out = {"value": message.get_result(backend=broker_app.backend, block=True, timeout=timeout)}
        except ResultFailure as e:
            out = {"failure": {"type": e.orig_exc_type, "msg": e.orig_exc_msg}}
        except ResultTimeout:
            out = {"timeout": True}
        print(dumps(out), flush=True)


def processed():
    ids = broker_app.store.lrange(f"{broker_app.PREFIX}:processed", 0, -1)
    print(dumps([i.decode() for i in ids]))


def callbacks():
    key = f"{broker_app.PREFIX}:callbacks"
    for line in broker_app.store.lrange(key, 0, -1):
        print(line.decode())
    broker_app.store.delete(key)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["send", "pipeline", "group", "group-callback", "enqueue", "results", "processed", "callbacks"])
    parser.add_argument("specs", nargs="*", type=json.loads)
    parser.add_argument("--timeout", type=int, default=10_000, help="get_result timeout, ms")
    args = parser.parse_args()
    try:
        if args.command == "results":
            results(args.timeout)
        elif args.command == "processed":
            processed()
        elif args.command == "callbacks":
            callbacks()
        elif args.command == "enqueue":
            enqueue()
        else:
            {"send": send, "pipeline": pipeline, "group": group, "group-callback": group_callback}[args.command](
                args.specs
            )
    finally:
        broker_app.broker.close()


if __name__ == "__main__":
    main()
