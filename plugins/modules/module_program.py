#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: module_program
short_description: Write a module, with its arguments, to a host as a program that runs it without Ansible
version_added: "0.2.0"
description:
  - Packages a Python module with its arguments exactly as Ansible does when it runs the module on
    a host (the module, the module_utils it imports and the arguments, in one Python program), and
    writes that program to O(dest). Running C(python3 DEST) later runs the module with those
    arguments and prints its result as JSON, with no Ansible on the host; its exit status is 0 when
    the module succeeded.
  - For a systemd timer that runs one of the collection's modules on a schedule (the backup of
    C(playbooks/backup.yml) with C(backup_schedule)), with its result in the journal.
  - The program is rewritten only when it differs, so a second run changes nothing while the
    module, the collection, Ansible and the arguments stay the same.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  action:
    support: full
    description: An action plugin builds the program on the controller and copies it to the host.
  check_mode:
    support: full
    description: Reports whether the program would be written.
  diff_mode:
    support: none
    description: The program is the module's packaged code; no diff is shown.
  platform:
    platforms: posix
options:
  module:
    description: The module, by its full name, like V(mesosphere.cluster.cluster_backup).
    type: str
    required: true
  module_args:
    description:
      - Its arguments. They are written into the program, so credentials among them are on the host
        in that file (owned by root, mode O(mode)); set C(no_log) on the task.
    type: dict
    default: {}
  dest:
    description: Where the program is written.
    type: path
    required: true
  mode:
    description: Its mode; it is owned by root.
    type: raw
    default: "0700"
notes:
  - The program depends on the Python of the host the task ran against, like the module would.
seealso:
  - module: mesosphere.cluster.cluster_backup
"""

EXAMPLES = r"""
- name: The backup, as a program for a timer
  mesosphere.cluster.module_program:
    module: mesosphere.cluster.cluster_backup
    module_args:
      mesos_endpoints: [http://m1:5050]
      dest: /var/backups/mesosphere-cluster
      keep: 7
    dest: /usr/local/lib/mesosphere-cluster/backup
  no_log: true
"""

RETURN = r"""
dest:
  description: Where the program is.
  returned: success
  type: str
  sample: /usr/local/lib/mesosphere-cluster/backup
module:
  description: The module it runs.
  returned: always
  type: str
  sample: mesosphere.cluster.cluster_backup
"""
