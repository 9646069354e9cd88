# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""From Marathon's apps to services: one per served service port, with its servers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .config import Config

App = dict[str, Any]
Address = tuple[str, int]

# Health-check protocols that imply a plain-HTTP service (the frontend then runs in http mode).
# HTTPS checks do not: HAProxy would speak plain HTTP to a TLS server.
HTTP_CHECK_PROTOCOLS = {"HTTP", "MESOS_HTTP"}

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VHOST = re.compile(r"^[A-Za-z0-9*]([A-Za-z0-9*.-]*[A-Za-z0-9])?$")
# A path prefix for path_beg: no spaces, no '#' (a comment to HAProxy), no backslash or quote.
_PATH = re.compile(r"^/[^\s#\\\"']*$")
_PATH_FLAGS = {"-i"}
# HAPROXY_{n}_BIND_OPTIONS: the bind options accepted (TLS settings and a few socket ones), with
# how many arguments each takes. Options naming files (crt, ca-file...) are not: certificates
# come from the role (HAPROXY_{n}_SSL_CERT names one).
BIND_OPTIONS = {
    **dict.fromkeys(("ciphers", "ciphersuites", "ssl-min-ver", "ssl-max-ver", "curves", "ecdhe", "alpn"), 1),
    **dict.fromkeys(("maxconn", "backlog", "mss", "tcp-ut"), 1),
    **dict.fromkeys(
        (
            "no-sslv3",
            "no-tlsv10",
            "no-tlsv11",
            "no-tlsv12",
            "no-tlsv13",
            "force-tlsv12",
            "force-tlsv13",
            "no-tls-tickets",
            "prefer-client-ciphers",
            "strict-sni",
            "defer-accept",
            "tfo",
            "v4v6",
            "v6only",
        ),
        0,
    ),
}
_BIND_VALUE = re.compile(r"^[A-Za-z0-9_.:+!@=,/-]+$")


@dataclass
class Service:
    app_id: str
    port_index: int
    service_port: int
    name: str
    mode: str = "tcp"
    balance: str = "roundrobin"
    bind_address: str = ""
    vhosts: list[str] = field(default_factory=list)
    # HAPROXY_{n}_PATH: path_beg patterns (and flags such as -i) routed on the vhost frontend.
    paths: list[str] = field(default_factory=list)
    # HAPROXY_{n}_STICKY: a client keeps its server (a cookie HAProxy inserts).
    sticky: bool = False
    # HAPROXY_{n}_SSL_CERT: the service port's frontend terminates TLS with this file.
    ssl_cert: str | None = None
    # HAPROXY_{n}_BIND_OPTIONS: more options for the service port's bind line.
    bind_options: list[str] = field(default_factory=list)
    # HAPROXY_{n}_REDIRECT_TO_HTTPS: the HTTP virtual-host frontend redirects to the HTTPS one.
    redirect_to_https: bool = False
    servers: list[Address] = field(default_factory=list)
    backups: list[Address] = field(default_factory=list)  # tasks not yet checked


@dataclass
class Rejection:
    app_id: str
    port_index: int | None
    service_port: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "port_index": self.port_index,
            "service_port": self.service_port,
            "reason": self.reason,
        }


def safe_name(text: str) -> str:
    return _SAFE_NAME.sub("_", text.strip("/")) or "root"


def service_ports(app: App) -> list[Any]:
    """The app's service ports, in port-index order, from whichever field defines them."""
    container = app.get("container") or {}
    mappings = container.get("portMappings") or (container.get("docker") or {}).get("portMappings")
    if mappings:
        return [m.get("servicePort", 0) for m in mappings]
    if app.get("portDefinitions"):
        return [d.get("port", 0) for d in app["portDefinitions"]]
    return list(app.get("ports") or [])


def _label(labels: dict[str, str], index: int, name: str) -> str | None:
    return labels.get(f"HAPROXY_{index}_{name}")


