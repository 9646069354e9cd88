#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: rolling_restart
short_description: Plan and watch a rolling restart of ZooKeeper, Mesos masters, Marathon or Chronos
version_added: "0.1.0"
description:
  - The decisions of a rolling restart, one member at a time; the restart itself is left to the
    caller (for example C(ansible.builtin.systemd_service) delegated to each member in turn).
  - With O(state=planned) it asks every member whether it serves and who leads, and returns the
    order in which to restart the members of O(restart) - members that do not serve first, then
    the serving non-leaders in the order given, the leader last. It refuses, with one sentence
    naming the member that would be restarted and the members that do not serve, a plan that
    would leave fewer than O(quorum) members serving while a member restarts.
  - With O(state=settled) it waits until the member just restarted serves again and the
    ensemble agrees on one leader.
  - How a member is asked. ZooKeeper - the four-letter word C(srvr); it serves in mode leader,
    follower or standalone, and leads in mode leader (or standalone when it is the only member).
    Mesos master - C(/metrics/snapshot) and C(/master/redirect); it serves when it answers and
    knows a leader (a master that answers 503 does not), and leads when C(master/elected) is 1.
    Marathon (C(/v2/leader)) and Chronos (C(/leader)) - it serves when it answers with a leader;
    the member whose O(members[].leader_id) is named leads.
  - Changes nothing, so it always reports C(changed=false) and runs the same in check mode.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.connection
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
      - The clustered service whose members are restarted.
    type: str
    required: true
    choices: [zookeeper, mesos_master, marathon, chronos]
  members:
    description:
      - Every member of the ensemble, from the inventory, not only those in the play.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The member's name, usually its inventory name. O(restart) and O(member) refer to it.
        type: str
        required: true
      endpoint:
        description:
          - Where the member answers. V(host:port) of the client port for ZooKeeper (port
            V(2181) when left out); a base URL like V(http://10.0.0.1:5050) for the others.
        type: str
        required: true
      leader_id:
        description:
          - How Marathon or Chronos name this member when they say who leads, V(host:port).
          - Defaults to the V(host:port) of O(members[].endpoint). Set it when the instances
            advertise a hostname other than the one in the endpoint.
          - Ignored for ZooKeeper and Mesos masters.
        type: str
  restart:
    description:
      - Names of the members whose daemon must restart (for example those whose
        M(mesosphere.cluster.pending_restart) says so).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(planned) probes the members and returns the restart order, refusing a plan that loses
        quorum. It looks again every O(delay) seconds, up to O(wait_timeout), while the plan is
        refused (unless O(allow_quorum_loss)) or no member is known to lead, so that an election
        under way or a member still starting does not refuse at once.
      - V(settled) waits, up to O(wait_timeout), until O(member) serves (when given), exactly one
        member leads, every serving member names that leader and at least O(quorum) members serve.
        Without O(member) it waits for the ensemble as a whole, for example after a first start.
    type: str
    choices: [planned, settled]
    default: planned
  member:
    description:
      - The member just restarted, with O(state=settled); it must serve again.
    type: str
  quorum:
    description:
      - How many members must serve while one restarts.
      - Defaults to a majority of O(members) for V(zookeeper) and V(mesos_master), and to V(1)
        for V(marathon) and V(chronos), which need one instance serving.
    type: int
  allow_quorum_loss:
    description:
      - Restart even when it leaves fewer than O(quorum) members serving. The plan is then
        returned with the reason in RV(refused) and a warning.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to keep looking, see O(state). V(0) looks once.
    type: int
    default: 300
  delay:
    description:
      - Seconds between two looks.
    type: float
    default: 2
  username:
    description:
      - User for HTTP basic authentication to Mesos, Marathon or Chronos.
    type: str
  password:
    description:
      - Password of O(username).
    type: str
  zookeeper_timeout:
    description:
      - Seconds to wait for each ZooKeeper member's answer to C(srvr).
    type: float
    default: 3
notes:
  - Members are asked in parallel, each on its own; a member that cannot be reached is reported
    as not serving, not as a failure of the module.
  - A member that does not serve is restarted first and assumed to serve afterwards, since restarting
    it is how it heals. When no member serves at all the plan is allowed, and so it is for an
    ensemble of one member (a lab), which no rolling restart can keep serving.
seealso:
  - module: mesosphere.cluster.pending_restart
  - module: mesosphere.cluster.zookeeper_info
  - module: mesosphere.cluster.cluster_ha_check
"""

EXAMPLES = r"""
- name: Which masters run an old configuration?
  mesosphere.cluster.pending_restart:
    service: mesos-master
    paths: [/etc/mesos-master, /etc/mesos/zk]
  register: pending

- name: Plan the restart of those masters, leader last (refused if it would lose quorum)
  mesosphere.cluster.rolling_restart:
    service: mesos_master
    members:
      - {name: master1, endpoint: "http://10.0.0.1:5050"}
      - {name: master2, endpoint: "http://10.0.0.2:5050"}
      - {name: master3, endpoint: "http://10.0.0.3:5050"}
    restart: "{{ groups['masters'] | select('in', ansible_play_hosts) | map('extract', hostvars)
                 | selectattr('pending.restart_pending') | map(attribute='inventory_hostname') | list }}"
    username: "{{ mesos_username | default(omit) }}"
    password: "{{ mesos_password | default(omit) }}"
  run_once: true
  register: plan

