"""chronos_job and chronos_job_info against the Chronos stand-ins."""

import pytest
from integration_helpers import http_json

PARENT = "itest-parent"
CHILD = "itest-child"


def server_job(endpoints, name):
    status, jobs = http_json(endpoints["chronos"][2] + "/v1/scheduler/jobs")
    assert status == 200
    return next((j for j in jobs if j["name"] == name), None)


@pytest.fixture
def cleanup_jobs(endpoints):
    yield
    for name in (CHILD, PARENT):
        http_json(endpoints["chronos"][0] + "/v1/scheduler/job/" + name, method="DELETE")


def four_ways(ansible_module, args, before, after):
    check = ansible_module("chronos_job", args, check=True, diff=True)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    before()
    applied = ansible_module("chronos_job", args)
    assert not applied.get("failed"), applied.get("msg")
    assert applied["changed"] is True
    after()
    assert ansible_module("chronos_job", args, check=True)["changed"] is False
    assert ansible_module("chronos_job", args)["changed"] is False
    after()
    return check, applied


def test_chronos_jobs(standin_cluster, endpoints, ansible_module, cleanup_jobs):
    base = dict(chronos_endpoints=endpoints["chronos"])
    parent = dict(base, name=PARENT, command="echo parent", schedule="R/2030-01-01T00:00:00Z/P1D",
                  definition={"epsilon": "PT30M", "owner": "ops@example.com", "cpus": 0.1, "mem": 32})

    def absent(name):
        def prove():
            assert server_job(endpoints, name) is None
        return prove

    def parent_is(command):
        def prove():
            job = server_job(endpoints, PARENT)
            assert job is not None and job["command"] == command and job["schedule"].endswith("/P1D")
        return prove

    check, _ = four_ways(ansible_module, parent, absent(PARENT), parent_is("echo parent"))
    assert server_job(endpoints, CHILD) is None
    assert check["diff"]["before"] == {} and check["diff"]["after"]["schedule"] == parent["schedule"]

    # update one field: the check leaves the server alone
    changed = dict(parent, command="echo parent v2")
    check, _ = four_ways(ansible_module, changed, parent_is("echo parent"), parent_is("echo parent v2"))
    assert check["changed_fields"] == ["command"]

    # a dependent job
    child = dict(base, name=CHILD, command="echo child", parents=[PARENT])

    def child_depends():
        job = server_job(endpoints, CHILD)
        assert job is not None and job["parents"] == [PARENT] and not job.get("schedule")

    four_ways(ansible_module, child, absent(CHILD), child_depends)

    info = ansible_module("chronos_job_info", dict(base, name=CHILD))
    assert info["exists"] is True and info["jobs"][0]["parents"] == [PARENT]
    status, leader = http_json(endpoints["chronos"][0] + "/leader")
    assert info["leader"] == "http://" + leader["leader"]

    # remove both
    for name in (CHILD, PARENT):
        def present(name=name):
            assert server_job(endpoints, name) is not None

        def gone(name=name):
            assert server_job(endpoints, name) is None

        four_ways(ansible_module, dict(base, name=name, state="absent"), present, gone)


def test_chronos_bad_schedule_refused_before_any_request(endpoints, ansible_module):
    result = ansible_module("chronos_job", dict(chronos_endpoints=["http://127.0.0.1:9"], name="x",
                                                command="true", schedule="daily"))
    assert result["failed"] is True
    assert result["msg"].startswith("Job x: the schedule 'daily' is not an ISO 8601 repeating interval")
