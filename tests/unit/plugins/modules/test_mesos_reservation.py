import pytest

from ansible_collections.mesosphere.cluster.plugins.modules import mesos_reservation

M1 = "http://m1:5050"
API = M1 + "/api/v1"


def agent(dynamic=None, static=None, principal="ops"):
    full = {}
    for kind, values in (("DYNAMIC", dynamic), ("STATIC", static)):
        for name, value in (values or {}).items():
            reservation = {"type": kind, "role": "prod"}
            if kind == "DYNAMIC":
                reservation["principal"] = principal
            full.setdefault("prod", []).append({"name": name, "type": "SCALAR", "scalar": {"value": value},
                                                "reservations": [reservation]})
    return {"id": "S0", "hostname": "a1", "reserved_resources_full": full}


def slaves(fake, *agents):
    fake.add("GET", M1 + "/master/slaves", body={"slaves": list(agents) + [{"id": "S1", "hostname": "a2"}]})


def leader(fake):
    fake.add("GET", M1 + "/master/redirect", 307, headers={"Location": "//m1:5050"})


def run(run_module, check_mode=False, diff=False, **args):
    merged = dict(mesos_endpoints=[M1], mesos_username="ops", mesos_password="pw", agent="a1", role="prod")
    merged.update(args)
    return run_module(mesos_reservation.main, merged, check_mode=check_mode, diff=diff)


def test_reserves_the_difference_and_waits_for_it(fake_http, run_module):
    leader(fake_http)
    slaves(fake_http, agent(dynamic={"cpus": 1.0}, static={"cpus": 1.0}))
    fake_http.add("POST", API, 202)
    slaves(fake_http, agent(dynamic={"cpus": 1.0}, static={"cpus": 1.0}))
    slaves(fake_http, agent(dynamic={"cpus": 2.0, "mem": 512.0}, static={"cpus": 1.0}))
    result, failed = run(run_module, diff=True, resources={"cpus": 2, "mem": 512})
    assert not failed, result.get("msg")
    assert fake_http.writes() == [("POST", API, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": "S0"}, "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0},
             "reservations": [{"type": "DYNAMIC", "role": "prod", "principal": "ops"}]},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 512.0},
             "reservations": [{"type": "DYNAMIC", "role": "prod", "principal": "ops"}]}]}})]
    assert result["reservation"] == {"role": "prod", "dynamic": {"cpus": 2.0, "mem": 512.0}, "static": {"cpus": 1.0}}
    assert result["diff"] == {"before": {"dynamic": {"cpus": 1.0}}, "after": {"dynamic": {"cpus": 2.0, "mem": 512.0}}}
    assert "pw" not in repr(result)


def test_check_mode_and_second_run_send_nothing(fake_http, run_module):
    leader(fake_http)
    slaves(fake_http, agent())
    result, failed = run(run_module, check_mode=True, resources={"cpus": 2})
    assert not failed and result["changed"] and result["requests"] == ["RESERVE_RESOURCES"]
    leader(fake_http)
    slaves(fake_http, agent(dynamic={"cpus": 2.0}))
    result, failed = run(run_module, resources={"cpus": 2})
    assert not failed and result["changed"] is False
    assert fake_http.writes() == []


def test_lower_amount_and_absent_unreserve(fake_http, run_module):
    leader(fake_http)
    slaves(fake_http, agent(dynamic={"cpus": 2.0, "mem": 512.0}))
    fake_http.add("POST", API, 202)
    slaves(fake_http, agent())
    result, failed = run(run_module, state="absent")
    assert not failed and result["changed"]
    call = fake_http.writes()[0][2]
    assert call["type"] == "UNRESERVE_RESOURCES"
    assert [(r["name"], r["scalar"]["value"]) for r in call["unreserve_resources"]["resources"]] == [
        ("cpus", 2.0), ("mem", 512.0)]


@pytest.mark.parametrize("args, text", [
    (dict(role="*", resources={"cpus": 1}), "role '*'"),
    (dict(resources={"bogus": 1}), "unknown resource 'bogus'"),
    (dict(resources={"cpus": -2}), "must not be negative"),
    (dict(), "Give the resources"),
])
def test_bad_input_fails_before_any_request(fake_http, run_module, args, text):
    result, failed = run(run_module, **args)
    assert failed and text in result["msg"]
    assert fake_http.calls == []


def test_unknown_agent_names_it_and_the_known_ones(fake_http, run_module):
    leader(fake_http)
    slaves(fake_http, agent())
    result, failed = run(run_module, agent="nope", resources={"cpus": 1})
    assert failed and "'nope'" in result["msg"] and "a1 (S0)" in result["msg"] and M1 in result["msg"]
    assert fake_http.writes() == []
