"""Deletes the queues and exchanges test runs leave on the local broker.

Every test uses uniquely named durable queues (conveyor-test.<run>.<label>.<id>, and its .dead
twin) and some declare exchanges named the same way. Left alone, a developer's RabbitMQ collects
thousands of them: `conveyor queues` lists them all, broker calls slow until tests time out, and
a node restarted with ~2,400 of them spent minutes recovering them (RabbitMQ under `su` gets
1,024 file handles) before `ops/services up` gave up on it.

    python drop_test_queues.py --run RUN   queues and exchanges of this test run (ops/test, at exit)
    python drop_test_queues.py --stale     what runs that ended left behind (ops/test, first)

--stale takes a classic queue idle for ten minutes; then the quorum queues (which keep no
idle_since) of runs with no classic queue left, if they hold no message; then the exchanges of
runs with no queue left. A classic queue is deleted only without consumers (if-unused, checked by
the broker at the DELETE), so a test run going on at the same time keeps its own; quorum queues
refuse if-unused, so they are deleted only when the listing shows no consumer. Exchanges go with
if-unused (no bindings). Dropped queue names are also removed from Redis' set of queues in use.
Uses RabbitMQ's management HTTP API (CONVEYOR_MANAGEMENT_URL, default
http://guest:guest@127.0.0.1:15672) and the venv's redis package (CONVEYOR_RESULT_URL); every call
has a timeout, and a failure is reported, never fatal.
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


def listing(base, kind, prefix, columns):
    items, page = [], 1
    while page <= 100:
        reply = request(base, "GET", f"/api/{kind}/%2F?page={page}&page_size=500"
                                     f"&name={urllib.parse.quote(prefix)}&columns={columns}")
        items += reply["items"]
        if page >= reply.get("page_count", 1):
            break
        page += 1
    # The name filter is a pattern match; keep only real prefix matches. Consumer counts here
    # are statistics up to 5 s old: the DELETE's if-unused is what keeps a queue in use.
    return [item for item in items if item["name"].startswith(prefix)]


def test_queues(base, prefix):
    return listing(base, "queues", prefix, "name,type,consumers,messages,idle_since")


def run_of(name):
    """The run id in conveyor-test.<run>.<label>.<id>."""
    return name[len(PREFIX):].split(".", 1)[0]


def delete(base, kind, name, if_unused=True):
    """True when the broker deleted it or it was already gone."""
    path = f"/api/{kind}/%2F/" + urllib.parse.quote(name, safe="") + ("?if-unused=true" if if_unused else "")
    try:
        request(base, "DELETE", path)
    except urllib.error.HTTPError as error:
        return error.code == 404  # 404: already gone (another run's clean-up); 400: in use
    return True


def drop_queues(base, queues):
    dropped = []
    for queue in queues:
        quorum = queue.get("type") == "quorum"
        if quorum and queue.get("consumers"):
            continue
        # if-unused: a consumer that attached since the listing keeps its (classic) queue.
        if delete(base, "queues", queue["name"], if_unused=not quorum):
            dropped.append(queue["name"])
    return dropped


def stale_queues(queues, now):
    classic = [q for q in queues if q.get("type") != "quorum"]
    idle = [q for q in classic if idle_for(q, now) > IDLE_SECONDS]
    idle_names = {q["name"] for q in idle}
    live_runs = {run_of(q["name"]) for q in classic if q["name"] not in idle_names}
    orphans = [q for q in queues if q.get("type") == "quorum" and run_of(q["name"]) not in live_runs
               and not q.get("consumers") and not q.get("messages")]
    return idle + orphans


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--run" and sys.argv[2]:
        prefix, what = f"{PREFIX}{sys.argv[2]}.", "this run's"
        queues = test_queues(BASE, prefix)
        doomed = queues
    elif sys.argv[1:] == ["--stale"]:
        prefix, what = PREFIX, "stale"
        queues = test_queues(BASE, prefix)
        doomed = stale_queues(queues, datetime.datetime.now(datetime.timezone.utc))
    else:
        sys.exit("usage: drop_test_queues.py --run RUN | --stale")
    dropped = drop_queues(BASE, doomed)
    if dropped:
        import redis  # the venv's; only needed when something was dropped
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).srem(QUEUES_KEY, *dropped)
    # Exchanges of runs that have no queue left: a finished run's, never a live one's.
    gone_queues = set(dropped)
    runs_with_queues = {run_of(q["name"]) for q in queues if q["name"] not in gone_queues}
    exchanges = [e["name"] for e in listing(BASE, "exchanges", prefix, "name")
                 if run_of(e["name"]) not in runs_with_queues]
    gone = sum(delete(BASE, "exchanges", name) for name in exchanges)
    print(f"dropped {len(dropped)} {what} test queues and {gone} exchanges")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # never fail the test run over housekeeping
        print(f"could not drop test queues: {error}", file=sys.stderr)
