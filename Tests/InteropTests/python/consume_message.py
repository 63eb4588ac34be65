"""Reads one task message a Swift client published, with kombu, and lets Celery's worker-side
Request parse it.

usage: consume_message.py QUEUE TASK_NAME
"""
import json
import sys

from celery.utils.saferepr import saferepr
from celery.worker.request import Request
from kombu import Exchange, Queue

from interop import HANG_GUARD, emit, make_app

queue_name, task_name = sys.argv[1], sys.argv[2]
app = make_app('consume')


@app.task(name=task_name)
def target(*args, **kwargs):
    return None


messages = []
queue = Queue(queue_name, Exchange(queue_name, 'direct'), queue_name)  # exactly as Celery declares it
with app.connection_for_read() as connection:
    with connection.Consumer(queue, accept=['json'], callbacks=[lambda body, message: messages.append((body, message))]):
        while not messages:
            connection.drain_events(timeout=HANG_GUARD)
    body, message = messages[0]
    message.ack()


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


request = Request(message, app=app, task=app.tasks[task_name])
# What Celery's own client would have written for these values: json.dumps of the body (kombu
# envelopes left as plain dicts) and saferepr of args (as a tuple, like send_task's) and kwargs.
raw_args, raw_kwargs, raw_embed = json.loads(message.body)
celery_would_send = {
    'body': json.dumps([raw_args, raw_kwargs, raw_embed]),
    'argsrepr': saferepr(tuple(raw_args), app.amqp.argsrepr_maxsize, maxlevels=app.conf.task_repr_maxlevels),
    'kwargsrepr': saferepr(raw_kwargs, app.amqp.kwargsrepr_maxsize, maxlevels=app.conf.task_repr_maxlevels),
}
emit({
    'headers': plain(message.headers),
    'header_types': [[key, type(value).__name__] for key, value in message.headers.items()],
    'properties': plain(message.properties),
    'delivery_info': plain({k: message.delivery_info.get(k) for k in ('exchange', 'routing_key')}),
    'content_type': message.content_type,
    'content_encoding': message.content_encoding,
    'body_types': [type(part).__name__ for part in body],
    'body': plain(body),
    'body_text': message.body.decode('utf-8') if isinstance(message.body, bytes) else message.body,
    'celery_would_send': celery_would_send,
    'request': {
        'id': request.id,
        'name': request.name,
        'args': plain(request.args),
        'kwargs': plain(request.kwargs),
        'eta': request.eta.isoformat() if request.eta else None,
        'expires': request.expires.isoformat() if request.expires else None,
        'time_limits': list(request.time_limits),
        'root_id': request.root_id,
        'parent_id': request.parent_id,
        'argsrepr': request.argsrepr,
        'kwargsrepr': request.kwargsrepr,
        'ignore_result': request.ignore_result,
        'priority': request.delivery_info.get('priority'),
        'correlation_id': request.request_dict.get('correlation_id'),
        'x_custom': request.request_dict.get('x-custom'),
    },
})
