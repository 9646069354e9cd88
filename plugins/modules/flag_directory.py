#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: flag_directory
short_description: Make a directory hold exactly the given flags, one file per flag
version_added: "0.1.0"
description:
  - The Mesos and Chronos packages read their flags from a directory with one file per flag,
    named after the flag and holding its value (C(/usr/bin/mesos-init-wrapper) turns
    C(/etc/mesos-master/quorum) into C(--quorum=2); a Chronos file C(?name) is a bare boolean flag).
  - This module makes such a directory hold exactly O(flags). It writes one file per flag, with the
    value and a newline, and removes every other entry of the directory, so no stale flag survives.
  - It reads each file first and writes only those whose content, mode, owner or group differ.
    Each write goes to a temporary file in the directory, which is renamed into place, so a service
    never reads a half-written flag.
  - Runs on the managed host with the Python standard library only.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Reads the directory and reports what would be written and removed; changes nothing.
  diff_mode:
    support: full
    description:
      - Shows every entry of the directory before and every flag after, with its content, mode and owner.
      - The content of O(secret_flags), and of existing files that only their owner may read, is masked.
  platform:
    platforms: posix
options:
  path:
    description:
      - The flag directory, like V(/etc/mesos-master). It must exist (in check mode a missing
        directory counts as empty).
      - Every entry in it that is not a flag of O(flags) is removed, subdirectories included.
    type: path
    required: true
  flags:
    description:
      - Flag name to value. Each flag becomes the file O(path)/NAME holding the value followed by a newline.
      - A string is written as it is, a boolean as V(true) or V(false), a number as written.
        A value that is null, a list or a dictionary is refused (render it to the text the service
        expects, for example with C(to_json)).
      - A name becomes a file name, so it may not be empty, V(.) or V(..), nor contain C(/).
    type: dict
    required: true
  secret_flags:
    description:
      - Names of flags whose values are secret (a ZooKeeper URL with a password, HTTP credentials).
        Their files get mode C(0600) and their values are masked in the result and the diff.
      - A name that is not in O(flags) is ignored.
      - The values are still part of the module's arguments; set C(no_log) on the task to keep them
        out of the controller's output and the managed host's log.
    type: list
    elements: str
    default: []
  mode:
    description:
      - Mode of the flag files other than O(secret_flags), as an octal string like V('0644') (quote
        it, or YAML may read it as a decimal number) or as a number.
    type: raw
    default: "0644"
  owner:
    description: User that owns the flag files, by name or numeric id.
    type: str
    default: root
  group:
    description: Group of the flag files, by name or numeric id.
    type: str
    default: root
notes:
  - Flag files hold only the value, so they carry no "managed by Ansible" header.
  - Temporary files are named C(.flag-*); one left behind by an interrupted run is removed by the next.
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the Mesos master's flags, removing any other file in /etc/mesos-master
  mesosphere.cluster.flag_directory:
    path: /etc/mesos-master
    flags:
      zk: "zk://mesos:{{ vault_zk_password }}@zk1:2181,zk2:2181,zk3:2181/mesos"
      quorum: 2
      work_dir: /var/lib/mesos
      authenticate_agents: false
    secret_flags: [zk]
  no_log: true
  register: master_flags
  notify: Restart mesos-master

- name: Chronos reads a file ?NAME as a bare boolean flag
  mesosphere.cluster.flag_directory:
    path: /etc/chronos/conf
    flags:
      http_port: 4400
      "?mesos_checkpoint": ""
"""

RETURN = r"""
path:
  description: The flag directory, as given.
  returned: always
  type: str
  sample: /etc/mesos-master
written:
  description: Names of the flags written (in check mode, that would be written), sorted.
  returned: always
  type: list
  elements: str
  sample: [quorum, zk]
removed:
  description: Names of the other entries removed from the directory (in check mode, that would be removed), sorted.
  returned: always
  type: list
  elements: str
  sample: [ip]
diff:
  description:
    - Entry name to its content, mode and owner (C(user:group)) before, and flag name to the same
      after. An entry that is not a regular file shows its C(type) instead of a content.
  returned: when diff mode is on
  type: dict
  sample:
    before: {"quorum": {"content": "1\n", "mode": "0644", "owner": "root:root"}}
    after: {"quorum": {"content": "2\n", "mode": "0644", "owner": "root:root"}}
    before_header: /etc/mesos-master
    after_header: /etc/mesos-master
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils._directory import (
    Directory,
    DirectoryError,
    render_flag,
)


def run(module):
    params = module.params
    secret = set(params["secret_flags"])
    wanted = {}
    for name, value in params["flags"].items():
        wanted[name] = render_flag(name, value)
        text = wanted[name].decode("utf-8")[:-1]
        if name in secret and text:
            module.no_log_values.add(text)
    return Directory(
        params["path"],
        wanted,
        noun="flag",
        mode=params["mode"],
        owner=params["owner"],
        group=params["group"],
        secret=secret,
        check_mode=module.check_mode,
        diff=module._diff,
    ).run()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            flags=dict(type="dict", required=True),
            secret_flags=dict(type="list", elements="str", default=[], no_log=False),
            mode=dict(type="raw", default="0644"),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
        ),
        supports_check_mode=True,
    )
    # fail_json is called outside the except blocks: the errors are sentences, not tracebacks.
    error = None
    result = None
    try:
        result = run(module)
    except DirectoryError as exc:
        error = str(exc)
    if error:
        module.fail_json(msg=error, path=module.params["path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
