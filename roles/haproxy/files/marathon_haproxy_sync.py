#!/usr/bin/python3
# Copyright: (c) 2026, mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE)
"""Keep HAProxy's service-port frontends in step with Marathon.

Installed and configured by the mesosphere.cluster.haproxy role; runs under systemd as
haproxy-marathon-sync.service. It reads one JSON configuration file (see the role's README).

How it works, in one paragraph: Marathon's event stream (/v2/events) is used only as a
cache-invalidation signal, as Marathon's own documentation advises (events are not ordered).
An event that names apps makes the program re-read those apps; group changes, deployments
that name none, every (re)connection and a timer re-read every app (/v2/apps?embed=apps.tasks).
From the apps it renders the dynamic part of HAProxy's configuration: a frontend per service
port, a backend of the app's running and, where the app has health checks, healthy tasks.
A new configuration is checked with `haproxy -c` before it replaces the old one; HAProxy is
reloaded only when the text changed, and not at all when only the tasks behind existing
backends changed: those servers are added and removed in the running process through the
runtime API (the admin socket), so that a request HAProxy is retrying meets the new tasks at
once instead of staying with an old worker that knows only the old ones. When the check
fails, the apps the error lines point at keep their last good sections (or are left out when
they have none) and the failure is logged and written to the status file; when the error
cannot be pinned on an app, the last good file stays untouched.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

try:
    import requests
except ImportError:  # pragma: no cover - the role installs python3-requests
    requests = None

LOG = logging.getLogger("marathon-haproxy-sync")

GENERATED_HEADER = (
    "# Written by marathon_haproxy_sync from Marathon's apps; every sync overwrites it.\n"
    "# Change the HAProxy role's variables or the apps' HAPROXY_* labels instead.\n"
)

# Health-check protocols that imply a plain-HTTP service (the frontend then runs in http mode).
# HTTPS checks do not: HAProxy would speak plain HTTP to a TLS server.
HTTP_CHECK_PROTOCOLS = {"HTTP", "MESOS_HTTP"}

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

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VHOST = re.compile(r"^[A-Za-z0-9*]([A-Za-z0-9*.-]*[A-Za-z0-9])?$")
_ERROR_LINE = re.compile(r"\[([^\[\]]+):(\d+)\]")


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass
class Config:
    marathon_urls: list = field(default_factory=lambda: ["http://127.0.0.1:8080"])
    marathon_username: str | None = None
    marathon_password: str | None = None
    marathon_ca_file: str | None = None
    marathon_validate_certs: bool = True
    group: str = "external"
    include_unlabelled: bool = True
    dynamic_config: str = "/etc/haproxy/marathon.cfg"
    base_configs: list = field(default_factory=lambda: ["/etc/haproxy/haproxy.cfg"])
    haproxy_bin: str = "/usr/sbin/haproxy"
    reload_command: list = field(default_factory=lambda: ["systemctl", "reload", "haproxy.service"])
    # HAProxy's admin socket: server changes go through it without a reload. None: always reload.
    admin_socket: str | None = "/run/haproxy/admin.sock"
    status_file: str = "/var/lib/haproxy-marathon-sync/status.json"
    reconcile_interval: float = 30.0
    debounce: float = 0.05
    max_partial_apps: int = 20
    stats_port: int = 9090
    vhost_port: int = 80
    reserved_ports: list = field(default_factory=list)
    bind_address: str = ""
    server_options: str = "check inter 2s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down"
    backup_unready_tasks: bool = True
    log_requests: bool = True
    connect_timeout: float = 3.0
    request_timeout: float = 10.0
    event_read_timeout: float = 300.0
    retry_delay: float = 1.0
    max_retry_delay: float = 10.0

    @classmethod
    def from_dict(cls, data):
        known = set(cls.__dataclass_fields__)
        data = {k: v for k, v in data.items() if not k.startswith("_")}  # "_..." keys are comments
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys: {', '.join(unknown)}")
        cfg = cls(**data)
        cfg.check()
        return cfg

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except ValueError as exc:
                raise ValueError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object")
        return cls.from_dict(data)

    def check(self):
        if isinstance(self.marathon_urls, str):
            self.marathon_urls = [u for u in self.marathon_urls.split(",") if u]
        if not self.marathon_urls:
            raise ValueError("marathon_urls is empty: give at least one Marathon URL")
        for url in self.marathon_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"marathon_urls: {url!r} is not an http(s) URL")
            if parts.username or parts.password:
                raise ValueError("marathon_urls must not carry credentials; use marathon_username/marathon_password")
        self.marathon_urls = [u.rstrip("/") for u in self.marathon_urls]
        for name in ("stats_port", "vhost_port"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 65535:
                raise ValueError(f"{name} must be a port number, got {value!r}")
        if self.reconcile_interval <= 0:
            raise ValueError("reconcile_interval must be positive")
        if isinstance(self.reload_command, str):
            self.reload_command = self.reload_command.split()
        if isinstance(self.base_configs, str):
            self.base_configs = [self.base_configs]
        for item in self.reserved_ports:
            if not re.fullmatch(r"\d+(-\d+)?", str(item)):
                raise ValueError(f"reserved_ports: {item!r} is neither a port nor a range 'first-last'")

    def reserved(self):
        """Ports no app may take, with the reason for each."""
        ports = {}
        for item in self.reserved_ports:
            first, _dash, last = str(item).partition("-")
            for port in range(int(first), int(last or first) + 1):
                ports[port] = "reserved by the HAProxy role (haproxy_reserved_ports)"
        if self.stats_port:
            ports[self.stats_port] = "the HAProxy stats and health port"
        if self.vhost_port:
            ports[self.vhost_port] = "the HTTP virtual-host port"
        return ports


# --------------------------------------------------------------------------------------------
# From Marathon apps to services
# --------------------------------------------------------------------------------------------


@dataclass
class Service:
    app_id: str
    port_index: int
    service_port: int
    name: str
    mode: str = "tcp"
    balance: str = "roundrobin"
    bind_address: str = ""
    vhosts: list = field(default_factory=list)
    servers: list = field(default_factory=list)  # (host, port)
    backups: list = field(default_factory=list)  # (host, port) of tasks not yet checked


@dataclass
class Rejection:
    app_id: str
    port_index: int | None
    service_port: int | None
    reason: str

    def as_dict(self):
        return {
            "app": self.app_id,
            "port_index": self.port_index,
            "service_port": self.service_port,
            "reason": self.reason,
        }


def safe_name(text):
    return _SAFE_NAME.sub("_", text.strip("/")) or "root"


def service_ports(app):
    """The app's service ports, in port-index order, from whichever field defines them."""
    container = app.get("container") or {}
    mappings = container.get("portMappings") or (container.get("docker") or {}).get("portMappings")
    if mappings:
        return [m.get("servicePort", 0) for m in mappings]
    if app.get("portDefinitions"):
        return [d.get("port", 0) for d in app["portDefinitions"]]
    return list(app.get("ports") or [])


