"""Python's side of tests/js/gateway-follow-fuzz.test.mjs: the producer and the oracle.

    follow_fuzz.py send      reads JSON lines, one job each, sends them as Dramatiq does and
                             prints, per job, one JSON line: the message dicts it sent
                             {"op": "send", "queue", "actor", "args", "kwargs"?, "id", "delay"?}
                             {"op": "pipeline", "steps": [{"actor", "args", "queue"}]}
                             {"op": "group", "children": [...], "callback": {...}}
    follow_fuzz.py results   reads JSON lines {"message": dict, "timeout"?: ms} and prints,
                             per line, what `get_result` answers: {"value": v},
                             {"failure": [type, message]}, {"missing": true} (block=False)
                             or {"timeout": true} (block=True, timeout given)
"""

import json
import sys
import time

import dramatiq
from dramatiq import Message, group, pipeline
from dramatiq.results import ResultFailure, ResultMissing, ResultTimeout

import follow_fuzz_app as app


def build(step):
    """A Message for `step` (an undeclared actor too: only its name travels)."""
    options = dict(step.get("options") or {})
    kwargs = {"queue_name": step["queue"], "actor_name": step["actor"], "args": tuple(step["args"]), "kwargs": step.get("kwargs") or {}, "options": options}
    if "id" in step:
        kwargs["message_id"] = step["id"]
    return Message(**kwargs)


def send(job):
    if job["op"] == "send":
        sent = app.broker.enqueue(build(job), delay=job.get("delay"))
        return [sent.asdict()]
    if job["op"] == "pipeline":
        messages = [build(s) for s in job["steps"]]
        pipe = pipeline(messages)
        pipe.run()
        return [m.asdict() for m in pipe.messages]
    if job["op"] == "group":
        children = [build(s) for s in job["children"]]
        g = group(children)
        callback = build(job["callback"])
        g.add_completion_callback(callback)
        g.run()
        # The callback is sent by the last child to finish: its id is the one built here.
        return [m.asdict() for m in children] + [callback.asdict()]
    raise SystemExit(f"unknown op {job['op']}")


def result(line):
    message = Message(**{**line["message"], "args": tuple(line["message"]["args"])})
    timeout = line.get("timeout")
    try:
        value = app.backend.get_result(message, block=timeout is not None, timeout=timeout)
        return {"value": value}
    except ResultFailure as e:
        return {"failure": [e.orig_exc_type, e.orig_exc_msg]}
    except ResultMissing:
        return {"missing": True}
    except ResultTimeout:
        return {"timeout": True}


def main():
    mode = sys.argv[1]
    for raw in sys.stdin:
        if not raw.strip():
            continue
        line = json.loads(raw)
        out = send(line) if mode == "send" else result(line)
        print(json.dumps(out, separators=(",", ":")), flush=True)
    # Every publish on its way before the process ends (RabbitMQ: the connection closed cleanly).
    app.broker.close()


if __name__ == "__main__":
    main()
