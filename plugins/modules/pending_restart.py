#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: pending_restart
short_description: Tell whether a systemd service runs an older configuration than the one on disk
version_added: "0.1.0"
description:
  - Compares the time the service's running process was started with the modification times of
    its configuration files. A file changed after the start means the daemon still runs the old
    configuration and needs a restart.
  - This state lives on the host, not in facts or markers, so it survives a failed run; a host
    whose restart did not happen is found again by the next run, with no file change.
  - The start is systemd's C(ExecMainStartTimestampMonotonic), or C(ActiveEnterTimestampMonotonic)
    when the former is 0, read with C(systemctl show) and converted from the monotonic clock to
    seconds since the epoch.
  - Every path is read with C(lstat), so a symbolic link counts by itself, not its target. A
    directory counts by itself (an entry added, renamed or removed changes its time) and by each
    of its direct entries (one level, C(lstat) as well).
  - With O(process=newest_child) the start is that of the newest child of the unit's main
    process instead, for a daemon whose reload starts new workers under a master that keeps
    running (HAProxy in master-worker mode), so that a reload that took effect counts as a start.
  - Changes nothing; a unit that does not exist is reported as inactive, not as a failure.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
    details: The module only reads.
  platform:
    platforms: posix
options:
  service:
    description:
      - The systemd unit, like V(zookeeper) or V(mesos-master.service). Without a unit type
        suffix, C(.service) is added.
    type: str
    required: true
  paths:
    description:
      - Configuration files, symbolic links and directories the service reads.
      - Paths that do not exist are ignored and listed in RV(missing).
    type: list
    elements: path
    required: true
  process:
    description:
      - Whose start counts.
      - V(main) is the unit's main process, as systemd reports it. A reload that does not
        replace the main process does not count, so the files changed since it started still
        need a restart.
      - V(newest_child) is the most recently started direct child of the unit's main process
        (C(MainPID)), read from C(/proc) (the parent and start of each process in
        C(/proc/<pid>/stat)). HAProxy's master re-executes itself on C(systemctl reload) and
        starts a new worker, so the newest worker's start is when the last reload took effect,
        whoever (this collection, the sync program, a person) asked for it. Old workers still
        finishing their connections are older and do not count. When the main process has no
        child (a master without workers, or an inactive unit), the main process's start counts.
      - The kernel gives a process's start to a clock tick (a hundredth of a second), rounded
        down. A file changed less than that before a reload may count as newer than the new
        worker, which costs one more reload, never a missed one.
    type: str
    choices: [main, newest_child]
    default: main
    version_added: "0.2.0"
notes:
  - The comparison trusts the host's clock. A jump of the real-time clock between the service's
    start and a file's change (for example a first NTP synchronisation) can hide or invent a change.
seealso:
  - module: mesosphere.cluster.rolling_restart
"""

EXAMPLES = r"""
- name: Does ZooKeeper run its current configuration?
  mesosphere.cluster.pending_restart:
    service: zookeeper
    paths:
      - /etc/zookeeper/conf/zoo.cfg
      - /etc/zookeeper/conf/myid
  register: zk_pending

- name: Restart it when it does not
  ansible.builtin.systemd_service:
    name: zookeeper
    state: restarted
  when: zk_pending.restart_pending

- name: The Mesos master reads a flag directory; a removed flag counts too
  mesosphere.cluster.pending_restart:
    service: mesos-master
    paths:
      - /etc/mesos-master
      - /etc/mesos/zk
      - /etc/default/mesos-master

- name: Has HAProxy's running worker been started since its configuration last changed?
  mesosphere.cluster.pending_restart:
    service: haproxy
    paths:
      - /etc/haproxy/haproxy.cfg
      - /etc/haproxy/certs
    process: newest_child
  register: haproxy_pending

- name: Reload it when it has not
  ansible.builtin.systemd_service:
    name: haproxy
    state: reloaded
  when: haproxy_pending.restart_pending
"""

RETURN = r"""
active:
  description: Whether the unit is active (C(ActiveState) V(active) or V(reloading)).
  returned: always
  type: bool
  sample: true
started:
  description:
    - When the running process was started, in seconds since the epoch, or null when systemd
      reports no start (a unit that never ran or does not exist).
    - With O(process=newest_child), the start of the main process's newest child when it has one.
    - For an inactive unit this is the start of its last run.
  returned: always
  type: float
  sample: 1764660000.25
changed_paths:
  description:
    - The given paths, and the direct entries of given directories, modified after RV(started),
      sorted. Empty when RV(started) is null.
  returned: always
  type: list
  elements: str
  sample: ["/etc/mesos-master", "/etc/mesos-master/quorum"]
missing:
  description: The given paths that do not exist.
  returned: always
  type: list
  elements: str
  sample: []
restart_pending:
  description: Whether the unit is active and RV(changed_paths) is not empty.
  returned: always
  type: bool
  sample: true
