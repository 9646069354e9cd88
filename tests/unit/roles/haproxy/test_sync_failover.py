"""Failover across the Marathon list, HTTP basic auth, and the running daemon following events
from whichever Marathon leads (fake Marathons on 127.0.0.1, real `haproxy -c`)."""

from __future__ import annotations

import json
import time

import pytest
from haproxy_sync_helpers import app, free_port, requires_haproxy, task
from marathon_haproxy_sync.daemon import SyncDaemon
from marathon_haproxy_sync.marathon import AppNotFound, MarathonClient, MarathonError

CREDS = ("marathon", "s3cret-pass")


def wait_for(check, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def client_for(make_config, urls, creds=None):
    cfg = make_config(
        marathon_urls=urls,
        marathon_username=creds[0] if creds else None,
        marathon_password=creds[1] if creds else None,
    )
    return MarathonClient(cfg)


def test_reads_from_the_first_marathon_that_answers(make_config, marathons):
    store = {"/web": app("/web", 10000, [task()])}
    broken = marathons(store, role="broken")
    good = marathons(store)
    dead = f"http://127.0.0.1:{free_port()}"
    client = client_for(make_config, [dead, broken.url, good.url])
    assert [a["id"] for a in client.get_apps()] == ["/web"]
    assert client.preferred == 2
    # The one that answered is asked first next time.
    before = len(broken.requests)
    client.get_apps()
    assert len(broken.requests) == before


def test_no_marathon_answers_names_each_failure(make_config, marathons):
    broken = marathons({}, role="broken")
    dead = f"http://127.0.0.1:{free_port()}"
    client = client_for(make_config, [dead, broken.url])
    with pytest.raises(MarathonError) as err:
        client.get_apps()
    text = str(err.value)
    assert f"{dead}: connection refused" in text
    assert broken.url in text and "HTTP 503 Could not determine the current leader" in text


def test_basic_auth_is_sent_and_never_echoed(make_config, marathons):
    secured = marathons({"/web": app("/web", 10000)}, credentials=CREDS)
    assert client_for(make_config, [secured.url], CREDS).get_apps()[0]["id"] == "/web"
    with pytest.raises(MarathonError) as err:
        client_for(make_config, [secured.url], ("marathon", "wrong-pass")).get_apps()
    assert "HTTP 401" in str(err.value)
    assert "wrong-pass" not in str(err.value)


def test_single_app_read_and_missing_app(make_config, marathons):
    m = marathons({"/g/web": app("/g/web", 10000)})
    client = client_for(make_config, [m.url])
    assert client.get_app("/g/web")["id"] == "/g/web"
    with pytest.raises(AppNotFound):
        client.get_app("/g/gone")


def test_events_skip_standbys_and_dead_instances(make_config, marathons):
    leader = marathons({}, credentials=CREDS)
    standby = marathons({}, role="standby", leader_url=leader.url, credentials=CREDS)
    dead = f"http://127.0.0.1:{free_port()}"
    client = client_for(make_config, [dead, standby.url, leader.url], CREDS)
    url, resp = client.open_events()
    try:
        assert url == leader.url
        assert wait_for(leader.attached) == 1
    finally:
        resp.close()


def test_when_every_listed_marathon_redirects_the_leader_is_followed_without_credentials(make_config, marathons):
    leader = marathons({})  # known only through the redirect
    standby = marathons({}, role="standby", leader_url=leader.url.replace("127.0.0.1", "localhost"))
    client = client_for(make_config, [standby.url], ("u", "p"))
    url, resp = client.open_events()
    try:
        assert "localhost" in url
        path, auth = leader.requests[-1]
        assert path == "/v2/events" and auth is None
    finally:
        resp.close()


@requires_haproxy
def test_daemon_follows_events_and_fails_over_to_the_new_leader(make_config, marathons):
    store = {"/web": app("/web", 10000, [task(port=31000)])}
    first = marathons(store, credentials=CREDS)
    second = marathons(store, role="standby", leader_url=first.url, credentials=CREDS)
    cfg = make_config(
        marathon_urls=[first.url, second.url],
        marathon_username=CREDS[0],
        marathon_password=CREDS[1],
        reconcile_interval=60.0,
    )
    daemon = SyncDaemon(cfg)
    daemon.start()
    try:

        def dynamic():
            return read(cfg.dynamic_config)

        wait_for(lambda: "127.0.0.1:31000" in dynamic())
        wait_for(first.attached)

        # An event names the app: the change is live well within the reconcile interval.
        store["/web"]["tasks"].append(task(port=31001))
        started = time.monotonic()
        first.emit("status_update_event", {"appId": "/web", "taskStatus": "TASK_RUNNING"})
        wait_for(lambda: "127.0.0.1:31001" in dynamic(), timeout=2.0)
        assert time.monotonic() - started < 2.0

        # The leader dies; the standby takes over. Changes made meanwhile arrive through the
        # full re-read that follows every reconnect.
        first.close()
        store["/web"]["tasks"].append(task(port=31002))
        second.role = "leader"
        wait_for(second.attached, timeout=10.0)
        wait_for(lambda: "127.0.0.1:31002" in dynamic(), timeout=5.0)
        assert daemon.last_event_url == second.url

        store["/web"]["tasks"] = [task(port=31003)]
        second.emit("health_status_changed_event", {"appId": "/web", "alive": True})
        wait_for(lambda: "127.0.0.1:31003" in dynamic() and "31000" not in dynamic(), timeout=2.0)
        # The status file is written by each sync, the sync of that event ending just after the file.
        connected = {"url": second.url, "events_connected": True}

        def status_when_connected():
            st = json.loads(read(cfg.status_file))
            return st if st["marathon"] == connected else None

        assert wait_for(status_when_connected)["state"] == "ok"
    finally:
        daemon.stop()


@requires_haproxy
def test_reconcile_timer_heals_a_missed_event(make_config, marathons):
    store = {"/web": app("/web", 10000, [task(port=31000)])}
    m = marathons(store)
    cfg = make_config(marathon_urls=[m.url], reconcile_interval=0.5)
    daemon = SyncDaemon(cfg)
    daemon.start()
    try:
        wait_for(m.attached)
        store["/web"]["tasks"].append(task(port=31009))  # no event is sent
        wait_for(lambda: "127.0.0.1:31009" in read(cfg.dynamic_config), timeout=3.0)
    finally:
        daemon.stop()
