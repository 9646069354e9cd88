# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Aggregate callback for tests/benchmarks/bench_converge.py: writes what a run did as JSON.

Enabled only by the benchmark (ANSIBLE_CALLBACKS_ENABLED=converge_profile), it writes to the
file named by CONVERGE_PROFILE_OUT, when the run ends:

- ``tasks``: every task round in order, with its wall time (from its start to the start of the
  next round, or the end of the play), its role and the hosts that ran it;
- ``hosts``: per host, how many results were ok, changed, skipped, failed and unreachable.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: converge_profile
    type: aggregate
    short_description: record task times and per-host result counts as JSON
    description:
      - Writes the wall time of every task round and the per-host result counts to the file
        named by the CONVERGE_PROFILE_OUT environment variable when the run ends.
    requirements:
      - enabled in configuration (the converge benchmark does it)
"""

_STATUSES = ("ok", "changed", "skipped", "failed", "unreachable")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "converge_profile"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._tasks: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None
        self._hosts: dict[str, dict[str, int]] = {}

    def _close_current(self) -> None:
        if self._current is not None:
            self._current["seconds"] = round(time.monotonic() - self._current.pop("_start"), 3)
            self._tasks.append(self._current)
            self._current = None

    def _start(self, task: Any, kind: str) -> None:
        self._close_current()
        role = task._role.get_name() if getattr(task, "_role", None) else ""
        self._current = {"name": task.get_name(), "role": role, "kind": kind, "hosts": [],
                         "_start": time.monotonic()}

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._start(task, "task")

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._start(task, "handler")

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._close_current()

    def _count(self, result: Any, status: str) -> None:
        host = result._host.get_name()
        counts = self._hosts.setdefault(host, dict.fromkeys(_STATUSES, 0))
        if status == "ok" and result._result.get("changed"):
            status = "changed"
        counts[status] += 1
        if self._current is not None and host not in self._current["hosts"]:
            self._current["hosts"].append(host)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._count(result, "ok")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._count(result, "skipped")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._count(result, "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._count(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._close_current()
        out = os.environ.get("CONVERGE_PROFILE_OUT")
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                json.dump({"tasks": self._tasks, "hosts": self._hosts}, handle, indent=1)
