import json
import urllib.error

import pytest

from ansible_collections.mesosphere.cluster.plugins.modules import marathon_app, marathon_app_info

MT = "http://mt1:8080"
MT2 = "http://mt2:8080"
BASE = dict(marathon_endpoints=[MT, MT2], poll_interval=1, wait_timeout=10)
DEFINITION = {"cmd": "sleep 1000", "instances": 2, "cpus": 0.1, "mem": 32,
              "portDefinitions": [{"port": 0}], "env": {"A": "1"}}

SERVER_APP = {
    "id": "/web", "cmd": "sleep 1000", "instances": 2, "cpus": 0.1, "mem": 32.0, "disk": 0,
    "env": {"A": "1"}, "portDefinitions": [{"port": 10001, "protocol": "tcp", "labels": {}}],
    "constraints": [], "backoffSeconds": 1, "upgradeStrategy": {"minimumHealthCapacity": 1},
    "version": "2026-01-01T00:00:00.000Z", "versionInfo": {"lastConfigChangeAt": "x"},
    "tasksRunning": 2, "tasksStaged": 0, "tasksHealthy": 0, "tasksUnhealthy": 0, "deployments": [],
}
TASKS = {"tasks": [{"id": "web.1", "host": "a1", "ports": [31000], "state": "TASK_RUNNING", "startedAt": "t"},
                   {"id": "web.2", "host": "a2", "ports": [31001], "state": "TASK_RUNNING", "startedAt": "t"}]}


def leader(fake):
    fake.add("GET", MT + "/v2/leader", 200, body={"leader": "mt1:8080"})


def app_exists(fake, app=None, times=1):
    for _time in range(times):
        fake.add("GET", MT + "/v2/apps/web", 200, body={"app": app or SERVER_APP})


def app_missing(fake):
    fake.add("GET", MT + "/v2/apps/web", 404, body={"message": "App '/web' does not exist"})


def run(run_module, check_mode=False, diff=False, **args):
    merged = dict(BASE, id="/web")
    merged.update(args)
    return run_module(marathon_app.main, merged, check_mode=check_mode, diff=diff)


