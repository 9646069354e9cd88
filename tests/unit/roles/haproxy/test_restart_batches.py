"""HAProxy's restarts and reloads, and the sync program's restarts, run on a share of the nodes at
a time (haproxy_restart_share, at least one), never on every node at once; the rest of the play
stays parallel. The role's own restart and reload tasks (tasks/restart.yml, as service.yml
imports it) run on local hosts against a fake systemctl that records how many nodes are inside
a restart or reload at once."""

from __future__ import annotations

import pytest
from fake_systemd import FakeSystemd
from restart_play import Node, restart_play


@pytest.fixture
def systemd(tmp_path):
    fake = FakeSystemd(tmp_path)
    yield fake
    fake.close()


@pytest.mark.parametrize("nodes, share, most", [(6, None, 2), (4, 0.5, 2)])
def test_each_restart_and_reload_runs_on_a_share_of_the_nodes_at_a_time(run_play, tmp_path, systemd, nodes, share,
                                                                        most):
    node = Node(tmp_path / "node")
    # newer than any start, even the restarts' and reloads' own: every node does every one
    node.change("cmdline", "config", "sync_config", seconds_ago=-3600)
    extra = dict(node.extra_vars(), **({"haproxy_restart_share": share} if share is not None else {}))
    hosts = {"nodes": {f"n{i}": None for i in range(nodes)}}
    rc, out = run_play(restart_play(systemd.path, removed=True), hosts, "all", extra)
    assert rc == 0, out
    calls = systemd.calls()
    # HAProxy's restart (its new worker reads the new configuration: no reload after it), the
    # sync program's restart, the reload after certificate removals
    assert sorted(set(calls)) == ["reload haproxy.service", "restart haproxy-marathon-sync.service",
                                  "restart haproxy.service"], out
    assert len(calls) == 3 * nodes, out
    counts = systemd.concurrency()
    assert len(counts) == 3 * nodes * 2, out
    print(f"\n{nodes} nodes, share {share or 'default'}: at most {max(counts)} inside a restart at once")
    assert max(counts) == most
