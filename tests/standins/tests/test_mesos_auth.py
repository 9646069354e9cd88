"""HTTP authentication of the Mesos stand-ins (authentication.md,
configuration/master.md --credentials, the AUTHENTICATION sections of
endpoints/master/*.md): basic authentication per realm, only when the
realm's --authenticate_http_* flag is set."""

import json

import pytest
from harness import StandinProcess, free_port

from mesosphere_standins._common import http_request, wait_until

GOOD = ("ops", "s3cret")
BAD = ("ops", "wrong")


@pytest.fixture(params=["json", "text"])
def credentials(request, tmp_path):
    path = tmp_path / "credentials"
    if request.param == "json":
        path.write_text(json.dumps({"credentials": [{"principal": GOOD[0], "secret": GOOD[1]}]}))
        return f"file://{path}"
    path.write_text(f"{GOOD[0]} {GOOD[1]}\n")
    return str(path)


def master(tmp_path, *extra):
    port = free_port()
    args = [f"--work_dir={tmp_path / 'work'}", "--ip=127.0.0.1", f"--port={port}", "--hostname=127.0.0.1", *extra]
    proc = StandinProcess("mesos_master", args, port=port, log_path=tmp_path / "master.log")
    proc.wait_http("/master/health")
    return proc


def status(proc, path, auth=None, method="GET", body=None):
    return http_request(method, proc.url(path), body, auth=auth).status


def test_readonly_realm(tmp_path, credentials):
    proc = master(tmp_path, f"--credentials={credentials}", "--authenticate_http_readonly")
    try:
        assert wait_until(lambda: status(proc, "/master/state", GOOD) == 200, 10)
        for path in ("/master/state", "/master/slaves", "/master/frameworks", "/master/tasks", "/master/flags",
                     "/metrics/snapshot", "/master/maintenance/status", "/state.json"):
            result = http_request("GET", proc.url(path))
            assert result.status == 401, path
            assert result.headers["www-authenticate"] == 'Basic realm="mesos-master-readonly"'
            assert status(proc, path, BAD) == 401, path
            assert status(proc, path, GOOD) == 200, path
        # never authenticated
        for path in ("/master/health", "/health", "/version", "/master/redirect"):
            assert status(proc, path) in (200, 307), path
        # readwrite realm not enabled: no credentials needed
        assert status(proc, "/master/maintenance/schedule") == 200
        assert status(proc, "/master/maintenance/schedule", method="POST", body={}) == 200
    finally:
        proc.kill()


def test_readwrite_realm(tmp_path, credentials):
    proc = master(tmp_path, f"--credentials={credentials}", "--authenticate_http_readwrite")
    try:
        assert wait_until(lambda: status(proc, "/master/state") == 200, 10)
        for path, method, body in (("/master/maintenance/schedule", "GET", None),
                                   ("/master/maintenance/schedule", "POST", {}),
                                   ("/master/machine/down", "POST", [{"hostname": "x"}]),
                                   ("/master/machine/up", "POST", [{"hostname": "x"}]),
                                   ("/master/teardown", "POST", "frameworkId=none")):
            result = http_request(method, proc.url(path), body)
            assert result.status == 401, path
            assert result.headers["www-authenticate"] == 'Basic realm="mesos-master-readwrite"'
            assert status(proc, path, GOOD, method, body) != 401, path
        assert status(proc, "/master/state") == 200  # readonly realm off
    finally:
        proc.kill()


def test_agent_readonly_realm(tmp_path, credentials):
    port = free_port()
    http_credentials = tmp_path / "http_credentials"
    http_credentials.write_text(json.dumps({"credentials": [{"principal": GOOD[0], "secret": GOOD[1]}]}))
    args = ["--master=127.0.0.1:1", f"--work_dir={tmp_path / 'agent'}", "--ip=127.0.0.1", f"--port={port}",
            f"--http_credentials={http_credentials}", "--authenticate_http_readonly"]
    with StandinProcess("mesos_agent", args, port=port) as proc:
        proc.wait_http("/health")
        for path in ("/state", "/flags", "/metrics/snapshot"):
            result = http_request("GET", proc.url(path))
            assert result.status == 401
            assert result.headers["www-authenticate"] == 'Basic realm="mesos-agent-readonly"'
            assert status(proc, path, GOOD) == 200
        assert status(proc, "/health") == 200


# -- framework and agent authentication, the local authorizer (authentication.md, authorization.md)


SCHEDULER = "/api/v1/scheduler"
ADMIN = ("admin", "adm1n+=!")
WRONG = ("ops", "n0t-th3-s3cret")


def credentials_file(tmp_path, *pairs):
    path = tmp_path / "master-credentials.json"
    path.write_text(json.dumps({"credentials": [{"principal": p, "secret": s} for p, s in pairs]}))
    return path


