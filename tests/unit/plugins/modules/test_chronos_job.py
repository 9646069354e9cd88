import urllib.error

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _chronos
from ansible_collections.mesosphere.cluster.plugins.modules import chronos_job, chronos_job_info

C1 = "http://c1:4400"
C2 = "http://c2:4400"
BASE = dict(chronos_endpoints=[C1, C2])

SERVER_JOB = {"name": "nightly", "command": "echo hi", "schedule": "R/2026-01-01T02:00:00.000Z/P1D",
              "epsilon": "PT60S", "owner": "", "cpus": 0.1, "mem": 128.0, "disk": 256.0, "shell": True,
              "retries": 2, "async": False, "disabled": False, "parents": [],
              "successCount": 4, "errorCount": 0, "lastSuccess": "2026-01-04T02:00:01.000Z", "lastError": ""}


def leader(fake):
    fake.add("GET", C1 + "/leader", body={"leader": "c2:4400"})


def jobs(fake, *items):
    fake.add("GET", C2 + "/v1/scheduler/jobs", body=list(items))


def run(run_module, check_mode=False, diff=False, **args):
    merged = dict(BASE, name="nightly")
    merged.update(args)
    return run_module(chronos_job.main, merged, check_mode=check_mode, diff=diff)


def test_unchanged_no_write(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http, SERVER_JOB)
    result, failed = run(run_module, command="echo hi", schedule="R/2026-01-01T02:00:00Z/P1D",
                         definition={"cpus": 0.1})
    assert not failed and result["changed"] is False
    assert fake_http.calls == [("GET", C1 + "/leader", None), ("GET", C2 + "/v1/scheduler/jobs", None)]


def test_schedule_advanced_by_chronos_is_unchanged(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http, dict(SERVER_JOB, schedule="R/2026-01-05T02:00:00.000Z/P1D"))
    result, failed = run(run_module, command="echo hi", schedule="R/2026-01-01T02:00:00Z/P1D")
    assert not failed and result["changed"] is False and fake_http.writes() == []


def test_create_scheduled_check_mode_then_apply(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http)
    result, failed = run(run_module, check_mode=True, diff=True, command="echo hi",
                         schedule="R/2026-01-01T02:00:00Z/P1D")
    assert not failed and result["changed"] is True and fake_http.writes() == []
    assert result["diff"] == {"before": {}, "after": {
        "name": "nightly", "command": "echo hi", "schedule": "R/2026-01-01T02:00:00Z/P1D"}}

    leader(fake_http)
    jobs(fake_http)
    fake_http.add("POST", C2 + "/v1/scheduler/iso8601", 204)
    jobs(fake_http, SERVER_JOB)
    result, failed = run(run_module, command="echo hi", schedule="R/2026-01-01T02:00:00Z/P1D")
    assert not failed and result["changed"] is True
    assert fake_http.writes() == [("POST", C2 + "/v1/scheduler/iso8601", {
        "name": "nightly", "command": "echo hi", "schedule": "R/2026-01-01T02:00:00Z/P1D"})]
    assert "successCount" not in result["job"]


def test_update_sends_whole_job_with_put(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http, SERVER_JOB)
    fake_http.add("PUT", C2 + "/v1/scheduler/iso8601", 204)
    jobs(fake_http, dict(SERVER_JOB, command="echo bye"))
    result, failed = run(run_module, diff=True, command="echo bye")
    assert not failed and result["changed_fields"] == ["command"]
    sent = fake_http.writes()[0]
    assert sent[:2] == ("PUT", C2 + "/v1/scheduler/iso8601")
    expected = _chronos.strip_server_fields(dict(SERVER_JOB, command="echo bye"))
    assert sent[2] == expected
    assert result["diff"]["before"]["command"] == "echo hi" and result["diff"]["after"]["command"] == "echo bye"


def test_scheduled_to_dependent(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http, SERVER_JOB)
    fake_http.add("PUT", C2 + "/v1/scheduler/dependency", 204)
    jobs(fake_http, dict(SERVER_JOB, parents=["a"], schedule=None))
    result, failed = run(run_module, parents=["a"])
    assert not failed and result["changed_fields"] == ["parents", "schedule"]
    method, url, body = fake_http.writes()[0]
    assert (method, url) == ("PUT", C2 + "/v1/scheduler/dependency")
    assert body["parents"] == ["a"] and "schedule" not in body


def test_create_dependent_posts_to_dependency(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http)
    fake_http.add("POST", C2 + "/v1/scheduler/dependency", 204)
    jobs(fake_http, {"name": "nightly", "command": "x", "parents": ["a", "b"]})
    result, failed = run(run_module, command="x", parents=["a", "b"])
    assert not failed
    assert fake_http.writes() == [("POST", C2 + "/v1/scheduler/dependency",
                                   {"name": "nightly", "command": "x", "parents": ["a", "b"]})]


