"""From Marathon apps to HAProxy sections: which tasks serve, which apps are chosen, and
that what is rendered is a configuration the real `haproxy -c` accepts."""

from __future__ import annotations

import subprocess

import pytest
from haproxy_sync_helpers import HAPROXY, app, requires_haproxy, task
from marathon_haproxy_sync.render import assemble, render_blocks
from marathon_haproxy_sync.services import build_services, service_ports, task_ready, task_starting


def build(make_config, apps, **overrides):
    cfg = make_config(**overrides)
    services, rejected = build_services(apps, cfg)
    return cfg, services, rejected


def test_only_running_tasks_serve(make_config):
    apps = [
        app(
            "/web",
            10000,
            [
                task(port=31000),
                task(port=31001, state="TASK_STAGING"),
                task(port=31002, state="TASK_KILLING"),
                task(port=31003, state="TASK_KILLED"),
                task(port=31004),
            ],
        )
    ]
    _cfg, services, rejected = build(make_config, apps)
    assert rejected == []
    assert [(s.service_port, s.servers) for s in services] == [(10000, [("127.0.0.1", 31000), ("127.0.0.1", 31004)])]


def test_with_health_checks_only_healthy_tasks_serve(make_config):
    apps = [
        app(
            "/web",
            10000,
            [
                task(port=31000, alive=True),
                task(port=31001, alive=False),
                task(port=31002),  # not checked yet: no results
                task(port=31003, alive=True, state="TASK_STAGING"),
            ],
            health=True,
        )
    ]
    _cfg, services, _rejected = build(make_config, apps)
    assert services[0].servers == [("127.0.0.1", 31000)]
    # Running but not checked yet: a backup, used only when no healthy task answers.
    assert services[0].backups == [("127.0.0.1", 31002)]
    assert services[0].mode == "http"  # an HTTP health check makes the port an HTTP service
    _cfg, services, _rejected = build(make_config, apps, backup_unready_tasks=False)
    assert services[0].backups == []


def test_task_starting():
    checks = [{"protocol": "HTTP"}]
    assert task_starting({"state": "TASK_RUNNING"}, checks)
    assert not task_starting({"state": "TASK_RUNNING", "healthCheckResults": [{"alive": False}]}, checks)
    assert not task_starting({"state": "TASK_RUNNING", "healthCheckResults": [{"alive": True}]}, checks)
    assert not task_starting({"state": "TASK_STAGING"}, checks)
    assert not task_starting({"state": "TASK_RUNNING"}, [])


def test_task_serves_only_when_every_health_check_passes():
    checks = [{"protocol": "HTTP"}, {"protocol": "TCP"}]
    running = {"state": "TASK_RUNNING"}
    assert task_ready(dict(running, healthCheckResults=[{"alive": True}, {"alive": True}]), checks)
    assert not task_ready(dict(running, healthCheckResults=[{"alive": True}, {"alive": False}]), checks)
    assert not task_ready(dict(running, healthCheckResults=[{"alive": True}]), checks)
    assert task_ready(running, [])


def test_service_ports_from_each_app_format():
    assert service_ports({"portDefinitions": [{"port": 10001}, {"port": 10002}]}) == [10001, 10002]
    assert service_ports({"ports": [10003]}) == [10003]
    mapped = {"container": {"portMappings": [{"containerPort": 80, "servicePort": 10004}]}}
    assert service_ports(mapped) == [10004]
    legacy = {"container": {"docker": {"portMappings": [{"containerPort": 80, "servicePort": 10005}]}}}
    assert service_ports(legacy) == [10005]


def test_second_port_uses_second_task_port(make_config):
    a = app("/two", 10000, [{"id": "t", "host": "h1", "ports": [31000, 31001], "state": "TASK_RUNNING"}])
    a["portDefinitions"].append({"port": 10001})
    _cfg, services, _rejected = build(make_config, [a])
    assert [(s.service_port, s.servers) for s in services] == [(10000, [("h1", 31000)]), (10001, [("h1", 31001)])]


def test_group_selection(make_config):
    apps = [
        app("/ext", 10000, labels={"HAPROXY_GROUP": "external"}),
        app("/int", 10001, labels={"HAPROXY_GROUP": "internal"}),
        app("/none", 10002),
        app("/mixed", 10003, labels={"HAPROXY_GROUP": "internal", "HAPROXY_0_GROUP": "external"}),
        app("/off", 10004, labels={"HAPROXY_0_ENABLED": "false"}),
    ]
    _cfg, services, _rejected = build(make_config, apps, group="external")
    assert [s.app_id for s in services] == ["/ext", "/none", "/mixed"]
    _cfg, services, _rejected = build(make_config, apps, group="external", include_unlabelled=False)
    assert [s.app_id for s in services] == ["/ext", "/mixed"]
    _cfg, services, _rejected = build(make_config, apps, group="*")
    assert [s.app_id for s in services] == ["/ext", "/int", "/none", "/mixed"]


def test_labels_shape_the_service(make_config):
    labels = {"HAPROXY_0_VHOST": "web.example.com, www.example.com", "HAPROXY_0_BALANCE": "leastconn"}
    _cfg, services, _rejected = build(make_config, [app("/web", 10000, [task()], labels=labels)])
    svc = services[0]
    assert svc.mode == "http"  # a vhost implies http
    assert svc.balance == "leastconn"
    assert svc.vhosts == ["web.example.com", "www.example.com"]
    _cfg, services, _rejected = build(make_config, [app("/db", 10001, [task()], labels={"HAPROXY_0_MODE": "TCP"})])
    assert services[0].mode == "tcp"


