"""Shared by the unit tests of roles and playbooks: run a play for real with ansible-playbook on local hosts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


@pytest.fixture
def run_play(tmp_path):
    """run_play(playbook, inventory, tags, extra=None, limit=None) -> (rc, output on one line).

    `inventory` maps group names to {host: hostvars or None}; every host is this machine.
    """

    def _run(playbook, inventory, tags, extra=None, limit=None):
        groups = {
            group: {"hosts": {name: dict(LOCAL, **(hostvars or {})) for name, hostvars in hosts.items()}}
            for group, hosts in inventory.items()
        }
        (tmp_path / "inventory.json").write_text(json.dumps(groups))
        (tmp_path / "play.yml").write_text(playbook)
        cmd = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(tmp_path / "inventory.json"),
            str(tmp_path / "play.yml"),
            "--tags",
            tags,
        ]
        if extra:
            cmd += ["-e", json.dumps(extra)]
        if limit:
            cmd += ["--limit", limit]
        env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_STDOUT_CALLBACK="default",
            ANSIBLE_CALLBACK_RESULT_FORMAT="yaml",
        )
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
        return done.returncode, " ".join((done.stdout + done.stderr).split())

    return _run
