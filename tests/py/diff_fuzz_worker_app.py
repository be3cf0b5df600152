"""The Python worker of tests/js/diff-fuzz-worker.test.mjs: broker_app (RedisBroker, Results,
CurrentMessage, GroupCallbacks over a Redis rate limiter backend) plus the actors a fuzz run
declares, read from the JSON file FW_SPEC: `{"actors": [{"name", "priority"?, "options"}]}`,
every one on queue QUEUE running `behave`, and the recorders `fw_rec_a`, `fw_rec_b`,
`fw_rec_c` on CALLBACK_QUEUE. An option `"throws": [names]` is the tuple of those classes
(`"Retry"` is Dramatiq's).

`behave(script, *rest, **kwargs)` follows `script["s"]`, one step per attempt (the
message's `retries` option, truncated, below 0 the first; no number: the first; the last
step repeats): `["ret", value]` returns value,
`["retry", delay]` raises `Retry(delay=delay)`, `["raise", class name, msg]` raises it.
Each attempt appends its message id to the list `fw:att`; a recorder appends
`<its name> <the message it got, encoded>` to `fw:cb` (both on the results Redis).
"""

import json
import os

import dramatiq
from dramatiq.middleware import CurrentMessage

from broker_app import QUEUE, CALLBACK_QUEUE, store  # noqa: F401  (the broker and its middleware)


class AppError(ValueError):
    pass


class Thrown(Exception):
    pass


EXCEPTIONS = {"ValueError": ValueError, "RuntimeError": RuntimeError, "AppError": AppError, "Thrown": Thrown}


def behave(script, *rest, **kwargs):
    message = CurrentMessage.get_current_message()
    attempt = message.options.get("retries", 0)
    store.rpush("fw:att", message.message_id)
    steps = script["s"]
    # An odd count (a fraction, negative, no number) picks as the JS worker's script does.
    number = isinstance(attempt, (int, float)) and not isinstance(attempt, bool)
    step = steps[max(0, min(int(attempt), len(steps) - 1)) if number else 0]
    if step[0] == "ret":
        return step[1]
    if step[0] == "retry":
        raise dramatiq.Retry(delay=step[1])
    raise EXCEPTIONS[step[1]](step[2])


def recorder(name):
    def record(*args, **kwargs):
        store.rpush("fw:cb", f"{name} {CurrentMessage.get_current_message().encode().decode()}")

    return record


for _name in ("fw_rec_a", "fw_rec_b", "fw_rec_c"):
    dramatiq.actor(recorder(_name), actor_name=_name, queue_name=CALLBACK_QUEUE)

with open(os.environ["FW_SPEC"]) as _f:
    for _spec in json.load(_f)["actors"]:
        _options = dict(_spec["options"])
        if "throws" in _options:
            _options["throws"] = tuple(dramatiq.Retry if n == "Retry" else EXCEPTIONS[n] for n in _options["throws"])
        _priority = {"priority": _spec["priority"]} if "priority" in _spec else {}
        dramatiq.actor(behave, actor_name=_spec["name"], queue_name=QUEUE, **_priority, **_options)
