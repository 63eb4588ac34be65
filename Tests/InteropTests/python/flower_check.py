"""Drives a running Flower 2.2.0 through its HTTP API as its web page does, for one worker node.

Usage: flower_check.py PORT NODE QUEUE EXTRA_QUEUE

Waits until Flower lists NODE in /api/workers, runs conveyor.add on QUEUE and waits until
Flower's /api/tasks shows it finished (from the worker's events), presses the pool-grow and
add-consumer buttons (their POST endpoints), then prints on the RESULT line what Flower showed:
the worker before and after, the task, the buttons' answers and the worker page's status.
"""
import json
import sys
import time
import urllib.error
import urllib.request

import interop

port, node, queue, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
base = f'http://127.0.0.1:{port}'
deadline = time.monotonic() + interop.HANG_GUARD


def request(path, method='GET'):
    with urllib.request.urlopen(urllib.request.Request(base + path, method=method, data=b'' if method == 'POST' else None),
                                timeout=interop.HANG_GUARD) as response:
        return response.status, response.read().decode()


def until(what, probe):
    """Polls `probe` until it returns something true (an event Flower reaches on its own time)."""
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (urllib.error.URLError, ConnectionError):
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f'hang guard: {what}')


def worker():
    status, body = request(f'/api/workers?refresh=1&workername={node}')
    return json.loads(body).get(node) if status == 200 else None


# Each refresh asks the worker several inspect questions, each with Flower's short timeout: on a
# loaded machine one answer can miss a refresh, so wait for a refresh that has all of them.
before = until('Flower lists the worker with its stats, tasks and queues',
               lambda: (w := worker()) and all(w.get(k) for k in ('stats', 'registered', 'active_queues')) and w)
app = interop.make_app('flower_check')
# Task events on for this node only (Flower, started with --enable_events=False, would broadcast
# enable_events to every worker on the broker): wait until Flower's view of the worker says so.
app.control.enable_events(destination=[node])
until('task events enabled', lambda: worker()['conf'].get('worker_send_task_events') or None)
result = app.send_task('conveyor.add', args=(2, 3), queue=queue)
value = result.get(timeout=interop.HANG_GUARD)


def finished():
    status, body = request(f'/api/task/info/{result.id}')
    task = json.loads(body) if status == 200 else {}
    return task if task.get('state') == 'SUCCESS' else None


task = until('Flower saw the task succeed', finished)
grow = json.loads(request(f'/api/worker/pool/grow/{node}?n=2', 'POST')[1])
add = json.loads(request(f'/api/worker/queue/add-consumer/{node}?queue={extra}', 'POST')[1])
# Python's worker answers add_consumer at once and consumes next: wait for it to show.
after = until('the pool grew and the queue was added',
              lambda: (w := worker()) and w['stats']['pool']['max-concurrency'] == before['stats']['pool']['max-concurrency'] + 2
              and extra in [q['name'] for q in w['active_queues']] and w)
page = request(f'/worker/{node}')[0]
interop.emit({'before': before, 'value': value, 'task': task, 'grow': grow, 'add': add, 'after': after, 'page': page})
