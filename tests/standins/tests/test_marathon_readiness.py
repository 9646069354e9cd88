"""Readiness checks of the Marathon stand-in (readiness-checks.md, types/readinessCheck.raml,
deploymentEventsInfo.raml, app.raml readinessCheckResults): defaults and validation, a
deployment that stays open while its new tasks answer 503 on the readiness path (old tasks
stay alive), and finishes once they answer 200; the results in embed=app.readiness /
apps.readiness and in /v2/deployments currentActions."""

from __future__ import annotations

import time
import uuid

import pytest
from framework_client import SSE, base_of, call, wait_for

# The task answers its readiness path with 200 once the file $READY_FILE exists, 503 before;
# every other path with its task id. The test flips readiness by creating the file.
SERVER = r"""
import http.server, os
flag = os.environ["READY_FILE"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ready":
            code = 200 if os.path.exists(flag) else 503
            body = b"ready" if code == 200 else b"warming up"
        else:
            code, body = 200, os.environ["MESOS_TASK_ID"].encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def cluster(standin_cluster):
    return standin_cluster


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("readiness") / "server.py"
    path.write_text(SERVER)
    return path


def leader_of(cluster) -> str:
    for proc in cluster.marathons:
        if proc.alive():
            reply = call(base_of(proc), "GET", "/v2/leader")
            if reply.status == 200:
                return reply.json["leader"]
    raise AssertionError("no Marathon leader")


def new_id() -> str:
    return f"/readiness/app-{uuid.uuid4().hex[:8]}"


CHECK = {"name": "warm", "path": "/ready", "portName": "http", "intervalSeconds": 2, "timeoutSeconds": 1,
         "httpStatusCodesForReady": [200], "preserveLastResponse": True}


def ready_app(app_id, server, flag, instances=1, **extra):
    return {"id": app_id, "cmd": f"exec python3 {server}", "instances": instances, "cpus": 0.1, "mem": 16,
            "env": {"READY_FILE": str(flag)},
            "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
            "readinessChecks": [CHECK],
            "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0}, **extra}


def app_state(leader, app_id, embed="app.tasks,app.readiness,app.deployments"):
    return call(leader, "GET", f"/v2/apps{app_id}?embed={embed}").json["app"]


def running(app):
    return {t["id"] for t in app.get("tasks", []) if t["state"] == "TASK_RUNNING"}


def deployment_of(leader, app_id):
    return next((d for d in call(leader, "GET", "/v2/deployments").json if app_id in d["affectedApps"]), None)


def delete_app(leader, app_id):
    call(leader, "DELETE", f"/v2/apps{app_id}")
    wait_for(lambda: call(leader, "GET", f"/v2/apps{app_id}").status == 404 and not [
        t for t in call(leader, "GET", "/v2/tasks").json["tasks"] if t["appId"] == app_id], 30,
        what=f"{app_id} and its tasks gone")


# ------------------------------------------------------------------------------------------


def test_defaults_and_validation(cluster):
    leader = leader_of(cluster)
    app_id = new_id()
    base = {"id": app_id, "cmd": "sleep 1000", "instances": 0,
            "portDefinitions": [{"port": 0, "name": "http-api"}]}
    try:
        reply = call(leader, "POST", "/v2/apps", dict(base, readinessChecks=[{}]))
        assert reply.status == 201, reply.text
        assert reply.json["readinessChecks"] == [{
            "name": "readinessCheck", "protocol": "HTTP", "path": "/", "portName": "http-api",
            "intervalSeconds": 30, "timeoutSeconds": 10, "httpStatusCodesForReady": [200],
            "preserveLastResponse": False}]
        assert app_state(leader, app_id)["readinessCheckResults"] == []
    finally:
        call(leader, "DELETE", f"/v2/apps{app_id}")

    cases = [
        ({"intervalSeconds": 5, "timeoutSeconds": 5}, "/readinessChecks(0)/timeoutSeconds",
         "smaller than intervalSeconds"),
        ({"portName": "nope"}, "/readinessChecks(0)/portName", "'nope'"),
        ({"protocol": "TCP"}, "/readinessChecks(0)/protocol", "enum"),
        ({"httpStatusCodesForReady": []}, "/readinessChecks(0)/httpStatusCodesForReady", "non-empty"),
    ]
    for check, path, text in cases:
        reply = call(leader, "POST", "/v2/apps", dict(base, id=new_id(), readinessChecks=[check]))
        assert reply.status == 422, (check, reply.text)
        details = {d["path"]: " ".join(d["errors"]) for d in reply.json["details"]}
        assert text in details.get(path, ""), (check, details)
    reply = call(leader, "POST", "/v2/apps", dict(base, id=new_id(), readinessChecks=[{}, {}]))
    assert reply.status == 422 and "/readinessChecks" in {d["path"] for d in reply.json["details"]}


def test_start_waits_for_ready_and_results_are_embedded(cluster, server, tmp_path):
    leader = leader_of(cluster)
    app_id = new_id()
    flag = tmp_path / "ready"
    stream = SSE(leader, "/v2/events?event_type=deployment_info")
    try:
        reply = call(leader, "POST", "/v2/apps", ready_app(app_id, server, flag))
        assert reply.status == 201, reply.text
        dep_id = reply.headers["marathon-deployment-id"]
        # the task runs, answers 503 on /ready: not ready, the deployment stays open
        app = wait_for(lambda: (a := app_state(leader, app_id))["readinessCheckResults"]
                       and a["readinessCheckResults"][0].get("lastResponse") and a, 30,
                       what="a readiness answer")
        (task_id,) = running(app)
        result = app["readinessCheckResults"][0]
        assert result == {"name": "warm", "taskId": task_id, "ready": False,
                          "lastResponse": {"status": 503, "contentType": "text/plain", "body": "warming up"}}
        dep = deployment_of(leader, app_id)
        assert dep["id"] == dep_id
        assert dep["currentActions"][0]["action"] == "ScaleApplication"
        assert dep["currentActions"][0]["readinessCheckResults"] == [result]
        listed = call(leader, "GET", "/v2/apps?embed=apps.readiness").json["apps"]
        assert [a["readinessCheckResults"] for a in listed if a["id"] == app_id] == [[result]]
        assert "readinessCheckResults" not in call(leader, "GET", "/v2/apps").json["apps"][0]

        flag.write_text("")
        # the change of readiness is told as a deployment_info carrying the results
        _, info = stream.wait(lambda n, d: d["plan"]["id"] == dep_id and any(
            r["ready"] for a in d["currentStep"]["actions"] for r in a["readinessCheckResults"]), 15)
        assert info["currentStep"]["actions"][0]["readinessCheckResults"][0]["lastResponse"]["status"] == 200
        wait_for(lambda: deployment_of(leader, app_id) is None, 15, what="the deployment to finish")
        app = app_state(leader, app_id)
        assert running(app) == {task_id}
        assert app["readinessCheckResults"] == []  # readiness is checked during deployments only
    finally:
        stream.close()
        delete_app(leader, app_id)


def test_restart_keeps_old_tasks_until_new_ones_are_ready(cluster, server, tmp_path):
    leader = leader_of(cluster)
    app_id = new_id()
    v1_flag, v2_flag = tmp_path / "v1", tmp_path / "v2"
    v1_flag.write_text("")
    try:
        call(leader, "POST", "/v2/apps", ready_app(app_id, server, v1_flag, instances=2))
        wait_for(lambda: deployment_of(leader, app_id) is None and len(running(app_state(leader, app_id))) == 2,
                 60, what="v1 ready")
        old = running(app_state(leader, app_id))

        reply = call(leader, "PUT", f"/v2/apps{app_id}", {"env": {"READY_FILE": str(v2_flag)}})
        assert reply.status == 200, reply.text
        dep_id = reply.json["deploymentId"]
        # two new tasks run (maximumOverCapacity 1) and are checked; all answer 503
        app = wait_for(lambda: (a := app_state(leader, app_id))
                       and len([r for r in a["readinessCheckResults"] if "lastResponse" in r]) == 2 and a,
                       30, what="both new tasks checked")
        new = running(app) - old
        assert len(new) == 2
        assert {r["taskId"] for r in app["readinessCheckResults"]} == new
        assert not any(r["ready"] for r in app["readinessCheckResults"])
        # several check intervals later: still deploying, the old tasks still run
        for _ in range(3):
            time.sleep(1.5)
            app = app_state(leader, app_id)
            assert old <= running(app), "an old task was killed before a new one was ready"
            dep = deployment_of(leader, app_id)
            assert dep and dep["id"] == dep_id
            assert dep["currentActions"][0]["action"] == "RestartApplication"
            assert {r["taskId"] for r in dep["currentActions"][0]["readinessCheckResults"]} == new

        v2_flag.write_text("")
        wait_for(lambda: deployment_of(leader, app_id) is None, 30, what="the restart to finish")
        app = app_state(leader, app_id)
        wait_for(lambda: running(app_state(leader, app_id)) == new, 15, what="only the new tasks left")
        assert app["readinessCheckResults"] == []
    finally:
        delete_app(leader, app_id)
