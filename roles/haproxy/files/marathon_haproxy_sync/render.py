# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""From services to the text of HAProxy's dynamic configuration file."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import Config
from .services import Service, safe_name

GENERATED_HEADER = (
    "# Written by marathon_haproxy_sync from Marathon's apps; every sync overwrites it.\n"
    "# Change the HAProxy role's variables or the apps' HAPROXY_* labels instead.\n"
)
VHOST_FRONTEND = "marathon_http_vhosts"
HTTPS_FRONTEND = "marathon_https_vhosts"
# The frontends every app shares (not an app's own).
SHARED_FRONTENDS = (VHOST_FRONTEND, HTTPS_FRONTEND)

_ERROR_LINE = re.compile(r"\[([^\[\]]+):(\d+)\]")


@dataclass
class AppBlock:
    """What one app contributes to the configuration: its sections and its vhost rules."""

    app_id: str
    sections: str
    vhost_acls: list[str] = field(default_factory=list)
    # (order, line): routes with a path come first, so that a host's path-specific routes are
    # tried before its catch-all route (use_backend rules apply in the order written).
    vhost_routes: list[tuple[int, str]] = field(default_factory=list)


def bind_text(address: str, port: int) -> str:
    if ":" in address and not address.startswith("["):
        return f"[{address}]:{port}"  # IPv6 literal
    return f"{address}:{port}"


def https_redirect(cfg: Config) -> str:
    """The redirect of HAPROXY_{n}_REDIRECT_TO_HTTPS: same host and path and query, on the HTTPS
    port. In the app's backend, so that it applies to exactly the requests routed to the app (a
    host's other paths may belong to other apps), and only those from the HTTP vhost frontend."""
    port = "" if cfg.https_port == 443 else f":{cfg.https_port}"
    return (
        f"    http-request redirect location https://%[req.hdr(host),field(1,:)]{port}%[pathq] code 301"
        f" if {{ fe_name {VHOST_FRONTEND} }}"
    )