def _label(labels, index, name):
    return labels.get(f"HAPROXY_{index}_{name}")


def app_group(labels, index):
    return _label(labels, index, "GROUP") or labels.get("HAPROXY_GROUP")


def group_selected(cfg, group):
    if cfg.group == "*":
        return True
    if group is None:
        return cfg.include_unlabelled
    return cfg.group in [g.strip() for g in group.split(",")]


def task_ready(task, health_checks):
    """A task serves when it runs and, if the app has health checks, all of them pass."""
    if task.get("state") != "TASK_RUNNING":
        return False
    if not health_checks:
        return True
    results = task.get("healthCheckResults") or []
    if len(results) < len(health_checks):
        return False
    return all(r.get("alive") is True for r in results)


def task_starting(task, health_checks):
    """A running task whose health checks have not all reported yet, none of them failing.

    Such tasks become backup servers (when backup_unready_tasks is on): HAProxy sends them
    nothing while a healthy task answers. They matter in the instant a deployment kills the
    old tasks because the new ones just turned healthy, before the sync has heard so.
    """
    if task.get("state") != "TASK_RUNNING" or not health_checks:
        return False
    results = task.get("healthCheckResults") or []
    return len(results) < len(health_checks) and all(r.get("alive") is not False for r in results)


def _is_true(value):
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def build_services(apps, cfg):
    """Turn Marathon apps into services; refuse what cannot be served safely.

    Returns (services sorted by service port, rejections). Apps are taken in id order so
    that the same apps always give the same result: when two apps claim one service port,
    the app with the smaller id keeps it.
    """
    reserved = cfg.reserved()
    taken = {}
    services = []
    rejected = []
    for app in sorted(apps, key=lambda a: a.get("id", "")):
        app_id = app.get("id", "")
        labels = app.get("labels") or {}
        checks = app.get("healthChecks") or []
        tasks = app.get("tasks") or []
        for index, port in enumerate(service_ports(app)):
            if not group_selected(cfg, app_group(labels, index)):
                continue
            enabled = _label(labels, index, "ENABLED")
            if enabled is not None and not _is_true(enabled):
                continue

            def refuse(reason, index=index, port=port, app_id=app_id):
                rejected.append(Rejection(app_id, index, port, reason))

            override = _label(labels, index, "PORT")
            if override is not None:
                try:
                    port = int(override)
                except ValueError:
                    refuse(f"HAPROXY_{index}_PORT={override!r} is not a port number")
                    continue
            if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
                if port != 0:
                    refuse(f"service port {port!r} is not a port number")
                continue
            if port in reserved:
                refuse(f"service port {port} collides with {reserved[port]}")
                continue
            if port in taken:
                refuse(f"service port {port} is already served for app {taken[port]}")
                continue
            bad = [
                k
                for k, v in labels.items()
                if k.startswith((f"HAPROXY_{index}_", "HAPROXY_GROUP")) and _CONTROL.search(str(v))
            ]
            if bad:
                refuse(f"label {bad[0]} contains a line break or control character")
                continue
            vhost_label = _label(labels, index, "VHOST")
            vhosts = [v.strip() for v in (vhost_label or "").split(",") if v.strip()]
            bad_vhosts = [v for v in vhosts if not _VHOST.match(v)]
            if bad_vhosts:
                refuse(f"HAPROXY_{index}_VHOST has an invalid host name {bad_vhosts[0]!r}")
                continue

            mode = (_label(labels, index, "MODE") or ("http" if vhosts else "tcp")).strip().lower()
            for check in checks:
                if check.get("portIndex", 0) == index and check.get("protocol", "") in HTTP_CHECK_PROTOCOLS:
                    mode = "http"
            balance = (_label(labels, index, "BALANCE") or "roundrobin").strip()
            servers = []
            backups = []
            for task in tasks:
                if task_ready(task, checks):
                    chosen = servers
                elif cfg.backup_unready_tasks and task_starting(task, checks):
                    chosen = backups
                else:
                    continue
                ports = task.get("ports") or []
                if index < len(ports) and task.get("host"):
                    chosen.append((task["host"], int(ports[index])))
            taken[port] = app_id
            services.append(
                Service(
                    app_id=app_id,
                    port_index=index,
                    service_port=port,
                    name=f"marathon_{safe_name(app_id)}_{port}",
                    mode=mode,
                    balance=balance,
                    bind_address=(_label(labels, index, "BIND_ADDR") or cfg.bind_address).strip(),
                    vhosts=vhosts if mode == "http" else [],
                    servers=sorted(set(servers)),
                    backups=sorted(set(backups) - set(servers)),
                )
            )
    services.sort(key=lambda s: s.service_port)
    return services, rejected


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


