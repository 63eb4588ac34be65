"""Python client → Swift worker: values survive the round trip through conveyor.echo/add.

usage: send_values.py QUEUE
Prints RESULT {"cases": [{"name", "sent", "got", "got_type", "equal"}...]}.
"""
import datetime
import sys
import time

from interop import HANG_GUARD, emit, make_app

queue = sys.argv[1]
app = make_app('send_values')


@app.task(name='conveyor.add')
def add(x, y):  # a stub: only its name matters, the Swift worker runs it
    raise NotImplementedError


TIMEOUT = HANG_GUARD
moment = datetime.datetime(2026, 11, 27, 15, 2, 16, 728838, tzinfo=datetime.timezone.utc)

echo_cases = [
    ('positional args', (1, 'two', 3.5), {}),
    ('kwargs', (), {'alpha': 1, 'beta': 'b', 'gamma': [1, 2]}),
    ('args and kwargs', (1,), {'x': None}),
    ('unicode', ('é', '中文', '😀 emoji', 'tab\tnew\nline "quoted" \\ back'), {'clé': 'valeur ü'}),
    ('nested', ({'a': [1, {'b': [True, None, {'c': 'd'}]}], 'e': {}}, [[], [[]], {}]), {}),
    ('large integers', (2 ** 64 + 1, -2 ** 70, 2 ** 63 - 1, -2 ** 63), {}),
    ('floats', (0.1, 1e-7, 1e300, -2.5, 1.0), {}),
    ('none and booleans', (None, True, False), {'flag': False, 'nothing': None}),
    ('empty string', ('',), {'empty': ''}),
    ('datetime', (moment,), {'when': moment}),
]

cases = []
for name, args, kwargs in echo_cases:
    got = app.send_task('conveyor.echo', args=args, kwargs=kwargs, queue=queue).get(timeout=TIMEOUT)
    expected = {'args': list(args), 'kwargs': kwargs}
    cases.append({'name': name, 'sent': repr(expected), 'got': repr(got), 'got_type': type(got).__name__,
                  'equal': got == expected and repr(got) == repr(expected)})

add_cases = [
    ('add ints via send_task', app.send_task('conveyor.add', args=(2, 3), queue=queue), 5),
    ('add ints via apply_async', add.apply_async((2, 3), queue=queue), 5),
    ('add kwargs via apply_async', add.apply_async(kwargs={'x': 40, 'y': 2}, queue=queue), 42),
    ('add floats', add.apply_async((0.1, 0.2), queue=queue), 0.1 + 0.2),
    ('add int and float', app.send_task('conveyor.add', args=(1, 0.5), queue=queue), 1.5),
]
for name, result, expected in add_cases:
    got = result.get(timeout=TIMEOUT)
    cases.append({'name': name, 'sent': repr(expected), 'got': repr(got), 'got_type': type(got).__name__,
                  'equal': got == expected and type(got) is type(expected)})

# The datetime case, spelled out: what Python gets back from conveyor.echo.
datetime_back = app.send_task('conveyor.echo', args=(moment,), queue=queue).get(timeout=TIMEOUT)['args'][0]

# A running Swift task shows as STARTED with Celery's {"pid", "hostname"} info.
sleeping = app.send_task('conveyor.sleep', args=(1.0,), queue=queue)
deadline = time.monotonic() + TIMEOUT
while sleeping.state == 'PENDING' and time.monotonic() < deadline:
    time.sleep(0.02)
started = {'state': sleeping.state, 'info': sleeping.info}
started['final'] = sleeping.get(timeout=TIMEOUT)

emit({
    'cases': cases,
    'datetime_back': {'type': type(datetime_back).__name__, 'repr': repr(datetime_back), 'equal': datetime_back == moment},
    'started': started,
})
