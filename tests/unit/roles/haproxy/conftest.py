"""Fixtures for the sync program's tests; the helpers live in haproxy_sync_helpers.py."""

from __future__ import annotations

import contextlib
import sys

import pytest
from haproxy_sync_helpers import BASE_CFG, HAPROXY, FakeMarathon
from marathon_haproxy_sync.config import Config

# The sync program's tests that run real HAProxy processes and wait on them (reload gaps, failover,
# backoff, readiness, metrics): the unit stage runs them on their own, after the others have run
# on both cores (scripts/test), so that a busy machine does not make them miss their marks.
ALONE = {"test_sync_reload.py", "test_sync_failover.py", "test_sync_fleet.py", "test_sync_readiness.py",
         "test_sync_metrics.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in ALONE:
            item.add_marker(pytest.mark.alone)


@pytest.fixture
def make_config(tmp_path):
    base = tmp_path / "base.cfg"
    base.write_text(BASE_CFG)
    reloads = tmp_path / "reloads.log"

    def _make(**overrides):
        values = {
            "marathon_urls": ["http://127.0.0.1:1"],
            "dynamic_config": str(tmp_path / "marathon.cfg"),
            "base_configs": [str(base)],
            "haproxy_bin": HAPROXY,
            "reload_command": [sys.executable, "-c", f"open({str(reloads)!r}, 'a').write('reload\\n')"],
            "admin_socket": None,
            "status_file": str(tmp_path / "state" / "status.json"),
            "stats_port": 9090,
            "vhost_port": 80,
            "reserved_ports": [22, 5050],
            "server_options": "",
            "log_requests": False,
            "connect_timeout": 1.0,
            "request_timeout": 3.0,
            "event_read_timeout": 30.0,
            "retry_delay": 0.1,
            "max_retry_delay": 0.5,
            "resync_spread": 0.2,
            "debounce": 0.01,
        }
        values.update(overrides)
        return Config.from_dict(values)

    _make.reloads = reloads
    _make.tmp = tmp_path
    return _make


@pytest.fixture
def marathons():
    made = []

    def _make(*args, **kwargs):
        m = FakeMarathon(*args, **kwargs)
        made.append(m)
        return m

    yield _make
    for m in made:
        with contextlib.suppress(Exception):  # already closed by the test
            m.close()