def subscribe(proc, name, auth=None, **info):
    framework_info = {"name": name, "user": "nobody", "hostname": "127.0.0.1", **info}
    call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}}
    return http_request("POST", proc.url(SCHEDULER), call, auth=auth)


def frameworks(proc):
    return {f["name"]: f for f in http_request("GET", proc.url("/master/frameworks")).json()["frameworks"]}


def test_frameworks_authenticate_with_a_known_principal_and_its_secret(tmp_path):
    creds = credentials_file(tmp_path, GOOD, ADMIN)
    proc = master(tmp_path, f"--credentials={creds}", "--authenticate_frameworks")
    try:
        assert wait_until(lambda: status(proc, "/master/state") == 200, 10)
        assert subscribe(proc, "anonymous").status == 401
        assert subscribe(proc, "wrong-secret", WRONG, principal=GOOD[0]).status == 401
        assert subscribe(proc, "unknown", ("nobody", "x"), principal="nobody").status == 401
        mismatch = subscribe(proc, "mismatch", GOOD, principal=ADMIN[0])
        assert mismatch.status == 403 and "does not match authenticated principal" in mismatch.text
        assert subscribe(proc, "good", GOOD, principal=GOOD[0]).status == 200
        assert set(frameworks(proc)) == {"good"}
        # every later call carries the same credential
        fid = frameworks(proc)["good"]["id"]
        call = {"type": "REVIVE", "framework_id": {"value": fid}}
        assert http_request("POST", proc.url(SCHEDULER), call).status == 401
        assert http_request("POST", proc.url(SCHEDULER), call, auth=GOOD).status == 202
        log = proc.log_text()
        assert "Refusing subscription of framework 'anonymous' at" in log and "it is not authenticated" in log
        assert "Authentication of subscription of framework 'wrong-secret' at 127.0.0.1" in log
        assert f"with principal '{GOOD[0]}' failed" in log
        assert WRONG[1] not in log and GOOD[1] not in log
    finally:
        proc.kill()


def test_without_authenticate_frameworks_a_credential_offered_is_still_checked(tmp_path):
    proc = master(tmp_path, f"--credentials={credentials_file(tmp_path, GOOD)}")
    try:
        assert wait_until(lambda: status(proc, "/master/state") == 200, 10)
        assert subscribe(proc, "anonymous").status == 200
        assert subscribe(proc, "wrong", BAD, principal=GOOD[0]).status == 401
        assert subscribe(proc, "right", GOOD, principal=GOOD[0]).status == 200
        assert set(frameworks(proc)) == {"anonymous", "right"}
    finally:
        proc.kill()


@pytest.mark.parametrize("flag", ["--authenticate_frameworks", "--authenticate_agents"])
def test_authentication_without_credentials_is_refused_at_start(tmp_path, flag):
    port = free_port()
    proc = StandinProcess("mesos_master", [f"--work_dir={tmp_path}", "--ip=127.0.0.1", f"--port={port}", flag],
                          port=port, log_path=tmp_path / "master.log")
    assert proc.wait(15) not in (0, None)
    assert f"{flag} needs --credentials" in proc.log_text()


def agent_with(tmp_path, master_proc, name, *extra):
    port = free_port()
    args = [f"--master=127.0.0.1:{master_proc.port}", f"--work_dir={tmp_path / name / 'work'}", "--ip=127.0.0.1",
            f"--port={port}", f"--hostname={name}", *extra]
    proc = StandinProcess("mesos_agent", args, port=port, log_path=tmp_path / f"{name}.log")
    proc.wait_http("/health")
    return proc


def test_agents_authenticate_with_their_credential(tmp_path):
    agent_secret = ("agent", "ag3nt=+!")
    creds = credentials_file(tmp_path, agent_secret)
    proc = master(tmp_path, f"--credentials={creds}", "--authenticate_agents")
    right, wrong = tmp_path / "right.json", tmp_path / "wrong.txt"
    right.write_text(json.dumps({"principal": agent_secret[0], "secret": agent_secret[1]}))
    wrong.write_text(f"{agent_secret[0]} nope\n")
    agents = []
    try:
        agents.append(agent_with(tmp_path, proc, "anonymous"))
        agents.append(agent_with(tmp_path, proc, "wrong", f"--credential={wrong}"))
        agents.append(agent_with(tmp_path, proc, "right", f"--credential=file://{right}"))

        def hostnames():
            return sorted(s["hostname"] for s in http_request("GET", proc.url("/master/slaves")).json()["slaves"])

        assert wait_until(lambda: hostnames() == ["right"], 20), hostnames()
        assert wait_until(lambda: "Authentication of registration of agent wrong:" in proc.log_text(), 10)
        assert wait_until(lambda: "Refusing registration of agent anonymous:" in proc.log_text(), 10)
        log = proc.log_text()
        assert "it is not authenticated" in log
        assert "refused authentication" in agents[1].log_text()
        assert hostnames() == ["right"]  # still refused after their retries
        assert agent_secret[1] not in log
    finally:
        for agent in agents:
            agent.kill()
        proc.kill()


