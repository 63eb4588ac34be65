"""Celery 5.7's own answer for crontab cases: for each {expr, tz, start} in the JSON file named by the first argument
(start in seconds since 1970), the next due time after start as Celery computes it
(crontab.remaining_delta in the entry's zone), or the error Celery raises for the expression.
Prints one JSON list."""
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from celery import Celery
from celery.schedules import crontab

apps = {}


def app_in(zone):
    """An app whose timezone is `zone`, as a Celery shop running beat in that zone has."""
    if zone not in apps:
        apps[zone] = Celery("crontab-oracle")
        apps[zone].conf.timezone = zone
    return apps[zone]


out = []
with open(sys.argv[1]) as cases:
    CASES = json.load(cases)
for case in CASES:
    try:
        minute, hour, dom, moy, dow = case["expr"].split()
        cron = crontab(minute=minute, hour=hour, day_of_month=dom, month_of_year=moy, day_of_week=dow, app=app_in(case["tz"]))
        zone = ZoneInfo(case["tz"])
        start = datetime.fromtimestamp(case["start"], tz=timezone.utc).astimezone(zone)
        last, delta, _ = cron.remaining_delta(start)
        out.append({"next": (last + delta).astimezone(timezone.utc).timestamp()})
    except Exception as error:  # the expression is refused: say so
        out.append({"error": f"{type(error).__name__}: {error}"})
print(json.dumps(out))
