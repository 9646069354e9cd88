"""site.yml's last play, the ZooKeeper ACLs, run for real by ansible-playbook on local hosts.

Only that play runs (`--tags zookeeper_acls`; the inventory check of site.yml's first play runs
with every tag). No ZooKeeper answers here: a run that sets the ACLs fails to reach it, which is
how the tests see that it tried.
"""

from __future__ import annotations

PLAYBOOK = """
- name: The collection's site.yml
  ansible.builtin.import_playbook: mesosphere.cluster.site
"""
INVENTORY = {"masters": {"m1": None, "m2": None, "m3": None}, "slaves": {"s1": None}}
AUTH = {"zookeeper_auth_enabled": True, "zookeeper_super_password": "super-Secret", "zookeeper_restart_timeout": 5}


def test_a_limited_run_leaves_the_acls_as_they_are_and_says_why(run_play):
    rc, out = run_play(PLAYBOOK, INVENTORY, "zookeeper_acls", extra=AUTH, limit="m1")
    assert rc == 0, out
    assert "ACLs are left as they are: this run is limited to m1" in out
    assert "Protect the paths of the cluster's services with ACLs" not in out


def test_a_run_on_the_whole_inventory_sets_them(run_play):
    rc, out = run_play(PLAYBOOK, INVENTORY, "zookeeper_acls", extra=AUTH)
    assert rc != 0  # it tried: nothing answers on the ZooKeeper port here
    assert "Protect the paths of the cluster's services with ACLs" in out
    assert "are left as they are" not in out
    assert "super-Secret" not in out


def test_without_authentication_the_play_does_nothing(run_play):
    rc, out = run_play(PLAYBOOK, INVENTORY, "zookeeper_acls")
    assert rc == 0, out
    assert "Protect the paths" not in out and "are left as they are" not in out