check_mode:
  description:
    - Whether the task ran in check mode, from C(--check) or from the play's or task's
      C(check_mode) (the variable C(ansible_check_mode) tells only the first). A caller that
      writes nothing in check mode uses it to report, rather than do, a restart.
  returned: always
  type: bool
  sample: false
"""

import os
import stat
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".mount", ".path", ".scope", ".slice")
ACTIVE_STATES = ("active", "reloading")
PROPERTIES = ("ActiveState", "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
PROC = "/proc"


def unit_name(service: str) -> str:
    service = service.strip()
    return service if service.endswith(UNIT_SUFFIXES) else service + ".service"


def parse_show(text: str) -> dict[str, str]:
    """Read `systemctl show` KEY=VALUE lines."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _micros(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def monotonic_to_epoch(mono_us: int) -> float:
    """systemd's CLOCK_MONOTONIC microseconds to seconds since the epoch."""
    return time.time() - (time.monotonic() - mono_us / 1e6)


def start_time(show: dict[str, str]) -> float | None:
    mono = _micros(show.get("ExecMainStartTimestampMonotonic"))
    if not mono:
        mono = _micros(show.get("ActiveEnterTimestampMonotonic"))
    return monotonic_to_epoch(mono) if mono else None


def _stat_fields(text: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    return text[text.rfind(")") + 1:].split()


def newest_child_start(main_pid: int, proc: str | None = None) -> float | None:
    """The start, in seconds since the epoch, of the newest direct child of `main_pid`, or None.

    /proc/<pid>/stat gives the parent (field 4) and the start in clock ticks since boot (field 22),
    which places the start a little early (a tick, 1/100 s), never late.
    """
    if main_pid <= 0:
        return None
    proc = proc or PROC
    newest = None
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat"), encoding="utf-8", errors="replace") as handle:
                fields = _stat_fields(handle.read())
        except OSError:  # the process ended while we looked, or is not ours to read
            continue
        # fields[0] is the state (field 3), so the parent is fields[1] and the start fields[19]
        if len(fields) < 20 or fields[1] != str(main_pid):
            continue
        try:
            ticks = int(fields[19])
        except ValueError:
            continue
        newest = ticks if newest is None else max(newest, ticks)
    if newest is None:
        return None
    return time.time() - (since_boot(proc) - newest / os.sysconf("SC_CLK_TCK"))


def since_boot(proc: str | None = None) -> float:
    """Seconds since boot now, on the clock of /proc/<pid>/stat's start (CLOCK_BOOTTIME)."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    with open(os.path.join(proc or PROC, "uptime"), encoding="ascii") as handle:
        return float(handle.read().split()[0])  # to a hundredth of a second


def modified_after(paths: list[str], started: float | None) -> tuple[list[str], list[str]]:
    """(changed, missing): paths and direct directory entries whose lstat mtime is after `started`."""
    changed: set[str] = set()
    missing: list[str] = []
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            missing.append(path)
            continue
        if started is not None and st.st_mtime > started:
            changed.add(path)
        if not stat.S_ISDIR(st.st_mode):
            continue
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            continue
        for name in names:
            entry = os.path.join(path, name)
            try:
                est = os.lstat(entry)
            except FileNotFoundError:
                continue
            if started is not None and est.st_mtime > started:
                changed.add(entry)
    return sorted(changed), missing


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            service=dict(type="str", required=True),
            paths=dict(type="list", elements="path", required=True),
            process=dict(type="str", choices=["main", "newest_child"], default="main"),
        ),
        supports_check_mode=True,
    )
    unit = unit_name(module.params["service"])
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        module.fail_json(msg="Cannot tell whether %s needs a restart: systemctl is not installed on this host." % unit)
    newest_child = module.params["process"] == "newest_child"
    properties = PROPERTIES + (("MainPID",) if newest_child else ())
    rc, out, err = module.run_command([systemctl, "show", unit, "--property=" + ",".join(properties)])
    if rc != 0:
        module.fail_json(msg="Cannot tell whether %s needs a restart: systemctl show failed with code %s (%s)."
                         % (unit, rc, (err or out).strip() or "no output"))
    show = parse_show(out)
    active = show.get("ActiveState") in ACTIVE_STATES
    started = start_time(show)
    if newest_child:
        try:
            started = newest_child_start(_micros(show.get("MainPID"))) or started
        except (OSError, ValueError) as exc:
            module.fail_json(msg="Cannot tell when the newest process of %s started: cannot read %s: %s."
                             % (unit, PROC, exc))
    try:
        changed_paths, missing = modified_after(module.params["paths"], started)
    except OSError as exc:
        module.fail_json(msg="Cannot tell whether %s needs a restart: cannot read %s: %s."
                         % (unit, exc.filename, exc.strerror or exc))
    result: dict[str, Any] = dict(
        changed=False,
        active=active,
        started=started,
        changed_paths=changed_paths,
        missing=missing,
        restart_pending=bool(active and changed_paths),
        check_mode=module.check_mode,
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
