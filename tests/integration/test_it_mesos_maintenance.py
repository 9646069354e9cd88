"""mesos_maintenance against the Mesos master stand-ins.

Uses machines no agent runs on (Mesos accepts those in a schedule and in /machine/down), so the
cluster's agents are not disturbed for the other tests.
"""

import pytest
from integration_helpers import http_json

M1 = {"hostname": "maint-a.invalid", "ip": "10.255.0.1"}
M2 = {"hostname": "maint-b.invalid", "ip": "10.255.0.2"}


def leader_url(standin_cluster):
    return standin_cluster.leading_master(timeout=10).url("").rstrip("/")


def schedule(standin_cluster):
    status, body = http_json(leader_url(standin_cluster) + "/master/maintenance/schedule")
    assert status == 200
    return body or {}


def machines_in_schedule(standin_cluster):
    return sorted(m.get("hostname") for w in schedule(standin_cluster).get("windows", []) for m in w["machine_ids"])


def status(standin_cluster):
    code, body = http_json(leader_url(standin_cluster) + "/master/maintenance/status")
    assert code == 200
    body = body or {}
    return (sorted(m["id"]["hostname"] for m in body.get("draining_machines", [])),
            sorted(m["hostname"] for m in body.get("down_machines", [])))


@pytest.fixture
def cleanup_maintenance(standin_cluster, endpoints, ansible_module):
    yield
    ansible_module("mesos_maintenance", dict(mesos_endpoints=endpoints["mesos"], machines=[M1, M2], state="up"))


def four_ways(ansible_module, args, before, after):
    check = ansible_module("mesos_maintenance", args, check=True, diff=True)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    before()
    applied = ansible_module("mesos_maintenance", args)
    assert not applied.get("failed"), applied.get("msg")
    assert applied["changed"] is True
    after()
    again = ansible_module("mesos_maintenance", args, check=True)
    assert again["changed"] is False, again
    again = ansible_module("mesos_maintenance", args)
    assert again["changed"] is False, again
    after()
    return check, applied


def test_maintenance_schedule_down_up(standin_cluster, endpoints, ansible_module, cleanup_maintenance):
    base = dict(mesos_endpoints=endpoints["mesos"])
    assert machines_in_schedule(standin_cluster) == []

    def nothing():
        assert machines_in_schedule(standin_cluster) == [] and status(standin_cluster) == ([], [])

    def m1_draining():
        assert machines_in_schedule(standin_cluster) == [M1["hostname"]]
        assert status(standin_cluster) == ([M1["hostname"]], [])

    check, applied = four_ways(ansible_module, dict(base, machines=[M1], start="2030-01-01T00:00:00Z",
                                                    duration=600), nothing, m1_draining)
    assert check["requests"] == ["POST /master/maintenance/schedule"]
    assert applied["machines"] == [dict(M1, mode="DRAINING")]
    window = schedule(standin_cluster)["windows"][0]
    assert int(window["unavailability"]["start"]["nanoseconds"]) == 1893456000 * 10 ** 9
    assert int(window["unavailability"]["duration"]["nanoseconds"]) == 600 * 10 ** 9

    # a second machine gets its own window; the first one's window is kept (the POST merges)
    def both_draining():
        assert machines_in_schedule(standin_cluster) == sorted([M1["hostname"], M2["hostname"]])
        assert status(standin_cluster)[0] == sorted([M1["hostname"], M2["hostname"]])

    four_ways(ansible_module, dict(base, machines=[M2]), m1_draining, both_draining)

    # down
    def m2_down():
        assert status(standin_cluster) == ([M1["hostname"]], [M2["hostname"]])

    four_ways(ansible_module, dict(base, machines=[M2], state="down"), both_draining, m2_down)

    # up: M2 comes up (Mesos drops it from the schedule), M1's scheduled maintenance is cancelled
    def all_up():
        assert machines_in_schedule(standin_cluster) == [] and status(standin_cluster) == ([], [])

    check, applied = four_ways(ansible_module, dict(base, machines=[M1, M2], state="up"), m2_down, all_up)
    assert applied["requests"] == ["POST /master/machine/up", "POST /master/maintenance/schedule"]
