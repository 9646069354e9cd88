"""The roles talk to the services through the collection's modules, never through `uri`.

The modules find the leader by asking every member, pass the configured credentials, retry,
and support check mode; a `uri` task does none of that. The one exception is HAProxy's own
health endpoint on the host itself (roles/haproxy/tasks/service.yml).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
URI = {"uri", "ansible.builtin.uri", "ansible.legacy.uri"}
ALLOWED = {("haproxy/tasks/service.yml", "Wait for HAProxy's health endpoint")}


def tasks_in(items: Any) -> Iterator[dict]:
    for item in items or []:
        if not isinstance(item, dict):
            continue
        yield item
        for key in ("block", "rescue", "always"):
            yield from tasks_in(item.get(key))


def uri_tasks() -> list[tuple[str, str]]:
    found = []
    for path in sorted(ROLES.glob("*/*/*.yml")):
        if path.parent.name not in ("tasks", "handlers"):
            continue
        for task in tasks_in(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if URI & set(task):
                found.append((str(path.relative_to(ROLES)), task.get("name", "")))
    return found


def test_no_uri_task_beyond_haproxy_local_health_check() -> None:
    assert set(uri_tasks()) <= ALLOWED, f"uri tasks in roles: {sorted(set(uri_tasks()) - ALLOWED)}"


def test_the_scan_finds_uri_tasks(tmp_path: Path) -> None:
    # The scan itself must see a uri task where one is, nested in a block too.
    assert ("haproxy/tasks/service.yml", "Wait for HAProxy's health endpoint") in uri_tasks()
    nested = [{"block": [{"name": "x", "ansible.builtin.uri": {"url": "http://h"}}]}]
    assert [t.get("name") for t in tasks_in(nested) if URI & set(t)] == ["x"]


def test_the_restart_task_files_are_gone() -> None:
    # One rolling-restart engine (roles/_common); the per-role copies must not come back.
    for path in ("mesos_master/tasks/restart.yml", "mesos_master/tasks/restart_one.yml", "mesos_master/tasks/wait.yml",
                 "marathon/tasks/restart.yml", "marathon/tasks/restart_one.yml", "marathon/tasks/wait.yml",
                 "chronos/tasks/restart.yml", "chronos/tasks/restart_one.yml", "chronos/tasks/wait.yml",
                 "zookeeper/tasks/restart_member.yml"):
        assert not (ROLES / path).exists(), path
