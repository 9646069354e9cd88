#!/usr/bin/env python3
"""Check a rolling restart of the clustered services from what was recorded around it.

  check_roll.py BEFORE.json AFTER.json PROBE.json [UNIT=ROLLS ...]

BEFORE and AFTER map each master to {unit: start}, the daemons' start times on systemd's
monotonic clock (microseconds) before and after the run; PROBE is ha_probe.py's report of the
run. For ZooKeeper, mesos-master, Marathon and Chronos it prints the order of the restarts,
their spacing, the leaders the probe saw and the gaps it saw, and fails (exit 1, one line per
problem) unless:
  - every member restarted, one at a time: the probe never found two members of a service
    refusing connections at once;
  - the member restarted last led before the roll and leadership moved from it: the leader
    went last (the probe's leaders in turn, a change for each new leader);
  - ZooKeeper changed leader once (followers restart without an election); the others at most
    twice (a framework may also follow a ZooKeeper election). UNIT=ROLLS says a unit was rolled
    ROLLS times in the run (mesos-master=2: a second roll turned authentication on): its leader
    changed between ROLLS and ROLLS + 1 times;
  - every gap, a stretch of polls without a leader serving its quorum, lasted under 30 s, and
    there were at most 4 per service and roll.
"""

import json
import sys

SERVICES = {  # unit -> (probe's name, client port)
    "zookeeper": ("zookeeper", 2181),
    "mesos-master": ("mesos", 5050),
    "marathon": ("marathon", 8080),
    "chronos": ("chronos", 4400),
}


def host_of(leader):
    return str(leader).split(":")[0] if leader else None


def check(before, after, probe, rolls=None):
    rolls = rolls or {}
    problems = []
    for unit, (name, _port) in SERVICES.items():
        starts = sorted((int(after[host][unit]), host) for host in after)
        order = [host for _, host in starts]
        spacing = [round((b - a) / 1e6, 1) for (a, _), (b, _) in zip(starts, starts[1:], strict=False)]
        service = probe["services"][name]
        leaders = [host_of(leader) for leader in service["leaders"]]
        print(f"{unit}: restarted {' -> '.join(order)}, {spacing} s apart, at most {service['max_down']} down at once; "
              f"leaders seen {leaders}; {len(service['gaps'])} gaps {[g['seconds'] for g in service['gaps']]} s")
        for gap in service["gaps"]:
            print(f"  gap at {gap['start']} for {gap['seconds']} s: {gap['first']}")
        not_restarted = [h for h in after if int(after[h][unit]) <= int(before[h][unit])]
        if not_restarted:
            problems.append(f"{unit} did not restart on {not_restarted}")
        if service["max_down"] > 1:
            problems.append(f"{unit} had {service['max_down']} members down at once: not one at a time")
        if order[-1] not in leaders[:-1]:
            problems.append(f"{unit} restarted {order[-1]} last, which did not lead before the roll "
                            f"(leaders seen in turn: {leaders})")
        changes = service["leader_changes"]
        expected = rolls.get(unit, 1)
        if not expected <= changes <= (expected if unit == "zookeeper" else expected + 1):
            problems.append(f"{unit} changed leader {changes} times")
        if service["longest_gap"] >= 30 or len(service["gaps"]) > 4 * expected:
            problems.append(f"{unit} had gaps {[g['seconds'] for g in service['gaps']]} s")
    return problems


def main():
    loaded = []
    for path in sys.argv[1:4]:
        with open(path, encoding="utf-8") as handle:
            loaded.append(json.load(handle))
    before, after, probe = loaded
    rolls = {unit: int(count) for unit, _, count in (arg.partition("=") for arg in sys.argv[4:])}
    problems = check(before, after, probe, rolls)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
