"""Python client with Celery 5.5+ "native delayed delivery" → Swift worker.

Celery uses the broker-side delay cascade (celery_delayed_0..27) only for quorum queues on a
topic exchange: the countdown is written in the routing key and the message published to
celery_delayed_27. The Swift worker (configured for quorum queues) declares the same cascade and
binds its queue to celery_delayed_delivery, so the task comes back to it when due.

usage: send_native_delayed.py QUEUE
"""
import sys
import time

from kombu import Exchange, Queue

from interop import HANG_GUARD, emit, make_app

queue = sys.argv[1]
app = make_app('send_native_delayed')
app.conf.task_queues = [Queue(queue, Exchange(queue, type='topic'), routing_key=queue,
                              queue_arguments={'x-queue-type': 'quorum'})]
app.conf.task_default_queue = queue

captured = {}
original = app.amqp.send_task_message


def spy(producer, name, message, **options):
    captured['exchange'] = getattr(options.get('exchange'), 'name', options.get('exchange'))
    captured['routing_key'] = options.get('routing_key')
    return original(producer, name, message, **options)


app.amqp.send_task_message = spy
started = time.monotonic()
result = app.send_task('conveyor.add', args=(20, 22), countdown=2)
value = result.get(timeout=HANG_GUARD)
emit({'value': value, 'elapsed': time.monotonic() - started, 'exchange': captured.get('exchange'),
      'routing_key': captured.get('routing_key')})
