# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The daemon: an event thread that only invalidates, one worker that syncs; the command line."""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

from . import __version__
from .config import Config
from .events import Invalidation, SSEParser, event_invalidation
from .haproxy import HAProxy
from .marathon import MarathonClient, MarathonError, Response
from .metrics import Metrics, MetricsServer
from .syncer import AppSource, Syncer

LOG = logging.getLogger("marathon-haproxy-sync")


class Backoff:
    """Exponential backoff with jitter: the n-th delay is drawn from [d/2, d], d = base * 2**n
    capped at `cap`. A fleet that lost its Marathon at one instant comes back spread out."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 32)
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class Pending:
    full: bool = False
    apps: set[str] = field(default_factory=set)
    # A full read asked for no earlier than `full_at` (monotonic), asked at `asked_at`.
    full_at: float | None = None
    asked_at: float = 0.0


class Trigger:
    """Collects invalidations from the event thread for the worker."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending = Pending()

    def add(self, inv: Invalidation) -> None:
        if not inv.full and not inv.apps:
            return
        with self._cond:
            self._pending.full |= inv.full
            self._pending.apps |= inv.apps
            self._cond.notify()

    def full_after(self, delay: float) -> None:
        """Ask for a full read in `delay` seconds (sooner if something else asks sooner)."""
        now = time.monotonic()
        with self._cond:
            at = now + delay
            if self._pending.full_at is None or at < self._pending.full_at:
                self._pending.full_at = at
            self._pending.asked_at = now
            self._cond.notify()

    def take(self, timeout: float) -> Pending:
        with self._cond:
            if not (self._pending.full or self._pending.apps or self._pending.full_at is not None):
                self._cond.wait(timeout)
            pending, self._pending = self._pending, Pending()
            return pending


