"""A restart or reload that a failed run did not do is done by the next run, from the node's state.

The haproxy role's restart and reload tasks (tasks/restart.yml, as service.yml imports it) run on
a local host against a fake systemctl (fake_systemd.py) that records restarts and reloads; HAProxy's
master is a real process that starts a new worker on each reload. "A failed run" is a file that a
configuration task changed after the service (or HAProxy's newest worker) started, with no
restart or reload since: the run that changed it stopped before its end.
"""

from __future__ import annotations

import re
import signal
import time

import pytest
from fake_systemd import FakeSystemd
from restart_play import Node, restart_play

HOSTS = {"nodes": {"n0": None}}


@pytest.fixture
def systemd(tmp_path):
    fake = FakeSystemd(tmp_path)
    yield fake
    fake.close()


@pytest.fixture
def node(tmp_path):
    return Node(tmp_path / "node")


def changed(out: str) -> int:
    found = re.search(r"n0\s*:\s*ok=\d+\s+changed=(\d+)", out)
    assert found, out
    return int(found.group(1))


def failed_run(node: Node, *names: str) -> None:
    """A run that changed these files, then failed before restarting or reloading."""
    time.sleep(0.1)  # after the starts, by more than /proc's hundredth of a second
    node.change(*names)


def run(run_play, systemd, node, **kwargs):
    rc, out = run_play(restart_play(systemd.path, node=node, **kwargs), HOSTS, "all", node.extra_vars())
    assert rc == 0, out
    return out


def test_nothing_pending_does_nothing(run_play, systemd, node):
    out = run(run_play, systemd, node)
    assert systemd.calls() == []
    assert changed(out) == 0


def test_a_command_line_changed_by_a_failed_run_restarts_haproxy_next_run(run_play, systemd, node):
    failed_run(node, "cmdline", "config")
    out = run(run_play, systemd, node)
    # the restart's new worker has the new configuration too: no reload after it
    assert systemd.calls() == ["restart haproxy.service"], out
    assert changed(out) == 1
    out = run(run_play, systemd, node)
    assert systemd.calls() == ["restart haproxy.service"], out
    assert changed(out) == 0


@pytest.mark.parametrize("what", ["config", "cert"])
def test_a_configuration_changed_by_a_failed_run_reloads_haproxy_next_run(run_play, systemd, node, what):
    failed_run(node, what)
    out = run(run_play, systemd, node)
    assert systemd.calls() == ["reload haproxy.service"], out
    assert changed(out) == 1
    # the master's start did not change, its newest worker's did: nothing pending now
    out = run(run_play, systemd, node)
    assert systemd.calls() == ["reload haproxy.service"], out
    assert changed(out) == 0


def test_a_certificate_removed_by_a_failed_run_reloads_haproxy_next_run(run_play, systemd, node):
    time.sleep(0.1)
    node.files["cert"].unlink()  # the folder's time is now
    out = run(run_play, systemd, node)
    assert systemd.calls() == ["reload haproxy.service"], out


def test_a_reload_that_took_effect_since_counts(run_play, systemd, node):
    # the sync program (or a person) reloaded HAProxy after the change: its worker is newer
    failed_run(node, "config")
    time.sleep(0.05)
    before = systemd.worker_file.read_text()
    systemd.master.send_signal(signal.SIGUSR2)
    for _attempt in range(100):
        if systemd.worker_file.read_text() != before:
            break
        time.sleep(0.02)
    out = run(run_play, systemd, node)
    assert systemd.calls() == [], out
    assert changed(out) == 0


@pytest.mark.parametrize("what", ["sync_config", "sync_unit", "sync_program", "sync_module"])
def test_a_sync_program_changed_by_a_failed_run_restarts_it_next_run(run_play, systemd, node, what):
    failed_run(node, what)
    out = run(run_play, systemd, node)
    assert systemd.calls() == ["restart haproxy-marathon-sync.service"], out
    out = run(run_play, systemd, node)
    assert systemd.calls() == ["restart haproxy-marathon-sync.service"], out
    assert changed(out) == 0


def test_a_disabled_sync_program_is_not_restarted(run_play, systemd, node):
    failed_run(node, "sync_config")
    rc, out = run_play(restart_play(systemd.path), HOSTS, "all", dict(node.extra_vars(), haproxy_sync_enabled=False))
    assert rc == 0, out
    assert systemd.calls() == []


def test_check_mode_reports_what_is_pending_and_does_nothing(run_play, systemd, node):
    failed_run(node, "cmdline", "config", "sync_config")
    out = run(run_play, systemd, node, check_mode=True)
    assert systemd.calls() == [], out
    # the restart, the reload (no restart really happened before it) and the sync program's restart
    assert changed(out) == 3
    out = run(run_play, systemd, node)
    assert systemd.calls() == ["restart haproxy.service", "restart haproxy-marathon-sync.service"], out


def test_check_mode_reports_what_this_run_would_change(run_play, systemd, node):
    # In check mode host_config writes nothing; it reports as pending what it would change.
    out = run(run_play, systemd, node, check_mode=True, would_change=("config",))
    assert systemd.calls() == [], out
    assert changed(out) == 1
    out = run(run_play, systemd, node, check_mode=True, removed=True)
    assert systemd.calls() == [], out
    assert changed(out) == 1
    out = run(run_play, systemd, node, check_mode=True)
    assert changed(out) == 0
