"""The zookeeper role's preflight, run for real by ansible-playbook on local hosts.

Only the preflight tag runs (it reads only), with inventories that are wrong in one way each,
so every refusal is checked for its sentence, and the good inventories for the ids they get.
"""

from __future__ import annotations

import json

import pytest

PLAYBOOK = """
- name: Preflight only
  hosts: zookeeper
  gather_facts: false
  roles:
    - role: mesosphere.cluster.zookeeper
  post_tasks:
    - name: Show the ids
      ansible.builtin.debug:
        msg: "ID {{ inventory_hostname }}={{ _zookeeper_myid }}"
      tags: [zookeeper_preflight]
    - name: Show the digest
      ansible.builtin.debug:
        msg: "DIGEST {{ _zookeeper_super_digest.stdout | default('') }}"
      run_once: true
      tags: [zookeeper_preflight]
"""


@pytest.fixture
def run(run_play):
    def _run(hosts, extra=None, group="zookeeper", limit=None):
        return run_play(PLAYBOOK, {group: hosts}, "zookeeper_preflight", extra=extra, limit=limit)

    return _run


def ids(output):
    return dict(word.split("=", 1) for word in output.split() if word.count("=") == 1 and word.startswith("zk"))


def test_ids_from_position_and_explicit(run):
    rc, out = run({"zk1": None, "zk2": {"zookeeper_id": 7}, "zk3": None})
    assert rc == 0, out
    assert "ID zk1=1" in out and "ID zk2=7" in out and "ID zk3=3" in out


def test_even_ensemble_refused(run):
    rc, out = run({"zk1": None, "zk2": None, "zk3": None, "zk4": None})
    assert rc != 0
    assert "has 4 hosts" in out and "zookeeper_allow_even_ensemble" in out
    assert "ID zk" not in out


def test_even_ensemble_allowed(run):
    rc, out = run({"zk1": None, "zk2": None}, extra={"zookeeper_allow_even_ensemble": True})
    assert rc == 0, out


def test_duplicate_ids_refused(run):
    rc, out = run({"zk1": None, "zk2": {"zookeeper_id": 1}, "zk3": None})
    assert rc != 0
    assert "id 1 is used by zk1 and zk2" in out


@pytest.mark.parametrize("bad", [0, 256, "x"])
def test_ids_out_of_range_refused(run, bad):
    rc, out = run({"zk1": {"zookeeper_id": bad}, "zk2": None, "zk3": None})
    assert rc != 0
    assert "ids must be whole numbers from 1 to 255, but zk1 has %s" % bad in out


def test_host_outside_the_group_refused(run):
    inventory_hosts = {"zk1": None, "zk2": None, "zk3": None}
    rc, out = run(inventory_hosts, extra={"zookeeper_group": "other"})
    assert rc != 0
    assert "inventory group 'other' (none found)" in out


def test_auth_needs_passwords(run):
    rc, out = run(
        {"zk1": None},
        extra={
            "zookeeper_auth_enabled": True,
            "zookeeper_super_password": "s3cret",
            "zookeeper_acl_znodes": [
                {"path": "/mesos", "username": "mesos", "password": "m3sos"},
                {"path": "/marathon", "username": "marathon", "password": ""},
            ],
        },
    )
    assert rc != 0
    assert "give every entry of zookeeper_acl_znodes" in out
    assert "Entries to fix: ['/marathon']" in out
    assert "s3cret" not in out and "m3sos" not in out


def test_auth_needs_the_super_password(run):
    rc, out = run({"zk1": None}, extra={"zookeeper_auth_enabled": True, "zookeeper_acl_znodes": []})
    assert rc != 0
    assert "zookeeper_super_password is empty" in out


def test_auth_digest(run):
    rc, out = run(
        {"zk1": None},
        extra={"zookeeper_auth_enabled": True, "zookeeper_super_password": "secret", "zookeeper_acl_znodes": []},
    )
    assert rc == 0, out
    # the value ZooKeeper's own DigestAuthenticationProvider prints for super:secret
    assert "DIGEST super:lK75jTNcA+U9vtVEw5vB51mj/w4=" in out
    assert "secret" not in out.replace("superDigest", "").replace("DIGEST super:", "")


FACT_PLAYBOOK = """
- name: Preflight only, with the members' record in a fact folder
  hosts: zookeeper
  gather_facts: false
  module_defaults:
    ansible.builtin.setup:
      fact_path: {fact_path}
  roles:
    - role: mesosphere.cluster.zookeeper
"""


@pytest.fixture
def run_recorded(run_play, tmp_path):
    def _run(hosts, recorded, extra=None):
        """The preflight for `hosts`; every member recorded the ensemble `recorded`."""
        facts = tmp_path / "facts.d"
        facts.mkdir(exist_ok=True)
        (facts / "zookeeper.fact").write_text(json.dumps({"members": recorded}))
        return run_play(FACT_PLAYBOOK.format(fact_path=facts), {"zookeeper": dict.fromkeys(hosts)},
                        "zookeeper_preflight", extra=extra)

    return _run


def test_members_left_out_of_the_inventory_are_refused(run_recorded):
    rc, out = run_recorded(["zk1", "zk2", "zk3"], ["zk1", "zk2", "zk3", "zk4", "zk5"])
    assert rc != 0
    assert "The ensemble was configured with zk4, zk5 too, which the group 'zookeeper' no longer names" in out
    assert "playbooks/remove_node.yml (-e node=zk4,zk5)" in out and "zookeeper_allow_shrink" in out


def test_members_left_out_are_accepted_once_stopped(run_recorded):
    rc, out = run_recorded(["zk1", "zk2", "zk3"], ["zk1", "zk2", "zk3", "zk4", "zk5"],
                           extra={"zookeeper_allow_shrink": True})
    assert rc == 0, out


@pytest.mark.parametrize("recorded", [["zk1", "zk2", "zk3"], ["zk1"]], ids=["same", "grown"])
def test_the_same_or_a_larger_ensemble_passes(run_recorded, recorded):
    rc, out = run_recorded(["zk1", "zk2", "zk3"], recorded)
    assert rc == 0, out
