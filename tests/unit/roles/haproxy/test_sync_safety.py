"""What a fleet's operator relies on: an app list that would take most service ports down at
once is held back until Marathon confirms it; a service port another program holds on this
host is left out and named, while the other apps are served."""

from __future__ import annotations

import json
import socket

import pytest
from haproxy_sync_helpers import BASE_CFG, StaticClient, app, free_port, reload_count, requires_haproxy, task
from marathon_haproxy_sync.haproxy import HAProxy
from marathon_haproxy_sync.render import frontends
from marathon_haproxy_sync.syncer import Syncer

pytestmark = requires_haproxy


def make(make_config, apps, **overrides):
    # A listener of its own, as the role's base configuration has: HAProxy refuses to start
    # with none, and these tests remove every app.
    base = make_config.tmp / "base-with-stats.cfg"
    stats_port = free_port()
    base.write_text(BASE_CFG + f"listen stats\n    bind 127.0.0.1:{stats_port}\n    mode http\n")
    cfg = make_config(base_configs=[str(base)], stats_port=stats_port, **overrides)
    client = StaticClient(apps)
    return cfg, client, Syncer(cfg, client, HAProxy(cfg))


def status(cfg):
    with open(cfg.status_file) as handle:
        return json.load(handle)


def served(cfg):
    with open(cfg.dynamic_config) as handle:
        return sorted(frontends(handle.read()).values())


THREE = ("/a", "/b", "/c")


def three_apps():
    return [app(app_id, 10001 + i, [task(port=31000 + i)]) for i, app_id in enumerate(THREE)]


def test_an_empty_app_list_is_held_back_until_a_second_read_confirms_it(make_config):
    cfg, client, syncer = make(make_config, three_apps())
    assert syncer.full_sync() is True
    client.apps = {}  # Marathon lost its state, or the group label is wrong

    assert syncer.full_sync() is False
    assert served(cfg) == list(THREE)
    st = status(cfg)
    assert st["state"] == "held"
    assert st["held_removal"]["apps"] == list(THREE) and st["held_removal"]["reads"] == 1
    assert "would remove 3 of the 3 served frontends" in st["errors"][0]
    assert syncer.retry_soon is True  # the worker reads again soon, not in 30 s
    assert reload_count(make_config) == 1

    assert syncer.full_sync() is True  # the second read in a row says the same: confirmed
    assert served(cfg) == []
    assert status(cfg)["state"] == "ok" and "held_removal" not in status(cfg)


def test_a_read_that_disagrees_starts_the_count_again(make_config):
    cfg, client, syncer = make(make_config, three_apps())
    syncer.full_sync()
    everything = dict(client.apps)
    client.apps = {}
    assert syncer.full_sync() is False
    client.apps = everything  # the glitch is over
    assert syncer.full_sync() is False  # nothing to change, nothing held
    assert "held_removal" not in status(cfg)
    client.apps = {}
    assert syncer.full_sync() is False  # a new glitch: the first read of it again
    assert served(cfg) == list(THREE)


def test_removing_a_few_apps_is_not_held(make_config):
    cfg, client, syncer = make(make_config, three_apps())
    syncer.full_sync()
    del client.apps["/c"]
    assert syncer.full_sync() is True
    assert served(cfg) == ["/a", "/b"]


def test_more_than_the_configured_share_is_held(make_config):
    cfg, client, syncer = make(make_config, three_apps(), mass_removal_share=0.3)
    syncer.full_sync()
    del client.apps["/c"]  # 1 of 3 > 0.3
    assert syncer.full_sync() is False
    assert served(cfg) == list(THREE)


def test_one_confirmation_applies_at_once(make_config):
    cfg, client, syncer = make(make_config, three_apps(), mass_removal_confirmations=1)
    syncer.full_sync()
    client.apps = {}
    assert syncer.full_sync() is True
    assert served(cfg) == []


def test_an_app_deleted_through_its_event_is_removed_at_once(make_config):
    cfg, client, syncer = make(make_config, three_apps()[:1])
    syncer.full_sync()
    client.apps = {}
    assert syncer.partial_sync(["/a"]) is True  # app_terminated_event named it: no doubt
    assert served(cfg) == []


@pytest.fixture
def occupied():
    """A port another program listens on, on every address."""
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))  # noqa: S104 - as a real conflicting daemon would
    sock.listen()
    yield sock
    sock.close()


def test_a_port_another_program_holds_is_left_out_and_named(make_config, occupied):
    port = occupied.getsockname()[1]
    free = free_port()
    apps = [app("/web", free, [task(port=31000)]), app("/clash", port, [task(port=31001)])]
    cfg, _client, syncer = make(make_config, apps)
    assert syncer.full_sync() is True
    assert served(cfg) == ["/web"]
    st = status(cfg)
    assert st["state"] == "degraded"
    assert st["port_conflicts"] == [
        {
            "app": "/clash",
            "port": port,
            "address": f":{port}",
            "reason": f"port :{port} is held by another program on this host; HAProxy cannot bind it",
        }
    ]
    assert syncer.retry_soon is True

    occupied.close()  # the other program went away: the next sync serves the app
    assert syncer.full_sync() is True
    assert served(cfg) == ["/clash", "/web"]
    assert status(cfg)["port_conflicts"] == [] and status(cfg)["state"] == "ok"
