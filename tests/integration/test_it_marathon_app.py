"""marathon_app and marathon_app_info against the Marathon stand-ins: check, apply, idempotent
check, idempotent apply, each proved by reading Marathon directly."""

import pytest
from integration_helpers import http_json

APP = "/itest/web"
DEFINITION = {
    "cmd": "python3 -m http.server $PORT0 --bind 127.0.0.1",
    "instances": 1,
    "cpus": 0.1,
    "mem": 32,
    "portDefinitions": [{"port": 0}],
    "labels": {"purpose": "integration"},
}


def server_app(endpoints):
    status, body = http_json(endpoints["marathon"][1] + "/v2/apps" + APP)
    return body.get("app") if status == 200 else None


def run_four_ways(ansible_module, args, prove_unchanged, prove_changed):
    check = ansible_module("marathon_app", args, check=True, diff=True)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    prove_unchanged()
    applied = ansible_module("marathon_app", args)
    assert not applied.get("failed"), applied.get("msg")
    assert applied["changed"] is True
    prove_changed()
    again_check = ansible_module("marathon_app", args, check=True)
    assert again_check["changed"] is False, again_check
    again = ansible_module("marathon_app", args)
    assert again["changed"] is False, again
    prove_changed()
    return check, applied


@pytest.fixture
def cleanup_app(endpoints):
    yield
    # Whatever happened, leave no app (and so no task process) behind.
    http_json(endpoints["marathon"][0] + "/v2/apps" + APP + "?force=true", method="DELETE")


def test_marathon_app_lifecycle(standin_cluster, endpoints, ansible_module, cleanup_app):
    base = dict(marathon_endpoints=endpoints["marathon"], id=APP, wait_timeout=120, poll_interval=0.5)

    # create
    check, applied = run_four_ways(
        ansible_module, dict(base, definition=DEFINITION),
        prove_unchanged=lambda: server_app(endpoints) is None,
        prove_changed=lambda: None)
    assert check["diff"]["before"] == {} and check["diff"]["after"]["instances"] == 1
    app = server_app(endpoints)
    assert app["cmd"] == DEFINITION["cmd"] and app["instances"] == 1
    assert app["portDefinitions"][0]["port"] != 0  # Marathon assigned a service port
    assert len(applied["tasks"]) == 1 and applied["tasks"][0]["ports"], str(applied)
    assert applied["deployment_id"]

    # the task really serves on its assigned host port
    task = applied["tasks"][0]
    status, _body = http_json("http://%s:%d/" % (task["host"], task["ports"][0]))
    assert status == 200

    # scale up: a PUT of only what changed; check mode leaves the server at 1
    scaled = dict(DEFINITION, instances=2)

    def still_one():
        assert server_app(endpoints)["instances"] == 1

    def now_two():
        assert server_app(endpoints)["instances"] == 2

    check, applied = run_four_ways(ansible_module, dict(base, definition=scaled), still_one, now_two)
    assert check["changed_fields"] == ["instances"]
    assert check["diff"]["before"]["instances"] == 1 and check["diff"]["after"]["instances"] == 2
    assert len(applied["tasks"]) == 2

    # info
    info = ansible_module("marathon_app_info", dict(marathon_endpoints=endpoints["marathon"], id=APP))
    assert info["exists"] is True and len(info["apps"][0]["tasks"]) == 2
    status, leader = http_json(endpoints["marathon"][0] + "/v2/leader")
    assert info["leader"] == "http://" + leader["leader"]

    # restart: always a change, no write in check mode
    before = server_app(endpoints)["version"]
    check = ansible_module("marathon_app", dict(base, state="restarted"), check=True)
    assert check["changed"] is True and server_app(endpoints)["version"] == before
    restarted = ansible_module("marathon_app", dict(base, state="restarted"))
    assert not restarted.get("failed"), restarted.get("msg")
    assert restarted["changed"] is True and len(restarted["tasks"]) == 2

    # remove
    def present():
        assert server_app(endpoints) is not None

    def gone():
        assert server_app(endpoints) is None

    run_four_ways(ansible_module, dict(base, state="absent"), present, gone)
    info = ansible_module("marathon_app_info", dict(marathon_endpoints=endpoints["marathon"], id=APP))
    assert info["exists"] is False


def test_marathon_app_errors_are_sentences(standin_cluster, endpoints, ansible_module):
    bad = ansible_module("marathon_app", dict(marathon_endpoints=endpoints["marathon"], id="/itest/bad",
                                              definition={"cmd": "true", "cpus": -1}))
    assert bad["failed"] is True
    assert bad["msg"].startswith("Could not create or update Marathon app /itest/bad: POST http://")
    assert "answered HTTP 422" in bad["msg"]
    down = ansible_module("marathon_app", dict(marathon_endpoints=["http://127.0.0.1:9"], id="/x",
                                               definition={"cmd": "true"}, request_retries=0))
    assert down["failed"] is True
    assert down["msg"].startswith("Could not create or update Marathon app /x: Could not reach any Marathon "
                                  "endpoint for GET /v2/leader (http://127.0.0.1:9/v2/leader: ")
