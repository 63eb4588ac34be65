"""The Python side of ops/demo: a Django/Celery app calling Swift tasks, unchanged Celery code.

    python ops/lib/demo_celery_client.py QUEUE
"""
import os
import sys

from celery import Celery

queue = sys.argv[1] if len(sys.argv) > 1 else "celery"
broker = os.environ.get("CONVEYOR_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//").replace("/%2F", "//")
app = Celery("demo", broker=broker, backend=os.environ.get("CONVEYOR_RESULT_URL", "redis://127.0.0.1:6379/0"))

calls = [
    ("conveyor.add", (19, 23), {}),
    ("conveyor.echo", ("naïve café", {"repo": "bitbucket/conveyor", "refs": ["main", "v1.0"]}), {"depth": 2**70}),
    ("conveyor.add", (0.1, 0.2), {}),
]
for name, args, kwargs in calls:
    result = app.send_task(name, args=args, kwargs=kwargs, queue=queue)
    print(f"python  {name}{args!r} -> {result.get(timeout=30)!r}")

failing = app.send_task("conveyor.fail", args=("repository not found",), queue=queue)
try:
    failing.get(timeout=30)
except Exception as exc:  # the Swift task's failure, raised in Python
    print(f"python  conveyor.fail -> raised {type(exc).__name__}: {exc}")
