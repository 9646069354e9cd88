#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_reset
short_description: Remove a service's units, packages and files from a host, in one task
version_added: "0.2.0"
description:
  - The opposite of M(mesosphere.cluster.host_config), for C(playbooks/reset.yml). In one task,
    the O(units) are stopped and disabled, the O(packages) purged, the O(absent) paths removed,
    systemd reads its units again and forgets the failed state of the units that ended failed.
  - In that order, so that each step works. A daemon stops before its package goes, and a
    package's maintainer scripts run before the files they may read go.
  - What is already gone is not an error, so a second run changes nothing.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Reports what would be stopped, disabled, purged, removed; changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: debian
options:
  units:
    description:
      - systemd units to stop and disable (C(.service) is added without a type suffix). A unit that
        does not exist (any more) is skipped. Their runtime masks (C(/run/systemd/system)), which an
        interrupted install may have left, are removed with the paths.
    type: list
    elements: str
    default: []
  packages:
    description:
      - Debian packages to purge with C(apt-get purge), also when only their configuration is left.
        The packages they pulled in stay, marked for C(apt autoremove), so no other package of
        the host is touched.
    type: list
    elements: str
    default: []
  absent:
    description: Files, links and directories (with everything in them) to remove.
    type: list
    elements: path
    default: []
  absent_if_empty:
    description:
      - Directories to remove after O(absent) when nothing is left in them, in the order given (a
        folder, then its parent). Folders that other software shares, such as
        C(/etc/ansible/facts.d) for the roles' local facts, go only with the role's last file.
    type: list
    elements: path
    default: []
seealso:
  - module: mesosphere.cluster.host_config
"""

EXAMPLES = r"""
- name: Remove ZooKeeper, its package and data
  mesosphere.cluster.host_reset:
    units: [zookeeper]
    packages: [zookeeper, zookeeperd]
    absent:
      - /etc/systemd/system/zookeeper.service
      - /etc/zookeeper
      - /var/lib/zookeeper
      - /etc/ansible/facts.d/zookeeper.fact
    absent_if_empty: [/etc/ansible/facts.d, /etc/ansible]
"""

RETURN = r"""
stopped:
  description: Units stopped (in check mode, that would be).
  returned: always
  type: list
  elements: str
disabled:
  description: Units disabled.
  returned: always
  type: list
  elements: str
purged:
  description: Packages purged.
  returned: always
  type: list
  elements: str
removed:
  description: Paths removed.
  returned: always
  type: list
  elements: str
cleared:
  description: Units whose failed state was cleared.
  returned: always
  type: list
  elements: str
check_mode:
  description: Whether the task ran in check mode.
  returned: always
  type: bool
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils._host_config import HostConfigError, HostReset


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="str", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            absent=dict(type="list", elements="path", default=[]),
            absent_if_empty=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    # fail_json is called outside the except block: the errors are sentences, not tracebacks.
    error = None
    result: dict[str, Any] = {}
    engine = HostReset(module.params, module.run_command, module.get_bin_path, check_mode=module.check_mode)
    try:
        result = engine.run()
    except HostConfigError as exc:
        error = str(exc)
    if error:
        module.fail_json(msg=error, changed=bool(engine.changed_paths), removed=engine.changed_paths)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
