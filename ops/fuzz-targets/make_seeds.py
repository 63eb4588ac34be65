"""Writes the seed corpus of ops/fuzz (ops/fuzz-targets/corpus/TARGET/NAME).

usage: .venv/bin/python ops/fuzz-targets/make_seeds.py   (after ops/venv; no broker needed)

Task messages are what Celery 5.7's own client publishes, captured at kombu's Producer._publish
(as Tests/InteropTests/python/capture_message.py does) and encoded by py-amqp exactly as they go
on the wire; a few carry the hostile headers the decoder must refuse or survive. The other
targets get the texts the tests use. The files are small on purpose: libFuzzer grows its working
corpus (git-ignored, .fuzz/) from these.
"""
import datetime
import decimal
import json
import os
import struct
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'Tests', 'InteropTests', 'python'))

from amqp import Message  # noqa: E402
from amqp.serialization import dumps  # noqa: E402
from celery import chain, group, signature  # noqa: E402
from kombu.messaging import Producer  # noqa: E402
from kombu.utils.json import dumps as kombu_dumps  # noqa: E402

from interop import make_app  # noqa: E402

CORPUS = os.path.join(HERE, 'corpus')
TASK_ID = '11111111-1111-1111-1111-111111111111'


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    with open(os.path.join(folder, name), 'wb') as out:
        out.write(data)


# --- what Celery publishes ----------------------------------------------------------------------

captured = []


def capture(self, body, priority, content_type, content_encoding, headers, properties, routing_key,
            mandatory, immediate, exchange, declare, *rest, **kwargs):
    captured.append(dict(body=body, priority=priority, content_type=content_type,
                         content_encoding=content_encoding, headers=headers, properties=dict(properties)))


Producer._publish = capture
app = make_app('seeds')


def sent(send):
    """The messages one client call publishes."""
    captured.clear()
    send()
    return list(captured)


def delivery(message, headers=None, body=None):
    """A task-message input: UInt16 length, py-amqp's property section, body."""
    body = message['body'] if body is None else body
    if isinstance(body, str):
        body = body.encode('utf-8')
    wire = Message(body, priority=message['priority'], content_type=message['content_type'],
                   content_encoding=message['content_encoding'],
                   application_headers=message['headers'] if headers is None else headers,
                   **message['properties'])
    section = wire._serialize_properties()
    return struct.pack('>H', len(section)) + section + body


messages = {
    'add': sent(lambda: app.send_task('proj.tasks.add', args=(2, 2), task_id=TASK_ID)),
    'options': sent(lambda: app.send_task(
        't.add', args=(2,), kwargs={'y': 3}, countdown=10, expires=60, priority=5, time_limit=30,
        soft_time_limit=20, headers={'x-custom': 'v', 'x-number': 7}, ignore_result=True)),
    'unicode': sent(lambda: app.send_task('t.echo', args=('é', '\u2603', '\U0001F600', None, 1.5, True),
                                          kwargs={'nested': {'deep': [1, [2, [3, [4]]]]}})),
    'datetime-kwargs': sent(lambda: app.send_task('t.echo', kwargs={
        'when': datetime.datetime(2026, 11, 27, 15, 2, 16, 728838, tzinfo=datetime.timezone.utc),
        'day': datetime.date(2026, 11, 27), 'amount': decimal.Decimal('12.50'),
        'id': uuid.UUID('12345678-1234-5678-1234-567812345678')})),
    'link': sent(lambda: signature('t.add', args=(1, 2), app=app).apply_async(
        link=signature('t.tsum', app=app), link_error=signature('t.on_error', app=app).set(immutable=True))),
    'chain': sent(lambda: chain(signature('t.add', args=(1, 2), app=app), signature('t.add', args=(3,), app=app),
                                signature('t.mul', args=(4,), app=app)).apply_async()),
    'group': sent(lambda: group(signature('t.add', args=(i, i), app=app) for i in range(2)).apply_async()),
}
for name, published in messages.items():
    for index, message in enumerate(published):
        write('task-message', f'celery-{name}-{index}', delivery(message))
        write('json', f'body-{name}-{index}', message['body'])

