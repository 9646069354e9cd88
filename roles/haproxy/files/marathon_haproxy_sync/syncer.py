# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The path from Marathon's apps to a running HAProxy configuration, with its safety checks.

A new configuration is checked with `haproxy -c` before it replaces the old one. When only the
servers behind existing backends changed, they are changed in the running worker through the
runtime API first (no reload: a request HAProxy is retrying meets the new tasks at once; the
runtime API refuses a server it cannot parse), and the file follows once checked. Otherwise
HAProxy is reloaded, and the reload is verified: a new worker must answer on the admin socket
with every expected frontend. When the check fails, the apps the error lines point at keep
their last good sections (or are left out); when a reload does not take, the last good file is
put back, the failure is reported and retried. A service port another program holds on this
host is left out (and reported) until it is free. A full read that would remove most frontends
at once is held back until further reads confirm it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from typing import Any, Protocol

from . import render
from .config import Config
from .haproxy import HAProxy, RuntimeAPI, RuntimeUpdateError, port_taken, split_servers
from .marathon import AppNotFound
from .metrics import Metrics
from .render import AppBlock
from .services import App, Rejection, Service, build_services

LOG = logging.getLogger("marathon-haproxy-sync")


class AppSource(Protocol):
    def get_apps(self) -> list[App]: ...

    def get_app(self, app_id: str) -> App | None: ...


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()


def _servers(services: list[Service]) -> int:
    return sum(len(s.servers) for s in services)


def _alerts(output: str, only_app_lines: bool = False) -> str:
    lines = [ln.split(" : ", 1)[-1].strip() for ln in output.splitlines() if "[ALERT]" in ln]
    if only_app_lines:
        lines = [ln for ln in lines if render._ERROR_LINE.search(ln)] or lines
    return " | ".join(lines)[:1000] or output[:1000]


class ReloadNotTaken(Exception):
    """The reload command succeeded but no new worker serves the new configuration."""


