# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The program's one JSON configuration file (written by the role from its variables)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

# A certificate's name, the file `<name>.pem` in certificates_dir: no '/', no leading dot.
CERTIFICATE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass
class Config:
    marathon_urls: list[str] = field(default_factory=lambda: ["http://127.0.0.1:8080"])
    marathon_username: str | None = None
    marathon_password: str | None = None
    marathon_ca_file: str | None = None
    marathon_validate_certs: bool = True
    group: str = "external"
    include_unlabelled: bool = True
    dynamic_config: str = "/etc/haproxy/marathon.cfg"
    base_configs: list[str] = field(default_factory=lambda: ["/etc/haproxy/haproxy.cfg"])
    haproxy_bin: str = "/usr/sbin/haproxy"
    reload_command: list[str] = field(default_factory=lambda: ["systemctl", "reload", "haproxy.service"])
    # HAProxy's admin socket: server changes go through it without a reload, and reloads are
    # verified through it. None: always reload, unverified.
    admin_socket: str | None = "/run/haproxy/admin.sock"
    status_file: str = "/var/lib/haproxy-marathon-sync/status.json"
    # The full re-read of every app: every `reconcile_interval` seconds, give or take
    # `reconcile_jitter` of it, so that a fleet's reads spread out instead of lining up.
    reconcile_interval: float = 30.0
    reconcile_jitter: float = 0.2
    # After the event stream (re)connects, the full re-read waits a random 0..resync_spread
    # seconds: a Marathon failover reconnects every node at once, their reads need not be.
    resync_spread: float = 5.0
    debounce: float = 0.05
    max_partial_apps: int = 20
    # A full read that would remove more than this share of the served frontends (or all of
    # them) is held back until `mass_removal_confirmations` consecutive full reads agree.
    mass_removal_share: float = 0.5
    mass_removal_confirmations: int = 2
    # How long a reload may take before the worker still answering counts as a failure.
    reload_verify_timeout: float = 10.0
    stats_port: int = 9090
    vhost_port: int = 80
    # The HTTPS virtual-host frontend: TLS with every certificate of `certificates_dir` (SNI picks
    # the one for the requested host); 0 turns it off. `certificates` names the files the role
    # deployed there (`<name>.pem`); HAPROXY_{n}_SSL_CERT may name only those.
    https_port: int = 0
    certificates_dir: str = "/etc/haproxy/certs"
    certificates: list[str] = field(default_factory=list)
    reserved_ports: list[str | int] = field(default_factory=list)
    bind_address: str = ""
    server_options: str = "check inter 2s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down"
    backup_unready_tasks: bool = True
    log_requests: bool = True
    connect_timeout: float = 3.0
    request_timeout: float = 10.0
    event_read_timeout: float = 300.0
    # Reconnects and retries back off exponentially from retry_delay to max_retry_delay, each
    # delay drawn at random from its upper half (jitter).
    retry_delay: float = 1.0
    max_retry_delay: float = 30.0
    # The Prometheus metrics and health endpoint; 0 turns it off.
    metrics_port: int = 0
    metrics_address: str = "127.0.0.1"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if not k.startswith("_")}  # "_..." keys are comments
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys: {', '.join(unknown)}")
        cfg = cls(**data)
        cfg.check()
        return cfg

    @classmethod
    def load(cls, path: str) -> Config:
        with open(path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except ValueError as exc:
                raise ValueError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object")
        return cls.from_dict(data)

    def check(self) -> None:
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
        for name in ("stats_port", "vhost_port", "https_port", "metrics_port"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 65535:
                raise ValueError(f"{name} must be a port number, got {value!r}")
        if self.reconcile_interval <= 0:
            raise ValueError("reconcile_interval must be positive")
        if not 0 <= self.reconcile_jitter < 1:
            raise ValueError("reconcile_jitter must be a share of the interval, at least 0 and below 1")
        if self.resync_spread < 0:
            raise ValueError("resync_spread must not be negative")
        if not 0 < self.mass_removal_share <= 1:
            raise ValueError("mass_removal_share must be above 0 and at most 1")
        if not isinstance(self.mass_removal_confirmations, int) or self.mass_removal_confirmations < 1:
            raise ValueError("mass_removal_confirmations must be 1 (no confirmation) or more")
        if self.retry_delay <= 0 or self.max_retry_delay < self.retry_delay:
            raise ValueError("retry_delay must be positive and max_retry_delay at least retry_delay")
        if self.metrics_port and self.metrics_port in (self.stats_port, self.vhost_port):
            raise ValueError("metrics_port must differ from stats_port and vhost_port")
        self._check_tls()
        if isinstance(self.reload_command, str):
            self.reload_command = self.reload_command.split()
        if isinstance(self.base_configs, str):
            self.base_configs = [self.base_configs]
        for item in self.reserved_ports:
            if not re.fullmatch(r"\d+(-\d+)?", str(item)):
                raise ValueError(f"reserved_ports: {item!r} is neither a port nor a range 'first-last'")

    def _check_tls(self) -> None:
        for name in self.certificates:
            if not isinstance(name, str) or not CERTIFICATE_NAME.fullmatch(name):
                raise ValueError(
                    f"certificates: {name!r} is not a certificate name (letters, digits, '_', '.', '-'; no '/')"
                )
        if not os.path.isabs(self.certificates_dir):
            raise ValueError(f"certificates_dir must be an absolute path, got {self.certificates_dir!r}")
        if not self.https_port:
            return
        if not self.certificates:
            raise ValueError("https_port needs at least one name in certificates: HAProxy cannot serve TLS without")
        others = {self.stats_port, self.vhost_port, self.metrics_port} - {0}
        if self.https_port in others:
            raise ValueError("https_port must differ from stats_port, vhost_port and metrics_port")

    def certificate_path(self, name: str) -> str:
        """The file of a deployed certificate, by its name."""
        return os.path.join(self.certificates_dir, f"{name}.pem")

    def reserved(self) -> dict[int, str]:
        """Ports no app may take, with the reason for each."""
        ports: dict[int, str] = {}
        for item in self.reserved_ports:
            first, _dash, last = str(item).partition("-")
            for port in range(int(first), int(last or first) + 1):
                ports[port] = "reserved by the HAProxy role (haproxy_reserved_ports)"
        if self.stats_port:
            ports[self.stats_port] = "the HAProxy stats and health port"
        if self.vhost_port:
            ports[self.vhost_port] = "the HTTP virtual-host port"
        if self.https_port:
            ports[self.https_port] = "the HTTPS virtual-host port"
        if self.metrics_port:
            ports[self.metrics_port] = "the sync program's metrics port"
        return ports