def render_service(svc: Service, cfg: Config) -> str:
    bind = f"    bind {bind_text(svc.bind_address, svc.service_port)}"
    if svc.ssl_cert:
        bind += f" ssl crt {svc.ssl_cert}"
    if svc.bind_options:
        bind += " " + " ".join(svc.bind_options)
    lines = [
        f"# app {svc.app_id} port index {svc.port_index}",
        f"frontend {svc.name}",
        bind,
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
    if svc.sticky:
        # marathon-lb's cookie, so that clients moving over keep their servers. Its value is the
        # server's name (host_port), the same after every reload. HAProxy 2.6 cannot give a
        # server added at runtime a cookie, so sticky backends change by reloads.
        lines.append("    cookie mesosphere_server_id insert indirect nocache")
    if svc.redirect_to_https:
        lines.append(https_redirect(cfg))
    if svc.mode == "http":
        # A killed task refuses connections until the next sync removes it: retry elsewhere.
        lines.append("    retry-on conn-failure empty-response response-timeout")
    options = f" {cfg.server_options}" if cfg.server_options else ""
    for host, port in svc.servers:
        name = f"{safe_name(host)}_{port}"
        cookie = f" cookie {name}" if svc.sticky else ""
        lines.append(f"    server {name} {bind_text(host, port)}{options}{cookie}")
    for host, port in svc.backups:
        # Its own name: when the task turns healthy, the active server is added beside it (the
        # runtime API cannot change a server's backup flag) and the backup is removed.
        name = f"{safe_name(host)}_{port}_backup"
        cookie = f" cookie {name}" if svc.sticky else ""
        lines.append(f"    server {name} {bind_text(host, port)}{options} backup{cookie}")
    lines.append("")
    return "\n".join(lines) + "\n"


def render_blocks(services: Iterable[Service], cfg: Config) -> dict[str, AppBlock]:
    """One AppBlock per app id."""
    blocks: dict[str, AppBlock] = {}
    for svc in services:
        block = blocks.setdefault(svc.app_id, AppBlock(svc.app_id, ""))
        block.sections += render_service(svc, cfg)
        if svc.vhosts:
            acl = f"host_{svc.name}"
            block.vhost_acls.append(f"    acl {acl} req.hdr(host),field(1,:) -i {' '.join(svc.vhosts)}")
            if svc.paths:
                block.vhost_acls.append(f"    acl path_{svc.name} path_beg {' '.join(svc.paths)}")
                block.vhost_routes.append((0, f"    use_backend {svc.name} if {acl} path_{svc.name}"))
            else:
                block.vhost_routes.append((1, f"    use_backend {svc.name} if {acl}"))
    return blocks


def assemble(blocks: dict[str, AppBlock], cfg: Config) -> tuple[str, list[str | None]]:
    """The whole file, plus which app owns each line (1-based; None for shared lines)."""
    out = [GENERATED_HEADER]
    owners: list[str | None] = [None] * GENERATED_HEADER.count("\n")
    for app_id in sorted(blocks):
        text = blocks[app_id].sections
        out.append(text)
        owners += [app_id] * text.count("\n")
    acls = [(app_id, line) for app_id in sorted(blocks) for line in blocks[app_id].vhost_acls]
    routes = sorted(
        ((order, app_id, line) for app_id in sorted(blocks) for order, line in blocks[app_id].vhost_routes),
        key=lambda route: (route[0], route[1]),
    )
    rules = acls + [(app_id, line) for _order, app_id, line in routes]
    frontends = []
    if rules and cfg.vhost_port:
        frontends.append(
            [
                "# HTTP virtual hosts (HAPROXY_{n}_VHOST labels)",
                f"frontend {VHOST_FRONTEND}",
                f"    bind {bind_text(cfg.bind_address, cfg.vhost_port)}",
                "    mode http",
            ]
        )
    if rules and cfg.https_port:
        # Every certificate of the folder: SNI picks the one whose names match the requested host.
        folder = cfg.certificates_dir.rstrip("/") + "/"
        frontends.append(
            [
                "# HTTPS virtual hosts (HAPROXY_{n}_VHOST labels; the certificate chosen by SNI)",
                f"frontend {HTTPS_FRONTEND}",
                f"    bind {bind_text(cfg.bind_address, cfg.https_port)} ssl crt {folder}",
                "    mode http",
                "    http-request set-header X-Forwarded-Proto https",
            ]
        )
    for head in frontends:
        if cfg.log_requests:
            head.append("    option httplog")
        out.append("\n".join(head) + "\n")
        owners += [None] * len(head)
        for app_id, rule in rules:
            out.append(rule + "\n")
            owners.append(app_id)
    return "".join(out), owners


def error_apps(output: str, path: str, owners: list[str | None]) -> tuple[set[str], bool]:
    """Map `haproxy -c` error lines about `path` to the apps that own them.

    Returns (apps, pinned): pinned is False when some error could not be tied to an app.
    """
    apps: set[str] = set()
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


def frontends(text: str | None) -> dict[str, str]:
    """The apps' frontends in a rendered file: {name: app id} (the shared vhost frontends left out)."""
    found: dict[str, str] = {}
    app_id = ""
    for line in (text or "").splitlines():
        if line.startswith("# app "):
            app_id = line[len("# app ") :].rsplit(" port index ", 1)[0]
        elif line.startswith("frontend "):
            name = line.split()[1]
            if name not in SHARED_FRONTENDS:
                found[name] = app_id
    return found


def binds(text: str | None) -> dict[str, str]:
    """Each app frontend's bind address (`address:port`) in a rendered file."""
    found: dict[str, str] = {}
    frontend = None
    for line in (text or "").splitlines():
        if line.startswith("frontend "):
            frontend = line.split()[1]
        elif frontend and frontend not in SHARED_FRONTENDS and line.strip().startswith("bind "):
            found.setdefault(frontend, line.split()[1])
    return found
