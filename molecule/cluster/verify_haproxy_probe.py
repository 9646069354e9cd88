#!/usr/bin/python3
"""Traffic and timing probe for verify_haproxy.yml (runs on a cluster node; stdlib only).

Every command prints one JSON object and exits 0 when its check holds, 1 when not. The
traffic goes only to the scenario's own containers, and every loop is bounded.

  serving  --nodes a,b --port P --expect N [--timeout S]
      each node answers on P, and N distinct tasks answer through it.
  converge --marathon URL[,URL] --app ID --count N --nodes a,b --port P [--limit S] [--timeout S]
      wait until Marathon has N healthy tasks; then time until every node serves exactly
      those tasks. Holds when that took at most --limit seconds.
  load     --nodes a,b --port P --seconds S [--max-requests M] [--stop-file F]
      sequential GETs, each on a new connection, round-robin over the nodes, for S seconds (or
      until F exists). Prints requests sent and failed (and in which second they failed, and when
      each instance first answered); holds when none failed.
"""

import argparse
import base64
import http.client
import json
import os
import sys
import time
import urllib.request


def get(url, timeout=2.0, auth=None):
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return resp.read().decode().strip()


def served_set(node, port, rounds):
    seen = set()
    for _ in range(rounds):
        try:
            seen.add(get(f"http://{node}:{port}/", timeout=2.0))
        except (OSError, http.client.HTTPException):
            seen.add("<failed>")
    return seen


def cmd_serving(args):
    nodes = args.nodes.split(",")
    deadline = time.monotonic() + args.timeout
    result = {}
    while True:
        result = {n: sorted(served_set(n, args.port, args.expect * 4)) for n in nodes}
        ok = all(len(v) == args.expect and "<failed>" not in v for v in result.values())
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(json.dumps({"ok": ok, "served": result}))
    return 0 if ok else 1


def healthy_tasks(marathons, app_id, auth):
    for base in marathons:
        try:
            body = json.loads(get(f"{base}/v2/apps/{app_id.strip('/')}?embed=app.tasks", timeout=3.0, auth=auth))
        except (OSError, ValueError):
            continue
        tasks = body.get("app", {}).get("tasks", [])
        return {
            t["id"]
            for t in tasks
            if t.get("state") == "TASK_RUNNING"
            and t.get("healthCheckResults")
            and all(r.get("alive") for r in t["healthCheckResults"])
        }
    return None


def cmd_converge(args):
    marathons = args.marathon.split(",")
    nodes = args.nodes.split(",")
    deadline = time.monotonic() + args.timeout
    healthy = set()
    while time.monotonic() < deadline:
        healthy = healthy_tasks(marathons, args.app, args.auth) or set()
        if len(healthy) == args.count:
            break
        time.sleep(0.1)
    else:
        error = f"Marathon never had {args.count} healthy tasks"
        print(json.dumps({"ok": False, "error": error, "healthy": sorted(healthy)}))
        return 1
    healthy_at = time.monotonic()
    delays = {}
    pending = set(nodes)
    while pending and time.monotonic() < healthy_at + max(args.limit * 5, 10):
        for node in sorted(pending):
            seen = served_set(node, args.port, args.count * 3)
            if seen == healthy:
                delays[node] = round(time.monotonic() - healthy_at, 3)
                pending.discard(node)
        time.sleep(0.05)
    ok = not pending and max(delays.values()) <= args.limit
    print(json.dumps({"ok": ok, "healthy_tasks": sorted(healthy), "seconds_after_healthy": delays,
                      "not_serving": sorted(pending), "limit": args.limit}))
    return 0 if ok else 1


def cmd_load(args):
    nodes = args.nodes.split(",")
    sent = failed = 0
    errors = {}
    answers = {}
    failed_at = {}  # wall-clock second -> failed requests in it
    first_answer = {}  # instance -> the second it first answered
    stop = time.monotonic() + args.seconds
    while time.monotonic() < stop and sent < args.max_requests:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        node = nodes[sent % len(nodes)]
        sent += 1
        try:
            body = get(f"http://{node}:{args.port}/", timeout=5.0)
            answers[body] = answers.get(body, 0) + 1
            first_answer.setdefault(body, time.strftime("%H:%M:%S"))
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, cut off
            failed += 1
            key = f"{node}: {type(exc).__name__}: {exc}"[:200]
            errors[key] = errors.get(key, 0) + 1
            second = time.strftime("%H:%M:%S")
            failed_at[second] = failed_at.get(second, 0) + 1
    print(json.dumps({"ok": failed == 0, "sent": sent, "failed": failed, "errors": errors, "answers": answers,
                      "failed_at": failed_at, "first_answer": first_answer}))
    return 0 if failed == 0 else 1


def main(argv=None):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serving")
    p.add_argument("--nodes", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    p = sub.add_parser("converge")
    p.add_argument("--marathon", required=True)
    p.add_argument("--auth", default=None, help="user:password for Marathon")
    p.add_argument("--app", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--nodes", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--limit", type=float, default=2.0)
    p.add_argument("--timeout", type=float, default=180.0)
    p = sub.add_parser("load")
    p.add_argument("--nodes", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--max-requests", type=int, default=200000)
    p.add_argument("--stop-file", default=None)
    args = parser.parse_args(argv)
    return {"serving": cmd_serving, "converge": cmd_converge, "load": cmd_load}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
