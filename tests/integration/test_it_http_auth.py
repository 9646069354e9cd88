"""HTTP basic authentication end to end: a Mesos master that requires it (its own one-master
cluster on its own ZooKeeper path), read and written by the modules with and without
credentials. The password never shows in a result."""

import base64
import json
import urllib.request

import pytest
from integration_helpers import http_json, start_mesos_master

SECRET = "s3cret-itest"


@pytest.fixture
def auth_master(standin_cluster, tmp_path):
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": SECRET}]}))
    creds.chmod(0o600)
    proc = start_mesos_master(standin_cluster.zk.url("/mesos-itest-auth"), tmp_path / "m" / "work", quorum=1,
                              extra_args=["--authenticate_http_readonly", "--authenticate_http_readwrite",
                                          "--credentials=%s" % creds], name="authmaster")
    try:
        proc.wait_http("/master/health", timeout=30)
        yield proc.url("").rstrip("/")
    finally:
        proc.kill()


def test_basic_auth(auth_master, ansible_module):
    machine = [{"hostname": "auth-test.invalid", "ip": "10.255.1.1"}]
    denied = ansible_module("mesos_maintenance", dict(mesos_endpoints=[auth_master], machines=machine,
                                                      request_retries=0))
    assert denied["failed"] is True
    assert denied["msg"].startswith("Could not set the maintenance of auth-test.invalid to scheduled: GET ")
    assert "answered HTTP 401" in denied["msg"]

    wrong = ansible_module("mesos_info", dict(mesos_endpoints=[auth_master], mesos_username="ops",
                                              mesos_password="not-it", zookeeper=False, request_retries=0))
    assert "HTTP 401" in json.dumps(wrong)

    args = dict(mesos_endpoints=[auth_master], mesos_username="ops", mesos_password=SECRET, machines=machine)
    done = ansible_module("mesos_maintenance", args)
    assert not done.get("failed"), done.get("msg")
    assert done["changed"] is True and done["machines"][0]["mode"] == "DRAINING"
    assert ansible_module("mesos_maintenance", args)["changed"] is False
    info = ansible_module("mesos_info", dict(mesos_endpoints=[auth_master], mesos_username="ops",
                                             mesos_password=SECRET, zookeeper=False))
    assert not info.get("failed"), info.get("msg")
    assert info["maintenance"]["status"]["draining_machines"][0]["id"]["hostname"] == "auth-test.invalid"
    for result in (denied, wrong, done, info):
        assert SECRET not in json.dumps(result)

    # the server, read directly: closed without credentials, and holding the window with them
    assert http_json(auth_master + "/master/maintenance/status")[0] == 401
    request = urllib.request.Request(auth_master + "/master/maintenance/schedule", headers={
        "Authorization": "Basic " + base64.b64encode(("ops:" + SECRET).encode()).decode()})
    with urllib.request.urlopen(request, timeout=5) as resp:
        windows = json.load(resp)["windows"]
    assert windows[0]["machine_ids"] == machine


def test_a_zookeeper_password_never_leaves_mesos_info(standin_cluster, tmp_path, ansible_module):
    password = "zk-p4ss+=!"
    url = standin_cluster.zk.url("/mesos-itest-zkpass").replace("zk://", "zk://mesos:%s@" % password)
    proc = start_mesos_master(url, tmp_path / "z" / "work", quorum=1, name="zkpassmaster")
    try:
        proc.wait_http("/master/health", timeout=30)
        endpoint = proc.url("").rstrip("/")
        info = ansible_module("mesos_info", dict(mesos_endpoints=[endpoint]))
        assert not info.get("failed"), info.get("msg")
        assert info["masters"][0]["flags"]["zk"].startswith("zk://mesos:********@")
        # the raw URL still reached ZooKeeper: the leader was read there
        assert info["zookeeper"]["error"] is None and info["zookeeper"]["leader"]["port"] == proc.port
        given = ansible_module("mesos_info", dict(mesos_endpoints=[endpoint], zk_url=url))
        assert given["zookeeper"]["leader"]["port"] == proc.port
        for result in (info, given):
            assert password not in json.dumps(result)
    finally:
        proc.kill()
