"""Python client → Swift worker: Celery calls diffs.compute by name.

usage: call_diffs.py QUEUE REPOSITORY BASE HEAD
"""
import sys

from interop import HANG_GUARD, describe_error, emit, make_app

queue, repository, base, head = sys.argv[1:5]
app = make_app('call_diffs')
out = {}

by_keywords = app.send_task('diffs.compute', kwargs={'repository': repository, 'base': base, 'head': head}, queue=queue)
out['kwargs'] = by_keywords.get(timeout=HANG_GUARD)

positional = app.send_task('diffs.compute', args=(repository, base, head, 0, False, 'myers'), queue=queue)
out['positional'] = positional.get(timeout=HANG_GUARD)

bad = app.send_task('diffs.compute', kwargs={'repository': '../' + repository, 'base': base, 'head': head}, queue=queue)
try:
    bad.get(timeout=HANG_GUARD)
    out['bad'] = {'raised': False}
except Exception as error:
    out['bad'] = dict(describe_error(error), raised=True)
out['bad']['state'] = bad.state

emit(out)