def app_group(labels: dict[str, str], index: int) -> str | None:
    return _label(labels, index, "GROUP") or labels.get("HAPROXY_GROUP")


def group_selected(cfg: Config, group: str | None) -> bool:
    if cfg.group == "*":
        return True
    if group is None:
        return cfg.include_unlabelled
    return cfg.group in [g.strip() for g in group.split(",")]


def task_ready(task: dict[str, Any], health_checks: list[Any]) -> bool:
    """A task serves when it runs and, if the app has health checks, all of them pass."""
    if task.get("state") != "TASK_RUNNING":
        return False
    if not health_checks:
        return True
    results = task.get("healthCheckResults") or []
    if len(results) < len(health_checks):
        return False
    return all(r.get("alive") is True for r in results)


def task_starting(task: dict[str, Any], health_checks: list[Any]) -> bool:
    """A running task whose health checks have not all reported yet, none of them failing.

    Such tasks become backup servers (when backup_unready_tasks is on): HAProxy sends them
    nothing while a healthy task answers. They matter in the instant a deployment kills the
    old tasks because the new ones just turned healthy, before the sync has heard so.
    """
    if task.get("state") != "TASK_RUNNING" or not health_checks:
        return False
    results = task.get("healthCheckResults") or []
    return len(results) < len(health_checks) and all(r.get("alive") is not False for r in results)


def readiness_held(app: App) -> set[str]:
    """Ids of the app's tasks that Marathon has not found ready, so not to be served.

    Readiness checks run during deployments only (readiness-checks.md). While an app that has
    one is in a deployment, Marathon lists a result per task it checks (embed app.readiness).
    Held: a task whose result says not ready, and a task of the app's current version that has
    no result yet (started by the deployment, not checked yet). A task of an older version
    without a result is one the deployment did not start: it keeps serving until Marathon kills
    it, which it does only once new tasks are ready.
    """
    if not app.get("readinessChecks"):
        return set()
    results = [r for r in app.get("readinessCheckResults") or [] if isinstance(r, dict)]
    held = {str(r.get("taskId")) for r in results if r.get("ready") is not True}
    if app.get("deployments"):
        checked = {str(r.get("taskId")) for r in results}
        version = app.get("version")
        for task in app.get("tasks") or []:
            if task.get("id") not in checked and version is not None and task.get("version") == version:
                held.add(str(task.get("id")))
    return held


def _is_true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def tls_labels(
    cfg: Config, labels: dict[str, str], index: int, vhosts: list[str]
) -> tuple[str | None, list[str], bool]:
    """Port `index`'s HAPROXY_{n}_SSL_CERT (a file), HAPROXY_{n}_BIND_OPTIONS and
    HAPROXY_{n}_REDIRECT_TO_HTTPS; ValueError with the reason when one cannot be served."""
    ssl_cert = None
    name = (_label(labels, index, "SSL_CERT") or "").strip()
    if name:
        # marathon-lb's labels name a file: the bare name, `<name>.pem` or the whole path all do.
        short = name.removeprefix(cfg.certificates_dir.rstrip("/") + "/").removesuffix(".pem")
        if short not in cfg.certificates:
            deployed = ", ".join(sorted(cfg.certificates)) or "none"
            raise ValueError(
                f"HAPROXY_{index}_SSL_CERT={name!r} names no certificate the HAProxy role deployed "
                f"(haproxy_tls_certificates: {deployed})"
            )
        ssl_cert = cfg.certificate_path(short)
    words = (_label(labels, index, "BIND_OPTIONS") or "").split()
    position = 0
    while position < len(words):
        word = words[position]
        if word not in BIND_OPTIONS:
            raise ValueError(
                f"HAPROXY_{index}_BIND_OPTIONS: {word!r} is not an accepted bind option "
                f"(accepted: {', '.join(sorted(BIND_OPTIONS))}; certificates through HAPROXY_{index}_SSL_CERT)"
            )
        values = words[position + 1 : position + 1 + BIND_OPTIONS[word]]
        if len(values) < BIND_OPTIONS[word] or not all(_BIND_VALUE.match(v) for v in values):
            raise ValueError(f"HAPROXY_{index}_BIND_OPTIONS: {word!r} needs a value")
        position += 1 + BIND_OPTIONS[word]
    redirect = _is_true(_label(labels, index, "REDIRECT_TO_HTTPS") or "false")
    if redirect and not vhosts:
        raise ValueError(f"HAPROXY_{index}_REDIRECT_TO_HTTPS needs HAPROXY_{index}_VHOST: it redirects virtual hosts")
    if redirect and not cfg.https_port:
        raise ValueError(
            f"HAPROXY_{index}_REDIRECT_TO_HTTPS needs the HTTPS frontend, which is off "
            "(haproxy_https_port 0, or no haproxy_tls_certificates)"
        )
    return ssl_cert, words, redirect


