"""Chords and groups built in Python whose tasks run on a Swift worker and a Python worker.

usage: chords.py SWIFT_QUEUE PY_QUEUE SWIFT_GROUP_ID
Restores the group the Swift test saved under SWIFT_GROUP_ID, and saves one for it to restore.
"""
import sys

from celery import chain, chord, group
from celery.result import GroupResult

from interop import HANG_GUARD, describe_error, emit, make_app

swift_queue, py_queue, swift_group_id = sys.argv[1], sys.argv[2], sys.argv[3]
app = make_app('chords')
TIMEOUT = HANG_GUARD


def swift(name, *args, immutable=False):
    return app.signature(name, args=args, options={'queue': swift_queue}, immutable=immutable)


def py(name, *args, immutable=False):
    return app.signature(name, args=args, options={'queue': py_queue}, immutable=immutable)


def outcome(result):
    try:
        return {'value': result.get(timeout=TIMEOUT)}
    except Exception as error:
        return {'error': describe_error(error)}


out = {}

# Header on Python, body on Swift: echo shows the list of results it got.
out['python_header_swift_body'] = outcome(chord([py('py.mul', i, 10) for i in range(5)], swift('conveyor.echo')).apply_async())

# Header on Swift, body on Python.
out['swift_header_python_body'] = outcome(chord([swift('conveyor.add', i, 1) for i in range(5)], py('py.tsum')).apply_async())

# Mixed header, in order: results come back by group_index whoever finished first.
mixed = [swift('conveyor.add', 1, 1), py('py.mul', 3, 3), swift('conveyor.add', 10, 10), py('py.mul', 5, 5)]
out['mixed_header'] = outcome(chord(mixed, swift('conveyor.echo')).apply_async())

# A failing Swift header task: the Python body fails with ChordError, its errback runs.
errback = py('py.on_error')
errback.freeze()
failing = swift('conveyor.fail', 'header broke')
failing.freeze()
body = py('py.tsum')
body.link_error(errback)
failed = chord([swift('conveyor.add', 1, 1), failing], body).apply_async()
# The body's own result (get() on the chord's result raises the header's error first, following
# the parent group).
out['swift_header_fails'] = outcome(app.AsyncResult(failed.id))
out['swift_header_fails'].update({'failed_id': failing.id, 'body_id': failed.id,
                                  'errback': outcome(app.AsyncResult(errback.id))})

# A failing Python header task with a Swift body.
py_failing = py('py.fail', 'python broke')
py_failing.freeze()
failed = chord([py_failing, swift('conveyor.add', 2, 2)], swift('conveyor.echo')).apply_async()
out['python_header_fails'] = outcome(app.AsyncResult(failed.id))
out['python_header_fails']['failed_id'] = py_failing.id

# Nested: a group after a Swift task (upgraded to a chord, applied by the Swift worker), then a
# Python step after the chord's body.
nested = chain(swift('conveyor.add', 1, 1), group(swift('conveyor.add', 10), py('py.mul', 3)), py('py.tsum'),
               swift('conveyor.add', 100)).apply_async()
out['nested'] = outcome(nested)

# A chord as the first step of a chain, the rest after its body.
first = chain(chord([swift('conveyor.add', 1, 2), py('py.mul', 2, 2)], py('py.tsum')), swift('conveyor.add', 1000)).apply_async()
out['chord_then_step'] = outcome(first)

# The group the Swift test saved.
restored = GroupResult.restore(swift_group_id, app=app)
out['restored'] = None if restored is None else {'ids': [r.id for r in restored.results],
                                                  'values': restored.get(timeout=TIMEOUT)}

# A group for the Swift side to restore.
saved = group(py('py.mul', 2, 3), swift('conveyor.add', 4, 4)).apply_async()
saved.save()
out['saved'] = {'id': saved.id, 'ids': [r.id for r in saved.results], 'values': saved.get(timeout=TIMEOUT)}

emit(out)
