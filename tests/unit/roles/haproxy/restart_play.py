"""The haproxy role's restart and reload decisions as a play on local hosts (see fake_systemd.py).

The play reads what is pending as configure.yml does (mesosphere.cluster.host_config with the
role's `_haproxy_pending` checks), then runs service.yml's imports of tasks/restart.yml, with
their own variables, against files in a temporary folder that stand for the ones the role writes
on a node.
"""

from __future__ import annotations

import getpass
import grp
import os
import time
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[4] / "roles" / "haproxy"
MODULES = sorted(p.name for p in (ROLE / "files" / "marathon_haproxy_sync").glob("*.py"))


def restart_imports() -> list[dict]:
    """service.yml's imports of restart.yml, then tls_removal.yml's (the reload after certificates
    were removed), pointed at the role's file."""
    imports = []
    for name in ("service.yml", "tls_removal.yml"):
        tasks = yaml.safe_load((ROLE / "tasks" / name).read_text())
        imports += [task for task in tasks if task.get("ansible.builtin.import_tasks") == "restart.yml"]
    for task in imports:
        task["ansible.builtin.import_tasks"] = str(ROLE / "tasks" / "restart.yml")
    return imports


class Node:
    """The files a node's services read, in `root`; their times are set relative to now."""

    def __init__(self, root: Path) -> None:
        self.root = root
        lib = root / "lib" / "marathon_haproxy_sync"
        lib.mkdir(parents=True)
        (root / "certs").mkdir()
        self.files = {
            "cmdline": root / "default-haproxy",
            "config": root / "haproxy.cfg",
            "cert": root / "certs" / "site.pem",
            "sync_config": root / "sync-config.json",
            "sync_unit": root / "haproxy-marathon-sync.service",
            "sync_program": root / "haproxy-marathon-sync",
        }
        for path in self.files.values():
            path.write_text("x\n")
        for name in MODULES:
            (lib / name).write_text("x\n")
        self.files["sync_module"] = lib / MODULES[0]
        for path in [*self.files.values(), root / "certs", *lib.iterdir()]:
            self.age(path, 3600)

    def age(self, path: Path, seconds_ago: float) -> None:
        when = time.time() - seconds_ago
        os.utime(path, (when, when))

    def change(self, *names: str, seconds_ago: float = 0.0) -> None:
        """As a configuration task would (now, or `seconds_ago`; negative is the future)."""
        for name in names:
            self.age(self.files[name], seconds_ago)

    def extra_vars(self) -> dict:
        return {
            "_haproxy_cmdline_file": str(self.files["cmdline"]),
            "_haproxy_config": str(self.files["config"]),
            "_haproxy_tls_dir": str(self.root / "certs"),
            "_haproxy_sync_config": str(self.files["sync_config"]),
            "_haproxy_sync_unit_file": str(self.files["sync_unit"]),
            "_haproxy_sync_program": str(self.files["sync_program"]),
            "_haproxy_sync_lib_dir": str(self.root / "lib"),
            "_haproxy_sync_modules": MODULES,
        }


def restart_play(path: str, check_mode: bool = False, would_change: tuple[str, ...] = (), removed: bool = False,
                 node: Node | None = None) -> str:
    """The play, as YAML. `would_change` names files of `node` that this run gives a new content
    (host_config writes them, or in check mode reports them); `removed` whether this run removed a
    certificate."""
    owner = dict(owner=getpass.getuser(), group=grp.getgrgid(os.getgid()).gr_name)
    files = [dict(path=str(node.files[name]), content="changed by this run\n", **owner)
             for name in would_change] if node else []
    read = {
        "name": "Read what is pending, as configure.yml does",
        "mesosphere.cluster.host_config": {"pending": "{{ _haproxy_pending }}", "files": files},
        "register": "_haproxy_host",
        # what it writes is not what these tests count: the restarts and reloads are
        "changed_when": False,
    }
    play = {
        "hosts": "nodes",
        "gather_facts": False,
        "environment": {"PATH": path},
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        # what the role registers when it removed certificates, or none
        "vars": {"_haproxy_tls_removed": {"changed": removed}},
        "tasks": [read, *restart_imports()],
    }
    if check_mode:
        play["check_mode"] = True
    return yaml.safe_dump([play])
