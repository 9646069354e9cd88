"""marathon_drain: kills the tasks on the agents, waits until the apps run elsewhere."""

from ansible_collections.mesosphere.cluster.plugins.modules import marathon_drain

MT = "http://mt1:8080"
BASE = dict(marathon_endpoints=[MT], poll_interval=1, wait_timeout=10)
APP = {"id": "/web", "instances": 2, "healthChecks": [{"protocol": "HTTP"}]}
OTHER = {"id": "/batch", "instances": 1}


def task(app, task_id, host, state="TASK_RUNNING", healthy=True):
    out = {"appId": app, "id": task_id, "host": host, "state": state, "ports": [31000]}
    if healthy is not None:
        out["healthCheckResults"] = [{"alive": healthy}]
    return out


def leader(fake):
    fake.add("GET", MT + "/v2/leader", 200, body={"leader": "mt1:8080"})


def run(run_module, check_mode=False, **args):
    return run_module(marathon_drain.main, dict(BASE, hosts=["A1"], **args), check_mode=check_mode)


def test_nothing_on_the_agents_changes_nothing(fake_http, run_module):
    leader(fake_http)
    fake_http.add("GET", MT + "/v2/tasks", body={"tasks": [task("/web", "w.1", "a2"),
                                                           task("/web", "w.2", "a1", state="TASK_KILLED")]})
    result, failed = run(run_module)
    assert not failed and result["changed"] is False and result["moved"] == []
    assert fake_http.writes() == []


def test_check_mode_reports_and_kills_nothing(fake_http, run_module):
    leader(fake_http)
    fake_http.add("GET", MT + "/v2/tasks", body={"tasks": [task("/web", "w.1", "a1"), task("/web", "w.2", "a2")]})
    result, failed = run(run_module, check_mode=True)
    assert not failed and result["changed"] is True
    assert result["moved"] == [{"app": "/web", "id": "w.1", "host": "a1"}]
    assert fake_http.writes() == []


def test_kills_without_scaling_and_waits_for_healthy_replacements(fake_http, run_module):
    leader(fake_http)
    fake_http.add("GET", MT + "/v2/tasks", body={"tasks": [
        task("/web", "w.1", "a1"), task("/web", "w.2", "a2"), task("/batch", "b.1", "a1", healthy=None)]})
    fake_http.add("DELETE", MT + "/v2/apps/batch/tasks?host=a1&scale=false", body={"tasks": []})
    fake_http.add("DELETE", MT + "/v2/apps/web/tasks?host=a1&scale=false", body={"tasks": []})
    # /batch: its replacement runs at the first look
    fake_http.add("GET", MT + "/v2/apps/batch", body={"app": OTHER}, repeat=True)
    fake_http.add("GET", MT + "/v2/apps/batch/tasks", body={"tasks": [task("/batch", "b.2", "a3", healthy=None)]},
                  repeat=True)
    # /web: first the killed task still shows, then a replacement that is not healthy yet, then healthy
    fake_http.add("GET", MT + "/v2/apps/web", body={"app": APP}, repeat=True)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", body={"tasks": [task("/web", "w.1", "a1", state="TASK_KILLING"),
                                                                    task("/web", "w.2", "a2")]})
    fake_http.add("GET", MT + "/v2/apps/web/tasks", body={"tasks": [task("/web", "w.2", "a2"),
                                                                    task("/web", "w.3", "a3", healthy=False)]})
    fake_http.add("GET", MT + "/v2/apps/web/tasks", body={"tasks": [task("/web", "w.2", "a2"),
                                                                    task("/web", "w.3", "a3")]}, repeat=True)
    result, failed = run(run_module)
    assert not failed, result
    assert result["changed"] is True
    assert sorted(m["id"] for m in result["moved"]) == ["b.1", "w.1"]
    assert [w[0:2] for w in fake_http.writes()] == [
        ("DELETE", MT + "/v2/apps/batch/tasks?host=a1&scale=false"),
        ("DELETE", MT + "/v2/apps/web/tasks?host=a1&scale=false")]
    assert {a["id"]: a["hosts"] for a in result["apps"]} == {"/batch": ["a3"], "/web": ["a2", "a3"]}
    assert len(fake_http.slept) == 2  # /web needed three looks


def test_no_room_elsewhere_times_out_with_a_sentence(fake_http, run_module):
    leader(fake_http)
    fake_http.add("GET", MT + "/v2/tasks", body={"tasks": [task("/web", "w.1", "a1"), task("/web", "w.2", "a2")]})
    fake_http.add("DELETE", MT + "/v2/apps/web/tasks?host=a1&scale=false", body={"tasks": []})
    fake_http.add("GET", MT + "/v2/apps/web", body={"app": APP}, repeat=True)
    fake_http.add("GET", MT + "/v2/apps/web/tasks", body={"tasks": [task("/web", "w.2", "a2")]}, repeat=True)
    result, failed = run(run_module)
    assert failed and result["changed"] is True
    assert "Timed out after 10s waiting for /web to run its instances on other agents" in result["msg"]
    assert "/web runs 1 of 2 instances healthy elsewhere" in result["msg"]
    assert "maintenance window" in result["msg"]


def test_an_unreachable_marathon_fails_naming_the_agents(fake_http, run_module):
    fake_http.add("GET", MT + "/v2/leader", error=OSError("connection refused"), repeat=True)
    result, failed = run(run_module)
    assert failed and "Could not move the Marathon tasks off a1" in result["msg"]
    assert fake_http.writes() == []
