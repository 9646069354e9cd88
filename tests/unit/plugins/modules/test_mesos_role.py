import urllib.error

import pytest

from ansible_collections.mesosphere.cluster.plugins.modules import mesos_role

M1 = "http://m1:5050"
API = M1 + "/api/v1"


def leader(fake):
    fake.add("GET", M1 + "/master/redirect", 307, headers={"Location": "//m1:5050"})


def current(fake, weights=None, quotas=None):
    fake.add("POST", API, body={"type": "GET_WEIGHTS", "get_weights": {"weight_infos": [
        {"role": r, "weight": w} for r, w in (weights or {}).items()]}})
    configs = [dict(role=r, **q) for r, q in (quotas or {}).items()]
    fake.add("POST", API, body={"type": "GET_QUOTA", "get_quota": {
        "status": {"infos": [{"configs": configs}]} if configs else {}}})


def updates(fake):
    return [c[2] for c in fake.calls if c[0] == "POST" and not c[2]["type"].startswith("GET_")]


def run(run_module, check_mode=False, diff=False, **args):
    merged = dict(mesos_endpoints=[M1], name="prod")
    merged.update(args)
    return run_module(mesos_role.main, merged, check_mode=check_mode, diff=diff)


def test_sets_weight_and_quota_quota_first(fake_http, run_module):
    leader(fake_http)
    current(fake_http)
    fake_http.add("POST", API, 200)
    fake_http.add("POST", API, 202)
    current(fake_http, {"prod": 3.0}, {"prod": {"guarantees": {"cpus": {"value": 2.0}}}})
    result, failed = run(run_module, diff=True, weight=3, guarantees={"cpus": 2})
    assert not failed, result.get("msg")
    assert updates(fake_http) == [
        {"type": "UPDATE_QUOTA", "update_quota": {"force": False, "quota_configs": [
            {"role": "prod", "guarantees": {"cpus": {"value": 2.0}}}]}},
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "prod", "weight": 3.0}]}}]
    assert result["changed"] and result["role"] == {"name": "prod", "weight": 3.0, "guarantees": {"cpus": 2.0},
                                                    "limits": {}}
    assert result["diff"]["before"]["weight"] == 1.0


def test_check_mode_and_unchanged_send_no_update(fake_http, run_module):
    leader(fake_http)
    current(fake_http)
    result, failed = run(run_module, check_mode=True, weight=2, limits={"cpus": 4})
    assert not failed and result["changed"] and result["requests"] == ["UPDATE_QUOTA", "UPDATE_WEIGHTS"]
    leader(fake_http)
    current(fake_http, {"prod": 2.0}, {"prod": {"limits": {"cpus": {"value": 4.0}}}})
    result, failed = run(run_module, weight=2, limits={"cpus": 4})
    assert not failed and result["changed"] is False
    # options left out are not managed
    leader(fake_http)
    current(fake_http, {"prod": 2.0}, {"prod": {"limits": {"cpus": {"value": 4.0}}}})
    result, failed = run(run_module)
    assert not failed and result["changed"] is False
    assert updates(fake_http) == []


def test_absent_resets_weight_and_removes_quota(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"prod": 2.0}, {"prod": {"guarantees": {"cpus": {"value": 1.0}}}})
    fake_http.add("POST", API, 200)
    fake_http.add("POST", API, 202)
    current(fake_http)
    result, failed = run(run_module, state="absent")
    assert not failed
    assert updates(fake_http)[0]["update_quota"]["quota_configs"] == [{"role": "prod"}]
    assert updates(fake_http)[1]["update_weights"]["weight_infos"] == [{"role": "prod", "weight": 1.0}]


@pytest.mark.parametrize("args, text", [
    (dict(name="a b"), "Invalid role name 'a b'"),
    (dict(name="*", weight=2), "The role '*'"),
    (dict(weight=0), "must be a positive number"),
    (dict(guarantees={"bogus": 1}), "unknown resource 'bogus'"),
    (dict(guarantees={"cpus": -1}), "must not be negative"),
    (dict(guarantees={"cpus": 4}, limits={"cpus": 2}), "exceeds its limit"),
])
def test_bad_input_fails_before_any_request(fake_http, run_module, args, text):
    result, failed = run(run_module, **args)
    assert failed and text in result["msg"], result["msg"]
    assert fake_http.calls == []


def test_refusal_and_unreachable_name_role_and_masters(fake_http, run_module):
    leader(fake_http)
    current(fake_http)
    fake_http.add("POST", API, 400, body="Invalid QuotaConfig: total quota guarantees of 'cpus' (100) exceed the "
                                         "cluster's capacity (8)")
    result, failed = run(run_module, guarantees={"cpus": 100}, weight=5)
    assert failed and "Mesos role prod" in result["msg"] and "capacity" in result["msg"] and M1 in result["msg"]
    assert [u["type"] for u in updates(fake_http)] == ["UPDATE_QUOTA"]  # the weight was not touched
    fake_http.add("GET", M1 + "/master/redirect", error=urllib.error.URLError("Connection refused"), repeat=True)
    result, failed = run(run_module, weight=2)
    assert failed and "Could not set the weight and quota of Mesos role prod" in result["msg"]
    assert "Connection refused" in result["msg"]
