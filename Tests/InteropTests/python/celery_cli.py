"""Runs Celery's own command line (`celery inspect ...`, `celery control ...`) against the test
broker: `celery_cli.py inspect ping -d NODE --json` is `celery -b BROKER inspect ping -d NODE
--json`, with the broker URL written the way kombu wants it (see interop.broker_url).

The exit status is Celery's (69, EX_UNAVAILABLE, when no node replied).
"""
import sys

import interop  # noqa: F401  (unblocks the signals a Swift parent blocked)
from celery.bin.celery import main

if __name__ == '__main__':
    sys.argv = ['celery', '-b', interop.broker_url()] + sys.argv[1:]
    sys.exit(main())