# Hostile headers a worker must refuse or survive (issue 9: deep nesting, year-9999 ETAs, 2^62
# retries, string time limits, long names), on Celery's own message.
add = messages['add'][0]
hostile = {
    'eta-9999': {'eta': '9999-12-31T23:59:59.999999+00:00'},
    'eta-number': {'eta': 1e300},
    'eta-garbage': {'eta': 'soon'},
    'retries-2-62': {'retries': 2 ** 62},
    'timelimit-strings': {'timelimit': ['30', 'x']},
    'timelimit-nan': {'timelimit': [float('nan'), float('inf')]},
    'long-task-name': {'task': 't.' + 'x' * 2000},
    'long-id': {'id': 'i' * 300, 'root_id': 'r' * 300},
    'task-not-string': {'task': 12},
    'no-id': {'id': None},
    'group-index-huge': {'group_index': 2 ** 63 - 1, 'group': 'g'},
    'compression': {'compression': 'application/x-gzip'},
}
for name, changes in hostile.items():
    headers = dict(add['headers'], **changes)
    write('task-message', f'hostile-{name}', delivery(add, headers=headers))
write('task-message', 'hostile-deep-body', delivery(add, body='[[' + '[' * 600 + ']' * 600 + '], {}, null]'))
write('task-message', 'hostile-body-not-json', delivery(add, body='[[2, 2], {}, {"callbacks": '))
write('task-message', 'hostile-pickle', delivery(dict(add, content_type='application/x-python-serialize'), body=b'\x80\x04.'))

# --- JSON ------------------------------------------------------------------------------------------

meta = {'status': 'SUCCESS', 'result': {'args': [1, 'two'], 'kwargs': {}}, 'traceback': None, 'children': [],
        'date_done': '2026-11-27T15:02:16.728838+00:00', 'task_id': TASK_ID}
write('json', 'result-meta', json.dumps(meta))
failure = dict(meta, status='FAILURE', result={'exc_type': 'ValueError', 'exc_message': ['bad \u00e9'],
                                              'exc_module': 'builtins'}, traceback='Traceback ...')
write('json', 'result-failure', json.dumps(failure))
write('json', 'kombu-envelopes', kombu_dumps([
    datetime.datetime(2026, 11, 27, 15, 2, 16, 728838), datetime.date(2026, 11, 27), datetime.time(15, 2),
    decimal.Decimal('3.14'), uuid.UUID('12345678-1234-5678-1234-567812345678'), b'bytes']))
write('json', 'numbers', '[0, -0, -0.0, 1e16, 9007199254740993, 123456789012345678901234567890, 1.5e-7, '
                         '1e400, -1e400, NaN, Infinity, -Infinity, 0.1, 2.5E+3, 9223372036854775807, '
                         '-9223372036854775808, 9223372036854775808]')
write('json', 'strings', json.dumps(['', 'plain', 'tab\t"quote"\\', '\u00e9\u2603\U0001F600', '\x00\x1f\x7f'])
      + ' ')
write('json', 'escapes', r'["\ud83d\ude00", "\ud800", "\udc00x", "\u00E9", "\/"]')
write('json', 'duplicate-keys', '{"a": 1, "b": 2, "a": 3, "c": {"c": [], "c": {}}}')
write('json', 'codable', json.dumps({'int': 3, 'double': 2.5, 'text': 't', 'date': '2026-11-27T15:02:16Z',
                                     'flag': True, 'list': [{'int': 1}], 'map': {'k': 1}, 'any': [None]}))

# --- AMQP field tables -------------------------------------------------------------------------------

write('field-table', 'celery-headers', dumps('F', [add['headers']]))
write('field-table', 'celery-options-headers', dumps('F', [messages['options'][0]['headers']]))
write('field-table', 'queue-arguments', dumps('F', [{'x-queue-type': 'quorum', 'x-dead-letter-exchange': '',
                                                     'x-max-priority': 10, 'x-message-ttl': 2 ** 40}]))
write('field-table', 'kinds', dumps('F', [{'bool': True, 'float': 1.5, 'neg': -(2 ** 40), 'none': None,
                                          'decimal': decimal.Decimal('1.25'), 'bytes': b'\xff\xfe',
                                          'when': datetime.datetime(2026, 11, 27, 15, 2, 16),
                                          'list': [1, 'a', [None, {'x': []}]], 'table': {'t': {'u': 'v'}}}]))
# Kinds py-amqp never writes but a broker or other clients may (rabbitmq-c's letters b B s u i l f
# x T D), and a long string that is not UTF-8.
def entry(key, kind, value):
    return bytes([len(key)]) + key + kind + value