@dataclass
class AppBlock:
    """What one app contributes to the configuration: its sections and its vhost rules."""

    app_id: str
    sections: str
    vhost_rules: list = field(default_factory=list)


def _bind(address, port):
    if ":" in address and not address.startswith("["):
        return f"[{address}]:{port}"  # IPv6 literal
    return f"{address}:{port}"


def render_service(svc, cfg):
    lines = [
        f"# app {svc.app_id} port index {svc.port_index}",
        f"frontend {svc.name}",
        f"    bind {_bind(svc.bind_address, svc.service_port)}",
        f"    mode {svc.mode}",
    ]
    if cfg.log_requests and svc.mode in ("http", "tcp"):
        lines.append(f"    option {svc.mode}log")
    lines += [
        f"    default_backend {svc.name}",
        "",
        f"backend {svc.name}",
        f"    mode {svc.mode}",
        f"    balance {svc.balance}",
    ]
    if svc.mode == "http":
        # A killed task refuses connections until the next sync removes it: retry elsewhere.
        lines.append("    retry-on conn-failure empty-response response-timeout")
    options = f" {cfg.server_options}" if cfg.server_options else ""
    for host, port in svc.servers:
        lines.append(f"    server {safe_name(host)}_{port} {_bind(host, port)}{options}")
    for host, port in svc.backups:
        # Its own name: when the task turns healthy, the active server is added beside it (the
        # runtime API cannot change a server's backup flag) and the backup is removed.
        lines.append(f"    server {safe_name(host)}_{port}_backup {_bind(host, port)}{options} backup")
    lines.append("")
    return "\n".join(lines) + "\n"


def render_blocks(services, cfg):
    """One AppBlock per app id."""
    blocks = {}
    for svc in services:
        block = blocks.setdefault(svc.app_id, AppBlock(svc.app_id, ""))
        block.sections += render_service(svc, cfg)
        if svc.vhosts:
            acl = f"host_{svc.name}"
            block.vhost_rules.append(f"    acl {acl} req.hdr(host),field(1,:) -i {' '.join(svc.vhosts)}")
            block.vhost_rules.append(f"    use_backend {svc.name} if {acl}")
    return blocks


def assemble(blocks, cfg):
    """The whole file, plus which app owns each line (1-based; None for shared lines)."""
    out = [GENERATED_HEADER]
    owners = [None] * GENERATED_HEADER.count("\n")
    for app_id in sorted(blocks):
        text = blocks[app_id].sections
        out.append(text)
        owners += [app_id] * text.count("\n")
    rules = [(app_id, r) for app_id in sorted(blocks) for r in blocks[app_id].vhost_rules]
    if rules and cfg.vhost_port:
        head = [
            "# HTTP virtual hosts (HAPROXY_{n}_VHOST labels)",
            "frontend marathon_http_vhosts",
            f"    bind {_bind(cfg.bind_address, cfg.vhost_port)}",
            "    mode http",
        ]
        if cfg.log_requests:
            head.append("    option httplog")
        out.append("\n".join(head) + "\n")
        owners += [None] * len(head)
        for app_id, rule in rules:
            out.append(rule + "\n")
            owners.append(app_id)
    return "".join(out), owners


def error_apps(output, path, owners):
    """Map `haproxy -c` error lines about `path` to the apps that own them.

    Returns (apps, pinned): pinned is False when some error could not be tied to an app.
    """
    apps = set()
    pinned = False
    base = os.path.basename(path)
    for line in output.splitlines():
        if "[ALERT]" not in line:
            continue
        match = _ERROR_LINE.search(line)
        if not match:
            continue  # the summary lines ("Fatal errors found ...") carry no position
        where, number = match.group(1), int(match.group(2))
        if os.path.basename(where) != base:
            return set(), False
        owner = owners[number - 1] if 0 < number <= len(owners) else None
        if owner is None:
            return set(), False
        apps.add(owner)
        pinned = True
    return apps, pinned


# --------------------------------------------------------------------------------------------
# Server-sent events
# --------------------------------------------------------------------------------------------


