# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Marathon's event stream: server-sent-events framing, and what each event makes stale."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# Events that name one app, in one of these keys (or in appDefinition.id).
_APP_ID_KEYS = ("appId", "runSpecId")
_APP_EVENTS = {
    "status_update_event",
    "instance_changed_event",
    "instance_health_changed_event",
    "unknown_instance_terminated_event",
    "health_status_changed_event",
    "failed_health_check_event",
    "unhealthy_task_kill_event",
    "unhealthy_instance_kill_event",
    "app_terminated_event",
    "add_health_check_event",
    "remove_health_check_event",
    "api_post_event",
}
_DEPLOYMENT_EVENTS = {
    "deployment_info",
    "deployment_success",
    "deployment_failed",
    "deployment_step_success",
    "deployment_step_failure",
}
_FULL_SYNC_EVENTS = {"group_change_success", "group_change_failed"}

_EOL = re.compile(rb"\r\n|\r|\n")

Event = tuple[str, str]


class SSEParser:
    """Incremental parser for a text/event-stream body; feed bytes, get (event, data) pairs.

    Linear in the input: each byte is scanned once, whatever the chunk sizes. A line that
    spans chunks is kept as a list of pieces and joined once, when its end arrives (Marathon's
    deployment events carry whole plans: megabytes on one line).
    """

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._event = ""
        self._data: list[str] = []
        self._last_cr = False

    def feed(self, chunk: bytes) -> list[Event]:
        if self._last_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the \n of a \r\n split across two chunks
        if not chunk:
            return []
        self._last_cr = chunk[-1:] == b"\r"
        events: list[Event] = []
        start = 0
        for match in _EOL.finditer(chunk):
            if self._pieces:
                self._pieces.append(chunk[start : match.start()])
                line = b"".join(self._pieces)
                self._pieces = []
            else:
                line = chunk[start : match.start()]
            self._line(line, events)
            start = match.end()
        if start < len(chunk):
            self._pieces.append(chunk[start:])
        return events

    def pending_bytes(self) -> int:
        """The size of the line not yet ended (for tests and the curious)."""
        return sum(len(p) for p in self._pieces)

    def _line(self, raw: bytes, events: list[Event]) -> None:
        if not raw:
            if self._data:
                events.append((self._event or "message", "\n".join(self._data)))
            self._event, self._data = "", []
            return
        if raw[:1] == b":":
            return  # comment / keep-alive
        name, _colon, value = raw.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"data":
            self._data.append(value.decode("utf-8", "replace"))


@dataclass
class Invalidation:
    full: bool = False
    apps: set[str] = field(default_factory=set)


def event_invalidation(event_name: str, data: str) -> Invalidation:
    """What a Marathon event makes stale: nothing, some apps, or everything."""
    try:
        body = json.loads(data)
    except ValueError:
        return Invalidation()
    if not isinstance(body, dict):
        return Invalidation()
    kind = body.get("eventType") or event_name
    if kind in _APP_EVENTS:
        for key in _APP_ID_KEYS:
            if body.get(key):
                return Invalidation(apps={body[key]})
        definition = body.get("appDefinition") or {}
        if definition.get("id"):
            return Invalidation(apps={definition["id"]})
        return Invalidation(full=True)
    if kind in _DEPLOYMENT_EVENTS:
        apps: set[str] = set()
        plan = body.get("plan") or {}
        steps = list(plan.get("steps") or [])
        if body.get("currentStep"):
            steps.append(body["currentStep"])
        for step in steps:
            for action in (step or {}).get("actions") or []:
                if action.get("app"):
                    apps.add(action["app"])
        return Invalidation(apps=apps) if apps else Invalidation(full=True)
    if kind in _FULL_SYNC_EVENTS:
        return Invalidation(full=True)
    return Invalidation()
