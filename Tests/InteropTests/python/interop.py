"""Shared set-up for the interop scripts: a Celery app on the test servers, and the RESULT line.

Every script prints exactly one line `RESULT <json>` for the Swift test to find among Celery's
log output.
"""
import json
import os
import signal
import sys

from celery import Celery

MARKER = 'RESULT '

# How long a script waits for any one result: a hang guard, which only a hang reaches (a step
# of a chain on a loaded two-core CI machine has taken over 10 s).
HANG_GUARD = 120

# A process started from a Swift async test inherits the spawning thread's signal mask, and
# libdispatch's worker threads block SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1/2 and SIGALRM.
# Unblock them so a Celery worker's warm shutdown on SIGTERM works (see the report on
# TestSupport.ManagedProcess).
signal.pthread_sigmask(signal.SIG_SETMASK, set())


def broker_url():
    url = os.environ.get('CONVEYOR_BROKER_URL') or 'amqp://guest:guest@127.0.0.1:5672//'
    url = url.split(',')[0]
    # Conveyor writes the default vhost as %2F; kombu wants the bare '/' after the host.
    if url.endswith('/%2F') or url.endswith('/%2f'):
        url = url[:-3] + '/'
    return url


def result_url():
    return os.environ.get('CONVEYOR_RESULT_URL') or 'redis://127.0.0.1:6379/0'


def make_app(name):
    app = Celery(name, broker=broker_url(), backend=result_url())
    app.conf.update(
        broker_connection_retry_on_startup=True,
        # Celery's default of 4 s: a soak run under two CPU hogs saw kombu time out connecting
        # to a starved broker (TimeoutError in _establish_connection). A hang guard instead.
        broker_connection_timeout=30,
        result_expires=3600,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    # Queues declared with x-max-priority, as the Swift side's CONVEYOR_QUEUE_MAX_PRIORITY.
    if os.environ.get('CONVEYOR_QUEUE_MAX_PRIORITY'):
        app.conf.task_queue_max_priority = int(os.environ['CONVEYOR_QUEUE_MAX_PRIORITY'])
    return app


def emit(value):
    """Prints the one RESULT line (sorted nowhere: key order is part of what is checked)."""
    sys.stdout.write(MARKER + json.dumps(value) + '\n')
    sys.stdout.flush()


def describe_error(error):
    """What the Swift side asserts about an exception raised by AsyncResult.get()."""
    return {
        'type': type(error).__name__,
        'module': type(error).__module__,
        'message': str(error),
        'args': [repr(a) for a in error.args],
    }


def outcome(result):
    """A result's value, or its error as describe_error gives it."""
    try:
        return {'value': result.get(timeout=HANG_GUARD)}
    except Exception as error:
        return {'error': describe_error(error)}


def routed(app, queue):
    """A signature maker for tasks on `queue`: routed(app, q)('conveyor.add', 2, 3)."""
    def make(name, *args, immutable=False):
        return app.signature(name, args=args, options={'queue': queue}, immutable=immutable)
    return make
