"""What the mesos_master role renders for --authenticate_frameworks, --authenticate_agents and
--acls when they are switched on in a running cluster (mesos_master_defer_enforcement), and
enforce.yml's refusal to turn them on in a limited run. Run for real by ansible-playbook on local
hosts: only the tagged tasks below run; the role's own tasks are loaded for their variables and
skipped. What a master was deployed with is its local fact (ansible_local.mesos_master).
"""

from __future__ import annotations

import json
import re

import pytest

FLAGS_PLAY = """
- name: The role's variables, and what it would render
  hosts: masters
  gather_facts: false
  roles:
    - role: mesosphere.cluster.mesos_master
  tasks:
    - name: Show them
      ansible.builtin.debug:
        msg: "RENDERED {{ {'flags': _mesos_master_flags, 'acls': _mesos_master_acls,
                          'deferred': _mesos_master_enforcement_deferred | bool} | to_json }} END"
      tags: [show]
"""

SECURE = {
    "mesos_master_credentials": [{"principal": "marathon", "secret": "s3cret"}],
    "mesos_master_authenticate_frameworks": True,
    "mesos_master_authenticate_agents": True,
    "mesos_master_acls": {"register_frameworks": [{"principals": {"values": ["marathon"]}, "roles": {"type": "ANY"}}]},
}
OPEN = {"frameworks": False, "agents": False, "acls": False}
ENFORCED = {"frameworks": True, "agents": True, "acls": True}
INVENTORY = {"masters": {"master1": None}, "zookeeper": {"master1": None}}


@pytest.fixture
def rendered(run_play):
    def _rendered(extra, recorded):
        """What the role renders with `extra`; `recorded`: the master's record (None: none)."""
        local = {} if recorded is None else {"mesos_master": {"masters": ["master1"], "quorum": 1, **recorded}}
        rc, out = run_play(FLAGS_PLAY, INVENTORY, "show", extra={**extra, "ansible_local": local})
        assert rc == 0, out
        return json.loads(re.search(r"RENDERED (.*?) END", out).group(1))

    return _rendered


def test_switched_on_in_a_running_cluster_it_waits_in_the_masters_play(rendered):
    got = rendered({**SECURE, "mesos_master_defer_enforcement": True}, {"enforcement": OPEN})
    assert got["flags"]["authenticate_frameworks"] == "false"
    assert got["flags"]["authenticate_agents"] == "false"
    assert "acls" not in got["flags"] and got["acls"] == {}
    # the credentials come at once: agents and frameworks that offer them are checked against them
    assert got["flags"]["credentials"] == "/etc/mesos/master-credentials.json"
    assert got["deferred"] is True


def test_enforce_yml_turns_it_on(rendered):
    # enforce.yml includes the role again without the deferral
    got = rendered(SECURE, {"enforcement": OPEN})
    assert got["flags"]["authenticate_frameworks"] == "true"
    assert got["flags"]["authenticate_agents"] == "true"
    assert got["flags"]["acls"] == "/etc/mesos/master-acls.json"
    assert got["acls"] == SECURE["mesos_master_acls"]
    assert got["deferred"] is True


def test_once_enforced_nothing_waits(rendered):
    got = rendered({**SECURE, "mesos_master_defer_enforcement": True}, {"enforcement": ENFORCED})
    assert got["flags"]["authenticate_frameworks"] == "true" and got["flags"]["acls"] == "/etc/mesos/master-acls.json"
    assert got["deferred"] is False


@pytest.mark.parametrize("recorded", [None, {}], ids=["new master", "record from before enforcement was recorded"])
def test_a_new_cluster_enforces_at_once(rendered, recorded):
    got = rendered({**SECURE, "mesos_master_defer_enforcement": True}, recorded)
    assert got["flags"]["authenticate_frameworks"] == "true" and got["flags"]["authenticate_agents"] == "true"
    assert got["flags"]["acls"] == "/etc/mesos/master-acls.json"
    assert got["deferred"] is False


def test_switching_off_is_never_deferred(rendered):
    extra = {"mesos_master_credentials": SECURE["mesos_master_credentials"], "mesos_master_defer_enforcement": True}
    got = rendered(extra, {"enforcement": ENFORCED})
    assert got["flags"]["authenticate_frameworks"] == "false" and got["flags"]["authenticate_agents"] == "false"
    assert "acls" not in got["flags"]
    assert got["deferred"] is False


ENFORCE_PLAY = """
- name: What site.yml runs after the frameworks
  hosts: masters
  gather_facts: false
  tasks:
    - name: Turn on what the masters' play held back
      ansible.builtin.include_role:
        name: mesosphere.cluster.mesos_master
        tasks_from: enforce.yml
        apply:
          tags: [enforce]
      tags: [enforce]
"""


def test_a_limited_run_leaves_them_off_and_says_why(run_play):
    local = {"mesos_master": {"masters": ["master1"], "quorum": 1, "enforcement": OPEN}}
    rc, out = run_play(ENFORCE_PLAY, INVENTORY, "enforce", extra={**SECURE, "ansible_local": local}, limit="master1")
    assert rc == 0, out
    assert "keeps --authenticate_frameworks, --authenticate_agents and --acls as they are" in out
    assert "this run is limited to master1" in out
    assert "Turn them on now" in out and "skipping" in out


def test_nothing_held_back_nothing_runs(run_play):
    local = {"mesos_master": {"masters": ["master1"], "quorum": 1, "enforcement": ENFORCED}}
    rc, out = run_play(ENFORCE_PLAY, INVENTORY, "enforce", extra={**SECURE, "ansible_local": local})
    assert rc == 0, out
    assert "as they are" not in out
    assert "Check the platform" not in out


def test_a_run_on_the_whole_inventory_runs_the_role_again(run_play):
    local = {"mesos_master": {"masters": ["master1"], "quorum": 1, "enforcement": OPEN}}
    rc, out = run_play(ENFORCE_PLAY, INVENTORY, "enforce", extra={**SECURE, "ansible_local": local})
    # the role's checks, configuration and restart: here its preflight is reached (this machine
    # may not pass it; what matters is that the role ran)
    assert "Check the platform, the inventory and the variables" in out, out
    assert "as they are" not in out
    assert "s3cret" not in out
