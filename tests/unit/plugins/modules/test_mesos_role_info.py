from ansible_collections.mesosphere.cluster.plugins.modules import mesos_role_info

M1 = "http://m1:5050"
API = M1 + "/api/v1"


def test_reports_weights_quota_allocation_and_reservations(fake_http, run_module):
    fake_http.add("GET", M1 + "/master/redirect", 307, headers={"Location": "//m1:5050"})
    fake_http.add("POST", API, body={"type": "GET_WEIGHTS", "get_weights": {"weight_infos": [
        {"role": "prod", "weight": 3.0}]}})
    fake_http.add("POST", API, body={"type": "GET_QUOTA", "get_quota": {"status": {"infos": [{"configs": [
        {"role": "prod", "guarantees": {"cpus": {"value": 2.0}}}, {"role": "batch", "limits": {"mem": {"value": 64}}}
    ]}]}}})
    fake_http.add("GET", M1 + "/master/roles", body={"roles": [
        {"name": "*", "weight": 1.0, "frameworks": [], "resources": {}},
        {"name": "prod", "weight": 3.0, "frameworks": ["F0"], "resources": {"cpus": 1.5, "ports": "[1-2]"}}]})
    fake_http.add("GET", M1 + "/master/slaves", body={"slaves": [{"id": "S0", "hostname": "a1",
                                                                  "reserved_resources_full": {"prod": [
                                                                      {"name": "cpus", "type": "SCALAR",
                                                                       "scalar": {"value": 1.0},
                                                                       "reservations": [{"type": "STATIC",
                                                                                         "role": "prod"}]}]}}]})
    result, failed = run_module(mesos_role_info.main, dict(mesos_endpoints=[M1], names=["prod", "batch"]))
    assert not failed, result.get("msg")
    assert result["roles"] == [
        {"name": "batch", "weight": 1.0, "frameworks": [], "allocated": {},
         "quota": {"guarantees": {}, "limits": {"mem": 64.0}}, "reservations": []},
        {"name": "prod", "weight": 3.0, "frameworks": ["F0"], "allocated": {"cpus": 1.5},
         "quota": {"guarantees": {"cpus": 2.0}, "limits": {}},
         "reservations": [{"agent_id": "S0", "hostname": "a1", "static": {"cpus": 1.0}, "dynamic": {}}]}]
    assert result["changed"] is False
