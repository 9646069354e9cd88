#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesos_info
short_description: Read the state of a Mesos cluster from its masters
version_added: 0.1.0
description:
  - Asks every master on its own (C(/metrics/snapshot), C(/master/redirect), C(/version),
    C(/master/flags)) whether it is elected, whom it takes for the leader, its version, uptime
    and the flags that matter for high availability (C(quorum), C(zk), C(work_dir), C(registry)).
  - Reads the agents, the frameworks and the maintenance schedule and status from the leader.
  - Reads the leader as ZooKeeper records it (the lowest C(json.info_) znode under the
    masters' C(--zk) path), when the kazoo library is available.
  - A master that cannot be reached is reported, not an error; the module fails only when no
    master answers at all.
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
  zk_url:
    description:
      - The masters' ZooKeeper URL, V(zk://host1:2181,host2:2181/mesos), to read the leader from
        ZooKeeper.
      - Defaults to the C(zk) flag of the first master that answers.
      - Needs the kazoo library on the host that runs the module; without it, RV(zookeeper.error)
        says so and the rest is still returned.
      - A password in the URL (V(zk://user:password@hosts/path), for a path that is not world
        readable) is kept out of the output; the masters' C(zk) flag is returned without it.
    type: str
  zookeeper:
    description:
      - Whether to read the leader from ZooKeeper at all.
    type: bool
    default: true
  sections:
    description:
      - What to read. V(masters) asks every master on its own (RV(masters), RV(leader),
        RV(masters_agree)); V(state) reads the leader's agents and frameworks (RV(agents),
        RV(frameworks), RV(version)); V(maintenance) its maintenance schedule and status
        (RV(maintenance)); V(zookeeper) the leader as ZooKeeper records it (RV(zookeeper)).
      - The leader's state lists every agent; a task that needs only the maintenance status
        asks for V([maintenance]), two requests whatever the size of the cluster.
      - What is not read is returned empty.
    type: list
    elements: str
    choices: [masters, state, maintenance, zookeeper]
    default: [masters, state, maintenance, zookeeper]
    version_added: "0.2.0"
requirements:
  - kazoo (optional, for the leader as ZooKeeper records it)
seealso:
  - module: mesosphere.cluster.cluster_ha_check
  - module: mesosphere.cluster.mesos_maintenance
"""

EXAMPLES = r"""
- name: Read the cluster
  mesosphere.cluster.mesos_info:
    mesos_endpoints:
      - http://m1.example.com:5050
      - http://m2.example.com:5050
      - http://m3.example.com:5050
  register: mesos

- name: Show who leads and how many agents are active
  ansible.builtin.debug:
    msg: >-
      {{ mesos.leader }} leads; {{ mesos.agents | selectattr('active') | list | length }} agents active;
      ZooKeeper says {{ mesos.zookeeper.leader.hostname | default('?') }}
"""

RETURN = r"""
leader:
  description: The leader as the masters see it (C(host:port)), when they agree; else null.
  returned: always
  type: str
  sample: m2.example.com:5050
masters_agree:
  description: Whether every reachable master names the same leader.
  returned: always
  type: bool
  sample: true
masters:
  description: Each master's own view.
  returned: always
  type: list
  elements: dict
  contains:
    endpoint:
      description: The endpoint asked.
      type: str
      sample: http://m1.example.com:5050
    reachable:
      description: Whether it answered.
      type: bool
      sample: true
    error:
      description: What went wrong asking it, or null.
      type: str
      sample: null
    elected:
      description: Whether it says it is the elected leader (C(master/elected)).
      type: bool
      sample: false
    leader:
      description: Whom it names as leader (C(host:port) of its C(/master/redirect) answer).
      type: str
      sample: m2.example.com:5050
    version:
      description: Mesos version.
      type: str
      sample: 1.11.0
    uptime_secs:
      description: Seconds since it started.
      type: float
      sample: 3600.5
    flags:
      description: Its HA-related flags (quorum, zk, work_dir, registry, cluster, hostname, ...).
      type: dict
      sample: {"quorum": "2", "zk": "zk://z1:2181,z2:2181,z3:2181/mesos", "work_dir": "/var/lib/mesos"}
    metrics:
      description: Selected metrics (elected, uptime, active agents and frameworks, registrar log).
      type: dict
      sample: {"master/elected": 0.0, "registrar/log/ensemble_size": 3.0}
zookeeper:
  description: The leader as ZooKeeper records it.
  returned: always
  type: dict
  contains:
    leader:
      description: Host, port, pid and id from the lowest C(json.info_) znode, or null.
      type: dict
      sample:
        hostname: m2.example.com
        port: 5050
        pid: master@10.0.0.12:5050
        znode: /mesos/json.info_0000000003
    agrees:
      description: Whether it is the leader the masters name; null when it could not be read.
      type: bool
      sample: true
    error:
      description: Why it could not be read, or null.
      type: str
      sample: null
errors:
  description:
    - What could not be read although some master answered, for example the agents when no
      leader is elected.
  returned: always
  type: list
  elements: str
  sample:
    - Could not read the leader's state; no Mesos master leader is elected.
version:
  description: The leader's Mesos version.
  returned: when a leader answers
  type: str
  sample: 1.11.0
agents:
  description: Agents known to the leader, each with the Mesos version it runs (V(version)).
  returned: always
  type: list
  elements: dict
  sample:
    - {"id": "a1-S0", "hostname": "a1", "active": true, "resources": {"cpus": 2, "mem": 1024},
       "attributes": {"rack": "r1"}, "version": "1.11.0"}
frameworks:
  description: Frameworks registered with the leader.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "fw-1", "name": "marathon", "principal": "marathon", "active": true, "hostname": "m1", "tasks": 2}]
maintenance:
  description: The maintenance schedule and each machine's mode, from the leader.
  returned: always
  type: dict
  sample: {"schedule": {"windows": []}, "status": {"draining_machines": [], "down_machines": []}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _mesos


def main():
    argument_spec = _api.mesos_argument_spec()
    argument_spec.update(
        zk_url=dict(type="str", no_log=True),
        zookeeper=dict(type="bool", default=True),
        sections=dict(type="list", elements="str", choices=list(_mesos.SECTIONS), default=list(_mesos.SECTIONS)),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = _api.client_from_params(module.params, "mesos")
    try:
        result = _mesos.gather(client, module.params["zk_url"], module.params["zookeeper"],
                               module.params["request_timeout"], module.params["sections"])
    except _api.ApiError as exc:
        module.fail_json(msg="Could not read the Mesos cluster from %s: %s" % (", ".join(client.endpoints), exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
