"""The sync program never breaks HAProxy: every file is checked with the real `haproxy -c`
before it replaces the old one, a refused file leaves the last good one in place, and the
failure shows in the status file. HAProxy is reloaded only when the text changed."""

from __future__ import annotations

import json
import sys

import pytest
from haproxy_sync_helpers import StaticClient, app, reload_count, requires_haproxy, task
from marathon_haproxy_sync.haproxy import HAProxy
from marathon_haproxy_sync.render import assemble, error_apps, render_blocks
from marathon_haproxy_sync.services import build_services
from marathon_haproxy_sync.syncer import Syncer

pytestmark = requires_haproxy


def make_syncer(make_config, apps=(), **overrides):
    cfg = make_config(**overrides)
    client = StaticClient(apps)
    return cfg, client, Syncer(cfg, client, HAProxy(cfg))


def status(cfg):
    with open(cfg.status_file) as handle:
        return json.load(handle)


def dynamic(cfg):
    with open(cfg.dynamic_config) as handle:
        return handle.read()


def test_reload_only_when_the_rendered_text_changes(make_config):
    cfg, client, syncer = make_syncer(make_config, [app("/web", 10000, [task(port=31000)])])
    assert syncer.full_sync() is True
    assert reload_count(make_config) == 1
    assert "server 127.0.0.1_31000" in dynamic(cfg)

    assert syncer.full_sync() is False  # same apps, same text: no reload
    client.apps["/web"]["tasks"].append(task(port=31000))  # a duplicate renders the same
    assert syncer.full_sync() is False
    assert reload_count(make_config) == 1

    client.apps["/web"]["tasks"].append(task(port=31001))
    assert syncer.partial_sync(["/web"]) is True
    assert reload_count(make_config) == 2
    assert "server 127.0.0.1_31001" in dynamic(cfg)
    assert status(cfg)["state"] == "ok"
    assert status(cfg)["config"]["servers"] == 2


def test_restart_of_the_sync_program_does_not_reload_an_unchanged_config(make_config):
    apps = [app("/web", 10000, [task()])]
    _cfg, _client, syncer = make_syncer(make_config, apps)
    syncer.full_sync()
    _cfg, _client, again = make_syncer(make_config, apps)
    assert again.full_sync() is False
    assert reload_count(make_config) == 1


def test_removed_app_disappears_on_partial_sync(make_config):
    cfg, client, syncer = make_syncer(make_config, [app("/a", 10000, [task()]), app("/b", 10001, [task()])])
    syncer.full_sync()
    del client.apps["/b"]
    assert syncer.partial_sync(["/b"]) is True
    assert "marathon_b_10001" not in dynamic(cfg)


def test_new_app_with_a_bad_label_is_left_out_and_the_rest_goes_live(make_config):
    cfg, client, syncer = make_syncer(make_config, [app("/good", 10000, [task(port=31000)])])
    syncer.full_sync()
    client.apps["/bad"] = app("/bad", 10001, [task(port=31001)], labels={"HAPROXY_0_BALANCE": "fastest"})
    client.apps["/good"]["tasks"].append(task(port=31002))
    assert syncer.full_sync() is True
    text = dynamic(cfg)
    assert "127.0.0.1:31002" in text  # the good app's change went live
    assert "marathon_bad_10001" not in text
    st = status(cfg)
    assert st["state"] == "degraded"
    assert st["quarantined"][0]["app"] == "/bad"
    assert "balance" in st["quarantined"][0]["reason"]
    rejected_file = make_config.tmp / "state" / "rejected.cfg"
    assert "balance fastest" in rejected_file.read_text()


def test_known_app_with_a_bad_label_keeps_its_last_good_sections(make_config):
    cfg, client, syncer = make_syncer(make_config, [app("/web", 10000, [task(port=31000)])])
    syncer.full_sync()
    before = dynamic(cfg)
    client.apps["/web"]["labels"] = {"HAPROXY_0_MODE": "udp"}
    client.apps["/web"]["tasks"] = [task(port=31005)]
    assert syncer.full_sync() is False  # what it rendered before is still the whole file
    assert dynamic(cfg) == before
    st = status(cfg)
    assert st["state"] == "degraded"
    assert st["quarantined"][0]["app"] == "/web"
    # Once the label is fixed the app follows Marathon again.
    client.apps["/web"]["labels"] = {}
    assert syncer.full_sync() is True
    assert "127.0.0.1:31005" in dynamic(cfg)
    assert status(cfg)["state"] == "ok"


