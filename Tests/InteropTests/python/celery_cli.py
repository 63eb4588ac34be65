"""Runs Celery's own command line (`celery inspect ...`, `celery control ...`) against the test
broker: `celery_cli.py inspect ping -d NODE --json` is `celery -A celery_cli:app inspect ping -d
NODE --json`, the app being interop.make_app's (the broker URL written the way kombu wants it, a
connect timeout a loaded machine cannot outlast).

The exit status is Celery's (69, EX_UNAVAILABLE, when no node replied).
"""
import sys

import interop  # (also unblocks the signals a Swift parent blocked)
from celery.bin.celery import main

# The app the command line loads with -A: the test broker, and interop's connect timeout
# (Celery's own 4 s ran out against a starved broker in a soak run).
app = interop.make_app('celery-cli')

if __name__ == '__main__':
    sys.argv = ['celery', '-A', 'celery_cli:app'] + sys.argv[1:]
    sys.exit(main())
