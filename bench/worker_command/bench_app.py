"""Python's side of bench/worker_command.mjs: the same three actors as tasks.mjs, on the
RedisBroker at BROKER_URL, run by `dramatiq -p 2 -t 8 bench_app`."""

import os
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=os.environ["BROKER_URL"]))


@dramatiq.actor(queue_name="bench-noop")
def noop():
    pass


@dramatiq.actor(queue_name="bench-cpu")
def cpu5():
    # 5 ms of this thread's CPU time (not wall time: on a busy machine a wall-clock spin
    # would count time spent waiting for a core as work).
    end = time.thread_time() + 0.005
    while time.thread_time() < end:
        pass


@dramatiq.actor(queue_name="bench-term")
def sleep1():
    time.sleep(1)
