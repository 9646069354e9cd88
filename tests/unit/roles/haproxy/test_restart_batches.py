"""HAProxy's restarts and reloads, and the sync program's restarts, run on a share of the nodes at
a time (haproxy_restart_share, at least one), never on every node at once; the rest of the play
stays parallel. The role's own handlers run, on local hosts, with their service call swapped for
a command that records how many nodes are inside it at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[4] / "roles" / "haproxy"


def handlers_recording_concurrency(inside: Path, seen: Path) -> list[dict]:
    handlers = yaml.safe_load((ROLE / "handlers" / "main.yml").read_text())
    for handler in handlers:
        assert handler.pop("ansible.builtin.systemd_service"), handler["name"]
        handler.pop("when", None)
        handler["ansible.builtin.shell"] = (
            f"touch {inside}/{{{{ inventory_hostname }}}}; ls {inside} | wc -l >> {seen}; sleep 0.5; "
            f"ls {inside} | wc -l >> {seen}; rm {inside}/{{{{ inventory_hostname }}}}")
    return handlers


@pytest.mark.parametrize("nodes, share, most", [(6, None, 2), (4, 0.5, 2)])
def test_each_handler_runs_on_a_share_of_the_nodes_at_a_time(run_play, tmp_path, nodes, share, most):
    inside, seen = tmp_path / "inside", tmp_path / "seen"
    inside.mkdir()
    (tmp_path / "handlers.yml").write_text(yaml.safe_dump(handlers_recording_concurrency(inside, seen)))
    play = [{
        "hosts": "nodes", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [{"name": "Change everything", "ansible.builtin.command": "true", "changed_when": True,
                   "notify": ["Restart haproxy", "Reload haproxy", "Restart haproxy-marathon-sync"]}],
        "handlers": [{"ansible.builtin.import_tasks": str(tmp_path / "handlers.yml")}],
    }]
    extra = {"haproxy_restart_share": share} if share is not None else None
    rc, out = run_play(yaml.safe_dump(play), {"nodes": {f"n{i}": None for i in range(nodes)}}, "all", extra)
    assert rc == 0, out
    counts = [int(line) for line in seen.read_text().split()]
    # every node ran each of the three handlers (two samples per run)
    assert len(counts) == 3 * nodes * 2, out
    print(f"\n{nodes} nodes, share {share or 'default'}: at most {max(counts)} inside a restart at once")
    assert max(counts) == most