def test_unchanged_makes_no_write(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    result, failed = run(run_module, definition=DEFINITION)
    assert not failed and result["changed"] is False
    assert fake_http.calls == [
        ("GET", MT + "/v2/leader", None),
        ("GET", MT + "/v2/apps/web", None),
        ("GET", MT + "/v2/apps/web/tasks", None),
    ]
    assert [t["host"] for t in result["tasks"]] == ["a1", "a2"]
    assert result["changed_fields"] == []


def test_unchanged_in_check_mode(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    result, failed = run(run_module, check_mode=True, definition=DEFINITION)
    assert not failed and result["changed"] is False
    assert fake_http.writes() == []


def test_create_in_check_mode_writes_nothing(fake_http, run_module):
    leader(fake_http)
    app_missing(fake_http)
    result, failed = run(run_module, check_mode=True, diff=True, definition=DEFINITION)
    assert not failed and result["changed"] is True
    assert fake_http.writes() == []
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["instances"] == 2 and result["diff"]["after"]["id"] == "/web"


def test_create_posts_and_waits_for_deployment(fake_http, run_module):
    leader(fake_http)
    app_missing(fake_http)
    fake_http.add("POST", MT + "/v2/apps", 201, body=dict(SERVER_APP, deployments=[{"id": "d1"}]),
                  headers={"Marathon-Deployment-Id": "d1", "Location": MT + "/web"})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[{"id": "d1", "affectedApps": ["/web"]}])
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    result, failed = run(run_module, definition=DEFINITION)
    assert not failed, result
    assert result["changed"] is True and result["deployment_id"] == "d1"
    assert fake_http.writes() == [("POST", MT + "/v2/apps", dict(DEFINITION, id="/web"))]
    assert [c[1] for c in fake_http.calls].count(MT + "/v2/deployments") == 2
    assert len(result["tasks"]) == 2
    assert "diff" not in result


def test_update_puts_only_user_fields(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("PUT", MT + "/v2/apps/web", 200, body={"deploymentId": "d2", "version": "v"})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    app_exists(fake_http, dict(SERVER_APP, instances=3))
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    wanted = dict(DEFINITION, instances=3)
    result, failed = run(run_module, diff=True, definition=wanted)
    assert not failed, result
    assert fake_http.writes() == [("PUT", MT + "/v2/apps/web", dict(wanted, id="/web"))]
    assert result["changed_fields"] == ["instances"]
    assert result["diff"]["before"]["instances"] == 2 and result["diff"]["after"]["instances"] == 3
    assert "version" not in result["diff"]["before"]
    assert result["app"]["instances"] == 3


def test_removed_env_key_is_a_change(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http, dict(SERVER_APP, env={"A": "1", "B": "2"}))
    result, failed = run(run_module, check_mode=True, definition=DEFINITION)
    assert result["changed"] is True and result["changed_fields"] == ["env"]
    assert fake_http.writes() == []


def test_update_check_mode_no_write(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    result, failed = run(run_module, check_mode=True, definition=dict(DEFINITION, mem=64))
    assert result["changed"] is True and fake_http.writes() == []


def test_definition_file(fake_http, run_module, tmp_path):
    path = tmp_path / "web.json"
    path.write_text(json.dumps(dict(DEFINITION, id="web")))
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    result, failed = run_module(marathon_app.main, dict(BASE, definition_file=str(path)))
    assert not failed and result["changed"] is False


def test_bad_definition_file_is_a_sentence(fake_http, run_module, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    result, failed = run_module(marathon_app.main, dict(BASE, definition_file=str(path)))
    assert failed and result["msg"].startswith("Could not read the app definition from %s" % path)
    assert fake_http.calls == []


def test_id_mismatch(fake_http, run_module):
    result, failed = run(run_module, definition=dict(DEFINITION, id="/other"))
    assert failed and "differ" in result["msg"]


def test_locked_app_waits_then_retries(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    lock = {"message": "App is locked by one or more deployments. Override with the option '?force=true'. "
                       "View details at '/v2/deployments/d0'.", "deployments": [{"id": "d0"}]}
    fake_http.add("PUT", MT + "/v2/apps/web", 409, body=lock)
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[{"id": "d0", "affectedApps": ["/web"]}])
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    fake_http.add("PUT", MT + "/v2/apps/web", 200, body={"deploymentId": "d3", "version": "v"})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    result, failed = run(run_module, definition=dict(DEFINITION, mem=64))
    assert not failed, result
    assert [c[:2] for c in fake_http.writes()] == [("PUT", MT + "/v2/apps/web")] * 2
    assert result["deployment_id"] == "d3"


def test_locked_app_times_out_names_deployment(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    lock = {"message": "App is locked by one or more deployments.", "deployments": [{"id": "d0"}]}
    fake_http.add("PUT", MT + "/v2/apps/web", 409, body=lock)
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[{"id": "d0", "affectedApps": ["/web"]}], repeat=True)
    result, failed = run(run_module, definition=dict(DEFINITION, mem=64), wait_timeout=3)
    assert failed
    assert result["msg"] == ("Could not create or update Marathon app /web: /web is locked by deployment(s) d0, "
                             "still running after 3s; set force=true to cancel them.")
    assert len(fake_http.writes()) == 1


def test_force_sends_force_query(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("PUT", MT + "/v2/apps/web?force=true", 200, body={"deploymentId": "d4", "version": "v"})
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    result, failed = run(run_module, definition=dict(DEFINITION, mem=64), force=True, wait=False)
    assert not failed, result
    assert [c[:2] for c in fake_http.writes()] == [("PUT", MT + "/v2/apps/web?force=true")]


def test_deployment_timeout_fails_with_tasks(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("PUT", MT + "/v2/apps/web", 200, body={"deploymentId": "d5", "version": "v"})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[{"id": "d5", "affectedApps": ["/web"]}], repeat=True)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body={"tasks": [
        {"id": "web.1", "host": "a1", "ports": [1], "state": "TASK_STAGING"}]})
    result, failed = run(run_module, definition=dict(DEFINITION, mem=64), wait_timeout=2)
    assert failed and result["changed"] is True
    assert result["msg"].startswith("Timed out after 2s waiting for deployment d5 of /web.")
    assert "web.1 on a1 (TASK_STAGING)" in result["msg"]


def test_validation_error_names_app_and_server_message(fake_http, run_module):
    leader(fake_http)
    app_missing(fake_http)
    fake_http.add("POST", MT + "/v2/apps", 422, body={
        "message": "Object is not valid", "details": [{"path": "/mem", "errors": ["must be positive"]}]})
    result, failed = run(run_module, definition=dict(DEFINITION, mem=-1))
    assert failed
    assert result["msg"] == ("Could not create or update Marathon app /web: POST http://mt1:8080/v2/apps answered "
                             "HTTP 422: Object is not valid (/mem: must be positive).")


def test_unreachable_marathon_is_a_sentence(fake_http, run_module):
    for url in (MT, MT2):
        fake_http.add("GET", url + "/v2/leader", repeat=True,
                      error=urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")))
    result, failed = run(run_module, definition=DEFINITION, request_retries=0)
    assert failed
    assert result["msg"] == (
        "Could not create or update Marathon app /web: Could not reach any Marathon endpoint for GET /v2/leader "
        "(http://mt1:8080/v2/leader: [Errno 111] Connection refused; "
        "http://mt2:8080/v2/leader: [Errno 111] Connection refused).")


def test_password_not_in_result(fake_http, run_module):
    leader(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web", 401, body={"message": "Unauthorized"})
    result, failed = run(run_module, definition=DEFINITION, marathon_username="admin", marathon_password="s3cret")
    assert failed and "s3cret" not in json.dumps(result)
    assert fake_http.kwargs[0]["url_password"] == "s3cret"


def test_absent_deletes_and_waits(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("DELETE", MT + "/v2/apps/web", 200, body={"deploymentId": "d6", "version": "v"})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    result, failed = run(run_module, state="absent")
    assert not failed and result["changed"] is True and result["app"] == {}
    assert fake_http.writes() == [("DELETE", MT + "/v2/apps/web", None)]


def test_absent_when_missing_and_in_check_mode(fake_http, run_module):
    leader(fake_http)
    app_missing(fake_http)
    result, failed = run(run_module, state="absent")
    assert not failed and result["changed"] is False and fake_http.writes() == []
    leader(fake_http)
    app_exists(fake_http)
    result, failed = run(run_module, state="absent", check_mode=True)
    assert result["changed"] is True and fake_http.writes() == []


def test_restart(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("POST", MT + "/v2/apps/web/restart", 200, body={"deploymentId": "d7", "version": "v"})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    result, failed = run(run_module, state="restarted")
    assert not failed and result["changed"] is True
    assert fake_http.writes() == [("POST", MT + "/v2/apps/web/restart", {})]


def test_restart_missing_app_fails(fake_http, run_module):
    leader(fake_http)
    app_missing(fake_http)
    result, failed = run(run_module, state="restarted")
    assert failed and result["msg"] == "Cannot restart /web: Marathon has no such app."
    assert fake_http.writes() == []


def test_restart_with_changed_definition_updates_only(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("PUT", MT + "/v2/apps/web", 200, body={"deploymentId": "d8", "version": "v"})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    result, failed = run(run_module, state="restarted", definition=dict(DEFINITION, mem=48))
    assert not failed
    assert [c[0] for c in fake_http.writes()] == ["PUT"]


@pytest.mark.parametrize("wanted,current,same", [
    ({"portDefinitions": [{"port": 0}]}, {"portDefinitions": [{"port": 10005, "protocol": "tcp"}]}, True),
    ({"portDefinitions": [{"port": 10000}]}, {"portDefinitions": [{"port": 10005}]}, False),
    ({"container": {"docker": {"image": "x"}}}, {"container": {"type": "DOCKER", "docker": {"image": "x"}}}, True),
    ({"labels": {"a": "1"}}, {"labels": {"a": "1", "b": "2"}}, False),
    ({"instances": 1}, {"instances": 1.0}, True),
    ({"requirePorts": False}, {"requirePorts": 0}, False),
    ({"constraints": [["hostname", "UNIQUE"]]}, {"constraints": [["hostname", "UNIQUE"], ["a", "LIKE", "b"]]}, False),
    ({"constraints": [["hostname", "UNIQUE"]]}, {"constraints": [["hostname", "UNIQUE", ""]]}, True),
    ({"constraints": [["rack", "LIKE", "r1"]]}, {"constraints": [["rack", "LIKE", "r2"]]}, False),
    ({"uris": ["http://x/a.tgz"]}, {"fetch": [{"uri": "http://x/a.tgz", "extract": True}]}, True),
    ({"uris": ["http://x/a.tgz"]}, {"fetch": [{"uri": "http://x/b.tgz"}]}, False),
    ({"ports": [0, 10002]}, {"portDefinitions": [{"port": 10001}, {"port": 10002}]}, True),
])
def test_comparison_rules(wanted, current, same):
    from ansible_collections.mesosphere.cluster.plugins.module_utils import _marathon
    assert (_marathon.differing_keys(wanted, current) == []) is same


def test_info_one_app(fake_http, run_module):
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body=TASKS)
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[{"id": "d", "affectedApps": ["/other"]}])
    result, failed = run_module(marathon_app_info.main, dict(marathon_endpoints=[MT], id="web"))
    assert not failed and result["exists"] is True and result["leader"] == MT
    assert result["apps"][0]["tasks"][0]["id"] == "web.1" and result["deployments"] == []
    assert fake_http.writes() == []


def test_info_all_apps_without_tasks(fake_http, run_module):
    leader(fake_http)
    fake_http.add("GET", MT + "/v2/apps", 200, body={"apps": [SERVER_APP]})
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[{"id": "d", "affectedApps": ["/web"]}])
    result, failed = run_module(marathon_app_info.main, dict(marathon_endpoints=[MT], tasks=False))
    assert not failed and [a["id"] for a in result["apps"]] == ["/web"] and len(result["deployments"]) == 1


def test_info_missing_and_unreachable(fake_http, run_module):
    leader(fake_http)
    app_missing(fake_http)
    fake_http.add("GET", MT + "/v2/deployments", 200, body=[])
    result, failed = run_module(marathon_app_info.main, dict(marathon_endpoints=[MT], id="web"))
    assert not failed and result["exists"] is False and result["apps"] == []
    fake_http.add("GET", MT + "/v2/leader", 502, body="Could not determine the current leader", repeat=True)
    result, failed = run_module(marathon_app_info.main, dict(marathon_endpoints=[MT], id="web", request_retries=0))
    assert failed and result["msg"].startswith("Could not read Marathon app /web: No Marathon leader is elected")


def test_warns_when_fewer_tasks_than_instances(fake_http, run_module, monkeypatch):
    from ansible.module_utils import basic
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    leader(fake_http)
    app_exists(fake_http)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", 200, body={"tasks": [TASKS["tasks"][0]]})
    result, failed = run(run_module, definition=DEFINITION)
    assert not failed and warnings == [
        "/web wants 2 instance(s) but 1 task(s) are running; see its tasks and lastTaskFailure in Marathon."]
