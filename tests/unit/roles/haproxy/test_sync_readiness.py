"""Readiness checks: the sync program asks Marathon for the readiness results and serves no task
that Marathon has not found ready while a deployment checks it (readiness-checks.md); tasks of
the older version keep serving until Marathon kills them."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from haproxy_sync_helpers import app, requires_haproxy, task
from marathon_haproxy_sync.daemon import SyncDaemon
from marathon_haproxy_sync.events import event_invalidation
from marathon_haproxy_sync.marathon import MarathonClient
from marathon_haproxy_sync.services import build_services, readiness_held

V1, V2 = "2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"
CHECK = {"name": "warm", "protocol": "HTTP", "path": "/ready", "portName": "http"}


def vtask(port, version, **kwargs):
    t = task(port=port, **kwargs)
    t["version"] = version
    return t


def result(t, ready):
    return {"name": "warm", "taskId": t["id"], "ready": ready}


def deploying(tasks, results, deployments=("d-1",), **extra):
    """An app of version V2 with a readiness check, in a deployment (or not, with deployments=())."""
    return app(
        "/web",
        10000,
        tasks,
        version=V2,
        readinessChecks=[CHECK],
        readinessCheckResults=list(results),
        deployments=[{"id": d} for d in deployments],
        **extra,
    )


def served(make_config, apps, **overrides):
    services, rejected = build_services(apps, make_config(**overrides))
    assert rejected == []
    return [(s.servers, s.backups) for s in services]


def ports(addresses):
    return sorted(p for _h, p in addresses)


def test_the_client_asks_for_tasks_deployments_and_readiness(make_config, marathons):
    m = marathons({"/g/web": app("/g/web", 10000)})
    client = MarathonClient(make_config(marathon_urls=[m.url]))
    client.get_apps()
    client.get_app("/g/web")
    (list_path, _list_body), (app_path, _app_body) = m.requests
    assert urlsplit(list_path).path == "/v2/apps"
    assert parse_qs(urlsplit(list_path).query)["embed"] == ["apps.tasks", "apps.deployments", "apps.readiness"]
    assert urlsplit(app_path).path == "/v2/apps/g/web"
    assert parse_qs(urlsplit(app_path).query)["embed"] == ["app.tasks", "app.deployments", "app.readiness"]


def test_during_a_deployment_only_tasks_found_ready_and_older_tasks_serve(make_config):
    old = vtask(31000, V1)  # from before the deployment: not checked, serves until killed
    warming = vtask(31001, V2)  # answered 503 on its readiness path
    ready = vtask(31002, V2)  # answered 200
    unchecked = vtask(31003, V2)  # running, not checked yet: Marathon has not found it ready
    a = deploying([old, warming, ready, unchecked], [result(warming, False), result(ready, True)])
    assert readiness_held(a) == {warming["id"], unchecked["id"]}
    ((servers, backups),) = served(make_config, [a])
    assert ports(servers) == [31000, 31002]
    assert backups == []


def test_a_task_not_found_ready_is_not_even_a_backup(make_config):
    # Health checks not reported yet would make a task a backup server; readiness still holds it.
    warming = vtask(31001, V2, alive=None)
    old = vtask(31000, V1, alive=True)
    a = deploying([old, warming], [result(warming, False)], healthChecks=[{"protocol": "HTTP", "portIndex": 0}])
    warming["healthCheckResults"] = []
    ((servers, backups),) = served(make_config, [a], backup_unready_tasks=True)
    assert ports(servers) == [31000]
    assert backups == []


def test_ready_but_unhealthy_does_not_serve(make_config):
    t = vtask(31001, V2, alive=False)
    a = deploying([t], [result(t, True)], healthChecks=[{"protocol": "HTTP", "portIndex": 0}])
    assert readiness_held(a) == set()
    assert served(make_config, [a]) == [([], [])]


@pytest.mark.parametrize(
    "extra",
    [
        {"deployments": []},  # the deployment finished: readiness is a deployment-time check
        {"readinessChecks": []},  # the app has no readiness check
    ],
)
def test_outside_deployments_or_without_a_check_every_running_task_serves(make_config, extra):
    tasks = [vtask(31000, V1), vtask(31001, V2)]
    a = deploying(tasks, [])
    a.update(extra)
    assert readiness_held(a) == set()
    ((servers, _backups),) = served(make_config, [a])
    assert ports(servers) == [31000, 31001]


def test_a_result_saying_not_ready_holds_the_task_even_without_the_deployment_list(make_config):
    t = vtask(31001, V2)
    a = deploying([t, vtask(31000, V1)], [result(t, False)])
    del a["deployments"]  # a Marathon that did not embed them
    ((servers, _backups),) = served(make_config, [a])
    assert ports(servers) == [31000]


def test_the_stand_ins_readiness_event_makes_the_app_stale():
    # The Marathon stand-in tells a change of readiness as a deployment_info whose current step
    # carries the results: the app is re-read.
    body = {
        "eventType": "deployment_info",
        "plan": {"id": "d-1", "steps": [{"actions": [{"action": "RestartApplication", "app": "/web"}]}]},
        "currentStep": {
            "actions": [
                {
                    "action": "RestartApplication",
                    "type": "RestartApplication",
                    "app": "/web",
                    "readinessCheckResults": [{"name": "warm", "taskId": "t-1", "ready": True}],
                }
            ]
        },
    }
    inv = event_invalidation("deployment_info", json.dumps(body))
    assert (inv.full, inv.apps) == (False, {"/web"})


def wait_for(check, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@requires_haproxy
def test_daemon_adds_a_task_when_marathon_finds_it_ready(make_config, marathons):
    old, new = vtask(31000, V1), vtask(31001, V2)
    store = {"/web": deploying([old, new], [result(new, False)])}
    m = marathons(store)
    cfg = make_config(marathon_urls=[m.url], reconcile_interval=60.0)
    daemon = SyncDaemon(cfg)
    daemon.start()
    try:

        def dynamic():
            try:
                with open(cfg.dynamic_config) as handle:
                    return handle.read()
            except FileNotFoundError:
                return ""

        wait_for(lambda: "127.0.0.1:31000" in dynamic())
        wait_for(m.attached)
        assert "127.0.0.1:31001" not in dynamic()

        store["/web"]["readinessCheckResults"] = [result(new, True)]
        m.emit("deployment_info", {"plan": {"id": "d-1", "steps": [{"actions": [{"app": "/web"}]}]}})
        wait_for(lambda: "127.0.0.1:31001" in dynamic(), timeout=2.0)
        assert "127.0.0.1:31000" in dynamic()  # the old task serves until Marathon kills it
    finally:
        daemon.stop()
