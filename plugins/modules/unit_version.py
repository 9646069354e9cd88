#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: unit_version
short_description: Tell which release of a program a systemd unit runs, from its running process
version_added: "0.2.0"
description:
  - For programs that report their version on no endpoint (Chronos), or only the leader's (a
    Marathon standby answers C(/v2/info) for its leader), reads the release the unit's running
    process was started from, not the package database, which may already hold a newer one.
  - The release is the version in the path the process runs from, as its command line shows it
    (C(/proc/PID/cmdline) of the unit's main process); a folder or file named after the program
    and its version, like C(chronos-3.0.2.jar) or C(marathon/1.11.24/). The command line itself is
    never returned (it may carry credentials).
  - Changes nothing.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  units:
    description: Each unit, and the program name its release path carries.
    type: list
    elements: dict
    required: true
    suboptions:
      unit:
        description: The systemd unit (C(.service) is added without a type suffix).
        type: str
        required: true
      program:
        description: The program's name in its path, like V(chronos) or V(marathon).
        type: str
        required: true
seealso:
  - module: mesosphere.cluster.mesos_info
  - module: mesosphere.cluster.zookeeper_info
"""

EXAMPLES = r"""
- name: Which Marathon and Chronos run here
  mesosphere.cluster.unit_version:
    units:
      - {unit: marathon, program: marathon}
      - {unit: chronos, program: chronos}
  register: running
"""

RETURN = r"""
versions:
  description:
    - Each unit (with its type suffix) to V(running) and V(version) (null when it does not run or
      its path names no version).
  returned: always
  type: dict
  sample: {"chronos.service": {"running": true, "version": "3.0.2"}}
"""

import os
import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils._unit import UnitError, micros, show, unit_name

PROC = "/proc"


def release_in(cmdline: list[str], program: str) -> str | None:
    """The version in a path of the command line named after `program` (program-1.2.3... or
    program/1.2.3/), or None."""
    pattern = re.compile(r"(?:^|/)%s[-/](\d+\.\d+\.\d+)(?=[/._-]|$)" % re.escape(program))
    for word in cmdline:
        match = pattern.search(word)
        if match:
            return match.group(1)
    return None


def read_cmdline(pid: int, proc: str = PROC) -> list[str]:
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(units=dict(type="list", elements="dict", required=True, options=dict(
            unit=dict(type="str", required=True),
            program=dict(type="str", required=True),
        ))),
        supports_check_mode=True,
    )
    systemctl = module.get_bin_path("systemctl", required=True)
    versions: dict[str, Any] = {}
    error = None
    for item in module.params["units"]:
        unit = unit_name(item["unit"])
        try:
            values = show(module.run_command, systemctl, unit, ("ActiveState", "MainPID"))
        except UnitError as exc:
            error = str(exc)
            break
        pid = micros(values.get("MainPID"))
        running = values.get("ActiveState") in ("active", "reloading") and pid > 0
        versions[unit] = dict(running=running,
                              version=release_in(read_cmdline(pid), item["program"]) if running else None)
    if error:
        module.fail_json(msg=error)
    module.exit_json(changed=False, versions=versions)


if __name__ == "__main__":
    main()