def test_error_that_no_app_owns_keeps_the_last_good_file(make_config):
    cfg, client, syncer = make_syncer(make_config, [app("/web", 10000, [task(port=31000)])])
    syncer.full_sync()
    good = dynamic(cfg)
    # A bind address HAProxy cannot parse sits in every frontend and in the shared vhost frontend.
    syncer.cfg.bind_address = "not an address"
    client.apps["/web"]["tasks"].append(task(port=31001))
    client.apps["/web"]["labels"] = {"HAPROXY_0_VHOST": "web.example"}
    assert syncer.full_sync() is False
    assert dynamic(cfg) == good
    st = status(cfg)
    assert st["state"] == "error"
    assert "last good one stays" in st["errors"][0]
    assert reload_count(make_config) == 1


def test_haproxy_binary_missing_keeps_the_last_good_file(make_config):
    cfg, client, syncer = make_syncer(make_config, [app("/web", 10000, [task(port=31000)])])
    syncer.full_sync()
    good = dynamic(cfg)
    syncer.haproxy.cfg.haproxy_bin = "/nonexistent/haproxy"
    client.apps["/web"]["tasks"].append(task(port=31001))
    assert syncer.full_sync() is False
    assert dynamic(cfg) == good
    assert status(cfg)["state"] == "error"
    assert "could not run" in status(cfg)["errors"][0]


def test_failed_reload_is_retried_on_the_next_sync(make_config, tmp_path):
    flag = tmp_path / "reload-fails"
    flag.write_text("x")
    script = f"import os,sys; sys.exit(1 if os.path.exists({str(flag)!r}) else 0)"
    cfg, _client, syncer = make_syncer(
        make_config, [app("/web", 10000, [task()])], reload_command=[sys.executable, "-c", script]
    )
    assert syncer.full_sync() is False
    assert status(cfg)["state"] == "error"
    assert "reload command" in status(cfg)["errors"][0]
    flag.unlink()
    assert syncer.full_sync() is True  # same text, but the reload is still owed
    assert status(cfg)["state"] == "ok"


def test_port_collision_is_visible_in_the_status_file(make_config, caplog):
    cfg, _client, syncer = make_syncer(make_config, [app("/stats-thief", 9090, [task()]), app("/web", 10000, [task()])])
    with caplog.at_level("ERROR"):
        syncer.full_sync()
    st = status(cfg)
    assert st["state"] == "degraded"
    assert st["rejected"] == [
        {
            "app": "/stats-thief",
            "port_index": 0,
            "service_port": 9090,
            "reason": "service port 9090 collides with the HAProxy stats and health port",
        }
    ]
    assert "refusing service port 9090 of app /stats-thief" in caplog.text
    assert "9090" not in dynamic(cfg).replace("# ", "")


@pytest.mark.parametrize("bad", [{"HAPROXY_0_BALANCE": "nope"}, {"HAPROXY_0_MODE": "udp"}])
def test_error_lines_map_to_the_owning_app(make_config, bad, tmp_path):
    cfg = make_config()
    apps = [app("/a", 10000, [task()]), app("/b", 10001, [task()], labels=bad), app("/c", 10002, [task()])]
    services, _rejected = build_services(apps, cfg)
    text, owners = assemble(render_blocks(services, cfg), cfg)
    haproxy = HAProxy(cfg)
    path = haproxy.write_candidate(text)
    ok, output = haproxy.check(path)
    assert not ok
    assert error_apps(output, path, owners) == ({"/b"}, True)


def test_the_same_refused_input_is_not_checked_again(make_config):
    cfg, client, syncer = make_syncer(make_config, [app("/good", 10000, [task(port=31000)])])
    syncer.full_sync()
    client.apps["/bad"] = app("/bad", 10001, [task()], labels={"HAPROXY_0_BALANCE": "fastest"})
    checks = []
    real_check = syncer.haproxy.check

    def counting_check(path):
        checks.append(path)
        return real_check(path)

    syncer.haproxy.check = counting_check
    syncer.full_sync()
    assert len(checks) == 1  # without /bad the text is the file that is already live
    syncer.full_sync()
    syncer.full_sync()
    assert len(checks) == 1
    assert status(cfg)["quarantined"][0]["app"] == "/bad"
    client.apps["/good"]["tasks"].append(task(port=31001))  # new input: checked again
    assert syncer.full_sync() is True
    assert len(checks) == 3
    assert "127.0.0.1:31001" in dynamic(cfg)
