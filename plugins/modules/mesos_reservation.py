#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesos_reservation
short_description: Reserve resources of a Mesos agent for a role, or release them
version_added: 0.1.0
description:
  - Makes the dynamic reservation of a role on one agent equal to the given resources; Mesos then
    offers those resources only to frameworks of that role.
  - Uses the operator API calls of Mesos 1.11 (C(RESERVE_RESOURCES) and C(UNRESERVE_RESOURCES) on
    C(/api/v1)) on the leading master, after reading the agent's reservations from
    C(/master/slaves). Only the difference is reserved or unreserved.
  - Static reservations (an agent's C(--resources) with C(cpus(role):n)) are reported but never
    changed; they are not counted in the dynamic reservation.
  - Mesos accepts a reservation and applies it on the agent shortly after; the module waits until
    C(/master/slaves) shows it.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.mesos
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Reads the agent's reservations and reports what would change; sends no write.
  diff_mode:
    support: full
    description: Shows the role's dynamic reservation on the agent before and after.
options:
  agent:
    description:
      - The agent, by its id or by its host name as it registered (the host name must be unique).
    type: str
    required: true
  role:
    description:
      - The role the resources are reserved for (not V(*)).
    type: str
    required: true
  resources:
    description:
      - The resources to hold reserved, by name (V(cpus), V(mem) in MB, V(disk) in MB, V(gpus)).
      - With V(state=present), names left out keep what they have.
      - With V(state=absent), the given amounts are released; without O(resources) the whole
        dynamic reservation of the role on the agent is released.
    type: dict
  principal:
    description:
      - The principal recorded with the reservation. Defaults to O(mesos_username).
    type: str
  state:
    description:
      - V(present) reserves (or releases down to) the given amounts; V(absent) releases.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds to wait for the agent to show the change.
    type: float
    default: 30
seealso:
  - module: mesosphere.cluster.mesos_role
  - module: mesosphere.cluster.mesos_role_info
"""

EXAMPLES = r"""
- name: Keep 2 cpus and 1 GB of a1 for production
  mesosphere.cluster.mesos_reservation:
    mesos_endpoints: [http://m1.example.com:5050]
    agent: a1.example.com
    role: prod
    resources: {cpus: 2, mem: 1024}

- name: Give them back
  mesosphere.cluster.mesos_reservation:
    mesos_endpoints: [http://m1.example.com:5050]
    agent: a1.example.com
    role: prod
    state: absent
"""

RETURN = r"""
agent:
  description: The agent's id and host name.
  returned: success
  type: dict
  sample: {"id": "2a1c...-S0", "hostname": "a1.example.com"}
reservation:
  description: The role's reservations on the agent after the run (predicted in check mode).
  returned: success
  type: dict
  sample: {"role": "prod", "dynamic": {"cpus": 2.0, "mem": 1024.0}, "static": {}}
requests:
  description: The operator calls sent (or that would be sent in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [RESERVE_RESOURCES]
diff:
  description: The role's dynamic reservation on the agent before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: {"dynamic": {}}
    after: {"dynamic": {"cpus": 2.0, "mem": 1024.0}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _mesos, _mesos_names


def validate(params):
    role = params["role"]
    problem = _mesos_names.role_name_error(role)
    if problem:
        return "Invalid role name %r: %s." % (role, problem)
    if role == "*":
        return "Resources cannot be reserved for the role '*'; name another role."
    problem = _mesos_names.resources_error(params["resources"], "resources to reserve for role %s" % role)
    if problem:
        return problem[0].upper() + problem[1:] + "."
    if params["state"] == "present" and not params["resources"]:
        return "Give the resources to reserve for role %s (for example {cpus: 1, mem: 512})." % role
    return None


def difference(current, wanted):
    """(to reserve, to unreserve) turning `current` into `wanted` for the names in `wanted`."""
    reserve, unreserve = {}, {}
    for name, amount in sorted(wanted.items()):
        have = current.get(name, 0.0)
        if amount > have + 1e-9:
            reserve[name] = round(amount - have, 6)
        elif amount < have - 1e-9:
            unreserve[name] = round(have - amount, 6)
    return reserve, unreserve


def run(module, client):
    p = module.params
    role = p["role"]
    agents = _mesos.read_agents(client)
    agent = _mesos.find_agent(agents, p["agent"])
    if agent is None:
        module.fail_json(msg="No single Mesos agent has the id or host name %r (masters %s); registered agents: %s."
                         % (p["agent"], ", ".join(client.endpoints),
                            ", ".join(sorted("%s (%s)" % (a.get("hostname"), a.get("id")) for a in agents)) or "none"),
                         requests=[])
    held = _mesos.agent_reservations(agent).get(role) or dict(static={}, dynamic={})
    current = held["dynamic"]
    if p["state"] == "present":
        wanted = dict(current)
        wanted.update(_mesos.numbers(p["resources"]))
    elif p["resources"]:
        wanted = dict(current)
        for name, amount in _mesos.numbers(p["resources"]).items():
            wanted[name] = max(0.0, current.get(name, 0.0) - amount)
    else:
        wanted = dict((name, 0.0) for name in current)
    reserve, unreserve = difference(current, wanted)
    principal = p["principal"] or p["mesos_username"]
    agent_id = dict(value=agent["id"])
    requests = []
    if unreserve:
        requests.append(("UNRESERVE_RESOURCES", dict(type="UNRESERVE_RESOURCES", unreserve_resources=dict(
            agent_id=agent_id, resources=_mesos.reservation_resources(unreserve, role, held.get("principal"))))))
    if reserve:
        requests.append(("RESERVE_RESOURCES", dict(type="RESERVE_RESOURCES", reserve_resources=dict(
            agent_id=agent_id, resources=_mesos.reservation_resources(reserve, role, principal)))))
    after = dict((k, v) for k, v in wanted.items() if v > 1e-9)
    if requests and not module.check_mode:
        for _kind, call in requests:
            _mesos.operator(client, call, expect=(200, 202))

        def applied():
            found = _mesos.find_agent(_mesos.read_agents(client), agent["id"])
            dynamic = (_mesos.agent_reservations(found or {}).get(role) or {}).get("dynamic") or {}
            reserve_left, unreserve_left = difference(dynamic, wanted)
            return not reserve_left and not unreserve_left and set(dynamic) <= set(after), dynamic

        after = _api.wait_until(applied, p["timeout"], delay=0.5,
                                what="the reservation of role %s on agent %s" % (role, agent.get("hostname")))
    result = dict(changed=bool(requests), agent=dict(id=agent["id"], hostname=agent.get("hostname")),
                  reservation=dict(role=role, dynamic=after, static=held["static"]),
                  requests=[r[0] for r in requests])
    if module._diff:
        result["diff"] = dict(before=dict(dynamic=current), after=dict(dynamic=after))
    return result


def main():
    argument_spec = _api.mesos_argument_spec()
    argument_spec.update(
        agent=dict(type="str", required=True),
        role=dict(type="str", required=True),
        resources=dict(type="dict"),
        principal=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        timeout=dict(type="float", default=30.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    problem = validate(module.params)
    if problem:
        module.fail_json(msg=problem, requests=[])
    client = _api.client_from_params(module.params, "mesos")
    try:
        result = run(module, client)
    except _api.ApiError as exc:
        module.fail_json(msg="Could not change the reservation of role %s on Mesos agent %s (masters %s): %s"
                         % (module.params["role"], module.params["agent"], ", ".join(client.endpoints), exc),
                         requests=[])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
