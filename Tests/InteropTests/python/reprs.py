"""The argsrepr and kwargsrepr headers Celery 5.7's client writes for given arguments.

usage: reprs.py JSON   where JSON is [[args, kwargs], ...]
Prints RESULT [{"argsrepr", "kwargsrepr"}, ...], from app.amqp.as_task_v2 itself.
"""
import json
import sys

from interop import emit, make_app

app = make_app('reprs')
out = []
for args, kwargs in json.loads(sys.argv[1]):
    message = app.amqp.as_task_v2('00000000-0000-0000-0000-000000000000', 't.add', args=tuple(args), kwargs=kwargs)
    out.append({'argsrepr': message.headers['argsrepr'], 'kwargsrepr': message.headers['kwargsrepr']})
emit(out)
