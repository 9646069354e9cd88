"""What the role tests share: a role's preflight run for real on this machine.

`preflight(role, all_vars, zookeeper_vars=None, extra=None)` runs the role's `ROLE_preflight`
tag (it reads only) on an inventory of one master `m1` (also the ZooKeeper ensemble) and one
agent `s1`, with `all_vars` on every host as group_vars/all.yml would give them; mesos_slave runs
on the agent, every other role on the master. Every password of these tests contains "Secret",
and no output may show one.
"""

from __future__ import annotations

import pytest

PLAYBOOK = """
- name: Preflight only
  hosts: {hosts}
  gather_facts: false
  roles:
    - role: mesosphere.cluster.{role}
"""


@pytest.fixture
def preflight(run_play):
    def _run(role, all_vars, zookeeper_vars=None, extra=None):
        inventory = {
            "all": {},
            "masters": {"m1": None},
            "slaves": {"s1": None},
            "zookeeper": {"m1": zookeeper_vars},
        }
        # group vars of `all`, as group_vars/all.yml gives them: on every host
        for group in ("masters", "slaves", "zookeeper"):
            for host in inventory[group]:
                inventory[group][host] = dict(all_vars, **(inventory[group][host] or {}))
        hosts = "slaves" if role == "mesos_slave" else "masters"
        rc, out = run_play(PLAYBOOK.format(hosts=hosts, role=role), inventory, f"{role}_preflight", extra=extra)
        assert "Secret" not in out, out  # no password is ever printed
        return rc, out

    return _run