ACLS = {
    # only analytics-fw may register for the role analytics
    "register_frameworks": [
        {"principals": {"values": ["analytics-fw"]}, "roles": {"values": ["analytics"]}},
        {"principals": {"type": "NONE"}, "roles": {"values": ["analytics"]}},
    ],
    # no framework may run tasks as root
    "run_tasks": [{"principals": {"type": "NONE"}, "users": {"values": ["root"]}}],
    # only admin may tear frameworks down (authorization.md's corrected example)
    "teardown_frameworks": [
        {"principals": {"values": ["admin"]}, "framework_principals": {"type": "ANY"}},
        {"principals": {"type": "NONE"}, "framework_principals": {"type": "ANY"}},
    ],
}


def test_acls_decide_registration_launches_and_teardown(tmp_path):
    analytics, other = ("analytics-fw", "an4lytics"), ("other-fw", "0ther")
    acls = tmp_path / "acls.json"
    acls.write_text(json.dumps(ACLS))
    proc = master(tmp_path, f"--credentials={credentials_file(tmp_path, analytics, other, ADMIN, GOOD)}",
                  f"--acls={acls}")
    agent = agent_with(tmp_path, proc, "agent-1", "--resources=cpus:2;mem:512;disk:100;ports:[31000-31010]")
    try:
        assert wait_until(lambda: len(http_request("GET", proc.url("/master/slaves")).json()["slaves"]) == 1, 20)
        agent_id = http_request("GET", proc.url("/master/slaves")).json()["slaves"][0]["id"]
        # register_frameworks
        refused = subscribe(proc, "other-on-analytics", other, principal=other[0], roles=["analytics"])
        assert refused.status == 403, refused.text
        assert subscribe(proc, "other-elsewhere", other, principal=other[0], roles=["web"]).status == 200
        assert subscribe(proc, "analytics", analytics, principal=analytics[0], roles=["analytics"]).status == 200
        assert "principal 'other-fw' is not authorized to register_frameworks 'analytics'" in proc.log_text()
        # run_tasks: the task's user, else the framework's
        fid = frameworks(proc)["other-elsewhere"]["id"]

        def launch(task_id, **command):
            ti = {"name": task_id, "task_id": {"value": task_id}, "agent_id": {"value": agent_id},
                  "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                                {"name": "mem", "type": "SCALAR", "scalar": {"value": 16}}],
                  "command": {"value": "sleep 300", **command}}
            call = {"type": "ACCEPT", "framework_id": {"value": fid},
                    "accept": {"operations": [{"type": "LAUNCH", "launch": {"task_infos": [ti]}}]}}
            assert http_request("POST", proc.url(SCHEDULER), call, auth=other).status == 202

        def task(task_id):
            tasks = http_request("GET", proc.url("/master/tasks")).json()["tasks"]
            return next((t for t in tasks if t["id"] == task_id), None)

        launch("as-root", user="root")
        launch("as-nobody")
        assert wait_until(lambda: (task("as-root") or {}).get("state") == "TASK_ERROR", 10)
        assert wait_until(lambda: (task("as-nobody") or {}).get("state") == "TASK_RUNNING", 20)
        reason = task("as-root")["statuses"][-1]
        assert reason.get("reason") == "REASON_TASK_UNAUTHORIZED", reason
        # teardown_frameworks: the operator's name
        body = f"frameworkId={fid}"
        assert http_request("POST", proc.url("/master/teardown"), body, auth=GOOD).status == 403
        # (an operator who does not authenticate has no name: ANY, which neither rule names, so
        # `permissive` would decide; --authenticate_http_readwrite is what makes operators log in)
        assert "other-elsewhere" in frameworks(proc)
        assert http_request("POST", proc.url("/master/teardown"), body, auth=ADMIN).status == 200
        assert "other-elsewhere" not in frameworks(proc)
    finally:
        agent.kill()
        proc.kill()


@pytest.mark.parametrize("acls, message", [
    ({"reserve_resources": []}, "ACLs for 'reserve_resources' are not decided by this stand-in"),
    ({"run_tasks": [{"principals": {"type": "ANY"}}]}, "each 'run_tasks' rule has exactly 'principals' and 'users'"),
    ({"permissive": "no"}, "'permissive' must be true or false"),
])
def test_acls_the_stand_in_cannot_decide_are_refused_at_start(tmp_path, acls, message):
    port = free_port()
    proc = StandinProcess("mesos_master", [f"--work_dir={tmp_path}", "--ip=127.0.0.1", f"--port={port}",
                                           f"--acls={json.dumps(acls)}"], port=port, log_path=tmp_path / "m.log")
    assert proc.wait(15) not in (0, None)
    assert message in proc.log_text()