def test_absent(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http, SERVER_JOB)
    result, failed = run(run_module, state="absent", check_mode=True)
    assert result["changed"] is True and fake_http.writes() == []
    leader(fake_http)
    jobs(fake_http, SERVER_JOB)
    fake_http.add("DELETE", C2 + "/v1/scheduler/job/nightly", 204)
    result, failed = run(run_module, state="absent")
    assert result["changed"] is True and fake_http.writes() == [("DELETE", C2 + "/v1/scheduler/job/nightly", None)]
    leader(fake_http)
    jobs(fake_http)
    result, failed = run(run_module, state="absent")
    assert result["changed"] is False and len(fake_http.writes()) == 1


@pytest.mark.parametrize("args,msg", [
    (dict(command="x", schedule="every day"), "Job nightly: the schedule 'every day' is not an ISO 8601"),
    (dict(command="x", schedule="R/2026-01-01T00:00:00Z/P1X"), "Job nightly: the schedule 'P1X' in schedule"),
    (dict(command="x", schedule="R/yesterday/P1D"), "Job nightly: the schedule 'yesterday' is not an ISO 8601 time"),
    (dict(name="bad name", command="x", schedule="R//P1D"), "The job name 'bad name' may hold only"),
    (dict(command="x", schedule="R//P1D", parents=["a"]), "parameters are mutually exclusive: schedule|parents"),
])
def test_bad_input_is_refused_without_a_call(fake_http, run_module, args, msg):
    result, failed = run(run_module, **args)
    assert failed and result["msg"].startswith(msg)
    assert fake_http.calls == []


def test_create_needs_schedule_or_parents(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http)
    result, failed = run(run_module, command="x")
    assert failed and result["msg"] == "Job nightly does not exist; creating it needs a schedule or parents."
    assert fake_http.writes() == []


def test_server_error_is_a_sentence(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http)
    fake_http.add("POST", C2 + "/v1/scheduler/iso8601", 400, body="requirement failed: bad epsilon")
    result, failed = run(run_module, command="x", schedule="R//PT1H", definition={"epsilon": "x"})
    assert failed
    assert result["msg"] == ("Could not create or update Chronos job nightly: POST http://c2:4400/v1/scheduler/iso8601 "
                             "answered HTTP 400: requirement failed: bad epsilon.")


def test_unreachable_is_a_sentence(fake_http, run_module):
    for c in (C1, C2):
        fake_http.add("GET", c + "/leader", repeat=True,
                      error=urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")))
    result, failed = run(run_module, command="x", schedule="R//PT1H", request_retries=0)
    assert failed and result["msg"].startswith(
        "Could not create or update Chronos job nightly: Could not reach any Chronos endpoint for GET /leader "
        "(http://c1:4400/leader: [Errno 111] Connection refused; ")


@pytest.mark.parametrize("wanted,current,same", [
    ("R/2026-01-01T02:00:00Z/P1D", "R/2026-01-01T02:00:00.000Z/P1D", True),
    ("R/2026-01-01T02:00:00Z/P1D", "R/2026-01-03T02:00:00.000Z/P1D", True),
    ("R/2026-01-01T02:00:00Z/P1D", "R/2026-01-03T03:00:00.000Z/P1D", False),
    ("R/2026-01-01T02:00:00Z/P1D", "R/2025-12-31T02:00:00.000Z/P1D", False),
    ("R/2026-01-01T02:00:00Z/P1D", "R/2026-01-01T02:00:00Z/PT1H", False),
    ("R5/2026-01-01T02:00:00Z/PT1H", "R3/2026-01-01T04:00:00Z/PT1H", True),
    ("R5/2026-01-01T02:00:00Z/PT1H", "R4/2026-01-01T02:00:00Z/PT1H", False),
    ("R5/2026-01-01T02:00:00Z/PT1H", "R/2026-01-01T02:00:00Z/PT1H", False),
    ("R//PT1H", "R/2026-01-01T02:00:00Z/PT1H", True),
    ("R/2026-01-01T03:00:00+01:00/P1M", "R/2026-03-01T02:00:00Z/P1M", True),
])
def test_schedule_rules(wanted, current, same):
    assert _chronos.schedule_satisfies(wanted, current) is same


def test_info(fake_http, run_module):
    leader(fake_http)
    jobs(fake_http, SERVER_JOB, {"name": "other"})
    result, failed = run_module(chronos_job_info.main, dict(BASE, name="nightly"))
    assert not failed and result["exists"] is True and result["leader"] == C2
    assert [j["name"] for j in result["jobs"]] == ["nightly"] and result["jobs"][0]["successCount"] == 4
    leader(fake_http)
    jobs(fake_http, SERVER_JOB, {"name": "other"})
    result, failed = run_module(chronos_job_info.main, dict(BASE))
    assert len(result["jobs"]) == 2 and fake_http.writes() == []
