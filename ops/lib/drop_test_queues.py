"""Deletes the queues test runs leave on the local broker.

Every test uses a uniquely named durable queue (conveyor-test.<run>.<label>.<id>, and its .dead
twin). Left alone, a developer's RabbitMQ collects thousands of them: `conveyor queues` lists them
all, and a node restarted with ~2,400 of them spent minutes recovering them (RabbitMQ under `su`
gets 1,024 file handles) before `ops/services up` gave up on it.

    python drop_test_queues.py --run RUN   queues of this test run (ops/test, when it exits)
    python drop_test_queues.py --stale     any test queue idle for ten minutes (ops/test, first)

Only queues without consumers are deleted (the broker checks, at the DELETE), so a test run
going on at the same time keeps its own. Dropped names are also removed from Redis' set of queues in use. Uses RabbitMQ's management
HTTP API (CONVEYOR_MANAGEMENT_URL, default http://guest:guest@127.0.0.1:15672) and the venv's
redis package (CONVEYOR_RESULT_URL); every call has a timeout, and a failure is reported, never
fatal.
"""

import base64
import datetime
import json
import os
import sys
import urllib.parse
import urllib.error
import urllib.request

PREFIX = "conveyor-test."
IDLE_SECONDS = 600
QUEUES_KEY = "conveyor:queues"
BASE = os.environ.get("CONVEYOR_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
REDIS_URL = os.environ.get("CONVEYOR_RESULT_URL", "redis://127.0.0.1:6379/0")


def request(base, method, path):
    parsed = urllib.parse.urlsplit(base)
    user = urllib.parse.unquote(parsed.username or "guest")
    password = urllib.parse.unquote(parsed.password or "guest")
    netloc = parsed.hostname + (f":{parsed.port}" if parsed.port else "")
    url = urllib.parse.urlunsplit((parsed.scheme, netloc, parsed.path.rstrip("/") + path, "", ""))
    req = urllib.request.Request(url, method=method)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=10) as response:
        body = response.read()
        return json.loads(body) if body else None


def idle_for(queue, now):
    since = queue.get("idle_since")
    if not since:
        return 0
    # "2026-11-27T18:01:02.123+00:00" (3.10 writes "2026-11-27 18:01:02" in older releases)
    try:
        stamp = datetime.datetime.fromisoformat(since.replace(" ", "T"))
    except ValueError:
        return 0
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return (now - stamp).total_seconds()


def test_queues(base, prefix):
    queues, page = [], 1
    while page <= 100:
        reply = request(base, "GET", f"/api/queues/%2F?page={page}&page_size=500"
                                     f"&name={urllib.parse.quote(prefix)}&columns=name,consumers,idle_since")
        queues += reply["items"]
        if page >= reply.get("page_count", 1):
            break
        page += 1
    # The name filter is a pattern match; keep only real prefix matches. Consumer counts here
    # are statistics up to 5 s old: the DELETE's if-unused is what keeps a queue in use.
    return [q for q in queues if q["name"].startswith(prefix)]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--run" and sys.argv[2]:
        prefix, what = f"{PREFIX}{sys.argv[2]}.", "this run's"
        doomed = [q["name"] for q in test_queues(BASE, prefix)]
    elif sys.argv[1:] == ["--stale"]:
        now = datetime.datetime.now(datetime.timezone.utc)
        what = "stale"
        doomed = [q["name"] for q in test_queues(BASE, PREFIX) if idle_for(q, now) > IDLE_SECONDS]
    else:
        sys.exit("usage: drop_test_queues.py --run RUN | --stale")
    dropped = []
    for name in doomed:
        # if-unused: a consumer that attached since the listing keeps its queue.
        try:
            request(BASE, "DELETE", "/api/queues/%2F/" + urllib.parse.quote(name, safe="") + "?if-unused=true")
        except urllib.error.HTTPError as error:
            if error.code != 404:  # 404: already gone (another run's clean-up); 400: in use again
                continue
        dropped.append(name)
    if dropped:
        import redis  # the venv's; only needed when something was dropped
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).srem(QUEUES_KEY, *dropped)
    print(f"dropped {len(dropped)} {what} test queues")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # never fail the test run over housekeeping
        print(f"could not drop test queues: {error}", file=sys.stderr)
