"""broker_app plus the two actors tests/js/diff-fuzz.test.mjs runs in Python's worker and
declares again in its JS worker, on queue `fz`: `fz_echo` returns its argument, `fz_raise`
raises an exception of the class name and message it is given (no retries, so the failure
is stored at once)."""

import os

import dramatiq

from broker_app import broker  # noqa: F401  (the broker, Results and the other actors)


@dramatiq.actor(queue_name="fz", store_results=True, max_retries=0)
def fz_echo(value):
    return value


@dramatiq.actor(queue_name="fz", store_results=True, max_retries=0)
def fz_raise(type_name, msg):
    raise type(type_name, (Exception,), {})(msg)


# FD_QUEUES=N: queues fd0 … fd<N-1> too, one per decoding case, so that a body that stalls
# its consumer (Python's consumer restarts for ever on some) stalls no other case.
for _i in range(int(os.environ.get("FD_QUEUES") or 0)):
    broker.declare_queue(f"fd{_i}")


@dramatiq.actor(queue_name="fd", max_retries=0)
def fz_mark(*args, **kwargs):
    """Records that it ran, with every place a decoding case's tag may survive its mutation."""
    import json

    from broker_app import store
    from dramatiq.middleware import CurrentMessage

    message = CurrentMessage.get_current_message()
    options = message.options if isinstance(message.options, dict) else {}
    store.rpush("fz:runs", json.dumps([str(message.message_id), repr(args), repr(kwargs), str(options.get("fz_tag"))]))
