"""Runs steps of the chord key protocol with Celery 5.7's own chord scripts, called as its Redis
backend calls them, and snapshots the chord's keys after every step: the Swift test runs the
same steps with Conveyor's scripts on another group and compares the two, step by step.

usage: chord_protocol.py PLAN_JSON
PLAN_JSON = {"group": id, "lifetimes": {"claim", "publish", "done"}, "steps": [...]}; a step is
{"op": "start", "size"}, {"op": "add"}, {"op": "save_group"}, {"op": "record", "task", "index",
"result", "token"}, {"op": "hold", "token"}, {"op": "finish", "token"}, {"op": "lose_claim"} or
{"op": "fail"}.
"""
import json
import math
import sys

from celery import states

from interop import emit, make_app

app = make_app('chord_protocol')
backend = app.backend
client = backend.client
plan = json.loads(sys.argv[1])
group = plan['group']
lifetimes = plan['lifetimes']
SUFFIXES = ['', '.s', '.t', '.j', '.d', '.c']


def key(suffix):
    return backend.get_key_for_group(group, suffix)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def record(step):
    """One header task's part, with the arguments RedisBackend.on_chord_part_return passes."""
    result = backend.encode_result(step['result'], states.SUCCESS)
    part = backend.encode([1, step['task'], states.SUCCESS, result])
    index = '+inf' if step['index'] is None else step['index']
    ready, added, size, claimed = backend._chord_part_return_script(
        keys=[key('.j'), key('.t'), key('.s'), key('.d'), key(''), key('.c')],
        args=[step['task'], part, 1, index, backend.chord_expires or 0, backend._chord_result_expires,
              lifetimes['claim'], step['token']],
        client=client)
    if ready == -1:
        return {'verdict': 'late'}
    total = None if size is None else int(size) + int(added or 0)
    if claimed:
        verdict = 'claimed'
    elif total is not None and ready == total:
        verdict = 'held'
    else:
        verdict = 'counting'
    return {'verdict': verdict, 'ready': ready, 'total': total}


def run(step):
    op = step['op']
    if op == 'start':
        backend.set_chord_size(group, step['size'])
    elif op == 'add':
        backend.add_to_chord(group, None)
    elif op == 'save_group':
        client.set(key(''), '{"result": "saved"}')
    elif op == 'record':
        return record(step)
    elif op == 'hold':
        return bool(backend._chord_claim_extend_script(
            keys=[key('.c'), key('.s')], args=[step['token'], lifetimes['publish']], client=client))
    elif op == 'finish':
        return bool(backend._chord_cleanup_script(
            keys=[key('.c'), key('.j'), key('.t'), key('.s'), key('.d')], args=[step['token'], lifetimes['done']],
            client=client))
    elif op == 'lose_claim':
        client.delete(key('.c'))
    elif op == 'fail':
        client.delete(key('.s'))
    else:
        raise ValueError(f'unknown step {op}')
    return None


def lifetime(pttl):
    """-1 for no expiry, 0 for no key, else the smallest lifetime in play the TTL fits under."""
    if pttl < 0:
        return 0 if pttl == -2 else -1
    seconds = math.ceil(pttl / 1000)
    known = sorted([lifetimes['claim'], lifetimes['publish'], lifetimes['done'], backend.chord_expires])
    return next((value for value in known if value >= seconds), seconds)


def snapshot():
    keys = {}
    for suffix in SUFFIXES:
        name = key(suffix)
        kind = text(client.type(name))
        if kind == 'string':
            value = text(client.get(name))
        elif kind == 'set':
            value = sorted(text(member) for member in client.smembers(name))
        elif kind == 'zset':
            # Scores as Redis writes them in its replies (%.17g: "1", "inf").
            value = [[text(member), '%.17g' % score] for member, score in client.zrange(name, 0, -1, withscores=True)]
        else:
            value = None
        keys['G' + suffix] = {'type': kind, 'value': value, 'expires': lifetime(client.pttl(name))}
    return keys


emit([{'reply': run(step), 'keys': snapshot()} for step in plan['steps']])
