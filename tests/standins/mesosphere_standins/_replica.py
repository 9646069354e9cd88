"""The log replica of the ``mesos-master`` stand-in: its durable status and the rules that
move it, after the "Automatic replica recovery" part of mesos/docs/replicated-log-internals.md
(non-voting replicas, catch-up, auto-initialization) and operational-guide.md (the replica's
data lives in ``replicated_log`` under ``--work_dir``).

What is modelled, and what is simplified:

* Each master with ``--registry=replicated_log`` keeps one file,
  ``<work_dir>/replicated_log/standin-replica.json``: the replica's status (``EMPTY``,
  ``STARTING`` or ``VOTING``) and the identity of the log it belongs to (a random id chosen
  when the log is initialized). The format is the stand-in's own; real Mesos keeps a LevelDB
  database in that folder. Removing the folder (or the whole work directory) loses the state
  exactly as losing the LevelDB files would: the replica starts ``EMPTY`` again.
* There are no log entries, positions or Paxos rounds. The registry's content stays in the
  ``standin_registry`` znode (see mesos_master.py); it names the log it was written for, so a
  log initialized afresh starts with an empty registry, as a fresh upstream log does.
  "Catching up" copies the log identity of the VOTING replicas.
* The replicas learn one another's status from the data of their ``<zk path>/log_replicas``
  znodes (the stand-in's replacement for upstream's recover messages between replicas).

The rules (replicated-log-internals.md):

* a replica without persisted state is ``EMPTY``; only ``VOTING`` replicas count for the
  quorum a coordinator (the leading master) needs;
* catch-up: an ``EMPTY`` (or ``STARTING``) replica becomes ``VOTING`` once it sees a quorum of
  ``VOTING`` replicas;
* auto-initialization, two phases: an ``EMPTY`` replica becomes ``STARTING`` when every replica
  it sees is ``EMPTY`` or ``STARTING``; a ``STARTING`` replica becomes ``VOTING`` when every
  replica it sees is ``STARTING`` or ``VOTING``. A replica decides only on what it sees, and it
  decides nothing before it sees at least ``--quorum`` replicas (itself included).
  ``--log_auto_initialize=false`` turns both phases off (catch-up still works).
* a stand-in addition to the second phase: a ``STARTING`` replica that sees a ``VOTING`` one
  finishes too (and joins its log), even when an ``EMPTY`` replica has appeared meanwhile. The
  ``VOTING`` replica could only get there by seeing every replica ``STARTING`` or ``VOTING``, so
  the round it started is over; without this, a master that registers while the round ends
  (the replicas poll ZooKeeper, they do not see the same moment) would leave the round stuck
  with fewer than a quorum of ``VOTING`` replicas. Wiped replicas are ``EMPTY``, never
  ``STARTING``, so this never lets them past a lost quorum.

Every new status is written to disk before it is published.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

EMPTY = "EMPTY"
STARTING = "STARTING"
VOTING = "VOTING"
STATUSES = (EMPTY, STARTING, VOTING)
FOLDER = "replicated_log"  # operational-guide.md: "replicated_log under the --work_dir"
STATE_FILE = "standin-replica.json"
FORMAT = 1


class ReplicaError(Exception):
    """The persisted state cannot be read or written."""


@dataclass(frozen=True)
class Peer:
    """One replica as seen by the others: its pid, status and the log it belongs to."""

    pid: str
    status: str
    log: str | None = None

    def describe(self) -> str:
        return f"{self.pid} {self.status}"


def new_log_id() -> str:
    return uuid.uuid4().hex


class LocalReplica:
    """The replica's durable state under ``<work_dir>/replicated_log``."""

    def __init__(self, work_dir: str):
        self.folder = os.path.join(work_dir, FOLDER)
        self.path = os.path.join(self.folder, STATE_FILE)
        self.status = EMPTY
        self.log: str | None = None
        self.restored = False  # True when a persisted state was found at start-up

    @classmethod
    def open(cls, work_dir: str) -> LocalReplica:
        replica = cls(work_dir)
        replica.load()
        if not replica.restored:
            replica.persist(EMPTY, None)  # like LevelDB, the folder exists from the first start
        return replica

    def load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            self.status, self.log, self.restored = EMPTY, None, False
            return
        except OSError as exc:
            raise ReplicaError(f"Failed to read the log replica's state '{self.path}': {exc.strerror}") from None
        try:
            doc = json.loads(text)
            status = doc["status"]
            log = doc.get("log")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ReplicaError(f"Failed to recover the log replica from '{self.path}': not a replica state "
                               "written by this program") from None
        if status not in STATUSES or (log is not None and not isinstance(log, str)):
            raise ReplicaError(f"Failed to recover the log replica from '{self.path}': unknown status "
                               f"{status!r}")
        self.status, self.log, self.restored = status, log, True

    def persist(self, status: str, log: str | None) -> None:
        """Write the state atomically (temporary file, fsync, rename), then adopt it."""
        doc = {"format": FORMAT, "status": status, "log": log, "updated": time.time()}
        tmp = self.path + ".tmp"
        try:
            os.makedirs(self.folder, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=1, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ReplicaError(f"Failed to persist the log replica's state to '{self.path}': "
                               f"{exc.strerror}") from None
        self.status, self.log = status, log


# -- what the replicas publish in ZooKeeper ------------------------------------------------


def encode(pid: str, status: str, log: str | None) -> bytes:
    """Znode data: the replica's pid on the first line (what the znode held before the
    stand-in modelled replica statuses), then a JSON object with its status and log."""
    return (pid + "\n" + json.dumps({"status": status, "log": log}, sort_keys=True)).encode("utf-8")


def parse(data: bytes | None) -> Peer | None:
    """The replica a znode describes; None for data without a pid. A pid without a status
    line (a replica that does not publish one) counts as VOTING, as every replica counted
    before statuses were modelled; an unreadable status counts as EMPTY (it cannot vote)."""
    text = (data or b"").decode("utf-8", "replace")
    first, _, rest = text.partition("\n")
    pid = first.strip()
    if not pid:
        return None
    if not rest.strip():
        return Peer(pid, VOTING, None)
    try:
        doc = json.loads(rest)
        status = doc.get("status")
        log = doc.get("log")
    except (ValueError, AttributeError):
        return Peer(pid, EMPTY, None)
    if status not in STATUSES:
        status = EMPTY
    return Peer(pid, status, log if isinstance(log, str) else None)


# -- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """``status`` is the new status (None: stay); ``reason`` says what happened or, when
    staying, what the replica waits for."""

    status: str | None
    log: str | None
    reason: str


def summary(view: Iterable[Peer], me: str | None = None) -> str:
    return ", ".join(p.describe() + (" (this master)" if p.pid == me else "") for p in view) or "none"


def agreed_log(peers: Iterable[Peer]) -> str | None:
    """The log most of `peers` belong to (ties: the smallest id); None when none names one."""
    counts = Counter(p.log for p in peers if p.log)
    if not counts:
        return None
    most = max(counts.values())
    return min(log for log, n in counts.items() if n == most)


def decide(me: Peer, view: list[Peer], quorum: int, auto_initialize: bool,
           make_log: Callable[[], str] = new_log_id) -> Decision:
    """The next status of the replica `me`, given every replica it sees (`view`, itself
    included, each pid once)."""
    quorum = max(1, quorum)
    seen = summary(view, me.pid)
    if me.status == VOTING:
        return Decision(None, me.log, "VOTING")
    voting = [p for p in view if p.status == VOTING]
    # Catch-up: a quorum of VOTING replicas holds every learned entry (replicated-log-internals.md).
    if len(voting) >= quorum:
        return Decision(VOTING, agreed_log(voting), f"caught up from {len(voting)} VOTING replicas ({seen})")
    everyone = {p.status for p in view}
    if me.status == EMPTY and VOTING in everyone:
        return Decision(None, me.log, f"EMPTY: catching up needs {quorum} VOTING replicas, {len(voting)} "
                                      f"visible ({seen})")
    if len(view) < quorum:
        return Decision(None, me.log, f"{me.status}: sees {len(view)} of the {quorum} replicas it needs "
                                      f"before it can recover ({seen})")
    if not auto_initialize:
        return Decision(None, me.log, f"{me.status}: fewer than {quorum} replicas are VOTING and "
                                      f"--log_auto_initialize is false, so the log is not initialized "
                                      f"automatically ({seen})")
    if me.status == EMPTY:
        # Phase one: every replica is EMPTY or STARTING. Join the log a STARTING replica chose.
        log = min((p.log for p in view if p.status == STARTING and p.log), default=None) or make_log()
        return Decision(STARTING, log, f"auto-initializing: every visible replica is EMPTY or STARTING "
                                       f"({seen})")
    if voting:
        # A VOTING replica passed phase two, so it saw this STARTING replica among replicas that
        # were all STARTING or VOTING: this round is complete. (Without this, an EMPTY replica
        # that registers while the round ends would wait for catch-up and hold this one back.)
        return Decision(VOTING, agreed_log(voting) or me.log,
                        f"auto-initialized: a VOTING replica finished the initialization ({seen})")
    if everyone <= {STARTING, VOTING}:
        # Phase two: every replica is STARTING; all settle on the smallest log id.
        log = min((p.log for p in view if p.log), default=None) or me.log or make_log()
        return Decision(VOTING, log, f"auto-initialized: every visible replica is STARTING ({seen})")
    return Decision(None, me.log, f"STARTING: waits until every visible replica is STARTING or VOTING ({seen})")


def log_usable(me: Peer, view: list[Peer], quorum: int) -> bool:
    """The leading master can use the log: its own replica votes and a quorum of replicas do."""
    return me.status == VOTING and sum(1 for p in view if p.status == VOTING) >= max(1, quorum)
