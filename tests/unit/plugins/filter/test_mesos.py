from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mesosphere.cluster.plugins.filter import mesos as f


def test_filters_are_registered():
    expected = {"mesos_quorum", "mesos_resources", "mesos_attributes", "mesos_role_policy_errors",
                "mesos_role_policy_changes"}
    assert set(f.FilterModule().filters()) == expected


@pytest.mark.parametrize(
    ("masters", "quorum"),
    [
        (1, 1),
        (2, 2),
        (3, 2),
        (4, 3),
        (5, 3),
        (7, 4),
        (["m1"], 1),
        (["m1", "m2", "m3"], 2),
        (["m1", "m1", "m2", "m3"], 2),
        ("5", 3),
    ],
)
def test_mesos_quorum_is_a_strict_majority(masters, quorum):
    result = f.mesos_quorum(masters)
    assert result == quorum
    count = masters if isinstance(masters, int) else (int(masters) if isinstance(masters, str) else len(set(masters)))
    assert result > count / 2 >= result - 1


@pytest.mark.parametrize(
    ("masters", "message"),
    [
        (0, "at least one master"),
        ([], "at least one master"),
        (-1, "at least one master"),
        (True, "boolean"),
        ("three", "number of masters"),
        ({"a": 1}, "number or a list"),
        (None, "number or a list"),
    ],
)
def test_mesos_quorum_refuses(masters, message):
    with pytest.raises(AnsibleFilterError, match=message):
        f.mesos_quorum(masters)


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"mem": 1024, "cpus": 2}, "cpus:2;mem:1024"),
        ({"cpus": 0.5, "disk": 10.0}, "cpus:0.5;disk:10"),
        ({"ports": ["31000-32000"]}, "ports:[31000-32000]"),
        (
            {"ports": [[31000, 31099], {"begin": 32000, "end": 32010}, "33000"]},
            "ports:[31000-31099,32000-32010,33000-33000]",
        ),
        ({"ports": "[31000-32000]"}, "ports:[31000-32000]"),
        ("cpus:1;mem:2", "cpus:1;mem:2"),
        (None, ""),
        ({}, ""),
    ],
)
def test_mesos_resources(resources, expected):
    assert f.mesos_resources(resources) == expected


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"ports": ["32000-31000"]}, "backwards"),
        ({"ports": ["a-b"]}, "needs numbers"),
        ({"cpus": True}, "boolean"),
        ({"cp;us": 1}, "must not contain"),
        (["cpus"], "expects a mapping"),
    ],
)
def test_mesos_resources_refuses(resources, message):
    with pytest.raises(AnsibleFilterError, match=message):
        f.mesos_resources(resources)


def test_mesos_attributes_sorted_and_stable():
    assert f.mesos_attributes({"zone": "a", "rack": "r1", "gen": 2}) == "gen:2;rack:r1;zone:a"
    assert f.mesos_attributes("rack:r1") == "rack:r1"
    assert f.mesos_attributes(None) == ""


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"rack": "r:1"}, "must not contain"),
        ({"ra;ck": "r1"}, "must not contain"),
        ({"rack": ""}, "must not be empty"),
        ([1], "expects a mapping"),
    ],
)
def test_mesos_attributes_refuses(attributes, message):
    with pytest.raises(AnsibleFilterError, match=message):
        f.mesos_attributes(attributes)


@pytest.mark.parametrize("name", ["cpus(prod)", "mem(team-a.web)", "disk(a_b)"])
def test_resources_reserved_for_a_role(name):
    assert f.mesos_resources({name: 2}) == f"{name}:2"


@pytest.mark.parametrize("name, text", [
    ("cpus(a b)", "whitespace"), ("cpus(-x)", "cannot start with '-'"), ("cpus(prod", "name(role)"),
    ("cpus()", "must not be empty"), ("(prod)", "name(role)"), ("cpus(a)(b)", "name(role)"),
    ("cpus(a/b)", "slash"), ("cpus(..)", "'.' or '..'"),
])
def test_resources_reserved_for_an_invalid_role_are_refused(name, text):
    with pytest.raises(AnsibleFilterError, match=re.escape(text)):
        f.mesos_resources({name: 1})


