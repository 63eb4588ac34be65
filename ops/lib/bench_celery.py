"""The Python Celery 5.7 side of ops/bench: the app, the no-op tasks, and the client measurements.

The worker side runs as Celery users run it:

    PYTHONPATH=ops/lib celery -A bench_celery worker -c 2 -Q QUEUE ...

The client side prints one JSON document on stdout:

    python ops/lib/bench_celery.py publish --queue Q --count N [--warmup W]
    python ops/lib/bench_celery.py rtt --queue Q --count N [--warmup W]
    python ops/lib/bench_celery.py ping --node NODE --slots S --count N [--timeout T]

The app uses Celery's defaults except for the broker and the result backend (the same RabbitMQ and
Redis as Conveyor, from CONVEYOR_BROKER_URL and CONVEYOR_RESULT_URL). In particular
`broker_transport_options` has no `confirm_publish`, so Celery's publishes are not confirmed
unless the environment sets BENCH_CELERY_CONFIRM=1.
"""
import argparse
import email.message
import email.utils
import json
import os
import re
import smtplib
import sys
import time
import urllib.parse

from celery import Celery


def _broker_url():
    # Conveyor spells the default vhost %2F; kombu wants "//".
    url = os.environ.get("CONVEYOR_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    return url.split(",")[0].replace("/%2F", "//")


app = Celery(
    "bench",
    broker=_broker_url(),
    backend=os.environ.get("CONVEYOR_RESULT_URL", "redis://127.0.0.1:6379/0"),
)
if os.environ.get("BENCH_CELERY_CONFIRM") == "1":
    app.conf.broker_transport_options = {"confirm_publish": True}


@app.task(name="conveyor.add")
def add(x, y):
    """The same no-op as Conveyor's diagnostic conveyor.add."""
    return x + y


@app.task(name="conveyor.echo")
def echo(*args, **kwargs):
    """The same as Conveyor's diagnostic conveyor.echo."""
    return {"args": list(args), "kwargs": kwargs}


@app.task(name="conveyor.sleep")
def sleep(seconds):
    """The same as Conveyor's diagnostic conveyor.sleep: the load of the control rows."""
    time.sleep(seconds)
    return seconds


def _render(text, context):
    """{{name}} replaced by the context's value, as the Mustache templates use it."""
    return re.sub(r"{{\s*(\w+)\s*}}", lambda m: str(context.get(m.group(1), "")), text)


@app.task(name="email.send")
def send_mail(to, template, context=None, subject=None, from_=None, reply_to=None, headers=None):
    """The same mail as Conveyor's email.send, sent the way Django's send_mail sends it: the
    templates rendered, an EmailMessage with text and an HTML alternative, and smtplib with a
    connection per message (Django's SMTP backend opens one per send_mail call)."""
    directory = os.environ["BENCH_TEMPLATES"]
    context = context or {}
    parts = {}
    for part in ("subject", "txt", "html"):
        with open(os.path.join(directory, f"{template}.{part}.mustache"), encoding="utf-8") as f:
            parts[part] = _render(f.read(), context)
    message = email.message.EmailMessage()
    message["From"] = os.environ.get("CONVEYOR_MAIL_FROM", "bench@conveyor.test")
    message["To"] = to
    message["Subject"] = subject or parts["subject"].strip()
    message["Date"] = email.utils.formatdate()
    message["Message-ID"] = f"<{send_mail.request.id}@conveyor.test>"
    message.set_content(parts["txt"])
    message.add_alternative(parts["html"], subtype="html")
    url = urllib.parse.urlsplit(os.environ.get("CONVEYOR_SMTP_URL", "smtp://127.0.0.1:2525"))
    with smtplib.SMTP(url.hostname, url.port) as connection:
        refused = connection.send_message(message)
    return {"message_id": message["Message-ID"], "rejected": refused}


def _warm_up(queue):
    """Opens the producer connection and declares the queue before the clock starts."""
    app.send_task("conveyor.add", args=(0, 0), queue=queue)


def publish(queue, count, warmup):
    """app.send_task in a loop: Celery's normal publish path."""
    for _ in range(warmup):
        _warm_up(queue)
    started = time.perf_counter()
    for i in range(count):
        app.send_task("conveyor.add", args=(i, 1), queue=queue)
    seconds = time.perf_counter() - started
    return {"count": count, "warmup": warmup, "seconds": seconds}


def rtt(queue, count, warmup, timeout):
    """delay().get() one at a time; latencies in microseconds. Results are forgotten afterwards."""
    results = []
    for _ in range(warmup):
        results.append(add.apply_async((1, 1), queue=queue))
        results[-1].get(timeout=timeout)
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        result = add.apply_async((i, 1), queue=queue)
        value = result.get(timeout=timeout)
        latencies.append(int((time.perf_counter() - started) * 1e6))
        results.append(result)
        if value != i + 1:
            raise SystemExit(f"bench_celery: conveyor.add({i}, 1) returned {value!r}")
    for result in results:
        result.forget()
    return {"count": count, "warmup": warmup, "latencies_us": latencies}


def _busy_slots(node, timeout):
    """How many tasks `celery inspect active` shows running on NODE (0 when it does not answer)."""
    reply = app.control.inspect(destination=[node], timeout=timeout).active() or {}
    return len(reply.get(node) or [])


def ping(node, slots, count, timeout):
    """`celery inspect ping -d NODE -t TIMEOUT` COUNT times from this one process, once SLOTS tasks
    run on NODE; latencies in microseconds (a call left unanswered waits out the timeout)."""
    deadline = time.monotonic() + 120
    while _busy_slots(node, timeout) < slots:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_celery: {node} did not show {slots} running tasks within 120 s")
        time.sleep(0.05)
    latencies = []
    answered = 0
    for _ in range(count):
        started = time.perf_counter()
        reply = app.control.inspect(destination=[node], timeout=timeout).ping() or {}
        elapsed = time.perf_counter() - started
        latencies.append(int(elapsed * 1e6))
        if reply.get(node) == {"ok": "pong"} and elapsed <= timeout:
            answered += 1
    return {"count": count, "answered": answered, "latencies_us": latencies, "busy_after": _busy_slots(node, timeout)}


def main(argv):
    parser = argparse.ArgumentParser(prog="bench_celery")
    parser.add_argument("mode", choices=["publish", "rtt", "ping"])
    parser.add_argument("--queue")
    parser.add_argument("--node")
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=30)
    options = parser.parse_args(argv)
    if not 1 <= options.count <= 1_000_000 or not 1 <= options.slots <= 1000 or not 0 < options.timeout <= 600:
        parser.error("--count must be 1..1000000, --slots 1..1000, --timeout 0..600 seconds")
    if (options.mode == "ping") != (options.node is not None) or (options.mode != "ping") != (options.queue is not None):
        parser.error("ping needs --node (and no --queue); publish and rtt need --queue")
    if options.mode == "ping":
        report = ping(options.node, options.slots, options.count, options.timeout)
    elif options.mode == "publish":
        report = publish(options.queue, options.count, options.warmup)
    else:
        report = rtt(options.queue, options.count, options.warmup, options.timeout)
    report["confirm_publish"] = os.environ.get("BENCH_CELERY_CONFIRM") == "1"
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
