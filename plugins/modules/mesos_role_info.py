#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesos_role_info
short_description: Read the roles of a Mesos cluster with their weights, quotas, reservations and allocations
version_added: 0.1.0
description:
  - Reads from the leading master the roles Mesos knows (C(/master/roles)), their weights
    (C(GET_WEIGHTS)) and quotas (C(GET_QUOTA)), and the resources each agent holds reserved for
    them (C(/master/slaves)).
  - For each role, RV(roles[].allocated) is what its running tasks hold now.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.mesos
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
options:
  names:
    description: Only these roles. All roles when left out.
    type: list
    elements: str
seealso:
  - module: mesosphere.cluster.mesos_role
  - module: mesosphere.cluster.mesos_reservation
  - module: mesosphere.cluster.mesos_info
"""

EXAMPLES = r"""
- name: Read the roles
  mesosphere.cluster.mesos_role_info:
    mesos_endpoints: [http://m1.example.com:5050, http://m2.example.com:5050]
  register: mesos_roles

- name: Show what production holds
  ansible.builtin.debug:
    msg: "{{ (mesos_roles.roles | selectattr('name', 'eq', 'prod') | first).allocated }}"
"""

RETURN = r"""
roles:
  description: Every role (or those in O(names)), sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The role.
      type: str
      sample: prod
    weight:
      description: Its weight (1 unless set).
      type: float
      sample: 3.0
    quota:
      description: Its guarantees and limits by resource name (empty when it has no quota).
      type: dict
      sample: {"guarantees": {"cpus": 4.0}, "limits": {}}
    allocated:
      description: The scalar resources its tasks hold now.
      type: dict
      sample: {"cpus": 2.0, "mem": 256.0}
    frameworks:
      description: Ids of the frameworks subscribed to it.
      type: list
      elements: str
      sample: ["2a1c...-0000"]
    reservations:
      description: Per agent, the resources reserved for it statically and dynamically.
      type: list
      elements: dict
      sample: [{"agent_id": "2a1c...-S0", "hostname": "a1", "static": {}, "dynamic": {"cpus": 2.0}}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _mesos


def main():
    argument_spec = _api.mesos_argument_spec()
    argument_spec.update(names=dict(type="list", elements="str"))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = _api.client_from_params(module.params, "mesos")
    try:
        roles = _mesos.roles_report(client)
    except _api.ApiError as exc:
        module.fail_json(msg="Could not read the roles of Mesos (masters %s): %s" % (", ".join(client.endpoints), exc))
    names = module.params["names"]
    if names:
        roles = [r for r in roles if r["name"] in names]
    module.exit_json(changed=False, roles=roles)


if __name__ == "__main__":
    main()
