# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Counters in Prometheus' text format, and a health answer, on a small HTTP endpoint."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import __version__

# name: (type, help). Counters end in _total, as Prometheus' conventions ask.
METRICS = {
    "marathon_haproxy_sync_events_total": ("counter", "Marathon events received."),
    "marathon_haproxy_sync_syncs_total": ("counter", "Syncs run, by kind (full or partial)."),
    "marathon_haproxy_sync_reloads_total": ("counter", "HAProxy reloads, by result (ok or failed)."),
    "marathon_haproxy_sync_runtime_updates_total": ("counter", "Changes applied through the runtime API."),
    "marathon_haproxy_sync_failures_total": ("counter", "Failures, by kind."),
    "marathon_haproxy_sync_event_stream_connects_total": ("counter", "Event stream connections opened."),
    "marathon_haproxy_sync_last_sync_timestamp_seconds": ("gauge", "When the last sync ended (Unix time)."),
    "marathon_haproxy_sync_last_sync_age_seconds": ("gauge", "Seconds since the last sync ended."),
    "marathon_haproxy_sync_services": ("gauge", "Service ports rendered by the last sync."),
    "marathon_haproxy_sync_servers": ("gauge", "Servers rendered by the last sync."),
    "marathon_haproxy_sync_event_stream_connected": ("gauge", "1 while the event stream is connected."),
}

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """Thread-safe counters and gauges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, Labels], float] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] = float(value)

    def get(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        with self._lock:
            values = dict(self._values)
        last = values.get(("marathon_haproxy_sync_last_sync_timestamp_seconds", ()))
        if last:
            values[("marathon_haproxy_sync_last_sync_age_seconds", ())] = max(0.0, now - last)
        lines = [
            "# HELP marathon_haproxy_sync_info The sync program's version.",
            "# TYPE marathon_haproxy_sync_info gauge",
            f'marathon_haproxy_sync_info{{version="{__version__}"}} 1',
        ]
        for name, (kind, text) in METRICS.items():
            samples = sorted((labels, v) for (n, labels), v in values.items() if n == name)
            if not samples:
                continue
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            for labels, value in samples:
                tags = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{tags}}} {_number(value)}" if tags else f"{name} {_number(value)}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


class MetricsServer:
    """GET /metrics (Prometheus text), GET /health (200 when the last sync is fresh and not in
    error, else 503, with the status as JSON)."""

    def __init__(self, address: str, port: int, metrics: Metrics, health: Callable[[], tuple[bool, Any]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    code, kind, body = 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render().encode()
                elif path == "/health":
                    ok, detail = health()
                    code, kind = (200 if ok else 503), "application/json"
                    body = (json.dumps(detail, sort_keys=True) + "\n").encode()
                else:
                    code, kind, body = 404, "text/plain", b"not found: try /metrics or /health\n"
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.shutdown()
        self.server.server_close()
