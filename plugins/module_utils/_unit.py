# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private helpers of the pending_restart and host_config modules: what systemd says of a unit.

This is private to the mesosphere.cluster collection; it may change without notice.

Whether a daemon runs an older configuration than the one on disk is read from the host: the
start of its running process (systemd's monotonic timestamps, or the newest child of the main
process for a master-worker daemon such as HAProxy, from /proc) against the modification times
of the files it reads. Standard library only.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from typing import Any

UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".mount", ".path", ".scope", ".slice")
ACTIVE_STATES = ("active", "reloading")
PROPERTIES = ("ActiveState", "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
PROC = "/proc"

# run(argv) -> (rc, stdout, stderr), as AnsibleModule.run_command answers.
Runner = Callable[[list[str]], tuple[int, str, str]]


class UnitError(Exception):
    """A failure with a sentence for a person."""


def unit_name(service: str) -> str:
    service = service.strip()
    return service if service.endswith(UNIT_SUFFIXES) else service + ".service"


def parse_show(text: str) -> dict[str, str]:
    """Read `systemctl show` KEY=VALUE lines."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def micros(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def monotonic_to_epoch(mono_us: int) -> float:
    """systemd's CLOCK_MONOTONIC microseconds to seconds since the epoch."""
    return time.time() - (time.monotonic() - mono_us / 1e6)


def start_time(show: dict[str, str]) -> float | None:
    mono = micros(show.get("ExecMainStartTimestampMonotonic"))
    if not mono:
        mono = micros(show.get("ActiveEnterTimestampMonotonic"))
    return monotonic_to_epoch(mono) if mono else None


def _stat_fields(text: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    return text[text.rfind(")") + 1:].split()


def since_boot(proc: str | None = None) -> float:
    """Seconds since boot now, on the clock of /proc/<pid>/stat's start (CLOCK_BOOTTIME)."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    with open(os.path.join(proc or PROC, "uptime"), encoding="ascii") as handle:
        return float(handle.read().split()[0])  # to a hundredth of a second


def newest_child_start(main_pid: int, proc: str | None = None) -> float | None:
    """The start, in seconds since the epoch, of the newest direct child of `main_pid`, or None.

    /proc/<pid>/stat gives the parent (field 4) and the start in clock ticks since boot (field 22),
    which places the start a little early (a tick, 1/100 s), never late.
    """
    if main_pid <= 0:
        return None
    proc = proc or PROC
    newest = None
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat"), encoding="utf-8", errors="replace") as handle:
                fields = _stat_fields(handle.read())
        except OSError:  # the process ended while we looked, or is not ours to read
            continue
        # fields[0] is the state (field 3), so the parent is fields[1] and the start fields[19]
        if len(fields) < 20 or fields[1] != str(main_pid):
            continue
        try:
            ticks = int(fields[19])
        except ValueError:
            continue
        newest = ticks if newest is None else max(newest, ticks)
    if newest is None:
        return None
    return time.time() - (since_boot(proc) - newest / os.sysconf("SC_CLK_TCK"))


def modified_after(paths: list[str], started: float | None) -> tuple[list[str], list[str]]:
    """(changed, missing): paths and direct directory entries whose lstat mtime is after `started`."""
    changed: set[str] = set()
    missing: list[str] = []
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            missing.append(path)
            continue
        if started is not None and st.st_mtime > started:
            changed.add(path)
        if not stat.S_ISDIR(st.st_mode):
            continue
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            continue
        for name in names:
            entry = os.path.join(path, name)
            try:
                est = os.lstat(entry)
            except FileNotFoundError:
                continue
            if started is not None and est.st_mtime > started:
                changed.add(entry)
    return sorted(changed), missing


def show(run: Runner, systemctl: str, unit: str, properties: tuple[str, ...]) -> dict[str, str]:
    """`systemctl show` of one unit, or UnitError with a sentence."""
    rc, out, err = run([systemctl, "show", unit, "--property=" + ",".join(properties)])
    if rc != 0:
        raise UnitError("Cannot read the state of %s: systemctl show failed with code %s (%s)."
                        % (unit, rc, (err or out).strip() or "no output"))
    return parse_show(out)


def pending(run: Runner, systemctl: str, unit: str, paths: list[str], process: str = "main",
            proc: str | None = None) -> dict[str, Any]:
    """Whether `unit` runs an older configuration than `paths`: active, started, changed_paths,
    missing and restart_pending (active with a path modified after the start)."""
    newest_child = process == "newest_child"
    values = show(run, systemctl, unit, PROPERTIES + (("MainPID",) if newest_child else ()))
    active = values.get("ActiveState") in ACTIVE_STATES
    started = start_time(values)
    if newest_child:
        try:
            started = newest_child_start(micros(values.get("MainPID")), proc) or started
        except (OSError, ValueError) as exc:
            raise UnitError("Cannot tell when the newest process of %s started: cannot read %s: %s."
                            % (unit, proc or PROC, exc)) from None
    try:
        changed_paths, missing = modified_after(paths, started)
    except OSError as exc:
        raise UnitError("Cannot tell whether %s needs a restart: cannot read %s: %s."
                        % (unit, exc.filename, exc.strerror or exc)) from None
    return dict(
        active=active,
        started=started,
        changed_paths=changed_paths,
        missing=missing,
        restart_pending=bool(active and changed_paths),
    )
