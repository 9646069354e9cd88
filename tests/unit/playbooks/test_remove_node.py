"""playbooks/remove_node.yml's checks, run for real by ansible-playbook on local hosts.

Each run names what to remove in a way the playbook must refuse before any host is touched,
and the sentence is checked; a good request gets as far as the confirmation, which a run
without a terminal cannot give, so nothing is changed in any test.
"""

from __future__ import annotations

PLAYBOOK = """
- name: The collection's remove_node.yml
  ansible.builtin.import_playbook: mesosphere.cluster.remove_node
"""
MASTERS = [f"m{i}" for i in range(1, 6)]


def inventory(ids=False):
    masters = {name: ({"zookeeper_id": index} if ids else None) for index, name in enumerate(MASTERS, 1)}
    return {"masters": masters, "slaves": {"s1": None, "s2": None}}


def remove(run_play, node, ids=False, **extra):
    return run_play(PLAYBOOK, inventory(ids), "all", extra=dict(extra, node=node))


def test_nothing_named_is_refused(run_play):
    rc, out = remove(run_play, "")
    assert rc != 0
    assert "remove_node.yml needs what to remove: -e node=NAME" in out


def test_an_unknown_name_is_refused(run_play):
    rc, out = remove(run_play, "m4,nope")
    assert rc != 0
    assert "nope is not in the inventory. Nothing was changed." in out


def test_agents_and_masters_together_are_refused(run_play):
    rc, out = remove(run_play, "s1,m5")
    assert rc != 0
    assert "s1, m5 mixes agents and masters or ZooKeeper members" in out


def test_two_agents_at_once_are_refused(run_play):
    rc, out = remove(run_play, "s1,s2")
    assert rc != 0
    assert "remove_node.yml removes one agent per run; s1, s2 are agents" in out


def test_fewer_than_three_masters_left_is_refused(run_play):
    rc, out = remove(run_play, "m3,m4,m5")
    assert rc != 0
    assert "Removing m3, m4, m5 would leave 2 masters and 2 ZooKeeper members; fewer than three" in out
    assert "remove_node_allow_fewer=true" in out
    assert "Type m3,m4,m5" not in out  # refused before the confirmation


def test_an_even_number_left_is_refused(run_play):
    rc, out = remove(run_play, "m5")
    assert rc != 0
    assert "4 masters would be left: an even number" in out
    assert "4 ZooKeeper members would be left: an even ensemble" in out


def test_a_removal_that_moves_the_ids_of_the_others_is_refused(run_play):
    rc, out = remove(run_play, "m1,m2")
    assert rc != 0
    assert "so the ids of m3, m4, m5 would move" in out


def test_with_explicit_ids_the_first_members_can_go_once_confirmed(run_play):
    rc, out = remove(run_play, "m1,m2", ids=True)
    assert rc != 0  # no terminal here: the confirmation stops it
    assert "would move" not in out
    assert "Not confirmed, so nothing was changed" in out
    assert "ZooKeeper then runs on m3, m4, m5 and the Mesos masters m3, m4, m5 restart with --quorum=2" in out


def test_the_last_two_members_go_once_confirmed(run_play):
    rc, out = remove(run_play, "m4,m5")
    assert rc != 0
    assert "Not confirmed, so nothing was changed" in out
    assert "To go on, type m4,m5 at the prompt or set -e remove_node_confirmed=true" in out
    # none of the agent's tasks ran
    assert "TASK [Read the agents the master knows" not in out
    assert "TASK [Put the machine in a maintenance window" not in out