class SSEParser:
    """Incremental parser for a text/event-stream body; feed bytes, get (event, data) pairs."""

    def __init__(self):
        self._buffer = b""
        self._event = ""
        self._data = []
        self._last_cr = False

    def feed(self, chunk):
        if self._last_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the \n of a \r\n split across two chunks
        self._last_cr = chunk.endswith(b"\r")
        self._buffer += chunk
        lines = re.split(rb"\r\n|\r|\n", self._buffer)
        self._buffer = lines.pop()
        events = []
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if line == "":
                if self._data:
                    events.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            if line.startswith(":"):
                continue  # comment / keep-alive
            name, _colon, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
        return events


@dataclass
class Invalidation:
    full: bool = False
    apps: set = field(default_factory=set)


def event_invalidation(event_name, data):
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
        apps = set()
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


# --------------------------------------------------------------------------------------------
# Marathon client with failover
# --------------------------------------------------------------------------------------------


class MarathonError(Exception):
    pass


class AppNotFound(MarathonError):
    pass


class MarathonClient:
    """Talks to whichever Marathon answers; remembers the last one that did."""

    def __init__(self, cfg):
        if requests is None:
            raise MarathonError("python3-requests is not installed")
        self.cfg = cfg
        self.urls = list(cfg.marathon_urls)
        self.preferred = 0
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "marathon-haproxy-sync"
        if cfg.marathon_username:
            self.session.auth = (cfg.marathon_username, cfg.marathon_password or "")
        if cfg.marathon_ca_file:
            self.session.verify = cfg.marathon_ca_file
        else:
            self.session.verify = bool(cfg.marathon_validate_certs)
        self.session.trust_env = False
        self._netlocs = {urlsplit(u).netloc.lower() for u in self.urls}

    def _order(self):
        n = len(self.urls)
        return [(self.preferred + i) % n for i in range(n)]

    def get_json(self, path):
        errors = []
        for i in self._order():
            url = self.urls[i] + path
            try:
                resp = self.session.get(
                    url, timeout=(self.cfg.connect_timeout, self.cfg.request_timeout), allow_redirects=False
                )
            except requests.RequestException as exc:
                errors.append(f"{self.urls[i]}: {type(exc).__name__}")
                continue
            if resp.status_code == 200:
                self.preferred = i
                try:
                    return resp.json()
                except ValueError:
                    errors.append(f"{self.urls[i]}: answered with something that is not JSON")
                    continue
            if resp.status_code == 404 and path.startswith("/v2/apps/"):
                self.preferred = i
                raise AppNotFound(path)
            errors.append(f"{self.urls[i]}: HTTP {resp.status_code} {_message(resp)}")
        raise MarathonError(f"GET {path} failed on every Marathon: " + "; ".join(errors))

    def get_apps(self):
        body = self.get_json("/v2/apps?embed=apps.tasks")
        return body.get("apps") or []

    def get_app(self, app_id):
        body = self.get_json(f"/v2/apps/{quote(app_id.strip('/'))}?embed=app.tasks")
        return body.get("app")

    def open_events(self):
        """Open /v2/events on the first Marathon that serves it (standbys redirect to the leader)."""
        errors = []
        redirects = []
        headers = {"Accept": "text/event-stream"}
        timeout = (self.cfg.connect_timeout, self.cfg.event_read_timeout)
        for i in self._order():
            url = self.urls[i] + "/v2/events"
            try:
                resp = self.session.get(url, headers=headers, stream=True, timeout=timeout, allow_redirects=False)
            except requests.RequestException as exc:
                errors.append(f"{self.urls[i]}: {type(exc).__name__}")
                continue
            if resp.status_code == 200:
                self.preferred = i
                return self.urls[i], resp
            if resp.is_redirect and resp.headers.get("Location"):
                redirects.append(requests.compat.urljoin(url, resp.headers["Location"]))
            errors.append(f"{self.urls[i]}: HTTP {resp.status_code}")
            resp.close()
        # Every listed Marathon redirected: the leader is known under another address. Follow
        # once, handing the credentials only to an address from the configured list.
        for location in redirects[:1]:
            extra = {} if urlsplit(location).netloc.lower() in self._netlocs else {"auth": _no_auth}
            try:
                resp = self.session.get(
                    location, headers=headers, stream=True, timeout=timeout, allow_redirects=False, **extra
                )
            except requests.RequestException as exc:
                errors.append(f"{location}: {type(exc).__name__}")
                continue
            if resp.status_code == 200:
                return location.rsplit("/v2/events", 1)[0], resp
            errors.append(f"{location}: HTTP {resp.status_code}")
            resp.close()
        raise MarathonError("no Marathon serves /v2/events: " + "; ".join(errors))


def _no_auth(request):
    return request


def _message(resp):
    """The server's own words, short: Marathon's JSON message, an HTML page's title, or text."""
    try:
        body = resp.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])[:200]
    except ValueError:
        pass
    text = resp.text or ""
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    return " ".join(text.split())[:200]


# --------------------------------------------------------------------------------------------
# HAProxy: validate, install, reload
# --------------------------------------------------------------------------------------------