def build_services(apps: Iterable[App], cfg: Config) -> tuple[list[Service], list[Rejection]]:
    """Turn Marathon apps into services; refuse what cannot be served safely.

    Returns (services sorted by service port, rejections). Apps are taken in id order so
    that the same apps always give the same result: when two apps claim one service port,
    the app with the smaller id keeps it.
    """
    reserved = cfg.reserved()
    taken: dict[int, str] = {}
    services: list[Service] = []
    rejected: list[Rejection] = []
    for app in sorted(apps, key=lambda a: a.get("id", "")):
        app_id = app.get("id", "")
        labels = app.get("labels") or {}
        checks = app.get("healthChecks") or []
        held = readiness_held(app)
        tasks = [t for t in app.get("tasks") or [] if t.get("id") not in held]
        for index, port in enumerate(service_ports(app)):
            if not group_selected(cfg, app_group(labels, index)):
                continue
            enabled = _label(labels, index, "ENABLED")
            if enabled is not None and not _is_true(enabled):
                continue

            def refuse(reason: str, index: int = index, port: Any = port, app_id: str = app_id) -> None:
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

            paths = (_label(labels, index, "PATH") or "").split()
            bad_paths = [p for p in paths if p not in _PATH_FLAGS and not _PATH.match(p)]
            if bad_paths:
                refuse(f"HAPROXY_{index}_PATH has an invalid path {bad_paths[0]!r} (paths start with /)")
                continue
            if paths and not vhosts:
                refuse(f"HAPROXY_{index}_PATH needs HAPROXY_{index}_VHOST: paths are routed on the virtual-host port")
                continue
            if paths and not [p for p in paths if p not in _PATH_FLAGS]:
                refuse(f"HAPROXY_{index}_PATH names no path")
                continue
            try:
                ssl_cert, bind_options, redirect = tls_labels(cfg, labels, index, vhosts)
            except ValueError as exc:
                refuse(str(exc))
                continue

            mode = (_label(labels, index, "MODE") or ("http" if vhosts else "tcp")).strip().lower()
            for check in checks:
                if check.get("portIndex", 0) == index and check.get("protocol", "") in HTTP_CHECK_PROTOCOLS:
                    mode = "http"
            if redirect and mode != "http":
                refuse(f"HAPROXY_{index}_REDIRECT_TO_HTTPS needs HTTP mode, not {mode}")
                continue
            balance = (_label(labels, index, "BALANCE") or "roundrobin").strip()
            servers: list[Address] = []
            backups: list[Address] = []
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
                    paths=paths if mode == "http" else [],
                    sticky=mode == "http" and _is_true(_label(labels, index, "STICKY") or "false"),
                    ssl_cert=ssl_cert,
                    bind_options=bind_options,
                    redirect_to_https=redirect,
                    servers=sorted(set(servers)),
                    backups=sorted(set(backups) - set(servers)),
                )
            )
    services.sort(key=lambda s: s.service_port)
    return services, rejected
