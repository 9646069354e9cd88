"""Service ports that HAProxy must not give away are refused, with a reason a person can act on."""

from __future__ import annotations

import pytest
from haproxy_sync_helpers import app, task
from marathon_haproxy_sync.config import Config
from marathon_haproxy_sync.services import build_services


def refused(make_config, apps, **overrides):
    cfg = make_config(**overrides)
    services, rejected = build_services(apps, cfg)
    return [s.app_id for s in services], [(r.app_id, r.service_port, r.reason) for r in rejected]


@pytest.mark.parametrize(
    ("port", "why"),
    [
        (9090, "the HAProxy stats and health port"),
        (80, "the HTTP virtual-host port"),
        (5050, "reserved by the HAProxy role"),
        (22, "reserved by the HAProxy role"),
    ],
)
def test_reserved_ports_are_refused(make_config, port, why):
    served, rejected = refused(make_config, [app("/bad", port, [task()]), app("/good", 10000, [task()])])
    assert served == ["/good"]
    assert len(rejected) == 1
    assert rejected[0][:2] == ("/bad", port)
    assert why in rejected[0][2]


def test_vhost_port_is_free_when_vhosts_are_off(make_config):
    served, rejected = refused(make_config, [app("/web", 80, [task()])], vhost_port=0)
    assert served == ["/web"]
    assert rejected == []


def test_stats_port_follows_the_configuration(make_config):
    served, rejected = refused(make_config, [app("/a", 9090, [task()]), app("/b", 9191, [task()])], stats_port=9191)
    assert served == ["/a"]
    assert rejected[0][:2] == ("/b", 9191)


def test_two_apps_on_one_port_the_smaller_id_keeps_it(make_config):
    served, rejected = refused(make_config, [app("/zeta", 10000, [task()]), app("/alpha", 10000, [task()])])
    assert served == ["/alpha"]
    assert rejected == [("/zeta", 10000, "service port 10000 is already served for app /alpha")]


def test_port_label_overrides_and_is_checked(make_config):
    served, rejected = refused(
        make_config,
        [
            app("/moved", 10000, [task()], labels={"HAPROXY_0_PORT": "10500"}),
            app("/onstats", 10001, [task()], labels={"HAPROXY_0_PORT": "9090"}),
            app("/garbage", 10002, [task()], labels={"HAPROXY_0_PORT": "ten"}),
        ],
    )
    assert served == ["/moved"]
    assert {r[0] for r in rejected} == {"/onstats", "/garbage"}


def test_unassigned_port_is_skipped_silently(make_config):
    served, rejected = refused(make_config, [app("/pending", 0, [task()])])
    assert served == []
    assert rejected == []


@pytest.mark.parametrize(
    "labels",
    [
        {"HAPROXY_0_BALANCE": "roundrobin\n    server evil 10.0.0.1:22"},
        {"HAPROXY_GROUP": "external\r"},
        {"HAPROXY_0_VHOST": "bad host!"},
    ],
)
def test_labels_that_could_inject_configuration_are_refused(make_config, labels):
    served, rejected = refused(make_config, [app("/x", 10000, [task()], labels=labels)], group="*")
    assert served == []
    assert rejected and rejected[0][0] == "/x"


def test_reserved_ranges(make_config):
    served, rejected = refused(
        make_config,
        [app("/in", 31500, [task()]), app("/edge", 32000, [task()]), app("/out", 32001, [task()])],
        reserved_ports=["31000-32000", 22],
    )
    assert served == ["/out"]
    assert {r[0] for r in rejected} == {"/in", "/edge"}


@pytest.mark.parametrize("bad", [["ssh"], ["10-"], [-1]])
def test_bad_reserved_ports_are_refused_at_load(make_config, bad):
    with pytest.raises(ValueError, match="reserved_ports"):
        make_config(reserved_ports=bad)


def test_configuration_file_errors(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"marathon_urls": ["http://m:8080"], "_managed": "comment", "colour": "blue"}')
    with pytest.raises(ValueError, match="unknown configuration keys: colour"):
        Config.load(path)
    path.write_text('{"marathon_urls": ["http://user:pw@m:8080"]}')
    with pytest.raises(ValueError, match="must not carry credentials"):
        Config.load(path)
    path.write_text('{"marathon_urls": ["http://m1:8080/", "https://m2:8443"], "_managed": "x"}')
    assert Config.load(path).marathon_urls == ["http://m1:8080", "https://m2:8443"]
