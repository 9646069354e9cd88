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
