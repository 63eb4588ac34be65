"""Python client → Swift worker: failures raise in AsyncResult.get() as Celery's would.

usage: send_failures.py QUEUE
"""
import datetime
import sys
import time

from celery.exceptions import NotRegistered

from interop import HANG_GUARD, describe_error, emit, make_app

queue = sys.argv[1]
app = make_app('send_failures')
out = {}

failing = app.send_task('conveyor.fail', args=('it broke',), queue=queue)
try:
    failing.get(timeout=HANG_GUARD)
    out['fail'] = {'raised': False}
except Exception as error:
    out['fail'] = dict(describe_error(error), raised=True)
out['fail']['state'] = failing.state
out['fail']['traceback'] = failing.traceback
out['fail']['result_type'] = type(failing.result).__name__
date_done = failing.date_done
out['fail']['date_done_type'] = type(date_done).__name__
out['fail']['date_done_age'] = (datetime.datetime.now(datetime.timezone.utc) - date_done).total_seconds()

# Time limits as Celery's client sends them: header timelimit = [time_limit, soft_time_limit].
# The soft case's hard limit is far from its soft one: on a starved machine the cancelled sleep
# once took over 4.5 s to end, and a hard limit of 5 s then won the race.
for name, limits in (('soft_limit', {'time_limit': 60, 'soft_time_limit': 0.5}), ('hard_limit', {'time_limit': 0.5})):
    started = time.monotonic()
    limited = app.send_task('conveyor.sleep', args=(8,), queue=queue, **limits)
    try:
        limited.get(timeout=HANG_GUARD)
        out[name] = {'raised': False}
    except Exception as error:
        out[name] = dict(describe_error(error), raised=True)
    out[name]['elapsed'] = time.monotonic() - started
    out[name]['state'] = limited.state

unknown = app.send_task('no.such.task', args=(1,), queue=queue)
try:
    unknown.get(timeout=HANG_GUARD)
    out['unknown'] = {'raised': False}
except Exception as error:
    out['unknown'] = dict(describe_error(error), raised=True, is_not_registered=isinstance(error, NotRegistered))
out['unknown']['id'] = unknown.id
out['unknown']['state'] = unknown.state
emit(out)
