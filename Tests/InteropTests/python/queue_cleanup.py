"""Leaves what a test run leaves on the broker, then runs ops/lib/drop_test_queues.py --run on it.

usage: queue_cleanup.py RUN DROP_SCRIPT

Declares, under conveyor-test.RUN.: a classic queue, a quorum queue (which refuses the if-unused
delete), a classic queue with a consumer attached, and an unbound exchange. Runs the clean-up
with the consumer attached, then again after cancelling it, and emits which of the four exist
after each pass: {"first": {...}, "second": {...}}.
"""
import json
import subprocess
import sys
import urllib.error

from kombu import Connection

from interop import broker_url, emit

run, drop_script = sys.argv[1], sys.argv[2]
sys.path.insert(0, drop_script.rsplit('/', 1)[0])
import drop_test_queues  # noqa: E402  (the module under test: its request() and BASE)

prefix = f'conveyor-test.{run}.'
names = {
    'idle': ('queues', prefix + 'idle.1'),
    'quorum': ('queues', prefix + 'quorum.1'),
    'busy': ('queues', prefix + 'busy.1'),
    'exchange': ('exchanges', prefix + 'exchange'),
}


def exists(kind, name):
    try:
        drop_test_queues.request(drop_test_queues.BASE, 'GET', f'/api/{kind}/%2F/{name}')
        return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def state():
    return {key: exists(kind, name) for key, (kind, name) in names.items()}


def drop():
    subprocess.run([sys.executable, drop_script, '--run', run], check=True, timeout=120)


connection = Connection(broker_url(), connect_timeout=10)
connection.connect()
channel = connection.channel()  # py-amqp's channel: the broker's own declare, consume and cancel
channel.queue_declare(names['idle'][1], durable=True, auto_delete=False)
channel.queue_declare(names['quorum'][1], durable=True, auto_delete=False, arguments={'x-queue-type': 'quorum'})
channel.queue_declare(names['busy'][1], durable=True, auto_delete=False)
channel.exchange_declare(names['exchange'][1], 'direct', durable=True, auto_delete=False)
tag = channel.basic_consume(names['busy'][1], callback=lambda message: None)
before = state()
drop()
first = state()
channel.basic_cancel(tag)
drop()
second = state()
connection.close()
emit({'before': before, 'first': first, 'second': second})
