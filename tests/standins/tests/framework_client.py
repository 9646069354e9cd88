"""HTTP and polling helpers for the Marathon and Chronos contract tests."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body.decode()) if self.body else None

    @property
    def text(self):
        return self.body.decode(errors="replace")


def call(base: str, method: str, path: str, body=None, headers: dict | None = None,
         timeout: float = 10.0) -> Reply:
    """One request to ``base`` (``host:port``); redirects are not followed."""
    host, _, port = base.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def base_of(proc) -> str:
    return f"{proc.host}:{proc.port}"


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError) as exc:
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error: {last_exc})" if last_exc else ""))


class SSE:
    """A minimal server-sent-events reader on a raw socket (no redirects followed)."""

    def __init__(self, base: str, path: str = "/v2/events", timeout: float = 20.0):
        host, _, port = base.rpartition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}

    def events(self):
        """Yield (event name, data dict) forever (until the socket times out)."""
        name, data = None, []
        while True:
            line = self.resp.fp.readline()
            if not line:
                return
            line = line.decode().rstrip("\r\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                yield name, json.loads("\n".join(data))
                name, data = None, []

    def wait(self, predicate, timeout: float = 30.0):
        """First (name, data) for which predicate(name, data) is true."""
        deadline = time.monotonic() + timeout
        for name, data in self.events():
            if predicate(name, data):
                return name, data
            if time.monotonic() > deadline:
                break
        raise AssertionError("event not seen in time")

    def close(self):
        self.conn.close()
