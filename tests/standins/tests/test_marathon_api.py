"""Marathon REST contract: status codes, bodies and headers of the RAML (v2/*.raml,
types/*.raml, examples/) and of the reference README notes 6-8."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import pytest
from fixtures import start_marathon
from framework_client import SSE, base_of, call, wait_for
from harness import free_port

DATA = json.loads((Path(__file__).resolve().parent.parent / "data" / "marathon_app_defaults.json").read_text())
LOCKED = ("App is locked by one or more deployments. Override with the option '?force=true'. "
          "View details at '/v2/deployments/{}'.")


@pytest.fixture(scope="module")
def cluster(standin_cluster):
    return standin_cluster


def leader_of(cluster) -> str:
    for proc in cluster.marathons:
        if proc.alive():
            reply = call(base_of(proc), "GET", "/v2/leader")
            if reply.status == 200:
                return reply.json["leader"]
    raise AssertionError("no Marathon leader")


def standby_of(cluster) -> str:
    leader = leader_of(cluster)
    return next(base_of(p) for p in cluster.marathons if p.alive() and base_of(p) != leader)


def new_id(prefix="contract") -> str:
    return f"/{prefix}/app-{uuid.uuid4().hex[:8]}"


def idle_app(app_id, **extra):
    """An app that needs no agent: 0 instances, deployments finish at once."""
    return {"id": app_id, "cmd": "sleep 1000", "instances": 0, "cpus": 0.01, "mem": 8, **extra}


def stuck_app(app_id):
    """An app that can never be placed, so its deployment stays running."""
    return {"id": app_id, "cmd": "sleep 1000", "instances": 1, "cpus": 1000, "mem": 8}


def wait_no_deployment(base, app_id, timeout=15):
    wait_for(lambda: call(base, "GET", f"/v2/apps{app_id}").json["app"]["deployments"] == [],
             timeout, what=f"deployments of {app_id} to finish")


# ---------------------------------------------------------------------------- apps


def test_post_creates_the_app_with_defaults_and_headers(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    reply = call(leader, "POST", "/v2/apps", {"id": app_id, "cmd": "sleep 1000", "instances": 0})
    assert reply.status == 201, reply.text
    # note 6: Location is the app id resolved against the base URI
    assert reply.headers["location"] == f"http://{leader}{app_id}"
    dep_id = reply.headers["marathon-deployment-id"]
    body = reply.json
    assert body["id"] == app_id
    assert body["deployments"] == [{"id": dep_id}]
    for key in DATA["counts"]:
        assert body[key] == 0
    for key, value in DATA["app"].items():
        if key != "instances":  # the one default this request sets
            assert body[key] == value, key
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["version"])
    assert body["versionInfo"] == {"lastScalingAt": body["version"], "lastConfigChangeAt": body["version"]}
    (pd,) = body["portDefinitions"]
    lo, hi = DATA["service_port_range"]
    assert lo <= pd["port"] <= hi
    assert {k: pd[k] for k in ("protocol", "name")} == DATA["default_port_definition"]
    assert reply.headers["x-marathon-leader"] == f"http://{leader}"


def test_post_existing_app_is_409(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    assert call(leader, "POST", "/v2/apps", idle_app(app_id)).status == 201
    reply = call(leader, "POST", "/v2/apps", idle_app(app_id))
    assert reply.status == 409
    assert reply.json == {"message": f"An app with id [{app_id}] already exists."}


def test_invalid_json_is_400(cluster):
    leader = leader_of(cluster)
    reply = call(leader, "POST", "/v2/apps", b"{not json")
    assert reply.status == 400
    assert reply.json["message"] == "Invalid JSON"
    reply = call(leader, "POST", "/v2/apps", {"id": 5, "cmd": "true"})
    assert reply.status == 400
    assert reply.json == {"message": "Invalid JSON",
                          "details": [{"path": "/id", "errors": ["error.expected.jsstring"]}]}


def test_validation_errors_are_422_with_details(cluster):
    leader = leader_of(cluster)
    reply = call(leader, "POST", "/v2/apps", {**idle_app(new_id()),
                                               "upgradeStrategy": {"minimumHealthCapacity": 2}})
    assert reply.status == 422
    assert reply.json["message"] == "Object is not valid"
    assert {"path": "/upgradeStrategy/minimumHealthCapacity", "errors": ["is greater than 1"]} in reply.json["details"]
    reply = call(leader, "POST", "/v2/apps", {"id": new_id(), "cmd": "true", "args": ["x"]})
    assert reply.status == 422
    reply = call(leader, "POST", "/v2/apps", {"id": "/Bad_Name", "cmd": "true"})
    assert reply.status == 422
    assert reply.json["details"][0]["path"] == "/id"
    reply = call(leader, "POST", "/v2/apps", {**idle_app(new_id()), "constraints": [["hostname", "SOMETIMES"]]})
    assert reply.status == 422


def test_get_app_and_list(cluster):
    leader = leader_of(cluster)
    app_id = new_id("listing")
    call(leader, "POST", "/v2/apps", idle_app(app_id, labels={"tier": "web"}))
    reply = call(leader, "GET", f"/v2/apps{app_id}")
    assert reply.status == 200
    app = reply.json["app"]
    assert app["id"] == app_id and app["tasks"] == [] and "tasksRunning" in app
    listed = call(leader, "GET", "/v2/apps?id=listing").json["apps"]
    assert app_id in [a["id"] for a in listed]
    assert all("tasks" not in a for a in listed)
    embedded = call(leader, "GET", "/v2/apps?embed=apps.tasks&label=tier==web").json["apps"]
    assert [a["id"] for a in embedded if a["id"] == app_id] == [app_id]
    assert all("tasks" in a and "deployments" in a for a in embedded)
    assert call(leader, "GET", "/v2/apps?label=tier==db").json["apps"] == [] or \
        app_id not in [a["id"] for a in call(leader, "GET", "/v2/apps?label=tier==db").json["apps"]]
    missing = call(leader, "GET", "/v2/apps/does/not/exist")
    assert missing.status == 404
    assert missing.json == {"message": "App '/does/not/exist' does not exist"}


def test_put_is_an_upsert(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    created = call(leader, "PUT", f"/v2/apps{app_id}", idle_app(app_id))
    assert created.status == 201
    assert set(created.json) == {"version", "deploymentId"}
    assert created.headers["marathon-deployment-id"] == created.json["deploymentId"]
    assert created.headers["location"].endswith(app_id)
    wait_no_deployment(leader, app_id)
    updated = call(leader, "PUT", f"/v2/apps{app_id}", {"env": {"A": "1"}})
    assert updated.status == 200
    assert set(updated.json) == {"version", "deploymentId"}
    app = call(leader, "GET", f"/v2/apps{app_id}").json["app"]
    assert app["env"] == {"A": "1"} and app["cmd"] == "sleep 1000"  # partialUpdate defaults to true
    assert app["version"] == updated.json["version"]


def test_patch_never_creates(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    reply = call(leader, "PATCH", f"/v2/apps{app_id}", {"instances": 0})
    assert reply.status == 404
    assert reply.json == {"message": f"App '{app_id}' does not exist"}
    call(leader, "POST", "/v2/apps", idle_app(app_id))
    wait_no_deployment(leader, app_id)
    reply = call(leader, "PATCH", f"/v2/apps{app_id}", {"labels": {"x": "y"}})
    assert reply.status == 200 and set(reply.json) == {"version", "deploymentId"}


def test_scaling_keeps_the_config_version(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    call(leader, "POST", "/v2/apps", idle_app(app_id))
    wait_no_deployment(leader, app_id)
    before = call(leader, "GET", f"/v2/apps{app_id}").json["app"]["versionInfo"]
    call(leader, "PUT", f"/v2/apps{app_id}", {"instances": 0, "labels": {}})
    after = call(leader, "GET", f"/v2/apps{app_id}").json["app"]["versionInfo"]
    assert after["lastConfigChangeAt"] == before["lastConfigChangeAt"]


def test_locked_app_is_409_with_the_exact_message(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    dep_id = call(leader, "POST", "/v2/apps", stuck_app(app_id)).headers["marathon-deployment-id"]
    reply = call(leader, "PUT", f"/v2/apps{app_id}", {"instances": 2})
    assert reply.status == 409
    assert reply.json == {"message": LOCKED.format(dep_id), "deployments": [{"id": dep_id}]}
    assert call(leader, "POST", f"/v2/apps{app_id}/restart").status == 409
    assert call(leader, "PATCH", f"/v2/apps{app_id}", {"instances": 2}).status == 409
    forced = call(leader, "PUT", f"/v2/apps{app_id}?force=true", {"instances": 1, "cpus": 999})
    assert forced.status == 200
    ids = [d["id"] for d in call(leader, "GET", "/v2/deployments").json]
    assert dep_id not in ids and forced.json["deploymentId"] in ids
    # DELETE defaults to force=true (note 7)
    deleted = call(leader, "DELETE", f"/v2/apps{app_id}")
    assert deleted.status == 200 and set(deleted.json) == {"version", "deploymentId"}
    wait_for(lambda: call(leader, "GET", f"/v2/apps{app_id}").status == 404, 15, what="app gone")


def test_delete_and_restart_of_missing_app_are_404(cluster):
    leader = leader_of(cluster)
    assert call(leader, "DELETE", "/v2/apps/not-there").json == {"message": "App '/not-there' does not exist"}
    reply = call(leader, "POST", "/v2/apps/not-there/restart")
    assert reply.status == 404 and reply.json == {"message": "App '/not-there' does not exist"}
    assert call(leader, "GET", "/v2/apps/not-there/tasks").status == 404


def test_restart_and_delete_create_deployments(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    call(leader, "POST", "/v2/apps", idle_app(app_id))
    wait_no_deployment(leader, app_id)
    before = call(leader, "GET", f"/v2/apps{app_id}").json["app"]["versionInfo"]["lastConfigChangeAt"]
    restart = call(leader, "POST", f"/v2/apps{app_id}/restart")
    assert restart.status == 200 and set(restart.json) == {"version", "deploymentId"}
    after = call(leader, "GET", f"/v2/apps{app_id}").json["app"]["versionInfo"]["lastConfigChangeAt"]
    assert after != before
    wait_no_deployment(leader, app_id)
    assert call(leader, "DELETE", f"/v2/apps{app_id}?force=false").status == 200
    wait_for(lambda: call(leader, "GET", f"/v2/apps{app_id}").status == 404, 15, what="app gone")


def test_task_lists(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    call(leader, "POST", "/v2/apps", idle_app(app_id))
    assert call(leader, "GET", f"/v2/apps{app_id}/tasks").json == {"tasks": []}
    tasks = call(leader, "GET", "/v2/tasks")
    assert tasks.status == 200 and isinstance(tasks.json["tasks"], list)
    assert call(leader, "GET", "/v2/tasks?status=running").status == 200
    plain = call(leader, "GET", "/v2/tasks", headers={"Accept": "text/plain"})
    assert plain.status == 200 and plain.headers["content-type"].startswith("text/plain")
    unknown = call(leader, "POST", "/v2/tasks/delete", {"ids": ["not_known"]})
    assert unknown.status == 400 and unknown.json == {"message": "Invalid task id not_known"}


# ---------------------------------------------------------------------------- deployments


def test_deployments_list_and_cancel(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    dep_id = call(leader, "POST", "/v2/apps", stuck_app(app_id)).headers["marathon-deployment-id"]
    (dep,) = [d for d in call(leader, "GET", "/v2/deployments").json if d["id"] == dep_id]
    assert dep["affectedApps"] == [app_id]
    assert set(dep) >= {"id", "version", "affectedApps", "affectedPods", "steps", "currentActions",
                        "currentStep", "totalSteps"}
    assert dep["steps"][0]["actions"] == [{"action": "StartApplication", "app": app_id}]
    assert dep["totalSteps"] == len(dep["steps"])
    wait_for(lambda: [d for d in call(leader, "GET", "/v2/deployments").json
                      if d["id"] == dep_id][0]["currentActions"][0]["action"] == "ScaleApplication",
             10, what="the scale step")
    missing = call(leader, "DELETE", "/v2/deployments/unknown_deployment")
    assert missing.status == 404
    assert missing.json == {"message": "DeploymentPlan unknown_deployment does not exist"}
    # without force: cancelled and rolled back by a new deployment (a new app: stopped)
    rollback = call(leader, "DELETE", f"/v2/deployments/{dep_id}")
    assert rollback.status == 200 and set(rollback.json) == {"deploymentId", "version"}
    wait_for(lambda: call(leader, "GET", f"/v2/apps{app_id}").status == 404, 15, what="rolled back")
    # with force: cancelled, no new deployment, 202 without body
    app2 = new_id()
    dep2 = call(leader, "POST", "/v2/apps", stuck_app(app2)).headers["marathon-deployment-id"]
    forced = call(leader, "DELETE", f"/v2/deployments/{dep2}?force=true")
    assert forced.status == 202 and forced.body == b""
    assert dep2 not in [d["id"] for d in call(leader, "GET", "/v2/deployments").json]
    call(leader, "DELETE", f"/v2/apps{app2}")


# ---------------------------------------------------------------------------- leader, info, misc


def test_leader_ping_info_metrics(cluster):
    leader = leader_of(cluster)
    for proc in cluster.marathons:
        reply = call(base_of(proc), "GET", "/v2/leader")
        assert reply.status == 200 and reply.json == {"leader": leader}
        assert reply.headers["x-marathon-leader"] == f"http://{leader}"
        ping = call(base_of(proc), "GET", "/ping")
        assert ping.status == 200 and ping.body == b"pong"
    assert call(leader, "GET", "/ping", headers={"Accept": "application/json"}).json == "pong"
    info = wait_for(lambda: (lambda j: j if j["frameworkId"] else None)(call(leader, "GET", "/v2/info").json),
                    20, what="a framework id")
    assert info["name"] == "marathon" and info["elected"] is True and info["leader"] == leader
    assert info["marathon_config"]["framework_name"] == "marathon"
    assert info["zookeeper_config"]["zk"].endswith("/marathon")
    assert info["http_config"]["http_port"] == int(leader.rsplit(":", 1)[1])
    metrics = call(leader, "GET", "/metrics").json
    assert set(metrics) >= {"version", "counters", "gauges", "histograms", "meters", "timers"}
    assert "value" in metrics["gauges"]["marathon.apps.active.gauge"]


def test_registered_as_framework_marathon(cluster):
    leader = leader_of(cluster)
    fid = wait_for(lambda: call(leader, "GET", "/v2/info").json["frameworkId"], 20, what="framework id")
    master = cluster.leading_master(timeout=10)
    frameworks = call(base_of(master), "GET", "/master/frameworks").json["frameworks"]
    (mine,) = [f for f in frameworks if f["id"] == fid]
    assert mine["name"] == "marathon" and mine["active"] is True


def test_standbys_proxy_and_redirect_events(cluster):
    leader, standby = leader_of(cluster), standby_of(cluster)
    app_id = new_id("proxied")
    reply = call(standby, "POST", "/v2/apps", idle_app(app_id))
    assert reply.status == 201
    assert reply.headers["x-marathon-leader"] == f"http://{leader}"
    assert call(leader, "GET", f"/v2/apps{app_id}").status == 200
    info = call(standby, "GET", "/v2/info")  # proxied: the leader's own answer
    assert info.json["elected"] is True and info.json["leader"] == leader
    # X-Marathon-Via names the instances a request passed; a standby never forwards twice
    looped = call(standby, "GET", "/v2/apps", headers={"X-Marathon-Via": f"1.1 {standby}"})
    assert looped.status == 502
    events = call(standby, "GET", "/v2/events?event_type=deployment_info",
                  headers={"Accept": "text/event-stream"})
    assert events.status == 302
    assert events.headers["location"] == f"http://{leader}/v2/events?event_type=deployment_info"


def test_events_stream(cluster):
    leader = leader_of(cluster)
    stream = SSE(leader)
    try:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        name, data = next(stream.events())
        assert name == "event_stream_attached" and data["eventType"] == name and "timestamp" in data
        app_id = new_id("events")
        call(leader, "POST", "/v2/apps", idle_app(app_id))
        _, api = stream.wait(lambda n, d: n == "api_post_event" and d["appDefinition"]["id"] == app_id)
        assert api["uri"] == "/v2/apps" and "clientIp" in api
        _, info = stream.wait(lambda n, d: n == "deployment_info"
                              and d["plan"]["steps"][0]["actions"][0]["app"] == app_id)
        assert info["plan"]["target"]["apps"][0]["id"] == app_id and info["plan"]["original"]["apps"] == []
        dep_id = info["plan"]["id"]
        assert info["currentStep"]["actions"][0]["type"] == "StartApplication"
        stream.wait(lambda n, d: n == "deployment_step_success" and d["plan"]["id"] == dep_id)
        stream.wait(lambda n, d: n == "deployment_success" and d["id"] == dep_id)
    finally:
        stream.close()
    filtered = SSE(leader, "/v2/events?event_type=deployment_success")
    try:
        call(leader, "POST", "/v2/apps", idle_app(new_id("events")))
        name, _ = next(filtered.events())
        assert name == "deployment_success"
    finally:
        filtered.close()


# ---------------------------------------------------------------------------- own processes


def test_standby_without_reachable_leader_is_502(cluster):
    """A latch node that names a dead leader: the standby cannot proxy (note 8: 502)."""
    zk_path = f"/marathon-{uuid.uuid4().hex[:6]}"
    zk = cluster.zk.client()
    try:
        dead = f"127.0.0.1:{free_port()}"
        zk.create(f"{zk_path}/leader-curator/_c_{uuid.uuid4()}-latch-", dead.encode(), sequence=True, makepath=True)
        proc = start_marathon(cluster, f"marathon-502-{zk_path[-6:]}", zk_path=zk_path)
        try:
            proc.wait_http("/ping", timeout=20)
            base = base_of(proc)
            assert call(base, "GET", "/v2/leader").status == 502
            assert call(base, "GET", "/v2/apps").status == 502
            redirect = call(base, "GET", "/v2/events")
            assert redirect.status == 302 and redirect.headers["location"] == f"http://{dead}/v2/events"
        finally:
            proc.kill()
    finally:
        zk.stop()
        zk.close()


def test_http_credentials(cluster):
    zk_path = f"/marathon-auth-{uuid.uuid4().hex[:6]}"
    proc = start_marathon(cluster, f"marathon-auth-{zk_path[-6:]}", zk_path=zk_path,
                          extra_args=["--http_credentials=ops:s3cret", "--framework_name=marathon-auth-test"])
    try:
        proc.wait_http("/ping", timeout=20, statuses=(200,))
        base = base_of(proc)
        denied = call(base, "GET", "/v2/apps")
        assert denied.status == 401
        assert denied.headers["www-authenticate"] == 'Basic realm="Mesosphere"'
        token = base64.b64encode(b"ops:s3cret").decode()
        assert call(base, "GET", "/v2/apps", headers={"Authorization": f"Basic {token}"}).status == 200
    finally:
        proc.kill()


def test_disable_ha_leads_at_once(cluster):
    zk_path = f"/marathon-noha-{uuid.uuid4().hex[:6]}"
    proc = start_marathon(cluster, f"marathon-noha-{zk_path[-6:]}", zk_path=zk_path,
                          extra_args=["--disable_ha", "--framework_name=marathon-noha-test"])
    try:
        proc.wait_http("/ping", timeout=20, statuses=(200,))
        base = base_of(proc)
        assert call(base, "GET", "/v2/leader").json == {"leader": base}
        assert call(base, "GET", "/v2/info").json["marathon_config"]["ha"] is False
        zk = cluster.zk.client()
        try:
            assert not zk.exists(f"{zk_path}/leader-curator") or not zk.get_children(f"{zk_path}/leader-curator")
        finally:
            zk.stop()
            zk.close()
    finally:
        proc.kill()
