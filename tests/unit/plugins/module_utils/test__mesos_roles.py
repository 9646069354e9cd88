"""The role helpers of plugins/module_utils/_mesos.py and _mesos_names.py (roles.md naming rules,
reservations read from /master/slaves, quota read from GET_QUOTA in either shape)."""

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _mesos, _mesos_names


@pytest.mark.parametrize("name, bad", [
    ("prod", False), ("team-a.web_1", False), ("", True), (".", True), ("..", True), ("-x", True),
    ("a/b", True), ("a b", True), ("a\tb", True), ("a\bb", True), ("a\\b", True),
])
def test_role_names(name, bad):
    assert (_mesos_names.role_name_error(name) is not None) is bad


def test_resources_error_names_the_first_bad_entry():
    assert _mesos_names.resources_error({"cpus": 1, "mem": 0}, "x") is None
    assert "unknown resource 'ports'" in _mesos_names.resources_error({"ports": 1}, "x")
    assert "must not be negative" in _mesos_names.resources_error({"cpus": -0.5}, "x")
    assert "must be a number" in _mesos_names.resources_error({"cpus": "lots"}, "x")
    assert "must be a number" in _mesos_names.resources_error({"cpus": True}, "x")


def test_agent_reservations_static_dynamic_and_legacy_role_field():
    agent = {"reserved_resources_full": {"prod": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0},
         "reservations": [{"type": "STATIC", "role": "prod"}]},
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0},
         "reservations": [{"type": "DYNAMIC", "role": "prod", "principal": "ops"}]},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}]},
         "reservations": [{"type": "STATIC", "role": "prod"}]}],
        "old": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}, "role": "old",
                 "reservation": {"principal": "p"}}]}}
    assert _mesos.agent_reservations(agent) == {
        "prod": {"static": {"cpus": 1.0}, "dynamic": {"cpus": 2.0}, "principal": "ops"},
        "old": {"static": {}, "dynamic": {"mem": 64.0}, "principal": "p"}}


def test_quota_configs_at_status_level_or_inside_infos():
    doc = {"configs": [{"role": "a"}], "infos": [{"configs": [{"role": "b"}]}, {}]}
    assert [c["role"] for c in _mesos._quota_configs(doc)] == ["a", "b"]
