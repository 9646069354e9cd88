# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Marathon's REST API, from whichever listed instance answers (standard library HTTP)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import socket
import ssl
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from . import __version__
from .config import Config


class MarathonError(Exception):
    pass


class AppNotFound(MarathonError):
    pass


def _describe(exc: BaseException) -> str:
    """An error in a few words, without the library's internals."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"[:200]


class Response:
    """A streamed HTTP response together with the connection under it."""

    def __init__(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, sock: socket.socket | None
    ) -> None:
        self.conn = conn
        self.resp = resp
        self.status = resp.status
        # The connection forgets its socket once a "Connection: close" response starts.
        self.sock = sock

    def header(self, name: str) -> str | None:
        return self.resp.getheader(name)

    def read_all(self) -> bytes:
        try:
            return self.resp.read()
        finally:
            self.close()

    def read_some(self, size: int = 65536) -> bytes:
        """Whatever has arrived, up to `size` bytes, waiting for at least one; b"" at the end."""
        return self.resp.read1(size)

    def abort(self) -> None:
        """Wake a reader blocked in read_some from another thread (it then sees the end)."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.resp.close()
        with contextlib.suppress(Exception):
            self.conn.close()


class MarathonClient:
    """Talks to whichever Marathon answers; remembers the last one that did."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.urls = list(cfg.marathon_urls)
        self.preferred = 0
        self._netlocs = {urlsplit(u).netloc.lower() for u in self.urls}
        self._auth: str | None = None
        if cfg.marathon_username:
            token = f"{cfg.marathon_username}:{cfg.marathon_password or ''}".encode()
            self._auth = "Basic " + base64.b64encode(token).decode()
        self._tls: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            if self.cfg.marathon_ca_file:
                context = ssl.create_default_context(cafile=self.cfg.marathon_ca_file)
            else:
                context = ssl.create_default_context()
                if not self.cfg.marathon_validate_certs:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
            self._tls = context
        return self._tls

    def _order(self) -> list[int]:
        n = len(self.urls)
        return [(self.preferred + i) % n for i in range(n)]

    def request(self, url: str, accept: str, read_timeout: float, with_auth: bool = True) -> Response:
        """GET `url`, redirects not followed. Raises OSError or http.client.HTTPException."""
        parts = urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.cfg.connect_timeout, context=self._context()
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.cfg.connect_timeout)
        try:
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            headers = {"Accept": accept, "User-Agent": f"marathon-haproxy-sync/{__version__}"}
            if with_auth and self._auth:
                headers["Authorization"] = self._auth
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            sock = conn.sock
            conn.request("GET", path, headers=headers)
            return Response(conn, conn.getresponse(), sock)
        except BaseException:
            conn.close()
            raise

    def get_json(self, path: str) -> Any:
        errors = []
        for i in self._order():
            try:
                resp = self.request(self.urls[i] + path, "application/json", self.cfg.request_timeout)
                body = resp.read_all()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{self.urls[i]}: {_describe(exc)}")
                continue
            if resp.status == 200:
                self.preferred = i
                try:
                    return json.loads(body)
                except ValueError:
                    errors.append(f"{self.urls[i]}: answered with something that is not JSON")
                    continue
            if resp.status == 404 and path.startswith("/v2/apps/"):
                self.preferred = i
                raise AppNotFound(path)
            errors.append(f"{self.urls[i]}: HTTP {resp.status} {_message(body)}")
        raise MarathonError(f"GET {path} failed on every Marathon: " + "; ".join(errors))

    def get_apps(self) -> list[dict[str, Any]]:
        body = self.get_json("/v2/apps?" + _embeds("apps"))
        apps = body.get("apps") if isinstance(body, dict) else None
        if not isinstance(apps, list):
            raise MarathonError("GET /v2/apps answered without an app list")
        return apps

    def get_app(self, app_id: str) -> dict[str, Any] | None:
        body = self.get_json(f"/v2/apps/{quote(app_id.strip('/'))}?" + _embeds("app"))
        return body.get("app") if isinstance(body, dict) else None

    def open_events(self) -> tuple[str, Response]:
        """Open /v2/events on the first Marathon that serves it (standbys redirect to the leader)."""
        errors = []
        redirects = []
        accept = "text/event-stream"
        timeout = self.cfg.event_read_timeout
        for i in self._order():
            url = self.urls[i] + "/v2/events"
            try:
                resp = self.request(url, accept, timeout)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{self.urls[i]}: {_describe(exc)}")
                continue
            if resp.status == 200:
                self.preferred = i
                return self.urls[i], resp
            location = resp.header("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                redirects.append(urljoin(url, location))
            errors.append(f"{self.urls[i]}: HTTP {resp.status}")
            resp.close()
        # Every listed Marathon redirected: the leader is known under another address. Follow
        # once, handing the credentials only to an address from the configured list.
        for location in redirects[:1]:
            listed = urlsplit(location).netloc.lower() in self._netlocs
            try:
                resp = self.request(location, accept, timeout, with_auth=listed)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{location}: {_describe(exc)}")
                continue
            if resp.status == 200:
                return location.rsplit("/v2/events", 1)[0], resp
            errors.append(f"{location}: HTTP {resp.status}")
            resp.close()
        raise MarathonError("no Marathon serves /v2/events: " + "; ".join(errors))


# What the sync reads of each app (apps.raml asks for every embed to be named): the tasks, the
# deployments under way and the readiness check results of the tasks those deployments started.
EMBEDS = ("tasks", "deployments", "readiness")


def _embeds(prefix: str) -> str:
    return "&".join(f"embed={prefix}.{name}" for name in EMBEDS)


def _message(body: bytes) -> str:
    """The server's own words, short: Marathon's JSON message, an HTML page's title, or text."""
    text = body.decode("utf-8", "replace")
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
        if isinstance(parsed, dict) and parsed.get("message"):
            return str(parsed["message"])[:200]
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    return " ".join(text.split())[:200]
