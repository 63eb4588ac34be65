"""Python client → Swift worker: Celery's countdown and expires (an `eta`/`expires` header, the
message published straight to the queue) are honoured by the Swift worker.

usage: send_delayed.py QUEUE
"""
import sys
import time

from interop import HANG_GUARD, describe_error, emit, make_app

queue = sys.argv[1]
app = make_app('send_delayed')
out = {}

started = time.monotonic()
delayed = app.send_task('conveyor.add', args=(1, 2), countdown=2, queue=queue)
out['countdown'] = {'value': delayed.get(timeout=HANG_GUARD), 'elapsed': time.monotonic() - started}

# Due in 2 s but expiring after 1 s: by the time it is due it has expired, so it is revoked.
expiring = app.send_task('conveyor.add', args=(1, 2), countdown=2, expires=1, queue=queue)
try:
    expiring.get(timeout=HANG_GUARD)
    out['expired'] = {'raised': False}
except Exception as error:
    out['expired'] = dict(describe_error(error), raised=True)
out['expired']['state'] = expiring.state
emit(out)
