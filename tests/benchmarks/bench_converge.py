#!/usr/bin/env python3
"""Benchmark of converging the lab with site.yml. Prints figures; asserts nothing.

    .venv/bin/python tests/benchmarks/bench_converge.py [--masters 3] [--small 2] [--large 8]

On the lab (systemd containers, `scripts/lab`; needs `make images repo` first), in one run:

1. a fresh converge of MASTERS masters and SMALL agents (new containers, site.yml);
2. one no-op site.yml while the daemons the converge started settle (printed, not counted);
3. a fact round (`ansible all -m setup`) and a no-op site.yml on that cluster, three times in
   turn (the medians of the three): the no-op's time, the ratio to the fact round, the changed
   count of every host, the task results per host class (masters, agents) and the ten slowest
   task rounds (a round is one task on every host that runs it: what the run waits for);
4. a fresh converge of MASTERS masters and LARGE agents, and its ratio to the first.

The forks used are Ansible's (ansible.cfg); --forks overrides them for every run. The lab is
removed at the start and at the end (--keep leaves the large one up). Takes about 30 minutes
on a 2-core machine. It removes the lab: do not run it beside `make lab` or Molecule.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "lab" / "hosts.yml"
VENV_BIN = ROOT / ".venv" / "bin"


def run(args: list[str], env: dict[str, str] | None = None, quiet: bool = True) -> float:
    """Run a command from the repository root; return its wall time. Stops on failure."""
    started = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        if quiet:
            print(proc.stdout[-6000:])
        sys.exit(f"bench_converge: {' '.join(args)} failed (exit {proc.returncode})")
    return elapsed


def base_env(forks: int | None) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}", ANSIBLE_STDOUT_CALLBACK="default")
    if forks:
        env["ANSIBLE_FORKS"] = str(forks)
    return env


def lab(env: dict[str, str], state: str, masters: int = 0, slaves: int = 0) -> None:
    args = ["ansible-playbook", "tests/lab/lab.yml", "-e", f"lab_state={state}"]
    if state == "present":
        args += ["-e", f"lab_masters={masters}", "-e", f"lab_slaves={slaves}"]
    run(args, env)


def site(env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """site.yml on the lab with the profiling callback; its time and what the callback saw."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        profiled = dict(env, ANSIBLE_CALLBACKS_ENABLED="converge_profile",
                        ANSIBLE_CALLBACK_PLUGINS=str(ROOT / "tests" / "benchmarks" / "callback_plugins"),
                        CONVERGE_PROFILE_OUT=out.name)
        elapsed = run(["ansible-playbook", "-i", str(INVENTORY), "site.yml"], profiled)
        return elapsed, json.loads(Path(out.name).read_text())


def fact_round(env: dict[str, str]) -> float:
    return run(["ansible", "-i", str(INVENTORY), "all", "-m", "ansible.builtin.setup"], env)


def host_class(host: str) -> str:
    return "masters" if "master" in host else "agents"


def forks_in_use(env: dict[str, str]) -> str:
    out = subprocess.run(["ansible-config", "dump", "--only-changed"], cwd=ROOT, env=env, text=True,
                         capture_output=True, check=False).stdout
    for line in out.splitlines():
        if line.startswith("DEFAULT_FORKS"):
            return line.split("=", 1)[1].strip()
    return "5 (Ansible's default)"


def report_noop(elapsed: float, facts: float, profile: dict[str, Any]) -> None:
    hosts = profile["hosts"]
    print(f"no-op site.yml (median):  {elapsed:7.1f} s")
    print(f"ratio no-op / fact round: {elapsed / facts:7.1f}")
    print("changed per host:         " + ", ".join(f"{h} {c['changed']}" for h, c in sorted(hosts.items())))
    by_class: dict[str, list[dict[str, int]]] = defaultdict(list)
    for host, counts in hosts.items():
        by_class[host_class(host)].append(counts)
    for name, members in sorted(by_class.items()):
        ran = [c["ok"] + c["changed"] for c in members]
        skipped = [c["skipped"] for c in members]
        print(f"task results per {name:8s} ran {min(ran)}-{max(ran)}, skipped {min(skipped)}-{max(skipped)}"
              f" ({len(members)} hosts)")
    print(f"task rounds:              {len(profile['tasks'])}")
    print("ten slowest task rounds:")
    for task in sorted(profile["tasks"], key=lambda t: t["seconds"], reverse=True)[:10]:
        # Ansible names a role's task "ROLE : NAME" already.
        where = f"{task['role']} : " if task["role"] and not task["name"].startswith(task["role"]) else ""
        print(f"  {task['seconds']:6.2f} s  {where}{task['name']}  ({len(task['hosts'])} hosts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--masters", type=int, default=3)
    parser.add_argument("--small", type=int, default=2, help="agents in the first cluster")
    parser.add_argument("--large", type=int, default=8, help="agents in the second cluster")
    parser.add_argument("--forks", type=int, help="forks for every run (default: ansible.cfg's)")
    parser.add_argument("--keep", action="store_true", help="leave the large lab up")
    args = parser.parse_args()
    env = base_env(args.forks)

    print(f"forks: {forks_in_use(env)}; lab of {args.masters} masters")
    lab(env, "absent")
    lab(env, "present", args.masters, args.small)
    fresh_small, _ = site(env)
    print(f"fresh converge, {args.small} agents: {fresh_small:7.1f} s")
    # The lab shares the controller's cores: right after a converge, the JVMs it started still
    # compete with Ansible. One no-op run lets them settle (printed, not counted); then a fact
    # round and a no-op run, three times, so that both medians see the same machine.
    settle, _ = site(env)
    print(f"first no-op run (settling): {settle:5.1f} s")
    rounds = [(fact_round(env), site(env)) for _ in range(3)]
    facts = statistics.median(pair[0] for pair in rounds)
    print(f"fact round ({args.masters + args.small} hosts):   {facts:7.1f} s; the three runs "
          + ", ".join(f"{pair[0]:.1f} s" for pair in rounds))
    noops = [pair[1] for pair in rounds]
    noop, profile = sorted(noops, key=lambda run: run[0])[1]
    print("no-op site.yml runs:      " + ", ".join(f"{run[0]:.1f} s" for run in noops))
    report_noop(noop, facts, profile)

    lab(env, "absent")
    lab(env, "present", args.masters, args.large)
    fresh_large, _ = site(env)
    print(f"fresh converge, {args.large} agents: {fresh_large:7.1f} s")
    print(f"ratio {args.large} agents / {args.small} agents: {fresh_large / fresh_small:5.2f}")
    if not args.keep:
        lab(env, "absent")


if __name__ == "__main__":
    main()
