#!/usr/bin/env python3
"""Watch the cluster's HA while something else changes it; print a JSON report at the end.

  ha_probe.py --masters h1:5050,h2:5050 --marathons h1:8080,... --chronos h1:4400,...
              --min-agents N --stop-file PATH --report PATH [--interval 1] [--max-seconds 900]

Every interval it checks: a Mesos leader is known through every master (/master/redirect),
that leader is elected and has at least N active agents, every Marathon and every Chronos
instance names the same leader. It runs until the stop file exists (or max-seconds), then
writes {"rounds", "failures": [...]} to the report file. Standard library only.
"""

import argparse
import http.client
import json
import os
import time


def get(hostport, path, timeout=3.0):
    host, _, port = hostport.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location"), resp.read()
    finally:
        conn.close()


def one_round(args):
    problems = []
    leaders = set()
    for master in args.masters:
        try:
            status, location, _ = get(master, "/master/redirect")
        except OSError as exc:
            problems.append(f"master {master} unreachable: {exc}")
            continue
        if status != 307 or not location:
            problems.append(f"master {master} knows no leader ({status})")
            continue
        leaders.add(location.lstrip("/").split("/")[0].replace("http:", ""))
    if len(leaders) != 1:
        problems.append(f"masters name {len(leaders)} leaders: {sorted(leaders)}")
    else:
        leader = leaders.pop()
        try:
            status, _, body = get(leader, "/metrics/snapshot")
            metrics = json.loads(body)
            if metrics.get("master/elected") != 1.0:
                problems.append(f"leader {leader} is not elected")
            if metrics.get("master/slaves_active", 0) < args.min_agents:
                problems.append(f"leader {leader} has {metrics.get('master/slaves_active')} active agents")
        except (OSError, ValueError) as exc:
            problems.append(f"leader {leader} metrics unreadable: {exc}")
    for kind, endpoints, path in (("marathon", args.marathons, "/v2/leader"), ("chronos", args.chronos, "/leader")):
        named = set()
        for endpoint in endpoints:
            try:
                status, _, body = get(endpoint, path)
                named.add(json.loads(body).get("leader") if status == 200 else f"HTTP {status}")
            except (OSError, ValueError) as exc:
                named.add(f"error {exc}")
        if len(named) != 1 or any(str(n).startswith(("HTTP", "error")) for n in named):
            problems.append(f"{kind} instances disagree: {sorted(map(str, named))}")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--masters", required=True)
    parser.add_argument("--marathons", default="")
    parser.add_argument("--chronos", default="")
    parser.add_argument("--min-agents", type=int, default=1)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    args.masters = [m for m in args.masters.split(",") if m]
    args.marathons = [m for m in args.marathons.split(",") if m]
    args.chronos = [m for m in args.chronos.split(",") if m]
    failures, rounds = [], 0
    deadline = time.monotonic() + args.max_seconds
    while not os.path.exists(args.stop_file) and time.monotonic() < deadline:
        rounds += 1
        for problem in one_round(args):
            failures.append({"time": time.strftime("%H:%M:%S"), "problem": problem})
        time.sleep(args.interval)
    with open(args.report, "w", encoding="utf-8") as handle:
        json.dump({"rounds": rounds, "failures": failures}, handle)


if __name__ == "__main__":
    main()