- name: Restart one master at a time, waiting after each
  ansible.builtin.include_tasks: restart_one.yml
  loop: "{{ plan.order }}"
  loop_control:
    loop_var: restart_member

# restart_one.yml
- name: Restart {{ restart_member }}
  ansible.builtin.systemd_service:
    name: mesos-master
    state: restarted
  delegate_to: "{{ restart_member }}"
  run_once: true

- name: Wait until {{ restart_member }} serves and every master names the same leader
  mesosphere.cluster.rolling_restart:
    service: mesos_master
    members:
      - {name: master1, endpoint: "http://10.0.0.1:5050"}
      - {name: master2, endpoint: "http://10.0.0.2:5050"}
      - {name: master3, endpoint: "http://10.0.0.3:5050"}
    state: settled
    member: "{{ restart_member }}"
  run_once: true

- name: ZooKeeper with one member known to be down, restarting anyway
  mesosphere.cluster.rolling_restart:
    service: zookeeper
    members:
      - {name: zk1, endpoint: "10.0.0.1:2181"}
      - {name: zk2, endpoint: "10.0.0.2:2181"}
      - {name: zk3, endpoint: "10.0.0.3:2181"}
    restart: [zk1, zk3]
    allow_quorum_loss: true

- name: Marathon instances that advertise their hostnames
  mesosphere.cluster.rolling_restart:
    service: marathon
    members:
      - {name: master1, endpoint: "http://10.0.0.1:8080", leader_id: "master1.example.com:8080"}
      - {name: master2, endpoint: "http://10.0.0.2:8080", leader_id: "master2.example.com:8080"}
    restart: [master1, master2]
"""

RETURN = r"""
order:
  description:
    - The members of O(restart) in the order to restart them - not serving first, then serving
      non-leaders in the order given, the leader last.
  returned: always
  type: list
  elements: str
  sample: [master2, master3, master1]
leader:
  description: The member that leads, or null when none or several do.
  returned: always
  type: str
  sample: master1
members:
  description: What each member was seen doing, in the order of O(members).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The member's name.
      type: str
      sample: master2
    serving:
      description: Whether the member serves.
      type: bool
      sample: true
    leader:
      description: Whether the member leads.
      type: bool
      sample: false
    names_leader:
      description:
        - Who the member says leads, V(host:port), or null. ZooKeeper members do not say; only
          the leader names itself.
      type: str
      sample: 10.0.0.1:5050
    error:
      description: Why the member does not serve, or what could not be read; null otherwise.
      type: str
      sample: null
down:
  description: Names of the members that do not serve.
  returned: always
  type: list
  elements: str
  sample: []
quorum:
  description: How many members must serve while one restarts.
  returned: always
  type: int
  sample: 2
refused:
  description:
    - Why the plan would leave fewer than O(quorum) members serving, when O(allow_quorum_loss)
      let it through; null otherwise.
  returned: always
  type: str
  sample: null
waited:
  description: Seconds spent waiting for the ensemble to settle.
  returned: when O(state=settled)
  type: float
  sample: 4.1
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _restart


def argument_spec() -> dict[str, Any]:
    spec: dict[str, Any] = dict(
        service=dict(type="str", required=True, choices=list(_restart.SERVICES)),
        members=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            endpoint=dict(type="str", required=True),
            leader_id=dict(type="str"),
        )),
        restart=dict(type="list", elements="str", default=[]),
        state=dict(type="str", default="planned", choices=["planned", "settled"]),
        member=dict(type="str"),
        quorum=dict(type="int"),
        allow_quorum_loss=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        delay=dict(type="float", default=2.0),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        zookeeper_timeout=dict(type="float", default=3.0),
    )
    spec.update(_api.connection_argument_spec())
    return spec


