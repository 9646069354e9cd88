#!/usr/bin/env python3
"""Watch a ZooKeeper ensemble with `srvr`, independently of the collection's own code.

watch:       poll every member every --interval seconds until --stop-file appears (or
             --max-seconds pass); write one JSON line per round to --log and a summary to
             --summary. Used to prove that a rolling restart never takes two members out at once.
wait-leader: note when --old-leader stops leading, then poll the other members until exactly
             one leads and the rest follow; print the seconds in between and the new leader,
             as JSON. Used to time an election.
"""

import argparse
import json
import os
import socket
import sys
import time


def srvr(address, timeout):
    host, port = address.rsplit(":", 1)
    try:
        sock = socket.create_connection((host, int(port)), timeout)
    except OSError:
        return "down"
    try:
        sock.settimeout(timeout)
        sock.sendall(b"srvr")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        return "error"
    finally:
        sock.close()
    text = data.decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    if "not currently serving" in text:
        return "not-serving"
    return "error"


def sample(addresses, timeout):
    return {address: srvr(address, timeout) for address in addresses}


def has_quorum(modes):
    values = list(modes.values())
    voting = sum(1 for m in values if m in ("leader", "follower"))
    return values.count("leader") == 1 and voting > len(values) // 2


def watch(args):
    addresses = args.hosts.split(",")
    start = time.time()
    rounds = []
    with open(args.log, "w") as log:
        while time.time() - start < args.max_seconds and not os.path.exists(args.stop_file):
            modes = sample(addresses, args.timeout)
            entry = {"t": round(time.time() - start, 3), "modes": modes, "quorum": has_quorum(modes)}
            rounds.append(entry)
            log.write(json.dumps(entry) + "\n")
            log.flush()
            time.sleep(args.interval)
    # A member is "out" when nothing accepts connections on its port (stopped or starting). A
    # member that accepts but answers nothing sensible ("error": say, its connections are reset
    # while it rejoins after the leader's restart) is running: it is counted apart.
    outages = {a: 0 for a in addresses}
    previous = {a: False for a in addresses}
    max_out = 0
    longest_gap = 0.0
    gap_start = None
    for entry in rounds:
        out = [a for a, m in entry["modes"].items() if m == "down"]
        max_out = max(max_out, len(out))
        for a in addresses:
            now_out = a in out
            if now_out and not previous[a]:
                outages[a] += 1
            previous[a] = now_out
        if not entry["quorum"] and gap_start is None:
            gap_start = entry["t"]
        if entry["quorum"] and gap_start is not None:
            longest_gap = max(longest_gap, entry["t"] - gap_start)
            gap_start = None
    if gap_start is not None and rounds:
        longest_gap = max(longest_gap, rounds[-1]["t"] - gap_start)
    summary = {
        "rounds": len(rounds),
        "seconds": round(rounds[-1]["t"], 1) if rounds else 0,
        "rounds_with_quorum": sum(1 for e in rounds if e["quorum"]),
        "max_members_out_at_once": max_out,
        "answers_garbled": sum(1 for e in rounds for m in e["modes"].values() if m == "error"),
        "outages_per_member": outages,
        "longest_seconds_without_serving_quorum": round(longest_gap, 2),
        "quorum_at_end": bool(rounds) and rounds[-1]["quorum"],
    }
    with open(args.summary, "w") as out:
        json.dump(summary, out)
    return 0


def wait_leader(args):
    """Time an election: from the moment --old-leader stops leading until the others serve."""
    survivors = [a for a in args.hosts.split(",") if a != args.old_leader]
    start = time.time()
    lost = None
    ready = False
    while time.time() - start < args.max_seconds:
        old = srvr(args.old_leader, args.timeout)
        now = time.time()
        if lost is None and old != "leader":
            lost = now
        if args.ready_file and not ready:
            open(args.ready_file, "w").close()
            ready = True
        if lost is not None:
            modes = sample(survivors, args.timeout)
            if modes and list(modes.values()).count("leader") == 1 and all(
                m in ("leader", "follower") for m in modes.values()
            ):
                leader = [a for a, m in modes.items() if m == "leader"][0]
                print(json.dumps({"seconds": round(time.time() - lost, 2), "leader": leader, "modes": modes}))
                return 0
        time.sleep(args.interval)
    print(json.dumps({"seconds": None, "leader": None, "modes": sample(survivors, args.timeout)}))
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["watch", "wait-leader"])
    parser.add_argument("--hosts", required=True, help="host:port,host:port,...")
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--log")
    parser.add_argument("--summary")
    parser.add_argument("--stop-file")
    parser.add_argument("--old-leader", help="wait-leader: the member about to be stopped")
    parser.add_argument("--ready-file", help="wait-leader: touched once polling has started")
    args = parser.parse_args(argv)
    if args.mode == "watch":
        if not (args.log and args.summary and args.stop_file):
            parser.error("watch needs --log, --summary and --stop-file")
        return watch(args)
    if not args.old_leader:
        parser.error("wait-leader needs --old-leader")
    return wait_leader(args)


if __name__ == "__main__":
    sys.exit(main())
