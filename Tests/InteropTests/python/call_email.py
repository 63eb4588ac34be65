"""Python client → Swift worker: Celery calls email.send by name, as a Django code host would.

usage: call_email.py QUEUE
"""
import sys

from interop import HANG_GUARD, describe_error, emit, make_app

queue = sys.argv[1]
app = make_app('call_email')
out = {}

by_keywords = app.send_task('email.send', kwargs={
    'to': ['Ada <ada@example.com>', 'rcpt-550-gone@example.com'],
    'template': 'welcome',
    'context': {'name': 'Ada', 'repo': 'acme/web'},
    'headers': {'X-Push': 'main'},
}, queue=queue)
out['kwargs'] = by_keywords.get(timeout=HANG_GUARD)
out['kwargs_id'] = by_keywords.id

positional = app.send_task('email.send', args=('bob@example.org', 'plain', {'n': 2}, 'Hello from Celery'), queue=queue)
out['positional'] = positional.get(timeout=HANG_GUARD)

bad = app.send_task('email.send', kwargs={'to': 'eve@example.com', 'template': 'plain', 'subject': 'x\r\nBcc: all@example.com'},
                    queue=queue)
try:
    bad.get(timeout=HANG_GUARD)
    out['bad'] = {'raised': False}
except Exception as error:
    out['bad'] = dict(describe_error(error), raised=True)
out['bad']['state'] = bad.state

emit(out)