def test_rendering_is_deterministic_and_names_each_app(make_config):
    apps = [app(f"/group/app{i}", 10000 + i, [task(port=31000 + i)]) for i in range(5)]
    cfg, services, _rejected = build(make_config, apps)
    text1, owners1 = assemble(render_blocks(services, cfg), cfg)
    _cfg, services2, _rejected = build(make_config, list(reversed(apps)))
    text2, _owners = assemble(render_blocks(services2, cfg), cfg)
    assert text1 == text2
    assert len(owners1) == text1.count("\n")
    assert "frontend marathon_group_app3_10003" in text1
    assert "    bind :10003" in text1
    assert "server 127.0.0.1_31003 127.0.0.1:31003" in text1
    starting = app("/starting", 10100, [task(port=31100, alive=True), task(port=31101)], health=True)
    cfg, services, _rejected = build(make_config, [starting])
    text, _owners = assemble(render_blocks(services, cfg), cfg)
    assert (
        "    server 127.0.0.1_31100 127.0.0.1:31100\n    server 127.0.0.1_31101_backup 127.0.0.1:31101 backup\n"
    ) in text
    line = text1.splitlines().index("frontend marathon_group_app3_10003")
    assert owners1[line] == "/group/app3"


@requires_haproxy
def test_rendered_configuration_passes_haproxy_check(make_config, tmp_path):
    apps = [
        app("/tcp", 10000, [task(port=31000), task(host="localhost", port=31001)]),
        app("/web", 10001, [task(port=31002, alive=True)], health=True, labels={"HAPROXY_0_VHOST": "web.example"}),
        app("/unresolvable", 10002, [task(host="no-such-host.invalid", port=31003)]),
        app("/empty", 10003, []),
    ]
    options = "check inter 2s fall 2 rise 1"
    cfg, services, _rejected = build(make_config, apps, server_options=options, log_requests=True)
    text, _owners = assemble(render_blocks(services, cfg), cfg)
    assert "frontend marathon_http_vhosts" in text
    assert "acl host_marathon_web_10001 req.hdr(host),field(1,:) -i web.example" in text
    path = tmp_path / "candidate.cfg"
    path.write_text(text)
    proc = subprocess.run(
        [HAPROXY, "-c", "-f", cfg.base_configs[0], "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ({"HAPROXY_0_PATH": "/api"}, "HAPROXY_0_PATH needs HAPROXY_0_VHOST"),
        ({"HAPROXY_0_VHOST": "a.test", "HAPROXY_0_PATH": "api"}, "invalid path 'api'"),
        ({"HAPROXY_0_VHOST": "a.test", "HAPROXY_0_PATH": "/a#b"}, "invalid path '/a#b'"),
        ({"HAPROXY_0_VHOST": "a.test", "HAPROXY_0_PATH": "-i"}, "names no path"),
        ({"HAPROXY_0_VHOST": "a.test", "HAPROXY_0_PATH": "/a\nbind :1"}, "line break or control character"),
    ],
)
def test_bad_paths_are_refused_with_a_reason(make_config, labels, reason):
    _cfg, services, rejected = build(make_config, [app("/web", 10000, [task()], labels=labels)])
    assert services == []
    assert reason in rejected[0].reason


def test_path_routes_come_before_the_hosts_catch_all(make_config):
    apps = [
        app("/a-site", 10000, [task(port=31000)], labels={"HAPROXY_0_VHOST": "shop.test"}),
        app("/b-api", 10001, [task(port=31001)], labels={"HAPROXY_0_VHOST": "shop.test", "HAPROXY_0_PATH": "-i /api"}),
    ]
    cfg, services, _rejected = build(make_config, apps)
    text, owners = assemble(render_blocks(services, cfg), cfg)
    lines = text.splitlines()
    routes = [ln.strip() for ln in lines if ln.strip().startswith("use_backend")]
    assert routes == [
        "use_backend marathon_b-api_10001 if host_marathon_b-api_10001 path_marathon_b-api_10001",
        "use_backend marathon_a-site_10000 if host_marathon_a-site_10000",
    ]
    assert "    acl path_marathon_b-api_10001 path_beg -i /api" in lines
    # Every routing line still belongs to its app (haproxy -c errors are pinned on it).
    assert owners[lines.index("    " + routes[0])] == "/b-api"


def test_sticky_backends_set_marathon_lbs_cookie_on_every_server(make_config):
    labels = {"HAPROXY_0_MODE": "http", "HAPROXY_0_STICKY": "true"}
    web = app("/web", 10000, [task(port=31000), task(port=31001)], labels=labels)
    cfg, services, _rejected = build(make_config, [web])
    text, _owners = assemble(render_blocks(services, cfg), cfg)
    assert "    cookie mesosphere_server_id insert indirect nocache" in text.splitlines()
    assert "server 127.0.0.1_31000 127.0.0.1:31000 cookie 127.0.0.1_31000" in text
    assert "server 127.0.0.1_31001 127.0.0.1:31001 cookie 127.0.0.1_31001" in text
    tcp = {"HAPROXY_0_MODE": "tcp", "HAPROXY_0_STICKY": "true"}  # cookies need HTTP
    _cfg, services, _rejected = build(make_config, [app("/db", 10001, [task()], labels=tcp)])
    assert services[0].sticky is False
