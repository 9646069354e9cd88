"""The mesos_master role's preflight, run for real by ansible-playbook on local hosts.

Only the preflight tag runs (it reads only). Each inventory is wrong in one way, and every
refusal is checked for its sentence; the good inventories must pass. What the cluster was last
deployed with comes from the role's local fact (ansible_local.mesos_master), read here from a
temporary fact directory.
"""

from __future__ import annotations

import json

import pytest

PLAYBOOK = """
- name: Preflight only
  hosts: masters
  gather_facts: false
  module_defaults:
    ansible.builtin.setup:
      fact_path: {fact_path}
  roles:
    - role: mesosphere.cluster.mesos_master
"""


@pytest.fixture
def run(run_play, tmp_path):
    def _run(masters, extra=None, deployed_with=None):
        """The preflight for `masters` local hosts; `deployed_with`: the masters of the last run."""
        fact_dir = tmp_path / "facts.d"
        fact_dir.mkdir(exist_ok=True)
        if deployed_with is not None:
            (fact_dir / "mesos_master.fact").write_text(json.dumps({"masters": deployed_with}))
        names = [f"master{i}" for i in range(1, masters + 1)]
        inventory = {"masters": dict.fromkeys(names), "zookeeper": dict.fromkeys(names[:3])}
        return run_play(PLAYBOOK.format(fact_path=fact_dir), inventory, "mesos_master_preflight", extra=extra)

    return _run


def test_three_masters_pass(run):
    rc, out = run(3)
    assert rc == 0, out


def test_even_number_of_masters_refused(run):
    rc, out = run(4)
    assert rc != 0
    assert "4 masters is an even number" in out
    assert "tolerate no more failures than 3 would" in out
    assert "mesos_master_allow_even" in out


def test_even_number_of_masters_allowed_on_request(run):
    rc, out = run(4, extra={"mesos_master_allow_even": True})
    assert rc == 0, out


def test_authentication_without_credentials_refused(run):
    rc, out = run(3, extra={"mesos_master_authenticate_frameworks": True})
    assert rc != 0
    assert "must not be empty when any mesos_master_authenticate_* option is on" in out


def test_credentials_are_not_printed(run):
    credentials = [{"principal": "marathon", "secret": "s3cret-one"}, {"principal": "marathon", "secret": "s3cret-2"}]
    rc, out = run(3, extra={"mesos_master_credentials": credentials})
    assert rc != 0  # two entries with one principal
    assert "s3cret" not in out


def test_growing_a_single_master_refused(run):
    rc, out = run(3, deployed_with=["master1"])
    assert rc != 0
    assert "The cluster runs a single master and the inventory now has 3" in out
    assert "mesos_master_allow_grow" in out


def test_growing_a_single_master_allowed_on_request(run):
    rc, out = run(3, deployed_with=["master1"], extra={"mesos_master_allow_grow": True})
    assert rc == 0, out


def test_quorum_grows_one_step_per_run(run):
    rc, out = run(5, deployed_with=["master1", "master2", "master3"])
    assert rc == 0, out
    rc, out = run(7, deployed_with=["master1", "master2", "master3"])
    assert rc != 0
    assert "The quorum would go from 2 to 4" in out


def test_a_malformed_role_policy_is_refused_before_any_host_is_touched(run):
    policy = {"prod": {"weight": 0, "guarantees": {"cpu": 2}}, "batch": {"limits": {"cpus": 1}}}
    rc, out = run(3, extra={"mesos_master_role_policy": policy})
    assert rc != 0
    assert "mesos_master_role_policy: role prod: the weight must be a positive number, not 0" in out
    assert "unknown resource 'cpu'" in out


def test_a_well_formed_role_policy_passes(run):
    policy = {"prod": {"weight": 3, "guarantees": {"cpus": 2}, "limits": {"cpus": 4}}, "batch": {"limits": {"cpus": 1}}}
    rc, out = run(3, extra={"mesos_master_role_policy": policy})
    assert rc == 0, out


@pytest.mark.parametrize("extra", [{"mesos_master_weights": {"prod": 3}},
                                   {"mesos_master_extra_flags": {"weights": "prod=3"}}])
def test_the_deprecated_weights_flag_is_refused(run, extra):
    rc, out = run(3, extra=extra)
    assert rc != 0
    assert "would write the deprecated --weights flag" in out and "mesos_master_role_policy" in out


def test_fewer_masters_than_deployed_refused(run):
    # two masters taken out of the inventory may still run with --quorum=3 beside these three
    rc, out = run(3, deployed_with=[f"master{i}" for i in range(1, 6)])
    assert rc != 0
    assert "The cluster was deployed with 5 masters (each master records it) and the group 'masters' now has 3" in out
    assert "remove_node.yml" in out and "mesos_master_allow_shrink" in out


def test_fewer_masters_than_deployed_allowed_once_the_others_are_stopped(run):
    rc, out = run(3, extra={"mesos_master_allow_shrink": True}, deployed_with=[f"master{i}" for i in range(1, 6)])
    assert rc == 0, out