other = b''.join([
    entry(b'b', b'b', b'\x80'), entry(b'c', b'B', b'\xff'), entry(b'd', b's', b'\x80\x00'), entry(b'e', b'u', b'\xff\xff'),
    entry(b'f', b'i', b'\xff' * 4), entry(b'g', b'l', b'\x80' + b'\x00' * 7), entry(b'h', b'f', struct.pack('>f', 2.5)),
    entry(b'j', b'x', struct.pack('>I', 2) + b'\xc3\x28'), entry(b'k', b'S', struct.pack('>I', 2) + b'\xc3\x28'),
    entry(b'm', b'T', b'\xff' * 8), entry(b'n', b'D', b'\x02\x00\x00\x04\xd2'),
])
write('field-table', 'other-kinds', struct.pack('>I', len(other)) + other)

# --- Python repr: one byte of limit (x 8), then the arguments ---------------------------------------

for name, limit, value in [
    ('args-default', 128, [2, 'two', None, True, 1.5, {'k': [1, [2, [3, [4]]]]}]),
    ('args-cut', 2, ['a long string with spaces in it', ['nested', 'list'], {'x': 'y'}]),
    ('args-single', 1, ['x']),
    ('kwargs-cut', 3, {'name': "it's", 'deep': {'a': {'b': {'c': {'d': 1}}}}, 'n': 12345678901234567890}),
    ('floats', 128, [1e16, 1e-5, float('nan'), float('inf'), -0.0]),
]:
    write('python-repr', name, bytes([limit]) + json.dumps(value).encode())

# --- ISO-8601 -----------------------------------------------------------------------------------------

for index, text in enumerate([
    '2026-11-27T15:02:16.728838+00:00', '2026-11-27T15:02:16Z', '2026-11-27 15:02:16', '2026-11-27',
    '2026-11-27T09:32:16-05:30', '2026-11-27T16:02:16+0100', '2026-11-27T15:02:16,25', '2000-02-29T23:59:59.999999+00:00',
    '1969-12-31T23:59:58.500000+00:00', '9999-12-31T23:59:59.999999+00:00', '0001-01-01T00:00:00+00:00',
    datetime.datetime(2026, 11, 27, 15, 2, 16, 1, tzinfo=datetime.timezone.utc).isoformat(),
    '2026-11-27T15:02:16.1234567891234+14:00',
]):
    write('iso8601', f'time-{index}', text)

# --- URLs ---------------------------------------------------------------------------------------------

for index, url in enumerate([
    'amqp://guest:guest@127.0.0.1:5672/%2F', 'amqps://admin:Sup3r%2Fsecret@rabbit.internal:5671/prod?cacertfile=/ca.pem&verify=false',
    'amqp://us%40er:p%40ss%3Aw0rd%2F@broker:5673/v', 'amqp://guest:pw@[::1]:5673/', 'amqp://broker/?heartbeat=10&connection_timeout=2.5&&',
    'amqp://guest:se,cret@rabbit1/, amqp://b:pb@rabbit2/', 'pyamqp://h1,h2', 'amqp://broker/caf%C3%A9',
]):
    write('amqp-url', f'url-{index}', url)
for index, url in enumerate([
    'redis://127.0.0.1:6379/0', 'redis://:s3cret@cache:6380/2', 'redis://user:pa%40ss@[::1]:6379/1?socket_timeout=2.5',
    'unix:///var/run/redis.sock?db=3', 'redis+socket:///tmp/r.sock', 'redis://host/?db=4&password=hunter2&socket_connect_timeout=1',
    'rediss://host/', 'redis://secretonly@host',
    'sentinel://:s3cret@10.0.0.1:26379/0;sentinel://10.0.0.2:26379/0?master_name=cache',
    'sentinel://h1;sentinel://alice:pw@h2:26380/3?master_name=m&password=other&replica_acks=1',
]):
    write('redis-url', f'url-{index}', url)

# --- RESP replies -------------------------------------------------------------------------------------

for name, reply in [
    ('status', b'+OK\r\n'), ('error', b'-NOSCRIPT No matching script. Please use EVAL.\r\n'),
    ('integer', b':-9223372036854775808\r\n'), ('bulk', b'$5\r\nhello\r\n'), ('nil', b'$-1\r\n'),
    ('nil-array', b'*-1\r\n'), ('empty-array', b'*0\r\n'),
    ('pipeline', b'+OK\r\n:1\r\n$3\r\n\xff\x00x\r\n'),
    ('nested', b'*3\r\n$7\r\nmessage\r\n*2\r\n:1\r\n*1\r\n$-1\r\n-ERR x\r\n'),
    ('pubsub', b'*3\r\n$9\r\nsubscribe\r\n$53\r\ncelery-task-meta-' + TASK_ID.encode() + b'\r\n:1\r\n'),
]:
    write('resp', name, reply)

print(f'seeds written under {CORPUS}')
