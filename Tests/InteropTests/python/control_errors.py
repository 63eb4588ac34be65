"""Sends remote-control commands that must fail to one node with Celery's `broadcast` (the CLI
refuses unknown command names before sending them) and prints each reply.

Usage: control_errors.py NODE
"""
import json
import sys

import interop

node = sys.argv[1]
app = interop.make_app('control_errors')
commands = [
    ('no_such_command', {}),
    ('add_consumer', {}),
    ('rate_limit', {'task_name': 'conveyor.add', 'rate_limit': 'ten'}),
    ('rate_limit', {'task_name': 'nope', 'rate_limit': '1/s'}),
    ('pool_grow', {'n': -2}),
    ('time_limit', {'task_name': 'nope'}),
]
out = {}
for name, arguments in commands:
    replies = app.control.broadcast(name, arguments=arguments, destination=[node], reply=True, timeout=interop.HANG_GUARD)
    out[name + ':' + json.dumps(arguments)] = replies[0][node] if replies else None
interop.emit(out)
