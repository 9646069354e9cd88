#!/usr/bin/env python3
"""Watch the cluster's HA while something else changes it; write a JSON report at the end.

  ha_probe.py --masters h1:5050,h2:5050 --marathons h1:8080,... --chronos h1:4400,...
              [--zookeepers h1:2181,...] --min-agents N --stop-file PATH --report PATH
              [--interval 0.5] [--max-seconds 900] [--credentials FILE]

Every interval it checks each service on its own:
  zookeeper  a majority of the members serve (srvr) and exactly one of them leads;
  mesos      a leader is known through every master (/master/redirect), it is elected and
             has at least N active agents;
  marathon, chronos  every instance names the same leader.
It runs until the stop file exists (or max-seconds), then writes
{"rounds", "failures": [...], "services": {NAME: {"gaps": [...], "leaders": [...]}}}:
a gap is a stretch of failed polls of one service with its length in seconds and what was
seen first; leaders lists each leader in the order they were seen (a change adds one);
max_down is the most members of the service that refused connections at one poll (a member
electing or without a leader still answers, so it is not down).
With --credentials, a JSON file {"mesos": [user, password], "marathon": [...], "chronos": [...]}
(any of them), each service is asked with basic authentication; the passwords never go on the
probe's command line.
Standard library only.
"""

import argparse
import base64
import http.client
import json
import os
import socket
import time

CREDENTIALS = {}  # service -> "Basic ..." header


def get(hostport, path, timeout=2.0, service=None):
    host, _, port = hostport.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Authorization": CREDENTIALS[service]} if service in CREDENTIALS else {}
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location"), resp.read()
    except http.client.HTTPException as exc:
        # A daemon stopped while it answered (IncompleteRead, a bad status line): unreachable.
        raise OSError(f"{type(exc).__name__}: {exc!r}") from exc
    finally:
        conn.close()


def srvr_mode(hostport, timeout=1.0):
    host, _, port = hostport.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(b"srvr")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def check_zookeeper(members):
    modes, down = {}, 0
    for member in members:
        try:
            modes[member] = srvr_mode(member)
        except OSError:
            modes[member] = None
            down += 1
    serving = [m for m, mode in modes.items() if mode in ("leader", "follower", "standalone")]
    leaders = [m for m, mode in modes.items() if mode in ("leader", "standalone")]
    if len(serving) * 2 <= len(members) or len(leaders) != 1:
        return None, f"zookeeper: {len(serving)} of {len(members)} serve, leaders {leaders}", down
    return leaders[0], None, down


def check_mesos(masters, min_agents):
    leaders, problems, down = set(), [], 0
    for master in masters:
        try:
            status, location, _ = get(master, "/master/redirect", service="mesos")
        except OSError as exc:
            problems.append(f"mesos: master {master} unreachable: {exc}")
            down += 1
            continue
        if status != 307 or not location:
            problems.append(f"mesos: master {master} knows no leader ({status})")
            continue
        leaders.add(location.lstrip("/").split("/")[0].replace("http:", ""))
    if problems:
        return None, problems[0], down
    if len(leaders) != 1:
        return None, f"mesos: masters name {len(leaders)} leaders: {sorted(leaders)}", down
    leader = leaders.pop()
    try:
        _, _, body = get(leader, "/metrics/snapshot", service="mesos")
        metrics = json.loads(body)
    except (OSError, ValueError) as exc:
        return None, f"mesos: leader {leader} metrics unreadable: {exc}", down
    if metrics.get("master/elected") != 1.0:
        return None, f"mesos: leader {leader} is not elected", down
    if metrics.get("master/slaves_active", 0) < min_agents:
        return None, f"mesos: leader {leader} has {metrics.get('master/slaves_active')} active agents", down
    return leader, None, down


def check_framework(kind, endpoints, path):
    named, down = set(), 0
    for endpoint in endpoints:
        try:
            status, _, body = get(endpoint, path, service=kind)
            named.add(json.loads(body).get("leader") if status == 200 else f"HTTP {status}")
        except OSError as exc:
            named.add(f"error {exc}")
            down += 1
        except ValueError as exc:
            named.add(f"error {exc}")
    if len(named) != 1 or any(str(n).startswith(("HTTP", "error")) or not n for n in named):
        return None, f"{kind}: instances disagree: {sorted(map(str, named))}", down
    return named.pop(), None, down


class Service:
    """Gaps and leader changes of one service."""

    def __init__(self):
        self.max_down = 0
        self.gaps = []
        self.leaders = []
        self._gap_start = None
        self._gap_problem = None

    def record(self, now, leader, problem, down):
        self.max_down = max(self.max_down, down)
        if problem:
            if self._gap_start is None:
                self._gap_start, self._gap_problem = now, problem
            return
        self.close(now)
        if not self.leaders or self.leaders[-1] != leader:
            self.leaders.append(leader)

    def close(self, now):
        if self._gap_start is not None:
            self.gaps.append({"start": time.strftime("%H:%M:%S", time.localtime(self._gap_start)),
                              "seconds": round(now - self._gap_start, 2), "first": self._gap_problem})
            self._gap_start = None

    def report(self):
        return {"max_down": self.max_down, "gaps": self.gaps, "leaders": self.leaders,
                "leader_changes": max(0, len(self.leaders) - 1),
                "longest_gap": max([g["seconds"] for g in self.gaps] or [0])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--masters", required=True)
    parser.add_argument("--marathons", default="")
    parser.add_argument("--chronos", default="")
    parser.add_argument("--zookeepers", default="")
    parser.add_argument("--min-agents", type=int, default=1)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--credentials", default="")
    args = parser.parse_args()
    if args.credentials:
        with open(args.credentials, encoding="utf-8") as handle:
            for service, (user, password) in json.load(handle).items():
                token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
                CREDENTIALS[service] = f"Basic {token}"

    def split(text):
        return [m for m in text.split(",") if m]

    checks = {"mesos": lambda: check_mesos(split(args.masters), args.min_agents)}
    if args.zookeepers:
        checks["zookeeper"] = lambda: check_zookeeper(split(args.zookeepers))
    if args.marathons:
        checks["marathon"] = lambda: check_framework("marathon", split(args.marathons), "/v2/leader")
    if args.chronos:
        checks["chronos"] = lambda: check_framework("chronos", split(args.chronos), "/leader")
    services = {name: Service() for name in checks}
    failures, rounds = [], 0
    deadline = time.monotonic() + args.max_seconds
    while not os.path.exists(args.stop_file) and time.monotonic() < deadline:
        rounds += 1
        for name, check in checks.items():
            leader, problem, down = check()
            services[name].record(time.time(), leader, problem, down)
            if problem:
                failures.append({"time": time.strftime("%H:%M:%S"), "problem": problem})
        time.sleep(args.interval)
    for service in services.values():
        service.close(time.time())
    with open(args.report, "w", encoding="utf-8") as handle:
        json.dump({"rounds": rounds, "failures": failures,
                   "services": {name: s.report() for name, s in services.items()}}, handle)


if __name__ == "__main__":
    main()
