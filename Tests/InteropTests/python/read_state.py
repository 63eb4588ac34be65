"""Reads a task's state the way a Celery app does: AsyncResult(id).state and .info.

usage: read_state.py TASK_ID
"""
import sys

from interop import emit, make_app

app = make_app('read_state')
result = app.AsyncResult(sys.argv[1])
emit({'state': result.state, 'info': result.info})
