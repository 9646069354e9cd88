"""Helpers for the tests of the HAProxy role's sync program (imported by the tests and conftest).

The program is the package roles/haproxy/files/marathon_haproxy_sync, which the role installs
on the hosts; importing this module puts its folder on sys.path, so that the tests import it as
the hosts do. The fake Marathon below serves just what the sync program reads (/v2/apps,
/v2/apps/{id}, /v2/events) on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
PACKAGE_DIR = ROOT / "roles" / "haproxy" / "files"
if str(PACKAGE_DIR) not in sys.path:
    sys.path.insert(0, str(PACKAGE_DIR))
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

requires_haproxy = pytest.mark.skipif(
    not Path(HAPROXY).exists(), reason="haproxy is not installed (scripts/setup installs it)"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def task(host="127.0.0.1", port=31000, state="TASK_RUNNING", alive=None, tid=None):
    t = {"id": tid or f"t-{host}-{port}", "host": host, "ports": [port], "state": state}
    if alive is not None:
        t["healthCheckResults"] = [{"alive": alive, "consecutiveFailures": 0}]
    return t


def app(app_id, service_port, tasks=(), labels=None, health=False, **extra):
    a = {
        "id": app_id,
        "portDefinitions": [{"port": service_port, "protocol": "tcp"}],
        "labels": labels or {},
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0}] if health else [],
        "tasks": list(tasks),
    }
    a.update(extra)
    return a


BASE_CFG = """\
global
    log stderr local0 err
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    retries 3
    option redispatch 1
    default-server init-addr last,libc,none
"""


def reload_count(make_config):
    path = make_config.reloads
    return len(path.read_text().splitlines()) if path.exists() else 0


class QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-request (HAProxy, the sync program stopping) is not news."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class FakeMarathon:
    """A tiny Marathon: apps in memory, SSE to every attached client, optional basic auth.

    role: "leader" serves everything; "standby" redirects /v2/events (302) to `leader_url`
    and answers the rest from the same shared app store, as a proxying standby would.
    """

    def __init__(self, store, role="leader", credentials=None, leader_url=None):
        self.store = store
        self.role = role
        self.credentials = credentials
        self.leader_url = leader_url
        self.requests = []
        self.clients = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, code, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                fake.requests.append((self.path, self.headers.get("Authorization")))
                if fake.credentials:
                    want = "Basic " + base64.b64encode(":".join(fake.credentials).encode()).decode()
                    if self.headers.get("Authorization") != want:
                        self._send(401, {"message": "Unauthorized"}, [("WWW-Authenticate", 'Basic realm="m"')])
                        return
                if self.path.startswith("/v2/events"):
                    if fake.role != "leader":
                        self.send_response(302)
                        self.send_header("Location", (fake.leader_url or "http://127.0.0.1:1") + self.path)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    self.wfile.write(b"event: event_stream_attached\r\ndata: {}\r\n\r\n")
                    self.wfile.flush()
                    done = threading.Event()
                    with fake.lock:
                        fake.clients.append((self.wfile, done))
                    done.wait(60)
                    return
                if fake.role == "broken":
                    self._send(503, {"message": "Could not determine the current leader"})
                    return
                if self.path.startswith("/v2/apps?"):
                    self._send(200, {"apps": list(fake.store.values())})
                    return
                if self.path.startswith("/v2/apps/"):
                    app_id = "/" + self.path.split("?")[0][len("/v2/apps/") :]
                    if app_id in fake.store:
                        self._send(200, {"app": fake.store[app_id]})
                    else:
                        self._send(404, {"message": f"App '{app_id}' does not exist"})
                    return
                self._send(404, {"message": "not found"})

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def emit(self, event_type, body):
        body = dict(body, eventType=event_type)
        data = f"event: {event_type}\r\ndata: {json.dumps(body)}\r\n\r\n".encode()
        with self.lock:
            alive = []
            for wfile, done in self.clients:
                try:
                    wfile.write(data)
                    wfile.flush()
                    alive.append((wfile, done))
                except OSError:
                    done.set()
            self.clients = alive
        return len(alive)

    def attached(self):
        with self.lock:
            return len(self.clients)

    def close(self):
        with self.lock:
            for _wfile, done in self.clients:
                done.set()
            self.clients = []
        self.server.shutdown()
        self.server.server_close()


class StaticClient:
    """Stands in for MarathonClient: serves whatever apps the test sets."""

    def __init__(self, apps=()):
        self.apps = {a["id"]: a for a in apps}

    def get_apps(self):
        return list(self.apps.values())

    def get_app(self, app_id):
        from marathon_haproxy_sync.marathon import AppNotFound

        if app_id not in self.apps:
            raise AppNotFound(app_id)
        return self.apps[app_id]


class MasterWorker:
    """A real HAProxy in master-worker mode, as Debian's unit runs it: the role's essentials
    (admin socket with expose-fd listeners, redispatch, a stats listener with the health URI),
    the base file plus the dynamic file, a master CLI socket. Used by the unit tests and the
    benchmark. `write()` lays the files down; `start()` runs HAProxy until it serves."""

    def __init__(self, workdir, address="127.0.0.1", stats_port=None, maxconn=None):
        self.workdir = Path(workdir)
        self.address = address
        self.stats_port = stats_port or free_port()
        self.maxconn = maxconn
        self.base = self.workdir / "base-mw.cfg"
        self.dynamic = self.workdir / "marathon.cfg"
        self.admin_socket = str(self.workdir / "admin.sock")
        self.master_socket = str(self.workdir / "master.sock")
        self.proc = None

    def write(self):
        limit = f"    maxconn {self.maxconn}\n" if self.maxconn else ""
        self.base.write_text(
            f"""global
    log stderr local0 err
{limit}    stats socket {self.admin_socket} mode 600 level admin expose-fd listeners
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    retries 3
    option redispatch 1
    default-server init-addr last,libc,none
listen stats
    bind {self.address}:{self.stats_port}
    mode http
    monitor-uri /_haproxy_health_check
"""
        )
        self.dynamic.write_text("# empty until the first sync\n")
        return self

    @property
    def reload_command(self):
        return ["/bin/kill", "-USR2", str(self.proc.pid)]

    def start(self, timeout=30):
        self.proc = subprocess.Popen(
            [HAPROXY, "-W", "-f", str(self.base), "-f", str(self.dynamic), "-S", self.master_socket],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # SIGUSR2 before HAProxy has set up its handlers would kill it: wait until it serves.
        health = f"http://{self.address}:{self.stats_port}/_haproxy_health_check"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(health, timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"HAProxy did not serve {health} within {timeout}s")

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Backend:
    """An app task: answers every GET with its own name."""

    def __init__(self, name):
        body = name.encode()
        backend = self
        self.connections = set()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                backend.connections.add(self.connection)

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                # The status line, headers and body in one write: close() cuts a connection
                # before its answer or after it, never between headers and body (a response
                # HAProxy has begun to pass on cannot be retried on another server, and the
                # tests ask whether HAProxy retries, not how an app dies mid-answer).
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        """Like a killed process: refuse connections at once and drop every open one."""
        with contextlib.suppress(OSError):
            self.server.socket.shutdown(socket.SHUT_RDWR)  # stops listening now, not at the next poll
        self.server.shutdown()
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server.server_close()


def wait_serving(url, expected, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.read().decode() in expected:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not serve {expected} within {timeout}s")
