#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesos_role
short_description: Set a Mesos role's weight and quota
version_added: 0.1.0
description:
  - Sets the weight of a Mesos role (its relative share when Mesos shares resources fairly
    between roles) and its quota (resources guaranteed to the role, and the most it may hold).
  - Uses the operator API calls of Mesos 1.11 (C(GET_WEIGHTS), C(UPDATE_WEIGHTS), C(GET_QUOTA),
    C(UPDATE_QUOTA) on C(/api/v1)) on the leading master. It reads first and writes only what
    differs.
  - Options left out are not managed; V(state=absent) puts the weight back to 1 and removes the
    quota.
  - Every value is checked before anything is sent; a bad value changes nothing.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.mesos
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Reads the weight and quota and reports what would change; sends no write.
  diff_mode:
    support: full
    description: Shows the role's weight and quota before and after.
options:
  name:
    description:
      - The role. It cannot be V(*), be empty, be V(.) or V(..), start with V(-), or contain a slash,
        a backspace or whitespace.
    type: str
    required: true
  weight:
    description:
      - The role's weight, a positive number. A role with weight 2 gets twice the fair share of a
        role with weight 1 (the default of every role).
      - Not managed when left out.
    type: float
  guarantees:
    description:
      - Resources guaranteed to the role, by name (V(cpus), V(mem) in MB, V(disk) in MB, V(gpus)).
        Mesos offers them to the role before it shares the rest by weight.
      - Not managed when neither this nor O(limits) is given. An empty mapping (with O(limits)
        empty too) removes the quota.
    type: dict
  limits:
    description:
      - The most the role may hold, by resource name (same names as O(guarantees)). A guarantee
        may not exceed its limit.
      - Not managed when neither this nor O(guarantees) is given; managed together with
        O(guarantees) otherwise (a resource left out has no limit).
    type: dict
  force:
    description:
      - The C(force) field of C(UPDATE_QUOTA). When Mesos refuses guarantees that together exceed
        the resources of the cluster, V(true) asks it to set them anyway.
    type: bool
    default: false
  state:
    description:
      - V(present) sets what is given; V(absent) resets the weight to 1 and removes the quota.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: mesosphere.cluster.mesos_role_info
  - module: mesosphere.cluster.mesos_reservation
"""

EXAMPLES = r"""
- name: Production first, with weight 3 and 4 cpus and 4 GB guaranteed
  mesosphere.cluster.mesos_role:
    mesos_endpoints: [http://m1.example.com:5050, http://m2.example.com:5050]
    mesos_username: ops
    mesos_password: "{{ vault_mesos_password }}"
    name: prod
    weight: 3
    guarantees: {cpus: 4, mem: 4096}
    limits: {cpus: 8}

- name: Batch work never holds more than 2 cpus
  mesosphere.cluster.mesos_role:
    mesos_endpoints: [http://m1.example.com:5050]
    name: batch
    limits: {cpus: 2}

- name: Back to the defaults
  mesosphere.cluster.mesos_role:
    mesos_endpoints: [http://m1.example.com:5050]
    name: batch
    state: absent
"""

RETURN = r"""
role:
  description: The role's weight and quota after the run (predicted in check mode).
  returned: success
  type: dict
  sample: {"name": "prod", "weight": 3.0, "guarantees": {"cpus": 4.0, "mem": 4096.0}, "limits": {"cpus": 8.0}}
requests:
  description: The operator calls sent (or that would be sent in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [UPDATE_WEIGHTS, UPDATE_QUOTA]
diff:
  description: The role before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: {"name": "prod", "weight": 1.0, "guarantees": {}, "limits": {}}
    after: {"name": "prod", "weight": 3.0, "guarantees": {"cpus": 4.0}, "limits": {}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _mesos, _mesos_names


def validate(params):
    """A sentence naming the first bad value, or None."""
    name = params["name"]
    problem = _mesos_names.role_name_error(name)
    if problem:
        return "Invalid role name %r: %s." % (name, problem)
    if name == "*":
        return "The role '*' (unreserved resources) takes no weight or quota here; name another role."
    if params["weight"] is not None and params["weight"] <= 0:
        return "The weight of role %s must be a positive number, not %s." % (name, params["weight"])
    for field in ("guarantees", "limits"):
        problem = _mesos_names.resources_error(params[field], "%s of role %s" % (field, name))
        if problem:
            return problem[0].upper() + problem[1:] + "."
    guarantees = _mesos.numbers(params["guarantees"])
    limits = _mesos.numbers(params["limits"])
    for resource, amount in sorted(guarantees.items()):
        if resource in limits and amount > limits[resource]:
            return ("The guarantee of %s for role %s (%g) exceeds its limit (%g)."
                    % (resource, name, amount, limits[resource]))
    return None


def run(module, client):
    p = module.params
    name = p["name"]
    requests = []
    weights = _mesos.read_weights(client)
    quotas = _mesos.read_quotas(client)
    current_quota = quotas.get(name) or dict(guarantees={}, limits={})
    before = dict(name=name, weight=weights.get(name, 1.0), guarantees=current_quota["guarantees"],
                  limits=current_quota["limits"])
    after = dict(before)
    if p["state"] == "absent":
        after.update(weight=1.0, guarantees={}, limits={})
    else:
        if p["weight"] is not None:
            after["weight"] = float(p["weight"])
        if p["guarantees"] is not None or p["limits"] is not None:
            after["guarantees"] = _mesos.numbers(p["guarantees"])
            after["limits"] = _mesos.numbers(p["limits"])
    if after["weight"] != before["weight"]:
        requests.append(("UPDATE_WEIGHTS", dict(type="UPDATE_WEIGHTS", update_weights=dict(
            weight_infos=[dict(role=name, weight=after["weight"])])), (200, 202)))
    if (after["guarantees"], after["limits"]) != (before["guarantees"], before["limits"]):
        requests.append(("UPDATE_QUOTA", dict(type="UPDATE_QUOTA", update_quota=dict(
            force=p["force"], quota_configs=[_mesos.quota_config(name, after["guarantees"], after["limits"])])),
            (200, 202)))
    # Quota first: when Mesos refuses it (over capacity) the weight is not changed either.
    requests.sort(key=lambda r: r[0] != "UPDATE_QUOTA")
    if not module.check_mode:
        for _kind, call, expect in requests:
            _mesos.operator(client, call, expect=expect)
        if requests:
            weights = _mesos.read_weights(client)
            quota = _mesos.read_quotas(client).get(name) or dict(guarantees={}, limits={})
            after = dict(name=name, weight=weights.get(name, 1.0), guarantees=quota["guarantees"],
                         limits=quota["limits"])
    result = dict(changed=bool(requests), role=after, requests=[r[0] for r in requests])
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    return result


def main():
    argument_spec = _api.mesos_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        weight=dict(type="float"),
        guarantees=dict(type="dict"),
        limits=dict(type="dict"),
        force=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    problem = validate(module.params)
    if problem:
        module.fail_json(msg=problem, requests=[])
    client = _api.client_from_params(module.params, "mesos")
    try:
        result = run(module, client)
    except _api.ApiError as exc:
        module.fail_json(msg="Could not set the weight and quota of Mesos role %s (masters %s): %s"
                         % (module.params["name"], ", ".join(client.endpoints), exc), requests=[])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
