"""The Python producer of tests/js/diff-fuzz-worker.test.mjs (broker_app's environment).

    diff_fuzz_worker.py send    case lines `{"kind": "single" | "pipeline" | "group",
                                "children": [msg | [msg, …]], "callbacks": [msg]}`, msg
                                `{"actor_name", "args", "kwargs", "options", "message_id",
                                "old"?}` on QUEUE, its timestamp now (or an hour ago when
                                "old"): one message, pipeline(…).run(), or group(…) with
                                its completion callbacks .run(), with `delay=` when the
                                line has a "delay"; prints {"ok": true} or {"error": …}
                                per line
    diff_fuzz_worker.py views   value texts: prints {"py": Python's JSON of it, "view":
                                its JS reading} (see diff_fuzz.view)
"""

import json
import sys
import time

import dramatiq

from diff_fuzz import dumps, lines, out, view


def send():
    import broker_app

    broker = broker_app.broker
    broker.maintenance_chance = 0
    now = int(time.time() * 1000)

    def message(d):
        return dramatiq.Message(
            queue_name=d.get("queue_name", broker_app.QUEUE), actor_name=d["actor_name"], args=tuple(d["args"]),
            kwargs=d["kwargs"], options=d["options"], message_id=d["message_id"],
            message_timestamp=now - 3_600_000 if d.get("old") else now,
        )

    def build(c):
        return dramatiq.pipeline([message(d) for d in c], broker=broker) if isinstance(c, list) else message(c)

    try:
        for case in lines():
            try:
                kw = {"delay": case["delay"]} if "delay" in case else {}
                if case["kind"] == "single":
                    broker.enqueue(message(case["children"][0]), **kw)
                elif case["kind"] == "pipeline":
                    build(case["children"]).run(**kw)
                else:
                    g = dramatiq.group([build(c) for c in case["children"]], broker=broker)
                    for cb in case.get("callbacks", []):
                        g.add_completion_callback(message(cb))
                    g.run(**kw)
                out({"ok": True})
            except Exception as e:
                out({"error": f"{type(e).__name__}: {e}"})
    finally:
        broker.close()


def views():
    for line in sys.stdin:
        if line.strip():
            value = json.loads(line)
            out({"py": dumps(value), "view": dumps(view(value))})


if __name__ == "__main__":
    {"send": send, "views": views}[sys.argv[1]]()
