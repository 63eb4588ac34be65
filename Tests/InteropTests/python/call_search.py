"""Python client → Swift worker: Celery calls repos.index and repos.search by name.

usage: call_search.py QUEUE REPOSITORY
"""
import sys

from interop import HANG_GUARD, describe_error, emit, make_app

queue, repository = sys.argv[1:3]
app = make_app('call_search')
out = {}

indexed = app.send_task('repos.index', kwargs={'repository': repository}, queue=queue)
out['index'] = indexed.get(timeout=HANG_GUARD)

by_keywords = app.send_task('repos.search', kwargs={'repository': repository, 'query': 'TWO', 'ignore_case': True}, queue=queue)
out['kwargs'] = by_keywords.get(timeout=HANG_GUARD)

# (repository, query, ref, regex, ignore_case, path, limit), positionally.
positional = app.send_task('repos.search', args=(repository, '^o', 'HEAD~1', True, False, 'file.txt', 1), queue=queue)
out['positional'] = positional.get(timeout=HANG_GUARD)

bad = app.send_task('repos.search', kwargs={'repository': repository, 'query': '(', 'regex': True}, queue=queue)
try:
    bad.get(timeout=HANG_GUARD)
    out['bad'] = {'raised': False}
except Exception as error:
    out['bad'] = dict(describe_error(error), raised=True)
out['bad']['state'] = bad.state

emit(out)
