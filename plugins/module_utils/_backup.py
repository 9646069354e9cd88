# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private engine of the cluster_backup and cluster_backup_info modules.

This is private to the mesosphere.cluster collection; it may change without notice.

A backup is one gzip-compressed tar file named by the time it was taken
(``mesosphere-cluster-20261204T031500Z.tar.gz``). It holds ``manifest.json`` and the parts the
manifest lists, each with what it holds, its size and its SHA-256:

* ``marathon/apps.json``: every app definition without the fields Marathon fills in, as
  ``marathon_app`` re-applies it; ``marathon/groups.json``: the groups the apps live in;
* ``chronos/jobs.json``: every job definition without its run counters, parents before the
  jobs that depend on them, as ``chronos_job`` re-applies them;
* ``mesos/maintenance.json``: the maintenance windows and the machines that were down;
* ``zookeeper/<path>.json``: the persistent znodes under each path the cluster uses, read
  through the ZooKeeper API (ephemeral znodes, the leader elections, are left out: they
  belong to the sessions that made them).

Reading an archive checks every checksum before anything else is looked at. The modules bring
the HTTP clients (_api) and the kazoo session (_kazoo); this file needs only the standard
library and the four-letter words of _zookeeper.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _zookeeper
from ansible_collections.mesosphere.cluster.plugins.module_utils._versions import parse_version

FORMAT = 1
MANIFEST = "manifest.json"
PREFIX = "mesosphere-cluster-"
SUFFIX = ".tar.gz"
NAME_RE = re.compile(r"^mesosphere-cluster-\d{8}T\d{6}Z\.tar\.gz$")
ARCHIVE_MODE = 0o600
DIRECTORY_MODE = 0o700

COMPONENTS = ("zookeeper", "mesos", "marathon", "chronos")
COMPONENT_NAMES = {"zookeeper": "ZooKeeper", "mesos": "Mesos", "marathon": "Marathon", "chronos": "Chronos"}

PART_APPS = "marathon/apps.json"
PART_GROUPS = "marathon/groups.json"
PART_JOBS = "chronos/jobs.json"
PART_MAINTENANCE = "mesos/maintenance.json"

NANOSECONDS = 1_000_000_000

Json = Any


class ArchiveError(Exception):
    """An archive cannot be read, is corrupted or does not fit; str() is a sentence."""


# --------------------------------------------------------------------------------------------
# Names and retention


