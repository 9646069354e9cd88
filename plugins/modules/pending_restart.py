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
        ),
        supports_check_mode=True,
    )
    unit = unit_name(module.params["service"])
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        module.fail_json(msg="Cannot tell whether %s needs a restart: systemctl is not installed on this host." % unit)
    rc, out, err = module.run_command([systemctl, "show", unit, "--property=" + ",".join(PROPERTIES)])
    if rc != 0:
        module.fail_json(msg="Cannot tell whether %s needs a restart: systemctl show failed with code %s (%s)."
                         % (unit, rc, (err or out).strip() or "no output"))
    show = parse_show(out)
    active = show.get("ActiveState") in ACTIVE_STATES
    started = start_time(show)
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