def test_a_well_formed_policy_has_no_errors():
    policy = {"prod": {"weight": 3, "guarantees": {"cpus": 4, "mem": 4096}, "limits": {"cpus": 8}},
              "batch": {"limits": {"cpus": 8}}, "idle": None, "web": {"weight": "0.5"}}
    assert f.mesos_role_policy_errors(policy) == []
    assert f.mesos_role_policy_errors({}) == [] and f.mesos_role_policy_errors(None) == []


@pytest.mark.parametrize("policy, text", [
    ({"a/b": {}}, "role 'a/b': a role name cannot contain a slash"),
    ({"prod": {"weight": 0}}, "role prod: the weight must be a positive number, not 0"),
    ({"prod": {"weight": "heavy"}}, "the weight must be a positive number, not 'heavy'"),
    ({"prod": {"weight": True}}, "the weight must be a positive number, not True"),
    ({"prod": {"guarantees": {"cpu": 1}}}, "role prod, guarantees: unknown resource 'cpu'"),
    ({"prod": {"limits": {"cpus": -1}}}, "role prod, limits: the amount of 'cpus' must not be negative"),
    ({"prod": {"guarantees": [1]}}, "role prod: guarantees must map resource names"),
    ({"prod": {"guarantees": {"cpus": 4}, "limits": {"cpus": 2}}}, "the guarantee of cpus (4) is above its limit (2)"),
    ({"prod": {"wieght": 2}}, "role prod: unknown key wieght"),
    ({"prod": 3}, "role prod: expected {weight, guarantees, limits}, got 3"),
    ({"*": {"guarantees": {"cpus": 1}}}, "quota cannot be set for the unreserved role '*'"),
    (["prod"], "the role policy must be a mapping"),
])
def test_a_malformed_policy_is_named(policy, text):
    errors = f.mesos_role_policy_errors(policy)
    assert any(text in e for e in errors), errors


# mesos_role_policy_changes: what a policy run must apply, nothing when the cluster has it

NOW = [
    {"name": "prod", "weight": 2.0, "quota": {"guarantees": {"cpus": 1.0, "mem": 128.0}, "limits": {}}},
    {"name": "batch", "weight": 1.0, "quota": {"guarantees": {}, "limits": {"cpus": 2.0}}},
    {"name": "*", "weight": 1.0, "quota": {}},
]
POLICY = {"prod": {"weight": 2, "guarantees": {"cpus": 1, "mem": 128}}, "batch": {"limits": {"cpus": 2}}}


def test_policy_changes_none_when_the_cluster_has_the_policy():
    assert f.mesos_role_policy_changes(POLICY, NOW) == []


@pytest.mark.parametrize(
    "policy, changed",
    [
        ({"prod": {"weight": 3, "guarantees": {"cpus": 1, "mem": 128}}}, ["prod"]),
        ({"prod": {"weight": 2, "guarantees": {"cpus": 1}}}, ["prod"]),
        ({"batch": {"limits": {"cpus": 2}, "guarantees": {"cpus": 1}}}, ["batch"]),
        ({"new": {"weight": 2}}, ["new"]),
        ({"new": {}}, []),  # a role the cluster does not know has weight 1 and no quota already
        ({"prod": {"weight": "heavy"}}, ["prod"]),  # malformed: applied, so Mesos says what is wrong
    ],
)
def test_policy_changes_name_the_roles_that_differ(policy, changed):
    assert f.mesos_role_policy_changes(policy, NOW) == changed


def test_policy_changes_reset_roles_still_weighted():
    assert f.mesos_role_policy_changes({"prod": {}, "batch": {}, "gone": {}}, NOW) == ["prod", "batch"]
