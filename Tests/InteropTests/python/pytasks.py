"""Tasks for the Python Celery worker the interop tests start (`celery -A pytasks worker`)."""
import datetime
import decimal
import uuid

from celery import bootsteps

from interop import make_app

app = make_app('pytasks')


class WakeUp(bootsteps.StartStopStep):
    """Wakes the worker's event loop twice a second.

    Celery checks for a requested shutdown only between polls, and with no timers due a poll
    can last up to 10 s: this keeps SIGTERM → exit well under a second.
    """
    requires = {'celery.worker.consumer.tasks:Tasks'}

    def start(self, consumer):
        self.timer = consumer.timer.call_repeatedly(0.5, lambda: None)

    def stop(self, consumer):
        self.timer.cancel()


app.steps['consumer'].add(WakeUp)


@app.task(name='py.mul')
def mul(x, y):
    return x * y


@app.task(name='py.tsum')
def tsum(numbers, *rest):
    """A chord body: the sum of the header's results."""
    return sum(numbers) + sum(rest)


@app.task(name='py.concat')
def concat(*parts):
    return ''.join(str(p) for p in parts)


@app.task(name='py.fail')
def fail(message):
    raise ValueError(message)


@app.task(name='py.on_error')
def on_error(task_id):
    """An old-style errback: Celery (and Conveyor) call it with the failed task's id."""
    return {'failed_task_id': task_id}


@app.task(name='py.kombu_types')
def kombu_types():
    """A result with every kombu JSON type envelope a Swift client must read."""
    return {
        'when': datetime.datetime(2026, 11, 27, 15, 2, 16, 728838, tzinfo=datetime.timezone.utc),
        'day': datetime.date(2026, 11, 27),
        'amount': decimal.Decimal('1.50'),
        'id': uuid.UUID('12345678-1234-5678-1234-567812345678'),
        'raw': b'bytes \xc3\xa9',
        'pair': (1, 2),
    }


@app.task(name='py.describe')
def describe(x, y, label, when=None):
    """Typed Swift tasks send kwargs; this answers with a shape a Swift Codable decodes."""
    return {
        'sum': x + y,
        'label': label,
        'when_type': type(when).__name__,
        'when': when.isoformat() if isinstance(when, datetime.datetime) else when,
    }


@app.task(name='py.echo_headers', bind=True)
def echo_headers(self, *args, **kwargs):
    """What Celery's worker made of a message sent by Swift."""
    request = self.request
    return {
        'id': request.id,
        'task': request.task,
        'args': list(args),
        'kwargs': kwargs,
        'retries': request.retries,
        'root_id': request.root_id,
        'parent_id': request.parent_id,
        'eta': request.eta,
        'expires': request.expires,
        'timelimit': list(request.timelimit) if request.timelimit else None,
        'ignore_result': request.ignore_result,
        'x_trace': request.get('x-trace'),
        'x_count': request.get('x-count'),
        'correlation_id': request.correlation_id,
        'delivery_routing_key': (request.delivery_info or {}).get('routing_key'),
        'hostname': request.hostname,
    }
