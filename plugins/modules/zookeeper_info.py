#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: zookeeper_info
short_description: Report the state of each member of a ZooKeeper ensemble and whether it has quorum
version_added: "0.1.0"
description:
  - Asks every member of a ZooKeeper ensemble for its state with the four-letter words
    (C(srvr), and optionally C(ruok) and C(mntr)) on its client port, over a plain TCP socket.
  - Reports, per member, whether it could be reached, its mode (leader, follower, observer,
    standalone), zxid, latency, connections, outstanding requests and version; and for the
    whole ensemble its size, how many members serve, which one leads and whether quorum holds.
  - A member that is down, refuses the connection, is electing a leader or answers nonsense is
    reported as such in RV(members); it is not a failure of the module. The module fails only
    when the O(hosts) option cannot be understood.
  - Needs nothing on the managed host but Python. C(srvr) is allowed by every ZooKeeper 3.5+
    server by default; C(ruok) and C(mntr) must be in the server's C(4lw.commands.whitelist).
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.zookeeper
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  action_group:
    support: full
    membership: [mesosphere.cluster.zookeeper]
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: N/A
    details: The module only reads.
  platform:
    platforms: posix
options:
  ruok:
    description:
      - Also send C(ruok) to each member and report whether it answered C(imok) in RV(members[].ruok).
    type: bool
    default: false
  mntr:
    description:
      - Also send C(mntr) to each member and return its variables in RV(members[].mntr).
    type: bool
    default: false
notes:
  - List only the voting members (not observers) in O(hosts) for the quorum computation to
    be exact, because the majority is computed from the number of members given.
  - The chroot and credentials of a V(zk://) URL are ignored; four-letter words need neither.
seealso:
  - module: mesosphere.cluster.zookeeper_znode
"""

EXAMPLES = r"""
- name: Read the state of the ensemble
  mesosphere.cluster.zookeeper_info:
    hosts: zk1:2181,zk2:2181,zk3:2181
  register: zk

- name: Fail unless the ensemble has quorum
  ansible.builtin.assert:
    that: zk.ensemble.quorum
    fail_msg: "Only {{ zk.ensemble.voting_serving }} of {{ zk.ensemble.size }} members serve."

- name: Wait until a restarted member serves again
  mesosphere.cluster.zookeeper_info:
    hosts: "{{ inventory_hostname }}:2181"
    timeout: 2
  register: member
  until: member.members[0].mode in ['leader', 'follower', 'standalone']
  retries: 30
  delay: 2

- name: Use the Mesos URL, with the monitoring variables
  mesosphere.cluster.zookeeper_info:
    hosts: zk://zk1:2181,zk2:2181,zk3:2181/mesos
    mntr: true
"""

RETURN = r"""
members:
  description: One entry per member, in the order of O(hosts).
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: Host name or address of the member.
      type: str
      sample: zk1
    port:
      description: Client port.
      type: int
      sample: 2181
    address:
      description: V(host:port) of the member.
      type: str
      sample: zk1:2181
    reachable:
      description: Whether a TCP connection to the client port could be made.
      type: bool
      sample: true
    serving:
      description: Whether the member serves clients (mode leader, follower, observer or standalone).
      type: bool
      sample: true
    mode:
      description: The member's mode, or null when it does not serve (down, or electing a leader).
      type: str
      sample: follower
    zxid:
      description: The last transaction id the member has seen, in hexadecimal.
      type: str
      sample: "0x100000003"
    epoch:
      description: The leader epoch, the upper 32 bits of the zxid.
      type: int
      sample: 1
    latency:
      description: Request latency in milliseconds.
      type: dict
      sample: {"min": 0.0, "avg": 0.4, "max": 12.0}
    received:
      description: Packets received.
      type: int
      sample: 120
    sent:
      description: Packets sent.
      type: int
      sample: 119
    connections:
      description: Client connections.
      type: int
      sample: 3
    outstanding:
      description: Outstanding requests.
      type: int
      sample: 0
    node_count:
      description: Number of znodes.
      type: int
      sample: 12
    version:
      description: ZooKeeper version of the member.
      type: str
      sample: 3.8.0
    ruok:
      description: Whether the member answered C(imok); null if it could not be asked.
      type: bool
      returned: when O(ruok=true)
      sample: true
    mntr:
      description: The C(mntr) variables, numbers converted; null if it could not be asked.
      type: dict
      returned: when O(mntr=true)
      sample: {"zk_server_state": "follower", "zk_avg_latency": 0.0, "zk_znode_count": 12}
    error:
      description: Why the member could not be read completely, or null.
      type: str
      sample: connection to zk2:2181 refused (ZooKeeper not running there?)
ensemble:
  description: Summary of the ensemble.
  returned: always
  type: dict
  contains:
    size:
      description: Number of members given.
      type: int
      sample: 3
    majority:
      description: Smallest number of voting members that makes a quorum.
      type: int
      sample: 2
    serving:
      description: Members that serve clients.
      type: int
      sample: 3
    voting_serving:
      description: Members serving as leader or follower.
      type: int
      sample: 3
    reachable:
      description: Members whose client port accepted a connection.
      type: int
      sample: 3
    leader:
      description: Address of the leader, or null when there is not exactly one.
      type: str
      sample: zk3:2181
    leaders:
      description: Addresses of every member that says it leads (more than one means split brain).
      type: list
      elements: str
      sample: ["zk3:2181"]
    followers:
      description: Addresses of the followers.
      type: list
      elements: str
      sample: ["zk1:2181", "zk2:2181"]
    observers:
      description: Addresses of the observers.
      type: list
      elements: str
      sample: []
    standalone:
      description: Addresses of members running standalone.
      type: list
      elements: str
      sample: []
    unreachable:
      description: Addresses of members that could not be connected to.
      type: list
      elements: str
      sample: []
    quorum:
      description:
        - Whether the ensemble has quorum, meaning that exactly one member leads and the leader
          and its followers are a majority of the members given.
        - A single member in standalone mode also counts as quorum.
      type: bool
      sample: true
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils._zookeeper import (
    HostSpecError,
    parse_hosts,
    probe_member,
    summarize,
    zookeeper_argument_spec,
)


def main():
    argument_spec = zookeeper_argument_spec()
    argument_spec.update(
        ruok=dict(type="bool", default=False),
        mntr=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, got %s" % module.params["timeout"])
    error = None
    try:
        target = parse_hosts(module.params["hosts"])
    except HostSpecError as exc:
        error = "Cannot read the hosts option: %s." % exc
    if error:
        module.fail_json(msg=error)

    def probe(member):
        host, port = member
        return probe_member(host, port, module.params["timeout"], mntr=module.params["mntr"],
                            ruok=module.params["ruok"])

    # One thread per member, so that an ensemble with members down answers within one timeout.
    with ThreadPoolExecutor(max_workers=min(len(target.members), 16)) as pool:
        members = list(pool.map(probe, target.members))

    module.exit_json(changed=False, members=members, ensemble=summarize(members))


if __name__ == "__main__":
    main()
