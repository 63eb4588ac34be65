"""Canvas across languages: chains and links that hop between a Swift worker and a Python worker.

usage: chains.py SWIFT_QUEUE PY_QUEUE
"""
import sys
import time

from celery import chain

from interop import HANG_GUARD, emit, make_app, outcome, routed

swift_queue, py_queue = sys.argv[1], sys.argv[2]
app = make_app('chains')
TIMEOUT = HANG_GUARD
swift = routed(app, swift_queue)
py = routed(app, py_queue)

def settled(result):
    """The state of the chain's last element once a failed step has marked it (a moment after
    get() already raised through follow_parents), and the exception stored for it."""
    deadline = time.monotonic() + TIMEOUT
    while result.state == 'PENDING' and time.monotonic() < deadline:
        time.sleep(0.05)
    return {'state': result.state, 'stored_type': type(result.result).__name__}


out = {}

# (2 + 2) → × 10 → + 5, on Swift, Python, Swift.
mixed = chain(swift('conveyor.add', 2, 2), py('py.mul', 10), swift('conveyor.add', 5)).apply_async()
out['mixed'] = outcome(mixed)
out['mixed']['parent_values'] = [r.get(timeout=TIMEOUT) for r in (mixed.parent.parent, mixed.parent)]
# Each worker records the step that sent it as parent: Python's step names the first Swift step,
# the last Swift step names the Python step.
steps = [mixed.parent.parent, mixed.parent, mixed]
out['mixed']['step_ids'] = [r.id for r in steps]
out['mixed']['stored_parent_ids'] = [app.backend.get_task_meta(r.id).get('parent_id') for r in steps]

# A Python step in the middle fails: the chain's result raises the Python error.
py_fails = chain(swift('conveyor.add', 1, 1), py('py.fail', 'middle broke', immutable=True),
                 swift('conveyor.add', 5)).apply_async()
out['python_step_fails'] = outcome(py_fails)
out['python_step_fails'].update(settled(py_fails))

# A Swift step in the middle fails: Swift marks the rest of the chain failed too.
swift_fails = chain(py('py.mul', 2, 3), swift('conveyor.fail', 'swift broke', immutable=True),
                    py('py.mul', 2)).apply_async()
out['swift_step_fails'] = outcome(swift_fails)
out['swift_step_fails'].update(settled(swift_fails))

# link: a Python callback of a Swift task gets the Swift result prepended to its args.
callback = py('py.mul', 3)
callback.freeze()
linked = app.send_task('conveyor.add', args=(1, 2), queue=swift_queue, link=callback)
out['link'] = {'parent': outcome(linked), 'callback': outcome(app.AsyncResult(callback.id)),
               'callback_id': callback.id}
callback_meta = app.backend.get_task_meta(callback.id)
out['link']['callback_parent_id'] = callback_meta.get('parent_id')
out['link']['parent_id'] = linked.id

# link_error: old-style errbacks get the failed task's id, whichever side runs them.
py_errback = py('py.on_error')
py_errback.freeze()
swift_failing = app.send_task('conveyor.fail', args=('swift errback',), queue=swift_queue, link_error=py_errback)
out['swift_fails_python_errback'] = {'failed_id': swift_failing.id, 'errback': outcome(app.AsyncResult(py_errback.id))}

swift_errback = swift('conveyor.echo')
swift_errback.freeze()
py_failing = app.send_task('py.fail', args=('python errback',), queue=py_queue, link_error=swift_errback)
out['python_fails_swift_errback'] = {'failed_id': py_failing.id, 'errback': outcome(app.AsyncResult(swift_errback.id))}

emit(out)