class SyncDaemon:
    def __init__(
        self,
        cfg: Config,
        client: AppSource | None = None,
        haproxy: HAProxy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.client = client or MarathonClient(cfg)
        self.metrics = Metrics()
        self.syncer = Syncer(cfg, self.client, haproxy or HAProxy(cfg), self.metrics)
        self.trigger = Trigger()
        self.stop_event = threading.Event()
        self.rng = rng or random.Random()
        self._response: Response | None = None
        self._threads: list[threading.Thread] = []
        self._metrics_server: MetricsServer | None = None
        self.events_seen = 0
        self.last_event_url: str | None = None
        # The delays the event thread waited before reconnecting, newest last (for people and tests).
        self.reconnect_delays: list[float] = []

    def next_reconcile(self) -> float:
        """Seconds to the next periodic full read: the interval, give or take its jitter."""
        spread = self.cfg.reconcile_interval * self.cfg.reconcile_jitter
        return self.cfg.reconcile_interval + self.rng.uniform(-spread, spread)

    # -- event stream ---------------------------------------------------------------------
    def _events_loop(self) -> None:
        assert isinstance(self.client, MarathonClient), "the event stream needs a Marathon client"
        backoff = Backoff(self.cfg.retry_delay, self.cfg.max_retry_delay, self.rng)
        while not self.stop_event.is_set():
            try:
                url, resp = self.client.open_events()
            except MarathonError as exc:
                self._set_events(None, False)
                self._wait_to_reconnect(backoff, f"event stream unavailable: {exc}")
                continue
            connected_at = time.monotonic()
            self._response = resp
            self.last_event_url = url
            self._set_events(url, True)
            self.metrics.inc("marathon_haproxy_sync_event_stream_connects_total")
            LOG.info("following Marathon events at %s", url)
            # Whatever happened while we were not listening: re-read everything, at a random
            # moment of the next resync_spread seconds (the whole fleet reconnects together).
            self.trigger.full_after(self.rng.uniform(0, self.cfg.resync_spread))
            parser = SSEParser()
            reason = "closed the event stream"
            try:
                while not self.stop_event.is_set():
                    chunk = resp.read_some(65536)
                    if not chunk:
                        break
                    for name, data in parser.feed(chunk):
                        self.events_seen += 1
                        self.metrics.inc("marathon_haproxy_sync_events_total")
                        self.trigger.add(event_invalidation(name, data))
            except Exception as exc:  # noqa: BLE001 - any failure of the stream means: reconnect
                reason = f"broke the event stream ({type(exc).__name__})"
            finally:
                self._response = None
                resp.close()
            self._set_events(None, False)
            if self.stop_event.is_set():
                break
            if time.monotonic() - connected_at > self.cfg.max_retry_delay:
                backoff.reset()  # it served a good while: start over from the shortest delay
            self._wait_to_reconnect(backoff, f"Marathon at {url} {reason}")

    def _wait_to_reconnect(self, backoff: Backoff, why: str) -> None:
        delay = backoff.next()
        self.reconnect_delays = [*self.reconnect_delays[-99:], delay]
        LOG.warning("%s; reconnecting in %.2fs (attempt %d)", why, delay, backoff.attempt)
        self.stop_event.wait(delay)

    def _set_events(self, url: str | None, connected: bool) -> None:
        # The worker owns the status dict; these two fields are only written here.
        self.syncer.status["marathon"] = {"url": url, "events_connected": connected}
        self.metrics.set("marathon_haproxy_sync_event_stream_connected", 1 if connected else 0)

    # -- worker ---------------------------------------------------------------------------
    def _worker_loop(self) -> None:
        next_full = time.monotonic()
        last_full = float("-inf")
        backoff = Backoff(self.cfg.retry_delay, self.cfg.max_retry_delay, self.rng)
        while not self.stop_event.is_set():
            pending = self.trigger.take(max(0.0, next_full - time.monotonic()))
            if self.stop_event.is_set():
                break
            if pending.full_at is not None and pending.asked_at > last_full:
                next_full = min(next_full, pending.full_at)
            due = time.monotonic() >= next_full
            if not (due or pending.full or pending.apps):
                continue
            if self.cfg.debounce and not due:
                self.stop_event.wait(self.cfg.debounce)
                more = self.trigger.take(0)
                pending.full |= more.full
                pending.apps |= more.apps
                if more.full_at is not None:
                    next_full = min(next_full, more.full_at)
            try:
                if due or pending.full or len(pending.apps) > self.cfg.max_partial_apps:
                    last_full = time.monotonic()
                    self.syncer.full_sync()
                    next_full = time.monotonic() + self.next_reconcile()
                else:
                    self.syncer.partial_sync(sorted(pending.apps))
                if self.syncer.retry_soon:
                    self.syncer.retry_soon = False
                    next_full = min(next_full, time.monotonic() + backoff.next())
                else:
                    backoff.reset()
            except MarathonError as exc:
                LOG.error("cannot read apps from Marathon: %s", exc)
                self.syncer.marathon_unavailable(str(exc))
                next_full = time.monotonic() + backoff.next()
            except Exception:  # noqa: BLE001 - never die on one bad sync; the timer retries
                LOG.exception("sync failed")
                self.syncer.marathon_unavailable("sync failed unexpectedly; see the journal")
                next_full = time.monotonic() + backoff.next()

    def start(self) -> None:
        if self.cfg.metrics_port:
            max_age = 3 * self.cfg.reconcile_interval * (1 + self.cfg.reconcile_jitter)
            self._metrics_server = MetricsServer(
                self.cfg.metrics_address, self.cfg.metrics_port, self.metrics, lambda: self.syncer.health(max_age)
            )
            self._metrics_server.start()
        targets = [(self._worker_loop, "worker")]
        if isinstance(self.client, MarathonClient):
            targets.append((self._events_loop, "events"))
        for target, name in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop_threads(self, timeout: float = 5.0) -> None:
        """Stop the worker and the event thread; the metrics and health endpoint keeps answering."""
        self.stop_event.set()
        self.trigger.add(Invalidation(full=True))
        resp = self._response
        if resp is not None:
            resp.abort()  # wakes the event thread, which closes the response itself
        for thread in self._threads:
            thread.join(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_threads(timeout)
        if self._metrics_server is not None:
            self._metrics_server.stop()


# -- command line ---------------------------------------------------------------------------


class _JournalFormatter(logging.Formatter):
    """Prefix <N> so journald files each line at its syslog priority."""

    PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}

    def format(self, record: logging.LogRecord) -> str:
        return f"<{self.PRIORITY.get(record.levelname, 6)}>{super().format(record)}"


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="haproxy-marathon-sync", description="Render HAProxy frontends and backends from Marathon apps."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    LOG.info(
        "starting %s: Marathon %s, group %s, dynamic config %s",
        __version__,
        ", ".join(cfg.marathon_urls),
        cfg.group,
        cfg.dynamic_config,
    )
    try:
        daemon.start()
    except OSError as exc:
        LOG.error("cannot serve metrics on %s:%s: %s", cfg.metrics_address, cfg.metrics_port, exc)
        daemon.stop()
        return 1
    while not done.wait(1.0):
        pass
    daemon.stop()
    return 0
