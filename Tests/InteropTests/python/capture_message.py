"""What Celery 5.7's own client publishes for one send_task, captured at kombu's Producer._publish.

usage: capture_message.py QUEUE
Nothing reaches the broker (the publish is intercepted); prints headers (in order, with Python
type names), properties, body text, exchange and routing key.
"""
import sys
import time

from kombu.messaging import Producer
from kombu.transport.native_delayed_delivery import calculate_routing_key

from interop import emit, make_app

queue = sys.argv[1]
app = make_app('capture')
captured = []


def capture(self, body, priority, content_type, content_encoding, headers, properties, routing_key,
            mandatory, immediate, exchange, declare, *rest, **kwargs):
    captured.append({
        'body': body.decode('utf-8') if isinstance(body, bytes) else body,
        'priority': priority,
        'content_type': content_type,
        'content_encoding': content_encoding,
        'headers': headers,
        'header_types': [[key, type(value).__name__] for key, value in headers.items()],
        'properties': dict(properties),
        'routing_key': routing_key,
        'exchange': exchange.name if hasattr(exchange, 'name') else exchange,
        'declare': [{'queue': q.name, 'durable': q.durable, 'exclusive': q.exclusive, 'auto_delete': q.auto_delete,
                     'arguments': q.queue_arguments, 'exchange': q.exchange.name, 'exchange_type': q.exchange.type,
                     'exchange_durable': q.exchange.durable, 'routing_key': q.routing_key} for q in declare],
    })


Producer._publish = capture
sent_at = time.time()
app.send_task('t.add', args=(2,), kwargs={'y': 3}, countdown=10, expires=60, priority=5, time_limit=30,
              soft_time_limit=20, headers={'x-custom': 'v'}, queue=queue, ignore_result=True)
assert len(captured) == 1, captured
# Where Celery 5.5+ sends a countdown of 10 s when native delayed delivery is on (quorum queues).
emit(dict(captured[0], sent_at=sent_at, cascade_routing_key=calculate_routing_key(10, queue)))