class Syncer:
    """Owns the app cache and the path from apps to a running HAProxy configuration.

    Only one thread calls into it (the worker), so it needs no locks of its own.
    """

    MAX_QUARANTINE_ROUNDS = 3

    def __init__(self, cfg: Config, client: AppSource, haproxy: HAProxy, metrics: Metrics | None = None) -> None:
        self.cfg = cfg
        self.client = client
        self.haproxy = haproxy
        self.metrics = metrics or Metrics()
        self.apps: dict[str, App] = {}
        self.have_apps = False
        self.last_good_blocks: dict[str, AppBlock] = {}
        self.reload_pending = False
        self.rejected: list[Rejection] = []
        self.quarantined: dict[str, str] = {}
        # Service ports another program holds on this host: {frontend: report}.
        self.port_conflicts: dict[str, dict[str, Any]] = {}
        # A mass removal held back: {"removed": [...frontends], "reads": n, "since": time}.
        self.held: dict[str, Any] | None = None
        # Set when the worker should sync again soon (a held removal to confirm, a reload to retry).
        self.retry_soon = False
        self.status: dict[str, Any] = {
            "state": "starting",
            "updated_at": _now(),
            "marathon": {"url": None, "events_connected": False},
            "config": {"path": cfg.dynamic_config},
            "errors": [],
        }
        self._reported: set[tuple[str, int | None, str]] = set()
        self._refused: dict[str, Any] | None = None
        self.runtime = RuntimeAPI(cfg.admin_socket) if cfg.admin_socket else None
        # The configuration the running HAProxy worker is known to hold (None: unknown, so the
        # next change reloads), and the servers it still drains: {backend: {name: line}}.
        self.live_text: str | None = None
        self.draining: dict[str, dict[str, str]] = {}
        self.write_status()

    # -- inputs ---------------------------------------------------------------------------
    def full_sync(self) -> bool:
        apps = self.client.get_apps()
        fresh = {a["id"]: a for a in apps if a.get("id")}
        self.metrics.inc("marathon_haproxy_sync_syncs_total", kind="full")
        self.status["last_reconcile"] = _now()
        if not self._removal_confirmed(fresh):
            return False
        self.apps = fresh
        self.have_apps = True
        return self.apply()

    def partial_sync(self, app_ids: list[str]) -> bool:
        if not self.have_apps:
            return self.full_sync()
        self.metrics.inc("marathon_haproxy_sync_syncs_total", kind="partial")
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

    def _removal_confirmed(self, fresh: dict[str, App]) -> bool:
        """False when this read would remove too many frontends at once and is held back.

        Marathon with lost state, or a group label changed by mistake, answers with few or no
        apps: applied at once, that takes every service port down on every node. Such a read is
        applied only when `mass_removal_confirmations` consecutive full reads say the same.
        """
        served = render.frontends(self.haproxy.current())
        if not served:
            self.held = None
            return True
        services, _rejected = build_services(fresh.values(), self.cfg)
        removed = sorted(set(served) - {s.name for s in services})
        massive = len(removed) == len(served) or len(removed) > self.cfg.mass_removal_share * len(served)
        if not removed or not massive:
            self._release_hold()
            return True
        reads = self.held["reads"] + 1 if self.held and self.held["removed"] == removed else 1
        if reads >= self.cfg.mass_removal_confirmations:
            if self.cfg.mass_removal_confirmations > 1:
                LOG.warning(
                    "%d consecutive reads of Marathon confirm the removal of %d of %d frontends; removing them",
                    reads,
                    len(removed),
                    len(served),
                )
            self._release_hold()
            return True
        apps = sorted({served[name] for name in removed})
        message = (
            f"Marathon's app list would remove {len(removed)} of the {len(served)} served frontends at once "
            f"(apps {', '.join(apps[:10])}{' ...' if len(apps) > 10 else ''}); held back until "
            f"{self.cfg.mass_removal_confirmations} consecutive reads confirm it ({reads} so far)"
        )
        LOG.error("%s", message)
        self.held = {"removed": removed, "reads": reads, "since": (self.held or {}).get("since") or _now()}
        self.metrics.inc("marathon_haproxy_sync_failures_total", kind="removal_held")
        self.retry_soon = True
        self.status["held_removal"] = {
            "frontends": removed,
            "apps": apps,
            "served": len(served),
            "reads": reads,
            "since": self.held["since"],
        }
        self.status["state"] = "held"
        self.status["errors"] = [message]
        self.status["last_error"] = {"at": _now(), "message": message}
        self.write_status()
        return False

    def _release_hold(self) -> None:
        self.held = None
        self.status.pop("held_removal", None)

    # -- output ---------------------------------------------------------------------------
    def apply(self) -> bool:
        """Render, check, install and apply when changed. True when HAProxy's configuration changed
        (reloaded, or updated in place through the runtime API)."""
        cfg = self.cfg
        started = time.monotonic()
        self._reap()
        services, rejected = build_services(self.apps.values(), cfg)
        current = self.haproxy.current()
        services = self._without_taken_ports(services, current)
        blocks = render.render_blocks(services, cfg)
        text, owners = render.assemble(blocks, cfg)
        render_seconds = time.monotonic() - started
        self._report_rejections(rejected)
        self.rejected = rejected

        quarantined: dict[str, str] = {}
        errors: list[str] = []
        how = None
        # The same input as the last refused one gets the same answer, without asking HAProxy
        # (and the journal) again on every event and timer tick.
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        memo = self._refused
        known = memo is not None and memo["input"] == fingerprint and memo["current"] == _digest(current)
        if known and memo is not None:
            blocks = dict(memo["blocks"])
            quarantined = dict(memo["quarantined"])
            errors = list(memo["errors"])
            text, owners = render.assemble(blocks, cfg)
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
        self.status["port_conflicts"] = sorted(self.port_conflicts.values(), key=lambda c: c["port"])
        self.status["errors"] = errors
        self.status["last_sync"] = _now()
        if errors:
            self.status["state"] = "error"
            self.status["last_error"] = {"at": _now(), "message": errors[0]}
            self.metrics.inc("marathon_haproxy_sync_failures_total", kind="apply")
        elif rejected or quarantined or self.port_conflicts:
            self.status["state"] = "degraded"
        else:
            self.status["state"] = "ok"
        self.metrics.set("marathon_haproxy_sync_last_sync_timestamp_seconds", time.time())
        self.metrics.set("marathon_haproxy_sync_services", len(services))
        self.metrics.set("marathon_haproxy_sync_servers", _servers(services))
        self.write_status()
        return how is not None

    def _without_taken_ports(self, services: list[Service], current: str | None) -> list[Service]:
        """Leave out the services whose port another program holds here: HAProxy could not bind
        it, and the reload that tried would fail for every app. Ports the running configuration
        already serves are HAProxy's own and are not probed."""
        ours = set(render.binds(current).values())
        kept = []
        conflicts = {}
        for svc in services:
            where = render.bind_text(svc.bind_address, svc.service_port)
            if where not in ours and port_taken(svc.bind_address, svc.service_port):
                conflicts[svc.name] = {
                    "app": svc.app_id,
                    "port": svc.service_port,
                    "address": where,
                    "reason": f"port {where} is held by another program on this host; HAProxy cannot bind it",
                }
                continue
            kept.append(svc)
        for name, conflict in conflicts.items():
            if name not in self.port_conflicts:
                LOG.error(
                    "app %s: service port %s left out until it is free: %s",
                    conflict["app"],
                    conflict["port"],
                    conflict["reason"],
                )
                self.metrics.inc("marathon_haproxy_sync_failures_total", kind="port_conflict")
        for name, conflict in self.port_conflicts.items():
            if name not in conflicts:
                LOG.info("app %s: service port %s is free again; serving it", conflict["app"], conflict["port"])
        self.port_conflicts = conflicts
        if conflicts:
            self.retry_soon = True
        return kept

    def _check_and_install(
        self,
        text: str,
        owners: list[str | None],
        blocks: dict[str, AppBlock],
        quarantined: dict[str, str],
        errors: list[str],
        current: str | None,
    ) -> tuple[str, str | None]:
        """Check `text`; swap it in and update HAProxy (in place or by a reload), or quarantine
        the apps the errors point at and try again. Updates blocks, quarantined and errors in
        place; returns (text, how): how is "runtime", "reload" or None when nothing changed."""
        dropped: set[str] = set()
        for _round in range(self.MAX_QUARANTINE_ROUNDS + 1):
            if text == current and not self.reload_pending:
                return text, None
            # When only servers changed, the running worker takes them first (the runtime API
            # refuses a server it cannot parse): it serves the new tasks before `haproxy -c`
            # has run, and the file follows once checked, so the next reload starts from it.
            in_place = self._update_in_place(current, text)
            candidate = self.haproxy.write_candidate(text)
            ok, output = self.haproxy.check(candidate)
            if ok and in_place:
                self.haproxy.install(candidate)
                self.status["config"]["last_runtime_update"] = _now()
                self.metrics.inc("marathon_haproxy_sync_runtime_updates_total")
                return text, "runtime"
            if ok:
                return text, self._reload_to(candidate, current, text, errors)
            if in_place:
                # The worker took servers the check refuses: from `text`, what it holds now,
                # back to `current` in place (or by a reload); the refusal is handled below.
                LOG.error("haproxy -c refused servers the runtime API took; putting the running ones back")
                if current is None or not self._update_in_place(current=text, text=current):
                    self.live_text = None
                    self.reload_pending = True
            self._keep_rejected(candidate)
            culprits, pinned = render.error_apps(output, candidate, owners)
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
            text, owners = render.assemble(blocks, self.cfg)
        errors.append("gave up after quarantining apps several times; the last good configuration stays")
        return text, None

    def _reload_to(self, candidate: str, current: str | None, text: str, errors: list[str]) -> str | None:
        """Install the checked candidate and reload HAProxy to it; "reload" or None."""
        self.haproxy.install(candidate)
        self.live_text = None
        pid_before = self._worker_pid()
        ok, output = self.haproxy.reload()
        self.reload_pending = not ok
        if not ok:
            errors.append(f"reload command {' '.join(self.cfg.reload_command)} failed: {output}")
            LOG.error("HAProxy reload failed, will retry on the next sync: %s", output)
            self.metrics.inc("marathon_haproxy_sync_reloads_total", result="failed")
            self.retry_soon = True
            return None
        try:
            self._verify_reload(pid_before, text)
        except ReloadNotTaken as exc:
            message = self._reload_not_taken(str(exc), current, text)
            errors.append(message)
            LOG.error("%s", message)
            self.metrics.inc("marathon_haproxy_sync_reloads_total", result="failed")
            self.retry_soon = True
            return None
        # The new worker holds exactly the file; what the old one drained goes with it.
        self.live_text = text
        self.draining = {}
        self.status["config"]["last_reload"] = _now()
        self.status.pop("last_failed_reload", None)
        self.metrics.inc("marathon_haproxy_sync_reloads_total", result="ok")
        return "reload"

    def _worker_pid(self) -> int | None:
        if self.runtime is None:
            return None
        try:
            return self.runtime.worker_pid()
        except RuntimeUpdateError:
            return None

    def _verify_reload(self, pid_before: int | None, text: str) -> None:
        """Wait until a new worker answers on the admin socket with every frontend of `text`.

        Debian's reload only signals the master; a new worker that cannot start (a port taken,
        file descriptors exhausted) leaves the old one serving the old configuration, silently.
        """
        if self.runtime is None:
            return
        if pid_before is None and self._worker_pid() is None:
            # No admin socket to ask, before or after: the reload cannot be verified.
            LOG.warning("cannot verify the reload: HAProxy's admin socket %s does not answer", self.runtime.path)
            self.status["config"]["reload_verified"] = False
            return
        expected = set(render.frontends(text))
        expected.update(name for name in render.SHARED_FRONTENDS if f"frontend {name}" in text)
        deadline = time.monotonic() + self.cfg.reload_verify_timeout
        pid: int | None = None
        missing = expected
        while True:
            try:
                pid = self.runtime.worker_pid()
                if pid_before is None or pid != pid_before:
                    missing = expected - self.runtime.frontends()
                    if not missing:
                        self.status["config"]["reload_verified"] = True
                        return
            except RuntimeUpdateError as exc:
                LOG.debug("waiting for the new worker: %s", exc)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if pid is not None and pid == pid_before:
            raise ReloadNotTaken(f"no new worker after the reload: worker {pid} still runs the old configuration")
        raise ReloadNotTaken(f"the HAProxy worker does not serve the frontends {', '.join(sorted(missing)[:10])}")

    def _reload_not_taken(self, problem: str, previous: str | None, text: str) -> str:
        """Put the last good file back (it is what HAProxy still runs) and name the likely cause."""
        self.haproxy.restore(previous if previous is not None else render.GENERATED_HEADER)
        self.live_text = None
        added = {name: where for name, where in render.binds(text).items() if name not in render.binds(previous)}
        owners = render.frontends(text)
        taken = []
        for name, where in sorted(added.items()):
            address, _colon, port = where.rpartition(":")
            if port.isdigit() and port_taken(address.strip("[]"), int(port)):
                taken.append(f"app {owners.get(name, '?')} port {port} ({where} is held by another program)")
        cause = f"; likely cause: {', '.join(taken)}" if taken else ""
        self.status["last_failed_reload"] = {"at": _now(), "problem": problem, "ports_taken": taken}
        return f"HAProxy did not take the new configuration ({problem}){cause}; the last good one stays and is retried"

    def _update_in_place(self, current: str | None, text: str) -> bool:
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
        changed = [b for b in sorted(set(old) | set(new)) if old.get(b) != new.get(b)]
        sticky = [b for b in changed if any(" cookie " in line for line in new.get(b, {}).values())]
        if sticky:
            LOG.info("sticky backend %s changed its servers: reloading (no runtime cookies in HAProxy 2.6)", sticky[0])
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

    def _adopt(self, current: str | None) -> bool:
        """After this program restarts: take the running worker as holding the file on disk when
        it has exactly the file's backends and, in each, the file's servers."""
        if self.runtime is None:
            return False
        try:
            backends = self.runtime.command("show backend").splitlines()
            state = self.runtime.command("show servers state").splitlines()
        except RuntimeUpdateError as exc:
            LOG.debug("cannot read the running servers: %s", exc)
            return False
        worker: dict[str, set[str]] = {}
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

    def _reap(self) -> None:
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

    def marathon_unavailable(self, message: str) -> None:
        self.status["state"] = "error"
        self.status["errors"] = [message]
        self.status["last_error"] = {"at": _now(), "message": message}
        self.metrics.inc("marathon_haproxy_sync_failures_total", kind="marathon")
        self.write_status()

    def _report_rejections(self, rejected: list[Rejection]) -> None:
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

    def _keep_rejected(self, candidate: str) -> None:
        """Keep the refused file next to the status file for a person to read."""
        target = os.path.join(os.path.dirname(self.cfg.status_file) or ".", "rejected.cfg")
        try:
            os.replace(candidate, target)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(candidate)

    def write_status(self) -> None:
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

    def health(self, max_age: float) -> tuple[bool, dict[str, Any]]:
        """Healthy: the last sync is younger than `max_age` seconds and not in error."""
        detail = {k: self.status.get(k) for k in ("state", "last_sync", "errors", "marathon")}
        age = time.time() - self.metrics.get("marathon_haproxy_sync_last_sync_timestamp_seconds")
        detail["last_sync_age_seconds"] = round(age, 1)
        ok = self.status.get("state") in ("ok", "degraded") and age <= max_age
        return ok, detail