def archive_name(now: datetime) -> str:
    return "%s%s%s" % (PREFIX, now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"), SUFFIX)


def archives_in(directory: str) -> list[str]:
    """The archives in `directory`, oldest first (the names sort by time)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(directory, n) for n in names if NAME_RE.match(n))


def to_prune(archives: list[str], keep: int) -> list[str]:
    """Of `archives` (oldest first), those beyond the `keep` newest."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    return list(archives[:-keep]) if len(archives) > keep else []


# --------------------------------------------------------------------------------------------
# What the services hold, as it is re-applied


def export_apps(apps: Iterable[dict], server_fields: Iterable[str]) -> list[dict]:
    """App definitions without what Marathon computes, sorted by id."""
    drop = set(server_fields)
    out = [dict((k, v) for k, v in app.items() if k not in drop) for app in apps]
    return sorted(out, key=lambda a: str(a.get("id", "")))


def groups_of(apps: Iterable[dict]) -> list[str]:
    """Every group the apps live in, outermost first: /a/b/app lives in /a and /a/b."""
    groups = set()
    for app in apps:
        parts = str(app.get("id", "")).strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            groups.add("/" + "/".join(parts[:depth]))
    return sorted(groups, key=lambda g: (g.count("/"), g))


def export_jobs(jobs: Iterable[dict], server_fields: Iterable[str]) -> list[dict]:
    """Job definitions without run counters, each parent before the jobs that depend on it.

    A dependent job keeps its parents and loses any schedule (Chronos sends both fields);
    a scheduled job loses an empty parents list. A job whose parent is not in the list (or
    that is part of a cycle) comes last, so that re-applying it fails with Chronos' own word.
    """
    drop = set(server_fields)
    byname: dict[str, dict] = {}
    for job in jobs:
        clean = dict((k, v) for k, v in job.items() if k not in drop)
        if clean.get("parents"):
            clean.pop("schedule", None)
            clean.pop("scheduleTimeZone", None)
        else:
            clean.pop("parents", None)
        byname[str(clean.get("name"))] = clean
    ordered: list[dict] = []
    placed: set[str] = set()
    pending = sorted(byname)
    while pending:
        ready = [n for n in pending if all(p in placed for p in byname[n].get("parents") or [])]
        if not ready:
            break
        for name in ready:
            ordered.append(byname[name])
            placed.add(name)
        pending = [n for n in pending if n not in placed]
    ordered.extend(byname[n] for n in pending)
    return ordered


def export_maintenance(schedule: dict, status: dict) -> dict:
    """The windows as mesos_maintenance takes them (seconds), and the machines that were down."""
    windows = []
    for window in (schedule or {}).get("windows") or []:
        unavailability = window.get("unavailability") or {}
        start = int((unavailability.get("start") or {}).get("nanoseconds") or 0)
        duration = int((unavailability.get("duration") or {}).get("nanoseconds") or 0)
        windows.append(dict(
            machines=[_machine(m) for m in window.get("machine_ids") or []],
            start=start // NANOSECONDS,
            duration=duration // NANOSECONDS,
        ))
    down = [_machine(m) for m in (status or {}).get("down_machines") or []]
    return dict(windows=windows, down=down)


def _machine(machine_id: dict) -> dict:
    return dict((k, machine_id[k]) for k in ("hostname", "ip") if machine_id.get(k))


# --------------------------------------------------------------------------------------------
# ZooKeeper trees


def zookeeper_part(path: str) -> str:
    """The part that holds the tree under `path`: /chronos/state -> zookeeper/chronos_state.json."""
    return "zookeeper/%s.json" % (path.strip("/").replace("/", "_") or "root")


def dump_tree(
    path: str,
    get: Callable[[str], tuple[bytes | None, int]],
    children: Callable[[str], list[str]],
) -> list[dict]:
    """Every persistent znode at and under `path`, parents first, data in base64.

    `get(path)` returns (data, ephemeralOwner) or raises LookupError when the znode is gone
    (it may vanish while the tree is read); `children(path)` its children's names.
    """
    out: list[dict] = []
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            data, owner = get(current)
            names = children(current)
        except LookupError:
            continue
        if owner:
            continue
        out.append(dict(path=current, data=base64.b64encode(data or b"").decode("ascii")))
        base = current.rstrip("/")
        stack.extend("%s/%s" % (base, n) for n in sorted(names, reverse=True))
    return out


def tree_differs(archived: list[dict], current: list[dict], ignore: Iterable[str] = ()) -> bool:
    """Whether the persistent znodes now (dump_tree's form) differ from the archived ones, leaving
    out those at or under the paths of `ignore`."""
    roots = [path.rstrip("/") for path in ignore]

    def ignored(path: str) -> bool:
        return any(path == root or path.startswith(root + "/") for root in roots)

    def index(nodes: list[dict]) -> dict[str, str]:
        return {node["path"]: node.get("data", "") for node in nodes if not ignored(node["path"])}

    return index(archived) != index(current)


def restore_order(archived: list[dict]) -> list[tuple[str, bytes]]:
    """(path, data) of every archived znode, each parent before its children."""
    nodes = sorted(archived, key=lambda node: (node["path"].rstrip("/").count("/"), node["path"]))
    return [(node["path"], base64.b64decode(node.get("data") or "")) for node in nodes]


# --------------------------------------------------------------------------------------------
# Versions


def argument_spec(mesos_required: bool = True) -> dict:
    """The services both modules read (doc fragments mesos, marathon, chronos, connection)."""
    spec = _api.service_argument_spec("mesos", required=mesos_required)
    spec.update(_api.service_argument_spec("marathon", required=False))
    spec.update(_api.service_argument_spec("chronos", required=False))
    spec.update(
        zookeeper_hosts=dict(type="raw"),
        zookeeper_timeout=dict(type="float", default=5.0),
        chronos_version=dict(type="str"),
    )
    return spec


def running_versions(params: dict, mesos: Any, marathon: Any) -> dict:
    """What each running service reports: Mesos /version (leader), Marathon /v2/info, the first
    ZooKeeper member that answers srvr; Chronos reports none, so the caller's chronos_version.
    Raises _api.ApiError when Mesos or Marathon cannot be asked."""
    versions: dict[str, str | None] = dict((c, None) for c in COMPONENTS)
    versions["mesos"] = (mesos.get_json("/version") or {}).get("version")
    if marathon is not None:
        versions["marathon"] = (marathon.get_json("/v2/info") or {}).get("version")
    if params.get("zookeeper_hosts"):
        target = _zookeeper.parse_hosts(params["zookeeper_hosts"])
        for host, port in target.members:
            member = _zookeeper.probe_member(host, port, params.get("zookeeper_timeout") or 5.0)
            if member.get("version"):
                versions["zookeeper"] = str(member["version"]).split("-", maxsplit=1)[0]
                break
    if params.get("chronos_version"):
        versions["chronos"] = params["chronos_version"]
    return versions


def compatibility_errors(archived: dict, running: dict) -> list[str]:
    """Why the state in an archive taken on `archived` versions cannot go into `running` ones.

    The rule, for each component both know: the same major version, and the running version
    no older than the archived one. State moves forward only: Marathon migrates a restored
    state to its own version when it takes the lead (backup-restore.md), and nothing migrates
    it back; Mesos and Chronos read the definitions of their own major version.
    """
    errors = []
    for component in COMPONENTS:
        was, now = parse_version(archived.get(component)), parse_version(running.get(component))
        if was is None or now is None:
            continue
        name = COMPONENT_NAMES[component]
        if was[0] != now[0]:
            errors.append("%s runs %s but the archive was taken on %s, another major version"
                          % (name, running[component], archived[component]))
        elif now < was:
            errors.append("%s runs %s, older than the %s the archive was taken on (state only moves forward)"
                          % (name, running[component], archived[component]))
    return errors


# --------------------------------------------------------------------------------------------
# The archive


def encode(value: Json) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(created: datetime, versions: dict, parts: dict[str, tuple[str, int, bytes]]) -> dict:
    """`parts` maps a part's name to (what it holds, how many entries, its bytes)."""
    return dict(
        format=FORMAT,
        created=created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        versions=dict((c, versions.get(c)) for c in COMPONENTS),
        parts=dict(
            (name, dict(holds=holds, count=count, bytes=len(data), sha256=_sha256(data)))
            for name, (holds, count, data) in sorted(parts.items())
        ),
    )


def contents(parts: dict[str, tuple[str, int, bytes]]) -> dict[str, bytes]:
    """The bytes of each part, from the (what it holds, count, bytes) build_manifest takes."""
    return dict((name, part[2]) for name, part in parts.items())


def write_archive(directory: str, name: str, manifest: dict, parts: dict[str, bytes]) -> str:
    """Write the archive into `directory` (made 0700 if missing) as `name`, mode 0600.

    It is written to a temporary file and renamed, so that a half-written archive never has
    an archive's name (retention and restore only look at names).
    """
    os.makedirs(directory, mode=DIRECTORY_MODE, exist_ok=True)
    path = os.path.join(directory, name)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, dir=directory)
    try:
        os.fchmod(fd, ARCHIVE_MODE)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for member, data in [(MANIFEST, encode(manifest))] + sorted(parts.items()):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                info.mtime = int(time.time())
                info.mode = ARCHIVE_MODE
                tar.addfile(info, io.BytesIO(data))
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_archive(path: str) -> tuple[dict, dict[str, Json]]:
    """The manifest and every part (decoded), after every checksum matched."""
    where = "The archive %s" % path
    try:
        # The whole stream first: gzip checks its CRC only at the end, and a flipped byte must
        # be refused as such, not as whatever the damaged member happens to look like.
        with open(path, "rb") as raw:
            stream = gzip.decompress(raw.read())
        with tarfile.open(fileobj=io.BytesIO(stream), mode="r:") as tar:
            members = {}
            for info in tar.getmembers():
                if not info.isfile():
                    raise ArchiveError("%s holds %s, which is not a file: it is not a backup of this collection."
                                       % (where, info.name))
                handle = tar.extractfile(info)
                members[info.name] = handle.read() if handle else b""
    except FileNotFoundError:
        raise ArchiveError("%s does not exist." % where) from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise ArchiveError("%s cannot be read (%s): it is corrupted or truncated." % (where, exc)) from None
    if MANIFEST not in members:
        raise ArchiveError("%s has no %s: it is not a backup of this collection." % (where, MANIFEST))
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except ValueError as exc:
        raise ArchiveError("%s has a manifest that is not JSON (%s)." % (where, exc)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError("%s has a manifest of format %r; this collection reads format %d."
                           % (where, manifest.get("format") if isinstance(manifest, dict) else None, FORMAT))
    listed = manifest.get("parts") or {}
    missing = sorted(set(listed) - set(members))
    extra = sorted(set(members) - set(listed))
    bad = sorted(n for n in set(listed) & set(members) if _sha256(members[n]) != listed[n].get("sha256"))
    problems = []
    if missing:
        problems.append("missing %s" % ", ".join(missing))
    if extra:
        problems.append("not in the manifest: %s" % ", ".join(extra))
    if bad:
        problems.append("checksum mismatch in %s" % ", ".join(bad))
    if problems:
        raise ArchiveError("%s failed its checks (%s): it is corrupted or was changed after the backup."
                           % (where, "; ".join(problems)))
    parts = {}
    for name, data in members.items():
        try:
            parts[name] = json.loads(data)
        except ValueError as exc:
            raise ArchiveError("%s has a part %s that is not JSON (%s)." % (where, name, exc)) from None
    return manifest, parts
