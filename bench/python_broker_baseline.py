"""Python Dramatiq 2.2.1's brokers, measured: the baseline for our RedisBroker and
RabbitmqBroker. Needs running servers; prints one JSON object.

    python bench/python_broker_baseline.py --redis URL [--rabbitmq URL] [--threads 1,8]
                                           [--n 10000] [--latency-runs 200]
    python bench/python_broker_baseline.py --rabbitmq URL --confirm-round --n 2000

Per broker (RabbitMQ with and without publisher confirms):
  enqueue     N `noop` messages with broker.enqueue, one after another: messages/s
  process     N `noop` messages already queued, drained by one `dramatiq --processes 1
              --threads T` worker (tests/py/broker_app.py): messages/s from its first to
              its N-th processed message (the worker counts in memory: COUNT_TO), and from
              "ready for action" to the N-th
  latency     `add` sent, then get_result(block=True) on the Redis result backend, one at a
              time, with a worker (8 threads) running: p50/p99 ms. Dramatiq's idle
              consumers poll with backoff up to 1 s, which this includes.
Results always go to the Redis at --redis. Every run uses a fresh queue name.

--confirm-round measures one round of bench/rabbitmq_broker.mjs's interleaved confirmed
enqueue instead: a fresh RabbitmqBroker(confirm_delivery=True), 200 messages to warm its
connection and queue up, then N `noop` messages one after another, timed; prints
{"msgs_per_s": ...}.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import dramatiq
from dramatiq.results.backends.redis import RedisBackend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP_DIR = os.path.join(ROOT, "tests", "py")
DRAMATIQ = os.path.join(os.path.dirname(sys.executable), "dramatiq")


def make_broker(kind, url, confirm=False):
    if kind == "redis":
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url, confirm_delivery=confirm)


def message(queue, actor, *args):
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})


def enqueue(broker, queue, n):
    """Seconds to enqueue n noop messages on `queue`."""
    broker.declare_queue(queue)
    start = time.perf_counter()
    for _ in range(n):
        broker.enqueue(message(queue, "noop"))
    return time.perf_counter() - start


class Worker:
    """`dramatiq --processes 1 --threads T broker_app` on one queue, its log read line by line."""

    def __init__(self, kind, url, redis_url, queue, threads, count_to=None):
        env = {
            **os.environ, "PYTHONPATH": APP_DIR, "BROKER": kind, "BROKER_URL": url,
            "RESULTS_REDIS_URL": redis_url, "QUEUE": queue, "PYTHONUNBUFFERED": "1",
        }
        if count_to:
            env["COUNT_TO"] = str(count_to)
        self.events = {}
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [DRAMATIQ, "--processes", "1", "--threads", str(threads), "--path", APP_DIR,
             "--worker-shutdown-timeout", "5000", "broker_app", "--queues", queue],
            cwd=APP_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            now = time.perf_counter()
            with self.cond:
                if "Worker process is ready for action." in line:
                    self.events["ready"] = now
                elif "counted " in line:
                    self.events["counted"] = (now, json.loads(line.split("counted ", 1)[1]))
                self.cond.notify_all()

    def wait(self, event, timeout=300):
        with self.cond:
            if not self.cond.wait_for(lambda: event in self.events or self.proc.poll() is not None, timeout):
                raise TimeoutError(f"worker: no {event} after {timeout} s")
            if event not in self.events:
                raise RuntimeError(f"worker exited with {self.proc.returncode} before {event}")
            return self.events[event]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()


def process(kind, url, redis_url, n, threads):
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    broker = make_broker(kind, url)
    enqueue(broker, queue, n)
    broker.close()
    worker = Worker(kind, url, redis_url, queue, threads, count_to=n)
    try:
        ready = worker.wait("ready")
        done, report = worker.wait("counted")
    finally:
        worker.stop()
    return {
        "threads": threads,
        "msgs_per_s": (n - 1) / report["first_to_last_s"],
        "msgs_per_s_from_ready": n / (done - ready),
    }


# Sends before the measured ones, as many as bench/broker_bench.mjs's resultLatency makes.
WARM_UP = 20


def latency(kind, url, redis_url, runs, samples=False):
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    broker = make_broker(kind, url)
    backend = RedisBackend(url=redis_url)
    broker.declare_queue(queue)
    worker = Worker(kind, url, redis_url, queue, 8)
    times = []
    try:
        worker.wait("ready")
        for i in range(runs + WARM_UP):
            start = time.perf_counter()
            m = broker.enqueue(message(queue, "add", i, 1))
            assert backend.get_result(m, block=True, timeout=10_000) == i + 1
            if i >= WARM_UP:  # the first few warm connections up
                times.append((time.perf_counter() - start) * 1000)
    finally:
        worker.stop()
        broker.close()
    times.sort()
    at = lambda q: times[min(len(times) - 1, int(q * len(times)))]  # as bench/run.mjs's quantile
    out = {"runs": runs, "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": times[-1]}
    if samples:
        out["samples_ms"] = times
    return out


def measure(kind, url, redis_url, args):
    out = {}
    for confirm in ([False, True] if kind == "rabbitmq" else [False]):
        broker = make_broker(kind, url, confirm)
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        seconds = enqueue(broker, queue, args.n)
        broker.flush(queue)
        broker.close()
        out["enqueue_confirm" if confirm else "enqueue"] = {"n": args.n, "msgs_per_s": args.n / seconds}
    out["process"] = [process(kind, url, redis_url, args.n, t) for t in args.threads]
    out["latency"] = latency(kind, url, redis_url, args.latency_runs)
    return out


def confirm_round(url, n):
    """Messages/s of n confirmed enqueues, one after another, on a warmed-up broker."""
    broker = make_broker("rabbitmq", url, confirm=True)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    enqueue(broker, queue, 200)
    seconds = enqueue(broker, queue, n)
    broker.flush(queue)
    broker.close()
    return {"n": n, "msgs_per_s": n / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", help="redis://127.0.0.1:PORT (broker and results; required but with --confirm-round)")
    parser.add_argument("--rabbitmq", help="amqp://guest:guest@127.0.0.1:PORT")
    parser.add_argument("--threads", default="1,8", type=lambda s: [int(t) for t in s.split(",")])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--confirm-round", action="store_true", help="one confirmed-enqueue round on --rabbitmq only")
    parser.add_argument(
        "--latency-round", action="store_true", help="one send -> result round on --rabbitmq (results on --redis), with its samples"
    )
    args = parser.parse_args()
    if args.confirm_round:
        print(json.dumps(confirm_round(args.rabbitmq, args.n)))
        return
    if args.latency_round:
        print(json.dumps(latency("rabbitmq", args.rabbitmq, args.redis, args.latency_runs, samples=True)))
        return
    if not args.redis:
        parser.error("--redis is required")
    out = {"dramatiq": dramatiq.__version__, "n": args.n}
    out["redis"] = measure("redis", args.redis, args.redis, args)
    out["rabbitmq"] = measure("rabbitmq", args.rabbitmq, args.redis, args) if args.rabbitmq else {"error": "no --rabbitmq URL"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
