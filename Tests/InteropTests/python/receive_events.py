"""Receives Celery events with Celery's own receiver (`app.events.Receiver`, as `celery events`
and Flower do) and keeps those of one node.

Usage: receive_events.py NODE TASK_ID...

Prints `READY` once the first event of NODE arrived (the receiver's start-up `heartbeat`
broadcast makes a worker send one at once), then waits until it has, for every TASK_ID, a
`task-succeeded` or `task-failed`, and from NODE a `worker-offline`; prints the events of NODE
on the RESULT line.
"""
import sys
import threading

import interop

node = sys.argv[1]
wanted = set(sys.argv[2:])
app = interop.make_app('receive_events')
events = []
finished = set()
state = {'ready': False, 'offline': False}


def on_event(event):
    if event.get('hostname') != node:
        return
    events.append(event)
    if not state['ready']:
        state['ready'] = True
        sys.stdout.write('READY\n')
        sys.stdout.flush()
    if event['type'] in ('task-succeeded', 'task-failed'):
        finished.add(event.get('uuid'))
    if event['type'] == 'worker-offline':
        state['offline'] = True
    if wanted <= finished and state['offline']:
        raise KeyboardInterrupt


guard = threading.Timer(interop.HANG_GUARD, lambda: sys.exit(3))
guard.daemon = True
guard.start()
with app.connection() as connection:
    receiver = app.events.Receiver(connection, handlers={'*': on_event})
    try:
        receiver.capture(limit=None, timeout=interop.HANG_GUARD, wakeup=True)
    except KeyboardInterrupt:
        pass
interop.emit(events)
