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

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils._unit import UnitError, pending, unit_name

# /proc, where process=newest_child reads the processes (tests point it elsewhere).
PROC = "/proc"


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
    # fail_json is called outside the except block: the errors are sentences, not tracebacks.
    error = None
    state: dict[str, Any] = {}
    try:
        state = pending(module.run_command, systemctl, unit, module.params["paths"], module.params["process"], PROC)
    except UnitError as exc:
        error = str(exc)
    if error:
        module.fail_json(msg=error)
    module.exit_json(changed=False, check_mode=module.check_mode, **state)


if __name__ == "__main__":
    main()
