"""The metrics endpoint answers in Prometheus' text format and its counters move with what the
program does; the health endpoint says whether the last sync is fresh and sound."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

from haproxy_sync_helpers import app, free_port, requires_haproxy, task
from marathon_haproxy_sync.daemon import SyncDaemon
from marathon_haproxy_sync.metrics import Metrics

VALUE = r'"(?:[^"\\]|\\.)*"'  # a label value: escaped quotes and backslashes allowed
SAMPLE = re.compile(rf"^[a-z_]+(\{{[a-z_]+={VALUE}(,[a-z_]+={VALUE})*\}})? -?[0-9.e+]+$")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read().decode()


def samples(text):
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_text_format_is_prometheus():
    m = Metrics()
    m.inc("marathon_haproxy_sync_reloads_total", result="ok")
    m.inc("marathon_haproxy_sync_reloads_total", result="ok")
    m.inc("marathon_haproxy_sync_failures_total", kind='odd "kind"')
    m.set("marathon_haproxy_sync_last_sync_timestamp_seconds", 1000.0)
    text = m.render(now=1012.5)
    lines = text.splitlines()
    assert "# TYPE marathon_haproxy_sync_reloads_total counter" in lines
    assert 'marathon_haproxy_sync_reloads_total{result="ok"} 2' in lines
    assert 'marathon_haproxy_sync_failures_total{kind="odd \\"kind\\""} 1' in lines
    assert "marathon_haproxy_sync_last_sync_age_seconds 12.5" in lines
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line


@requires_haproxy
def test_counters_move_with_events_and_syncs(make_config, marathons):
    store = {"/web": app("/web", free_port(), [task(port=31000)])}
    m = marathons(store)
    port = free_port()
    cfg = make_config(marathon_urls=[m.url], metrics_port=port, reconcile_interval=60.0)
    daemon = SyncDaemon(cfg)
    daemon.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 5
        while not (m.attached() and daemon.syncer.status.get("last_sync")) and time.monotonic() < deadline:
            time.sleep(0.02)
        status, kind, body = get(f"{base}/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        before = samples(body)
        assert before['marathon_haproxy_sync_reloads_total{result="ok"}'] == 1
        assert before["marathon_haproxy_sync_event_stream_connected"] == 1

        store["/web"]["tasks"].append(task(port=31001))
        for _attempt in range(3):
            m.emit("status_update_event", {"appId": "/web", "taskStatus": "TASK_RUNNING"})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            after = samples(get(f"{base}/metrics")[2])
            if after.get("marathon_haproxy_sync_servers") == 2:
                break
            time.sleep(0.05)
        assert after["marathon_haproxy_sync_events_total"] - before["marathon_haproxy_sync_events_total"] == 3
        assert after['marathon_haproxy_sync_syncs_total{kind="partial"}'] >= 1
        assert after['marathon_haproxy_sync_reloads_total{result="ok"}'] == 2
        assert after["marathon_haproxy_sync_servers"] == 2
        assert 0 <= after["marathon_haproxy_sync_last_sync_age_seconds"] < 5

        status, _kind, body = get(f"{base}/health")
        assert status == 200 and json.loads(body)["state"] == "ok"
        # As the worker records a read that failed on every Marathon. The worker and the event
        # thread stop first (the health endpoint stays): a sync of their own, such as the full
        # read asked for on connecting, could otherwise overwrite this message before the request.
        daemon.stop_threads()
        assert [t.name for t in daemon._threads if t.is_alive()] == []
        daemon.syncer.marathon_unavailable("no Marathon answers")
        status, _kind, body = get(f"{base}/health")
        assert status == 503 and json.loads(body)["errors"] == ["no Marathon answers"]
    finally:
        daemon.stop()
