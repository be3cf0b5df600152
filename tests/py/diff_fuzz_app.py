"""broker_app plus the two actors tests/js/diff-fuzz.test.mjs runs in Python's worker and
declares again in its JS worker, on queue `fz`: `fz_echo` returns its argument, `fz_raise`
raises an exception of the class name and message it is given (no retries, so the failure
is stored at once)."""

import dramatiq

from broker_app import broker  # noqa: F401  (the broker, Results and the other actors)


@dramatiq.actor(queue_name="fz", store_results=True, max_retries=0)
def fz_echo(value):
    return value


@dramatiq.actor(queue_name="fz", store_results=True, max_retries=0)
def fz_raise(type_name, msg):
    raise type(type_name, (Exception,), {})(msg)