class HAProxy:
    def __init__(self, cfg):
        self.cfg = cfg

    def current(self):
        try:
            with open(self.cfg.dynamic_config, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write_candidate(self, text):
        directory = os.path.dirname(os.path.abspath(self.cfg.dynamic_config))
        fd, path = tempfile.mkstemp(prefix=".marathon-candidate-", suffix=".cfg", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, 0o644)
        return path

    def check(self, path):
        """Run `haproxy -c` on the base configuration plus the candidate. Returns (ok, output)."""
        cmd = [self.cfg.haproxy_bin, "-c"]
        for base in self.cfg.base_configs:
            cmd += ["-f", base]
        cmd += ["-f", path]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"could not run {self.cfg.haproxy_bin}: {exc}"
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()

    def install(self, path):
        os.replace(path, self.cfg.dynamic_config)

    def reload(self):
        try:
            proc = subprocess.run(self.cfg.reload_command, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


class RuntimeUpdateError(Exception):
    """The runtime API refused a change or could not be reached; the caller reloads instead."""


def split_servers(text):
    """The configuration without its `server` lines, and those lines by backend and name."""
    skeleton, servers, backend = [], {}, None
    for line in (text or "").splitlines():
        words = line.split()
        if line[:1] not in ("", " ", "\t", "#"):
            backend = words[1] if len(words) > 1 and words[0] == "backend" else None
        if backend and len(words) > 2 and words[0] == "server":
            servers.setdefault(backend, {})[words[1]] = " ".join(words)
            continue
        skeleton.append(line)
    return "\n".join(skeleton), servers


def _resolve(address):
    """`host:port` or `[v6]:port` from a server line, with the host resolved to an address."""
    host, _colon, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise RuntimeUpdateError(f"cannot resolve {host}: {exc}") from exc
    family, _type, _proto, _name, sockaddr = infos[0]
    return f"[{sockaddr[0]}]:{port}" if family == socket.AF_INET6 else f"{sockaddr[0]}:{port}"


class RuntimeAPI:
    """HAProxy's runtime API on its admin socket: add, drain and delete servers in place."""

    def __init__(self, path, timeout=3.0):
        self.path = path
        self.timeout = timeout

    def command(self, line):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.path)
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except OSError as exc:
            raise RuntimeUpdateError(f"HAProxy's admin socket {self.path}: {exc}") from exc
        return b"".join(chunks).decode(errors="replace").strip()

    def expect(self, line, *answers):
        reply = self.command(line)
        if reply not in answers:
            raise RuntimeUpdateError(f"`{line}` answered {reply[:200]!r}")
        return reply

    def add(self, backend, server_line):
        words = server_line.split()  # server NAME ADDRESS OPTIONS...
        name, address, options = words[1], _resolve(words[2]), words[3:]
        self.expect(f"add server {backend}/{name} {address} {' '.join(options)}".rstrip(), "New server registered.")
        if "check" in options:
            self.expect(f"enable health {backend}/{name}", "")
        self.enable(backend, name)

    def drain(self, backend, name):
        """No new traffic; the requests under way finish."""
        self.expect(f"disable server {backend}/{name}", "")

    def enable(self, backend, name):
        """Traffic again (a new server starts in maintenance; a drained one comes back)."""
        self.expect(f"enable server {backend}/{name}", "")

    def delete(self, backend, name):
        """True once the server is gone; False while it still has connections."""
        reply = self.command(f"del server {backend}/{name}")
        if reply == "Server deleted." or "No such server" in reply or "No such backend" in reply:
            return True
        LOG.debug("server %s/%s not deleted yet: %s", backend, name, reply[:200])
        return False


# --------------------------------------------------------------------------------------------
# The sync engine
# --------------------------------------------------------------------------------------------


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Syncer:
    """Owns the app cache and the path from apps to a running HAProxy configuration.

    Only one thread calls into it (the worker), so it needs no locks of its own.
    """

    MAX_QUARANTINE_ROUNDS = 3

    def __init__(self, cfg, client, haproxy):
        self.cfg = cfg
        self.client = client
        self.haproxy = haproxy
        self.apps = {}
        self.have_apps = False
        self.last_good_blocks = {}
        self.reload_pending = False
        self.rejected = []
        self.quarantined = {}
        self.status = {
            "state": "starting",
            "updated_at": _now(),
            "marathon": {"url": None, "events_connected": False},
            "config": {"path": cfg.dynamic_config},
            "errors": [],
        }
        self._reported = set()
        self._refused = None
        self.runtime = RuntimeAPI(cfg.admin_socket) if cfg.admin_socket else None
        # The configuration the running HAProxy worker is known to hold (None: unknown, so the
        # next change reloads), and the servers it still drains: {backend: {name: line}}.
        self.live_text = None
        self.draining = {}
        self.write_status()

    # -- inputs ---------------------------------------------------------------------------
    def full_sync(self):
        apps = self.client.get_apps()
        self.apps = {a["id"]: a for a in apps if a.get("id")}
        self.have_apps = True
        self.status["last_reconcile"] = _now()
        return self.apply()

    def partial_sync(self, app_ids):
        if not self.have_apps:
            return self.full_sync()
        for app_id in app_ids:
            try:
                app = self.client.get_app(app_id)
            except AppNotFound:
                app = None
            if app:
                self.apps[app_id] = app
            else:
                self.apps.pop(app_id, None)
        return self.apply()

    # -- output ---------------------------------------------------------------------------
    def apply(self):
        """Render, check, install and apply when changed. True when HAProxy's configuration changed
        (reloaded, or updated in place through the runtime API)."""
        cfg = self.cfg
        started = time.monotonic()
        self._reap()
        services, rejected = build_services(self.apps.values(), cfg)
        blocks = render_blocks(services, cfg)
        text, owners = assemble(blocks, cfg)
        render_seconds = time.monotonic() - started
        self._report_rejections(rejected)
        self.rejected = rejected

        quarantined = {}
        current = self.haproxy.current()
        errors = []
        how = None
        # The same input as the last refused one gets the same answer, without asking HAProxy
        # (and the journal) again on every event and timer tick.
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        memo = self._refused
        known = memo is not None and memo["input"] == fingerprint and memo["current"] == _digest(current)
        if known:
            blocks = dict(memo["blocks"])
            quarantined = dict(memo["quarantined"])
            errors = list(memo["errors"])
            text, owners = assemble(blocks, cfg)
        if not (known and errors):
            text, how = self._check_and_install(text, owners, blocks, quarantined, errors, current)
        if how == "reload":
            LOG.info("HAProxy reloaded: %d services, %d servers", len(services), _servers(services))

        refused = [e for e in errors if e.startswith(("haproxy -c", "gave up"))]
        if quarantined or refused:
            self._refused = {
                "input": fingerprint,
                "current": _digest(self.haproxy.current()),
                "blocks": dict(blocks),
                "quarantined": dict(quarantined),
                "errors": refused,
            }
        else:
            self._refused = None
        if self.haproxy.current() == text:
            self.last_good_blocks = blocks
        self.quarantined = quarantined
        content = self.haproxy.current() or ""
        self.status["config"].update(
            {
                "sha256": hashlib.sha256(content.encode()).hexdigest(),
                "services": len(services),
                "servers": _servers(services),
                "render_seconds": round(render_seconds, 4),
            }
        )
        self.status["apps"] = len(self.apps)
        self.status["rejected"] = [r.as_dict() for r in rejected]
        self.status["quarantined"] = [{"app": a, "reason": r} for a, r in sorted(quarantined.items())]
        self.status["errors"] = errors
        self.status["last_sync"] = _now()
        if errors:
            self.status["state"] = "error"
            self.status["last_error"] = {"at": _now(), "message": errors[0]}
        elif rejected or quarantined:
            self.status["state"] = "degraded"
        else:
            self.status["state"] = "ok"
        self.write_status()
        return how is not None

    def _check_and_install(self, text, owners, blocks, quarantined, errors, current):
        """Check `text`; swap it in and update HAProxy (in place or by a reload), or quarantine
        the apps the errors point at and try again. Updates blocks, quarantined and errors in
        place; returns (text, how): how is "runtime", "reload" or None when nothing changed."""
        dropped = set()
        for _round in range(self.MAX_QUARANTINE_ROUNDS + 1):
            if text == current and not self.reload_pending:
                return text, None
            candidate = self.haproxy.write_candidate(text)
            ok, output = self.haproxy.check(candidate)
            if ok:
                self.haproxy.install(candidate)
                if self._update_in_place(current, text):
                    self.status["config"]["last_runtime_update"] = _now()
                    return text, "runtime"
                self.live_text = None
                ok, output = self.haproxy.reload()
                self.reload_pending = not ok
                if not ok:
                    errors.append(f"reload command {' '.join(self.cfg.reload_command)} failed: {output}")
                    LOG.error("HAProxy reload failed, will retry on the next sync: %s", output)
                    return text, None
                # The new worker holds exactly the file; what the old one drained goes with it.
                self.live_text = text
                self.draining = {}
                self.status["config"]["last_reload"] = _now()
                return text, "reload"
            self._keep_rejected(candidate)
            culprits, pinned = error_apps(output, candidate, owners)
            culprits -= dropped
            if not pinned or not culprits:
                errors.append("haproxy -c refused the new configuration; the last good one stays: " + _alerts(output))
                LOG.error("haproxy -c refused the new configuration, keeping the last good one:\n%s", output)
                return text, None
            reason = _alerts(output, only_app_lines=True)
            for app_id in sorted(culprits):
                kept = self.last_good_blocks.get(app_id)
                if app_id not in quarantined and kept is not None:
                    blocks[app_id] = kept
                    LOG.error(
                        "app %s renders an invalid configuration; keeping its last good sections: %s", app_id, reason
                    )
                else:
                    # No last good sections, or they fail too (a port now taken, say): leave it out.
                    blocks.pop(app_id, None)
                    dropped.add(app_id)
                    LOG.error("app %s renders an invalid configuration; leaving it out: %s", app_id, reason)
                quarantined.setdefault(app_id, reason)
            text, owners = assemble(blocks, self.cfg)
        errors.append("gave up after quarantining apps several times; the last good configuration stays")
        return text, None

    def _update_in_place(self, current, text):
        """Apply `text` to the running worker through the runtime API when it differs from
        `current` only in backends' servers. True when done; False when a reload is needed."""
        if self.runtime is None or self.reload_pending:
            return False
        if self.live_text is None and not self._adopt(current):
            return False
        if current != self.live_text:
            return False
        old_skeleton, old = split_servers(current)
        new_skeleton, new = split_servers(text)
        if old_skeleton != new_skeleton:
            return False
        added = drained = 0
        try:
            for backend in sorted(set(old) | set(new)):
                before, after = old.get(backend, {}), new.get(backend, {})
                draining = self.draining.setdefault(backend, {})
                # New servers first, so that the backend never holds fewer live tasks.
                for name, line in sorted(after.items()):
                    if before.get(name) == line:
                        continue
                    if name in before:
                        raise RuntimeUpdateError(f"server {backend}/{name} changed its options")
                    if draining.get(name) == line:
                        self.runtime.enable(backend, name)
                    else:
                        if name in draining and not self.runtime.delete(backend, name):
                            raise RuntimeUpdateError(f"server {backend}/{name} is still draining")
                        self.runtime.add(backend, line)
                    draining.pop(name, None)
                    added += 1
                for name in sorted(set(before) - set(after)):
                    self.runtime.drain(backend, name)
                    draining[name] = before[name]
                    drained += 1
        except RuntimeUpdateError as exc:
            LOG.warning("cannot update HAProxy in place, reloading instead: %s", exc)
            return False
        self.live_text = text
        LOG.info("HAProxy updated in place (no reload): servers added %d, draining %d", added, drained)
        return True

    def _adopt(self, current):
        """After this program restarts: take the running worker as holding the file on disk when
        it has exactly the file's backends and, in each, the file's servers."""
        try:
            backends = self.runtime.command("show backend").splitlines()
            state = self.runtime.command("show servers state").splitlines()
        except RuntimeUpdateError as exc:
            LOG.debug("cannot read the running servers: %s", exc)
            return False
        worker = {}
        for line in state:
            words = line.split()
            if len(words) > 3 and not line.startswith("#"):
                worker.setdefault(words[1], set()).add(words[3])
        skeleton, servers = split_servers(current)
        ours = {line.split()[1] for line in skeleton.splitlines() if line.startswith("backend ")}
        running = {name for name in backends if name.startswith("marathon_")}
        if running != {name for name in ours if name.startswith("marathon_")}:
            return False
        if any(worker.get(name, set()) != set(servers.get(name, {})) for name in ours):
            return False
        self.live_text = current
        return True

    def _reap(self):
        """Delete the drained servers whose last connection has closed."""
        if self.runtime is None:
            return
        for backend, names in self.draining.items():
            for name in sorted(names):
                try:
                    if self.runtime.delete(backend, name):
                        del names[name]
                except RuntimeUpdateError as exc:
                    LOG.debug("cannot delete drained servers yet: %s", exc)
                    return

    def marathon_unavailable(self, message):
        self.status["state"] = "error"
        self.status["errors"] = [message]
        self.status["last_error"] = {"at": _now(), "message": message}
        self.write_status()

    def _report_rejections(self, rejected):
        keys = {(r.app_id, r.port_index, r.reason) for r in rejected}
        for r in rejected:
            if (r.app_id, r.port_index, r.reason) not in self._reported:
                LOG.error(
                    "refusing service port %s of app %s (port index %s): %s",
                    r.service_port,
                    r.app_id,
                    r.port_index,
                    r.reason,
                )
        self._reported = keys

    def _keep_rejected(self, candidate):
        """Keep the refused file next to the status file for a person to read."""
        target = os.path.join(os.path.dirname(self.cfg.status_file) or ".", "rejected.cfg")
        try:
            os.replace(candidate, target)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(candidate)

    def write_status(self):
        self.status["updated_at"] = _now()
        path = self.cfg.status_file
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".status-", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.status, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as exc:
            LOG.error("cannot write the status file %s: %s", path, exc)


def _digest(text):
    return hashlib.sha256((text or "").encode()).hexdigest()


def _servers(services):
    return sum(len(s.servers) for s in services)


def _alerts(output, only_app_lines=False):
    lines = [ln.split(" : ", 1)[-1].strip() for ln in output.splitlines() if "[ALERT]" in ln]
    if only_app_lines:
        lines = [ln for ln in lines if _ERROR_LINE.search(ln)] or lines
    return " | ".join(lines)[:1000] or output[:1000]


# --------------------------------------------------------------------------------------------
# Threads: events in, one worker out
# --------------------------------------------------------------------------------------------


class Trigger:
    """Collects invalidations from the event thread for the worker."""

    def __init__(self):
        self._cond = threading.Condition()
        self._pending = Invalidation()

    def add(self, inv):
        if not inv.full and not inv.apps:
            return
        with self._cond:
            self._pending.full |= inv.full
            self._pending.apps |= inv.apps
            self._cond.notify()

    def take(self, timeout):
        with self._cond:
            if not (self._pending.full or self._pending.apps):
                self._cond.wait(timeout)
            pending, self._pending = self._pending, Invalidation()
            return pending


class SyncDaemon:
    def __init__(self, cfg, client=None, haproxy=None):
        self.cfg = cfg
        self.client = client or MarathonClient(cfg)
        self.syncer = Syncer(cfg, self.client, haproxy or HAProxy(cfg))
        self.trigger = Trigger()
        self.stop_event = threading.Event()
        self._response = None
        self._threads = []
        self.events_seen = 0
        self.last_event_url = None

    # -- event stream ---------------------------------------------------------------------
    def _events_loop(self):
        delay = self.cfg.retry_delay
        while not self.stop_event.is_set():
            try:
                url, resp = self.client.open_events()
            except MarathonError as exc:
                LOG.warning("event stream unavailable, retrying in %.0fs: %s", delay, exc)
                self._set_events(None, False)
                self.stop_event.wait(delay)
                delay = min(delay * 2, self.cfg.max_retry_delay)
                continue
            delay = self.cfg.retry_delay
            self._response = resp
            self.last_event_url = url
            self._set_events(url, True)
            LOG.info("following Marathon events at %s", url)
            # Whatever happened while we were not listening: re-read everything.
            self.trigger.add(Invalidation(full=True))
            parser = SSEParser()
            try:
                for chunk in resp.iter_content(chunk_size=1):
                    if self.stop_event.is_set():
                        break
                    for name, data in parser.feed(chunk):
                        self.events_seen += 1
                        self.trigger.add(event_invalidation(name, data))
                if not self.stop_event.is_set():
                    LOG.warning("Marathon at %s closed the event stream; reconnecting", url)
            except Exception as exc:  # noqa: BLE001 - any failure of the stream means: reconnect
                if not self.stop_event.is_set():
                    LOG.warning("event stream from %s broke (%s); reconnecting", url, type(exc).__name__)
            finally:
                self._response = None
                with contextlib.suppress(Exception):
                    resp.close()
            self._set_events(None, False)
            self.stop_event.wait(min(self.cfg.retry_delay, 0.2))

    def _set_events(self, url, connected):
        # The worker owns the status dict; these two fields are only written here.
        self.syncer.status["marathon"] = {"url": url, "events_connected": connected}

    # -- worker ---------------------------------------------------------------------------
    def _worker_loop(self):
        next_full = time.monotonic()
        delay = self.cfg.retry_delay
        while not self.stop_event.is_set():
            timeout = max(0.0, next_full - time.monotonic())
            pending = self.trigger.take(timeout)
            if self.stop_event.is_set():
                break
            due = time.monotonic() >= next_full
            if not (due or pending.full or pending.apps):
                continue
            if self.cfg.debounce and not due:
                self.stop_event.wait(self.cfg.debounce)
                more = self.trigger.take(0)
                pending.full |= more.full
                pending.apps |= more.apps
            try:
                if due or pending.full or len(pending.apps) > self.cfg.max_partial_apps:
                    self.syncer.full_sync()
                    next_full = time.monotonic() + self.cfg.reconcile_interval
                else:
                    self.syncer.partial_sync(sorted(pending.apps))
                delay = self.cfg.retry_delay
            except MarathonError as exc:
                LOG.error("cannot read apps from Marathon: %s", exc)
                self.syncer.marathon_unavailable(str(exc))
                next_full = time.monotonic() + delay
                delay = min(delay * 2, self.cfg.max_retry_delay)
            except Exception:  # noqa: BLE001 - never die on one bad sync; the timer retries
                LOG.exception("sync failed")
                self.syncer.marathon_unavailable("sync failed unexpectedly; see the journal")
                next_full = time.monotonic() + delay

    def start(self):
        for target, name in ((self._worker_loop, "worker"), (self._events_loop, "events")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout=5.0):
        self.stop_event.set()
        self.trigger.add(Invalidation(full=True))
        resp = self._response
        if resp is not None:
            # Closing the response from this thread would wait for the reader's buffer lock;
            # shutting the socket down wakes the reader, which then closes it itself.
            sock = _response_socket(resp)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout)