def make_prober(params: dict[str, Any]):
    """A function that probes every member once and returns their statuses."""
    service = params["service"]
    members = params["members"]
    if service == "zookeeper":
        def probe_one(member):
            return _restart.probe_zookeeper(member, len(members), params["zookeeper_timeout"])
    else:
        client = _api.ApiClient(
            _restart.API_SERVICE[service], [m["endpoint"] for m in members],
            username=params["username"], password=params["password"],
            validate_certs=params["validate_certs"], ca_path=params["ca_path"],
            client_cert=params["client_cert"], client_key=params["client_key"],
            timeout=params["request_timeout"], retries=params["request_retries"],
        )
        if service == "mesos_master":
            def probe_one(member):
                return _restart.probe_mesos_master(client, member)
        else:
            def probe_one(member):
                return _restart.probe_framework(client, member)

    def probe_all() -> list[dict[str, Any]]:
        # One thread per member, so that members that are down answer within one timeout.
        with ThreadPoolExecutor(max_workers=min(len(members), 16)) as pool:
            statuses = list(pool.map(probe_one, members))
        if service in _restart.FRAMEWORKS:
            _restart.mark_framework_leaders(members, statuses)
        return statuses

    return probe_all


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    service = params["service"]
    members = params["members"]
    names = [m["name"] for m in members]
    if not members:
        module.fail_json(msg="members is empty: give every member of the %s ensemble." % service)
    duplicates = sorted(set(n for n in names if names.count(n) > 1))
    if duplicates:
        module.fail_json(msg="members names %s more than once; each member needs its own name."
                         % ", ".join(duplicates))
    unknown = [n for n in params["restart"] if n not in names]
    if params["state"] == "settled" and params["member"] is not None and params["member"] not in names:
        unknown.append(params["member"])
    if unknown:
        module.fail_json(msg="%s %s not in members (%s)." % (
            ", ".join(unknown), "is" if len(unknown) == 1 else "are", ", ".join(names)))
    quorum = params["quorum"] if params["quorum"] is not None else _restart.default_quorum(service, len(members))
    if not 1 <= quorum <= len(members):
        module.fail_json(msg="quorum must be between 1 and the %d members given, got %d." % (len(members), quorum))
    if params["wait_timeout"] < 0 or params["delay"] < 0:
        module.fail_json(msg="wait_timeout and delay may not be negative.")

    probe = make_prober(params)
    start = _api._clock()

    if params["state"] == "planned":
        def check_plan():
            statuses = probe()
            plan = _restart.plan(service, statuses, params["restart"], quorum)
            blocked = (plan["refused"] and not params["allow_quorum_loss"]) or plan["leader"] is None
            return not blocked, (statuses, plan)

        try:
            statuses, plan = _api.wait_until(check_plan, params["wait_timeout"], params["delay"],
                                             what="a plan that keeps quorum under a known leader")
        except _api.WaitTimeout as exc:
            statuses, plan = exc.last
        result = dict(changed=False, members=statuses, quorum=quorum, **plan)
        if plan["leader"] is None and any(s["serving"] for s in statuses):
            hint = " (check members[].leader_id)" if service in _restart.FRAMEWORKS else ""
            module.warn("No %s was seen leading within %ss, so the order cannot put the leader last%s; last "
                        "seen: %s." % (_restart.LABELS[service][0], params["wait_timeout"], hint,
                                       _restart.describe(statuses)))
        if plan["refused"]:
            if not params["allow_quorum_loss"]:
                module.fail_json(msg=plan["refused"], **result)
            module.warn("allow_quorum_loss is set, so the restart goes on: %s" % plan["refused"])
        module.exit_json(**result)

    member = params["member"]

    def check_settled():
        statuses = probe()
        return _restart.settled(service, statuses, member, quorum) is None, statuses

    try:
        statuses = _api.wait_until(check_settled, params["wait_timeout"], params["delay"],
                                   what="%s to serve again under one agreed leader" % (member or "the ensemble"))
        failed = None
    except _api.WaitTimeout as exc:
        statuses = exc.last
        waiting_for = "%s to serve again" % member if member else "the members to serve"
        failed = "Timed out after %ss waiting for %s under one leader named by every %s (%s); " \
                 "last seen: %s." % (params["wait_timeout"], waiting_for, _restart.LABELS[service][0],
                                     _restart.settled(service, statuses, member, quorum),
                                     _restart.describe(statuses))
    plan = _restart.plan(service, statuses, params["restart"], quorum)
    result = dict(changed=False, members=statuses, quorum=quorum, waited=round(_api._clock() - start, 3), **plan)
    if failed:
        module.fail_json(msg=failed, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