def _response_socket(resp):
    """The socket under a streamed requests response, or None (best effort: no public API)."""
    conn = getattr(resp.raw, "connection", None) or getattr(resp.raw, "_connection", None)
    if getattr(conn, "sock", None) is not None:
        return conn.sock
    fp = getattr(getattr(resp.raw, "_fp", None), "fp", None)
    return getattr(getattr(fp, "raw", None), "_sock", None)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


class _JournalFormatter(logging.Formatter):
    """Prefix <N> so journald files each line at its syslog priority."""

    PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}

    def format(self, record):
        return f"<{self.PRIORITY.get(record.levelname, 6)}>{super().format(record)}"


def _setup_logging(level):
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render HAProxy frontends and backends from Marathon apps.")
    parser.add_argument("--config", default="/etc/haproxy-marathon-sync/config.json", help="JSON configuration file")
    parser.add_argument("--once", action="store_true", help="sync once and exit (exit 1 if the sync failed)")
    parser.add_argument("--check-config", action="store_true", help="only load and check the configuration file")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    _setup_logging(args.log_level.upper())
    try:
        cfg = Config.load(args.config)
    except (OSError, ValueError, TypeError) as exc:
        LOG.error("configuration %s: %s", args.config, exc)
        return 2
    if args.check_config:
        return 0
    if args.once:
        syncer = Syncer(cfg, MarathonClient(cfg), HAProxy(cfg))
        try:
            syncer.full_sync()
        except MarathonError as exc:
            LOG.error("cannot read apps from Marathon: %s", exc)
            syncer.marathon_unavailable(str(exc))
            return 1
        return 0 if syncer.status["state"] in ("ok", "degraded") else 1

    daemon = SyncDaemon(cfg)
    done = threading.Event()

    def _stop(_signum, _frame):
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    LOG.info(
        "starting: Marathon %s, group %s, dynamic config %s",
        ", ".join(cfg.marathon_urls),
        cfg.group,
        cfg.dynamic_config,
    )
    daemon.start()
    while not done.wait(1.0):
        pass
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
