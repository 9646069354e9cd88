"""Stand-in for ``mesos-master`` (Apache Mesos 1.11).

Surfaces (reference files under mesos/docs/ of the shared reference):

* flags and ``MESOS_*`` variables: configuration/master.md and
  master-and-agent.md (table in tests/standins/data/mesos_flags.json);
* ZooKeeper leader election: ephemeral sequential ``json.info_`` znodes with
  MasterInfo JSON, lowest leads (reference NOTES.md, README.md note 5);
* the log replica (``_replica.py``; replicated-log-internals.md "Automatic
  replica recovery", operational-guide.md): with ``--registry=replicated_log``
  each master keeps its replica's status (EMPTY, STARTING, VOTING) and log
  identity under ``<work_dir>/replicated_log/`` and publishes them in its
  ephemeral ``<path>/log_replicas`` znode (first line: the replica's pid). A
  replica without persisted state is EMPTY; it becomes VOTING by catch-up (a
  quorum of VOTING replicas visible) or, unless ``--log_auto_initialize=false``,
  by auto-initialization (every replica it sees EMPTY or STARTING, then every
  one STARTING or VOTING). The elected master recovers the registry only once
  its own replica and a quorum (``--quorum``) of replicas are VOTING, and exits
  after ``--registry_fetch_timeout`` otherwise (configuration/master.md,
  high-availability.md);
* HTTP: endpoints/master/*.md, endpoints/metrics/snapshot.md,
  endpoints/version.md, maintenance.md, authentication.md, monitoring.md;
  307/503 rules of README.md notes 2-4;
* the framework API: the stand-in simplification of scheduler-http-api.md
  described in the team brief (non-streaming SUBSCRIBE used as heartbeat).

Stand-in additions (not in Mesos): the registry (agents, maintenance, weights,
quota, reservations) is kept as JSON in the znode ``<path>/standin_registry``
instead of in log entries on disk; the replicas hold no entries, only their
status and the id of the log they belong to. The registry znode names the log
it was written to, so a log initialized afresh (every replica wiped) recovers
an empty registry, as a new upstream log would. Master <-> agent messages are
HTTP calls under ``/_standin/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from typing import Any

from . import _acls, _replica, _roles
from . import _common as c

PROGRAM = "mesos-master"
VERSION = c.release("1.11.0")
BUILD_TIME = 1605484800  # 2020-11-16, the 1.11.0 tag date
# The reference does not name the realms; these are the names Mesos 1.11 uses in its
# WWW-Authenticate challenges (a choice written down in tests/standins/README.md).
READONLY_REALM = "mesos-master-readonly"
READWRITE_REALM = "mesos-master-readwrite"
SCHEDULER_REALM = "mesos-master-scheduler"
HEARTBEAT_INTERVAL = 5.0  # seconds; frameworks re-SUBSCRIBE at least this often
FRAMEWORK_SILENCE_LIMIT = 3  # heartbeats missed before a framework counts as disconnected
TERMINAL_TASK_RETENTION = 300.0  # seconds a terminal, unacknowledged task stays in "tasks"
TERMINAL_STATES = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED",
                   "TASK_GONE", "TASK_GONE_BY_OPERATOR"}
REGISTRY_ZNODE = "standin_registry"
ROLE_CALLS = ("GET_ROLES", "GET_WEIGHTS", "UPDATE_WEIGHTS", "GET_QUOTA", "UPDATE_QUOTA", "RESERVE_RESOURCES",
              "UNRESERVE_RESOURCES")
REPLICAS_ZNODE = "log_replicas"

LOG = logging.getLogger("mesos-master")


# ---------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------


def flag_specs(program: str = "master") -> list[c.Flag]:
    table = c.load_data("mesos_flags.json")
    rows = []
    for row in table["common"] + table[program]:
        row = dict(row)
        if "default_" + program in row:
            row["default"] = row["default_" + program]
        row["required"] = False  # conditional requirements are checked in validate()
        rows.append(row)
    overrides = {
        "port": {"kind": "int"},
        "advertise_port": {"kind": "int"},
        "quorum": {"kind": "int"},
        "http_authenticators": {"default": "basic"},
        "help": {"default": None},
        "version": {"default": None},
    }
    return c.flags_from_table(rows, overrides)


def parse(argv: list[str], env: dict | None = None) -> c.Flags:
    flags = c.parse_flags(flag_specs("master"), argv, program=PROGRAM, env=env, env_prefix="MESOS_",
                          style="mesos", version=VERSION)
    if flags.version:
        raise c.ExitRequest(0, f"mesos {VERSION}")
    if flags.help:
        raise c.ExitRequest(0, c.usage(flag_specs("master"), PROGRAM))
    return flags


def default_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def validate(flags: c.Flags) -> dict[str, Any]:
    """Refusals of master/main.cpp as documented in configuration/master.md.
    Returns derived settings."""
    derived: dict[str, Any] = {}
    if flags.registry not in ("replicated_log", "in_memory"):
        raise c.FlagError(f"'{flags.registry}' is not a supported option for registry persistence")
    if flags.registry == "replicated_log" and not flags.work_dir:
        raise c.FlagError("--work_dir needed for replicated log based registry")
    zk = None
    if flags.zk:
        try:
            zk = c.parse_zk_url(flags.zk)
        except ValueError as exc:
            raise c.FlagError(f"Failed to parse --zk: {exc}") from None
        if flags.registry == "replicated_log" and flags.quorum is None:
            raise c.FlagError("Need to specify --quorum for replicated log based registry when using ZooKeeper")
    if flags.quorum is not None and flags.quorum < 1:
        raise c.FlagError("--quorum must be a positive number")
    derived["zk"] = zk
    if not 0 < flags.port < 65536:
        raise c.FlagError(f"Invalid --port {flags.port}")
    # configuration/libprocess.md: LIBPROCESS_IP / LIBPROCESS_ADVERTISE_IP stand in for --ip / --advertise_ip
    ip = flags.ip or os.environ.get("LIBPROCESS_IP")
    if ip:
        try:
            socket.inet_aton(ip)
        except OSError:
            raise c.FlagError(f"Failed to parse --ip '{ip}': not an IPv4 address") from None
    derived["bind_ip"] = ip or "0.0.0.0"
    derived["ip"] = (flags.advertise_ip or os.environ.get("LIBPROCESS_ADVERTISE_IP")
              or (ip if ip and ip != "0.0.0.0" else default_ip()))
    derived["port"] = flags.advertise_port or flags.port
    if flags.hostname:
        derived["hostname"] = flags.hostname
    elif flags.hostname_lookup:
        derived["hostname"] = socket.getfqdn()
    else:
        derived["hostname"] = derived["ip"]
    credentials = {}
    if flags.credentials:
        credentials = c.load_mesos_credentials(flags.credentials)
    for flag, realm in (("authenticate_http_readonly", READONLY_REALM),
                        ("authenticate_http_readwrite", READWRITE_REALM),
                        ("authenticate_http_frameworks", SCHEDULER_REALM)):
        if flags.get(flag) and not credentials:
            raise c.FlagError(f"No credentials provided for the default 'basic' HTTP authenticator for realm "
                              f"'{realm}' (--{flag} needs --credentials)")
    for flag in ("authenticate_frameworks", "authenticate_agents"):
        if flags.get(flag) and not credentials:
            # authentication.md: CRAM-MD5 checks principals against --credentials
            raise c.FlagError(f"--{flag} needs --credentials for the default 'crammd5' authenticator")
    derived["credentials"] = credentials
    derived["acls"] = _acls.parse(flags.acls)
    if flags.work_dir:
        try:
            os.makedirs(flags.work_dir, exist_ok=True)
        except OSError as exc:
            raise c.FlagError(f"Failed to create --work_dir '{flags.work_dir}': {exc.strerror}") from None
    if flags.logging_level.upper() not in ("INFO", "WARNING", "ERROR"):
        raise c.FlagError("'logging_level' must be one of INFO, WARNING, ERROR")
    return derived


# ---------------------------------------------------------------------------
# Maintenance helpers (maintenance.md)
# ---------------------------------------------------------------------------


def machine_key(machine: dict) -> tuple[str, str]:
    return (str(machine.get("hostname", "")).lower(), str(machine.get("ip", "")))


def machine_json(key: tuple[str, str]) -> dict:
    out = {}
    if key[0]:
        out["hostname"] = key[0]
    if key[1]:
        out["ip"] = key[1]
    return out


def validate_machine_list(machines: Any) -> list[tuple[str, str]]:
    if not isinstance(machines, list) or not machines:
        raise c.HttpError(400, "List of machines is empty")
    seen = []
    for machine in machines:
        if not isinstance(machine, dict):
            raise c.HttpError(400, "Failed to convert JSON into MachineID: expected an object")
        if not machine.get("hostname") and not machine.get("ip"):
            raise c.HttpError(400, "Both 'hostname' and 'ip' for a machine are empty")
        if machine.get("ip"):
            try:
                socket.inet_aton(machine["ip"])
            except OSError:
                raise c.HttpError(400, f"Failed to parse IP '{machine['ip']}'") from None
        key = machine_key(machine)
        if key in seen:
            raise c.HttpError(400, f"Machine '{json.dumps(machine)}' appears more than once")
        seen.append(key)
    return seen


# ---------------------------------------------------------------------------
# The master
# ---------------------------------------------------------------------------


class Master:
    def __init__(self, flags: c.Flags, derived: dict):
        self.flags = flags
        self.d = derived
        self.id = str(uuid.uuid4())
        self.start_time = time.time()
        self.lock = threading.RLock()
        self.zk_url: c.ZkUrl | None = derived["zk"]
        self.zk = None
        self.my_znode: str | None = None
        self.my_replica: str | None = None
        self.leader_info: dict | None = None
        self.elected = False
        self.elected_time: float | None = None
        self.recovered = False
        self.replicas_seen = 0
        # the log replica (_replica.py): durable status under <work_dir>/replicated_log
        self.replica: _replica.LocalReplica | None = None
        if flags.registry == "replicated_log":
            self.replica = _replica.LocalReplica.open(flags.work_dir)
        self.replica_pid = f"log-replica(1)@{derived['ip']}:{derived['port']}"
        self.replica_view: list[_replica.Peer] = []
        self.replica_published: bytes | None = None
        self.replica_note: str | None = None
        self.log_warning: str | None = None
        self.stop_event = threading.Event()
        self.suspended_since: float | None = None
        # cluster state (meaningful on the leader only)
        self.agents: dict[str, dict] = {}
        self.recovered_agents: dict[str, dict] = {}
        self.unreachable_agents: dict[str, float] = {}
        self.frameworks: dict[str, dict] = {}
        self.completed_frameworks: list[dict] = []
        self.framework_seq = 0
        self.agent_seq = 0
        self.schedule: dict = {}
        self.machine_modes: dict[tuple[str, str], str] = {}
        self.counters: dict[str, float] = {}
        self.pid = f"master@{derived['ip']}:{derived['port']}"
        self.alloc = _roles.Allocator(self, TERMINAL_STATES)

    # -- logging/metrics helpers ---------------------------------------------

    def count(self, name: str, by: float = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def master_info(self) -> dict:
        ip = self.d["ip"]
        info = {
            "id": self.id,
            "ip": c.ip_to_int(ip),
            "port": self.d["port"],
            "pid": self.pid,
            "hostname": self.d["hostname"],
            "version": VERSION,
            "address": {"hostname": self.d["hostname"], "ip": ip, "port": self.d["port"]},
            "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"}],
        }
        return info

    # -- ZooKeeper: contending, detecting, replicas ------------------------------

    def start_zk(self) -> None:
        if self.zk_url is None:
            # Standalone (no --zk): this master leads itself; replicated log of one.
            self.leader_info = self.master_info()
            self.replicas_seen = 1
            threading.Thread(target=self.replica_loop, name="replica", daemon=True).start()
            threading.Thread(target=self.become_leader, name="recover", daemon=True).start()
            return
        self.zk = c.kazoo_client(self.zk_url.hosts, self.flags.zk_session_timeout, self.zk_url.auth_data)
        self.zk.add_listener(self.on_zk_state)
        self.zk.start_async()
        threading.Thread(target=self.replica_loop, name="replica", daemon=True).start()
        threading.Thread(target=self.election_loop, name="election", daemon=True).start()

    def on_zk_state(self, state) -> None:
        from kazoo.protocol.states import KazooState

        if state == KazooState.SUSPENDED:
            self.suspended_since = time.monotonic()
            LOG.warning("ZooKeeper connection suspended")
        elif state == KazooState.CONNECTED:
            self.suspended_since = None
        elif state == KazooState.LOST:
            self.session_lost("ZooKeeper session expired")

    def session_lost(self, why: str) -> None:
        if self.elected:
            self.suicide(f"{why}: lost leadership... committing suicide!")
        LOG.warning("%s: lost candidacy as a follower, contending again", why)
        self.leader_info = None
        self.my_znode = None
        self.my_replica = None

    def suicide(self, message: str) -> None:
        """Mesos exits so that the supervisor restarts it (master.cpp lostCandidacy). Not while the
        master is stopping: closing its own session on SIGTERM is no lost leadership, and the exit
        status stays 0 (systemd would otherwise record a stopped unit as failed)."""
        if self.stop_event.is_set():
            LOG.info("stopping: %s (ignored)", message.split(":")[0])
            return
        LOG.error(message)
        logging.shutdown()
        os._exit(1)

    def drop_own_znodes(self, parent: str) -> None:
        """Remove this session's ephemeral children of `parent`. A create that fails with a
        lost connection may still have been applied by the server; contending again in the same
        session must not leave a second json.info_ or log replica behind (the registrar would
        then count one master twice)."""
        session = self.zk.client_id[0] if self.zk.client_id else None
        if not session:
            return
        for name in self.zk.get_children(parent):
            with contextlib.suppress(Exception):
                _data, stat = self.zk.get(f"{parent}/{name}")
                if stat.ephemeralOwner == session:
                    self.zk.delete(f"{parent}/{name}")
                    LOG.info("removed %s/%s left by an earlier attempt of this session", parent, name)

    def contend(self) -> None:
        path = self.zk_url.path
        self.zk.ensure_path(path)
        self.zk.ensure_path(f"{path.rstrip('/')}/{REPLICAS_ZNODE}")
        self.drop_own_znodes(path)
        self.drop_own_znodes(f"{path.rstrip('/')}/{REPLICAS_ZNODE}")
        data = json.dumps(self.master_info()).encode("utf-8")
        created = self.zk.create(f"{path.rstrip('/')}/{c.MASTER_INFO_PREFIX}", data, ephemeral=True, sequence=True)
        self.my_znode = created.rsplit("/", 1)[1]
        replica = self.replica_data()
        created = self.zk.create(f"{path.rstrip('/')}/{REPLICAS_ZNODE}/", replica, ephemeral=True, sequence=True)
        self.my_replica = created.rsplit("/", 1)[1]
        self.replica_published = replica
        LOG.info("contending for leadership as %s/%s", path, self.my_znode)

    def read_membership(self) -> list[str] | None:
        """The group's json.info_ children, lowest first; None when the connection dropped
        during the read. Only a read that succeeded can show that this master's membership is
        gone: a dropped connection (a ZooKeeper member restarting, the ensemble electing its
        leader) keeps the session, and with it the candidacy and the leadership, until the
        session expires (high-availability.md)."""
        from kazoo.exceptions import NoNodeError

        try:
            return c.sort_master_info_znodes(self.zk.get_children(self.zk_url.path))
        except NoNodeError:
            return []
        except Exception as exc:  # ConnectionLoss, SessionExpired: the listener handles them
            LOG.info("ZooKeeper read interrupted (%s); the group is unknown until it answers", type(exc).__name__)
            return None

    def read_leader(self, path: str, children: list[str]) -> tuple[str, dict] | None:
        """The lowest member of `path` whose MasterInfo can be read (one that left between the
        listing and the read is skipped); None when the connection dropped, so that no later
        member is taken for the leader."""
        from kazoo.exceptions import NoNodeError

        for name in children:
            try:
                data, _ = self.zk.get(f"{path}/{name}")
                return name, json.loads(data.decode("utf-8"))
            except NoNodeError:
                continue
            except Exception:
                return None
        return None

    def election_loop(self) -> None:
        from kazoo.exceptions import NoAuthError

        path = self.zk_url.path.rstrip("/") or ""
        while not self.stop_event.is_set():
            try:
                if self.suspended_since is not None and self.elected and \
                        time.monotonic() - self.suspended_since > self.flags.zk_session_timeout:
                    self.suicide("ZooKeeper session timed out: lost leadership... committing suicide!")
                if self.suspended_since is not None and self.leader_info is not None and \
                        time.monotonic() - self.suspended_since > self.flags.zk_session_timeout:
                    # the detector gives up on the leader it knew: no leader until ZooKeeper is back
                    LOG.warning("ZooKeeper unreachable for longer than the session timeout: no leader known")
                    self.leader_info = None
                if self.zk.connected and self.my_znode is None:
                    self.contend()
                children = self.read_membership() if self.zk.connected else None
                if children is not None:
                    if self.my_znode not in children:
                        self.session_lost("our ZooKeeper membership disappeared")
                        continue
                    leader = self.read_leader(path, children)
                    if leader is not None:
                        if self.leader_info is None or leader[1].get("id") != self.leader_info.get("id"):
                            LOG.info("the leading master is %s (%s)", leader[1].get("pid"), leader[0])
                        self.leader_info = leader[1]
                        if leader[0] == self.my_znode and not self.elected:
                            self.elected = True
                            threading.Thread(target=self.become_leader, name="recover", daemon=True).start()
                        elif leader[0] != self.my_znode and self.elected:
                            self.suicide("lost leadership... committing suicide!")
            except NoAuthError:
                # the contender and detector fail, and the master exits (high-availability.md)
                self.suicide(f"Failed to contend or detect a master: ZooKeeper refused access (NoAuth) to "
                             f"{path or '/'}: the --zk credentials do not match the znode's ACL")
            except Exception:
                LOG.exception("election loop")
            self.stop_event.wait(0.2)

    # -- the log replica (_replica.py) ---------------------------------------------------

    def replica_peer(self) -> _replica.Peer:
        """This master's replica as the others see it. Without a replicated log (in_memory)
        there is no replica state: it publishes only its pid, which counts as VOTING."""
        if self.replica is None:
            return _replica.Peer(self.replica_pid, _replica.VOTING, None)
        return _replica.Peer(self.replica_pid, self.replica.status, self.replica.log)

    def replica_data(self) -> bytes:
        if self.replica is None:
            return self.replica_pid.encode("utf-8")
        return _replica.encode(self.replica_pid, self.replica.status, self.replica.log)

    def read_replicas(self) -> list[_replica.Peer] | None:
        """Every replica visible in `<path>/log_replicas`, one per pid (the newest znode: a
        master restarted before its old session expired leaves a stale one behind), this
        master's own replica included; None when ZooKeeper does not answer."""
        from kazoo.exceptions import NoNodeError

        own = self.replica_peer()
        if self.zk is None:
            return [own]
        if not self.zk.connected:
            return None
        parent = f"{self.zk_url.path.rstrip('/')}/{REPLICAS_ZNODE}"
        try:
            names = self.zk.get_children(parent)
        except NoNodeError:
            names = []
        except Exception:
            return None
        newest: dict[str, tuple[int, _replica.Peer]] = {}
        for name in names:
            try:
                data, _ = self.zk.get(f"{parent}/{name}")
            except NoNodeError:
                continue
            except Exception:
                return None
            peer = _replica.parse(data)
            if peer is None:
                continue
            seq = int(name) if name.isdigit() else -1
            if peer.pid not in newest or seq > newest[peer.pid][0]:
                newest[peer.pid] = (seq, peer)
        view = {pid: peer for pid, (_seq, peer) in newest.items()}
        view[own.pid] = own
        return sorted(view.values(), key=lambda p: p.pid)

    def replica_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.replica_tick()
            except Exception:
                LOG.exception("log replica")
            self.stop_event.wait(0.2)

    def replica_tick(self) -> None:
        """Look at the other replicas, move this one (catch-up, auto-initialization), persist
        the new status, then publish it."""
        view = self.read_replicas()
        if view is None:
            return
        if self.replica is not None:
            me = self.replica_peer()
            decision = _replica.decide(me, view, self.flags.quorum or 1, bool(self.flags.log_auto_initialize))
            if decision.status is not None and decision.status != me.status:
                try:
                    self.replica.persist(decision.status, decision.log)
                except _replica.ReplicaError as exc:
                    self.suicide(str(exc))
                LOG.info("log replica is now %s (log %s): %s", decision.status, decision.log, decision.reason)
                self.replica_note = None
                own = self.replica_peer()
                view = [own if p.pid == own.pid else p for p in view]
            elif decision.status is None and me.status != _replica.VOTING and decision.reason != self.replica_note:
                LOG.warning("log replica %s", decision.reason)
                self.replica_note = decision.reason
            self.check_log_agreement(view)
        self.replica_view = view
        self.replicas_seen = len(view)
        self.publish_replica()

    def check_log_agreement(self, view: list[_replica.Peer]) -> None:
        logs = sorted({p.log for p in view if p.status == _replica.VOTING and p.log})
        warning = None
        if len(logs) > 1:
            warning = ("VOTING log replicas belong to different logs (" + _replica.summary(
                [p for p in view if p.status == _replica.VOTING], self.replica_pid) + ": logs "
                + ", ".join(logs) + "); the replicated log is inconsistent")
        if warning and warning != self.log_warning:
            LOG.warning("%s", warning)
        self.log_warning = warning

    def publish_replica(self) -> None:
        if self.zk is None or self.my_replica is None:
            return
        data = self.replica_data()
        if data == self.replica_published:
            return
        path = f"{self.zk_url.path.rstrip('/')}/{REPLICAS_ZNODE}/{self.my_replica}"
        try:
            self.zk.set(path, data)
            self.replica_published = data
        except Exception as exc:  # NoNode after a lost session (contend publishes again), ConnectionLoss
            LOG.info("could not publish the log replica's status yet (%s)", type(exc).__name__)

    # -- the registry -----------------------------------------------------------------

    def registry_path(self) -> str | None:
        if self.zk_url is None:
            return None
        return f"{self.zk_url.path.rstrip('/')}/{REGISTRY_ZNODE}"

    def become_leader(self) -> None:
        """Elected: recover the registry once this master's log replica is VOTING and a quorum
        of VOTING replicas is visible (EMPTY and STARTING ones do not count); give up after
        --registry_fetch_timeout (replicated-log-internals.md, configuration/master.md)."""
        self.elected = True
        self.elected_time = time.time()
        LOG.info("elected as the leading master!")
        quorum = self.flags.quorum or 1
        deadline = time.monotonic() + self.flags.registry_fetch_timeout
        waiting = None
        while self.replica is not None and not _replica.log_usable(self.replica_peer(), self.replica_view, quorum):
            view = self.replica_view
            voting = sum(1 for p in view if p.status == _replica.VOTING)
            why = (f"a quorum of {quorum} VOTING log replicas to recover the registry ({voting} VOTING of "
                   f"{len(view)} visible: {_replica.summary(view, self.replica_pid)})")
            if why != waiting:
                LOG.warning("waiting for %s", why)
                waiting = why
            if time.monotonic() > deadline:
                self.suicide("Recovery failed: Failed to recover registrar: Failed to perform fetch within "
                             f"{c.format_duration(self.flags.registry_fetch_timeout)}")
            time.sleep(0.2)
        registry = self.load_registry()
        owner = registry.get("log") if isinstance(registry, dict) else None
        mine = self.replica.log if self.replica is not None else None
        fresh = bool(owner and mine and owner != mine)
        if fresh:
            LOG.warning("the registry in %s was written to replicated log %s, but the log replicas hold log %s "
                        "(initialized afresh): recovering an empty registry", self.registry_path(), owner, mine)
            registry = {}
        with self.lock:
            self.recovered_agents = {a["id"]: a for a in registry.get("agents", [])}
            self.schedule = registry.get("schedule") or {}
            self.machine_modes = {machine_key(m["id"]): m["mode"] for m in registry.get("machines", [])}
            self.alloc.policy.load(registry.get("policy") or {})
            self.recovered_at = time.monotonic()
            self.recovered = True
        LOG.info("recovered %d agents from the registry; serving as leader", len(self.recovered_agents))
        if fresh:
            self.store_registry()

    def load_registry(self) -> dict:
        path = self.registry_path()
        if path is None or self.flags.registry == "in_memory":
            return {}
        try:
            data, _ = self.zk.get(path)
            doc = json.loads(data.decode("utf-8") or "{}")
            return doc if isinstance(doc, dict) else {}
        except Exception:
            return {}

    def store_registry(self) -> None:
        path = self.registry_path()
        if path is None or self.flags.registry == "in_memory" or not self.recovered:
            return
        with self.lock:
            agents = [a["info"] for a in self.agents.values()] + list(self.recovered_agents.values())
            doc = {
                "agents": agents,
                "schedule": self.schedule,
                "machines": [{"id": machine_json(k), "mode": v} for k, v in self.machine_modes.items()],
                "policy": self.alloc.policy.to_json(),
            }
            if self.replica is not None and self.replica.log:
                doc["log"] = self.replica.log  # the log this registry belongs to
        data = json.dumps(doc).encode("utf-8")
        try:
            if self.zk.exists(path):
                self.zk.set(path, data)
            else:
                self.zk.create(path, data, makepath=True)
        except Exception:
            LOG.exception("failed to store the registry")

    # -- agents -------------------------------------------------------------------

    def machine_mode(self, hostname: str, ip: str) -> str:
        return self.machine_modes.get((hostname.lower(), ip), "UP")

    def machine_unavailability(self, hostname: str, ip: str) -> dict | None:
        """maintenance.md: offers from a machine in the schedule carry its window's
        unavailability (start and duration, nanoseconds), so that frameworks can move away."""
        key = (hostname.lower(), ip)
        for window in (self.schedule or {}).get("windows") or []:
            if any(machine_key(machine) == key for machine in window.get("machine_ids") or []):
                return window.get("unavailability")
        return None

    def agent_url(self, agent: dict) -> str:
        info = agent["info"]
        return f"http://{info['ip']}:{info['port']}"

    def send_to_agent(self, agent: dict, path: str, body: dict, timeout: float = 5.0) -> c.HttpResult | None:
        try:
            return c.http_request("POST", self.agent_url(agent) + path, body, timeout=timeout)
        except OSError as exc:
            LOG.warning("agent %s unreachable for %s: %s", agent["info"]["id"], path, exc)
            return None

    def used_resources(self, agent_id: str) -> c.Resources:
        used = c.Resources()
        for fw in self.frameworks.values():
            for task in fw["tasks"].values():
                if task["slave_id"] == agent_id and task["state"] not in TERMINAL_STATES:
                    used = used + task["_resources"]
        return used

    def register_agent(self, body: dict) -> dict:
        info = dict(body.get("agent_info") or {})
        for key in ("hostname", "ip", "port"):
            if key not in info:
                raise c.HttpError(400, f"agent_info.{key} is missing")
        if self.machine_mode(info["hostname"], info["ip"]) == "DOWN":
            raise c.HttpError(403, "Agent attempted to register on a machine in DOWN mode",
                              json_body={"message": "Agent is on a machine that is DOWN for maintenance"})
        try:
            resources = c.Resources.parse(info.get("resources") or "")
            static = {role: c.Resources.parse(text) for role, text in (info.get("reserved") or {}).items()}
        except ValueError as exc:
            raise c.HttpError(400, f"invalid resources: {exc}") from None
        kill_tasks = []
        with self.lock:
            agent_id = info.get("id")
            rereg = bool(agent_id) and (agent_id in self.agents or agent_id in self.recovered_agents
                                        or agent_id in self.unreachable_agents)
            known = self.agents.get(agent_id) or {}
            old = known.get("info") or self.recovered_agents.get(agent_id) or {}
            for key in ("hostname", "port"):
                if rereg and old.get(key) is not None and old.get(key) != info.get(key):
                    # configuration/agent.md --reconfiguration_policy: the master refuses these changes
                    raise c.HttpError(403, f"Agent {agent_id} attempted to re-register with a different {key} "
                                           f"({old.get(key)} -> {info.get(key)})")
            if not agent_id:
                self.agent_seq += 1
                agent_id = f"{self.id}-S{self.agent_seq - 1}"
            info["id"] = agent_id
            now = time.time()
            previous = self.agents.get(agent_id)
            agent = {
                "info": info,
                "resources": resources,
                "attributes": info.get("attributes") or {},
                "static": static,
                "registered_time": previous["registered_time"] if previous else now,
                "reregistered_time": now if rereg else None,
                "active": True,
                "misses": 0,
                "last_pong": time.monotonic(),
            }
            self.agents[agent_id] = agent
            self.recovered_agents.pop(agent_id, None)
            was_unreachable = self.unreachable_agents.pop(agent_id, None) is not None
            self.count("master/slave_reregistrations" if rereg else "master/slave_registrations")
            reported = {}
            for task in body.get("tasks") or []:
                reported[task["task_id"]] = task
            # tasks the agent reports
            removed = {f["id"] for f in self.completed_frameworks}
            for task_id, rep in reported.items():
                if rep["framework_id"] in removed:
                    kill_tasks.append({"framework_id": rep["framework_id"], "task_id": task_id})
                    continue
                fw = self.frameworks.get(rep["framework_id"])
                if fw is None:
                    fw = self.placeholder_framework(rep["framework_id"])
                task = fw["tasks"].get(task_id)
                if task is None:
                    task = self.new_task(fw, rep.get("task_info") or {"task_id": {"value": task_id},
                                                                       "name": task_id}, agent_id,
                                         state=rep.get("state", "TASK_RUNNING"))
                    fw["tasks"][task_id] = task
                if task["state"] in TERMINAL_STATES and rep.get("state") not in TERMINAL_STATES:
                    kill_tasks.append({"framework_id": rep["framework_id"], "task_id": task_id})
                elif rep.get("state") and rep["state"] != task["state"]:
                    self.set_task_state(task, rep["state"], rep.get("message"))
            # tasks the master thinks are there but the agent does not report
            for fw in self.frameworks.values():
                for task in fw["tasks"].values():
                    if task["slave_id"] == agent_id and task["id"] not in reported and \
                            task["state"] not in TERMINAL_STATES and not task.get("_launching"):
                        self.set_task_state(task, "TASK_LOST", "Task is unknown to the agent",
                                            reason="REASON_RECONCILIATION")
            LOG.info("%s agent %s at %s:%s (%s)%s", "re-registered" if rereg else "registered", agent_id,
                     info["ip"], info["port"], info["hostname"], " (was unreachable)" if was_unreachable else "")
        self.store_registry()
        return {"agent_id": agent_id, "master_id": self.id, "kill_tasks": kill_tasks,
                "ping_timeout_seconds": self.flags.agent_ping_timeout,
                "max_ping_timeouts": self.flags.max_agent_ping_timeouts}

    def mark_unreachable(self, agent_id: str, why: str) -> None:
        with self.lock:
            agent = self.agents.pop(agent_id, None)
            if agent is None:
                return
            self.unreachable_agents[agent_id] = time.time()
            self.count("master/slave_unreachable_completed")
            LOG.warning("marking agent %s unreachable: %s", agent_id, why)
            self.lose_tasks(agent_id, "Agent is unreachable", "REASON_SLAVE_REMOVED", partition=True)
        self.store_registry()

    def lose_tasks(self, agent_id: str, message: str, reason: str, partition: bool = False) -> None:
        for fw in self.frameworks.values():
            aware = any(cap.get("type") == "PARTITION_AWARE" for cap in fw["capabilities"])
            for task in fw["tasks"].values():
                if task["slave_id"] == agent_id and task["state"] not in TERMINAL_STATES:
                    state = "TASK_UNREACHABLE" if (partition and aware) else "TASK_LOST"
                    self.set_task_state(task, state, message, reason=reason)

    def pinger(self) -> None:
        """Ping every agent each --agent_ping_timeout; --max_agent_ping_timeouts
        misses in a row mark it unreachable (configuration/master.md)."""
        while not self.stop_event.is_set():
            interval = self.flags.agent_ping_timeout
            if self.elected and self.recovered:
                with self.lock:
                    agents = list(self.agents.values())
                for agent in agents:
                    threading.Thread(target=self.ping_one, args=(agent,), daemon=True).start()
                self.check_reregister_timeout()
                self.check_frameworks()
            self.stop_event.wait(interval)

    def ping_one(self, agent: dict) -> None:
        result = self.send_to_agent(agent, "/_standin/ping",
                                    {"master_id": self.id, "agent_id": agent["info"]["id"]},
                                    timeout=self.flags.agent_ping_timeout)
        if result is not None and result.status == 200:
            agent["misses"] = 0
            agent["last_pong"] = time.monotonic()
            return
        agent["misses"] += 1
        if agent["misses"] >= self.flags.max_agent_ping_timeouts:
            self.mark_unreachable(agent["info"]["id"], f"{agent['misses']} pings missed")

    def check_reregister_timeout(self) -> None:
        limit = self.flags.agent_reregister_timeout
        if not self.recovered_agents or time.monotonic() - getattr(self, "recovered_at", 0) < limit:
            return
        with self.lock:
            for agent_id in list(self.recovered_agents):
                self.recovered_agents.pop(agent_id)
                self.unreachable_agents[agent_id] = time.time()
                LOG.warning("agent %s did not re-register within %s; marked unreachable", agent_id,
                            c.format_duration(limit))
        self.store_registry()

    # -- frameworks and tasks ---------------------------------------------------

    def placeholder_framework(self, framework_id: str) -> dict:
        """A framework known only from an agent's tasks after failover (it has
        not re-subscribed yet)."""
        fw = self.make_framework(framework_id, {"name": "", "user": ""})
        fw["recovered"] = True
        fw["active"] = False
        fw["connected"] = False
        self.frameworks[framework_id] = fw
        return fw

    def make_framework(self, framework_id: str, info: dict) -> dict:
        now = time.time()
        return {
            "id": framework_id,
            "name": info.get("name", ""),
            "user": info.get("user", ""),
            "hostname": info.get("hostname", ""),
            "webui_url": info.get("webui_url", ""),
            "principal": info.get("principal"),
            "role": info.get("role", "*"),
            "roles": info.get("roles") or [info.get("role", "*")],
            "failover_timeout": float(info.get("failover_timeout", 0) or 0),
            "checkpoint": bool(info.get("checkpoint", False)),
            "capabilities": info.get("capabilities") or [],
            "active": True,
            "connected": True,
            "recovered": False,
            "registered_time": now,
            "reregistered_time": None,
            "unregistered_time": 0,
            "last_seen": time.monotonic(),
            "disconnected_at": None,
            "tasks": {},
            "completed_tasks": [],
        }

    def new_task(self, fw: dict, task_info: dict, agent_id: str, state: str = "TASK_STAGING",
                 role: str | None = None) -> dict:
        resources = c.Resources.from_protobuf(task_info.get("resources") or [])
        pools = _roles.split_pools(task_info.get("resources") or [])
        task_id = task_info["task_id"]["value"]
        task = {
            "id": task_id,
            "name": task_info.get("name", task_id),
            "framework_id": fw["id"],
            "executor_id": "",
            "slave_id": agent_id,
            "state": state,
            "resources": resources.model(),
            "role": role or task_role(fw, task_info),
            "statuses": [],
            "_resources": resources,
            "_pools": pools,
            "_info": task_info,
            "_terminal_at": None,
        }
        if task_info.get("labels"):
            task["labels"] = task_info["labels"].get("labels", [])
        if task_info.get("discovery"):
            task["discovery"] = task_info["discovery"]
        self.add_status(task, state, None)
        return task

    def add_status(self, task: dict, state: str, message: str | None, reason: str | None = None,
                   source: str | None = None) -> None:
        status = {"state": state, "timestamp": time.time()}
        if message:
            status["message"] = message
        if reason:
            status["reason"] = reason
        if source:
            status["source"] = source
        task["statuses"].append(status)

    def set_task_state(self, task: dict, state: str, message: str | None = None, reason: str | None = None,
                       source: str = "SOURCE_MASTER") -> None:
        if task["state"] == state:
            return
        if task["state"] in TERMINAL_STATES:
            return
        task["state"] = state
        task.pop("_launching", None)
        self.add_status(task, state, message, reason, source)
        if state in TERMINAL_STATES:
            task["_terminal_at"] = time.monotonic()
        LOG.info("task %s of framework %s is now %s%s", task["id"], task["framework_id"], state,
                 f" ({message})" if message else "")

    def check_frameworks(self) -> None:
        now = time.monotonic()
        with self.lock:
            for fw in list(self.frameworks.values()):
                if fw["recovered"]:
                    continue
                if fw["connected"] and now - fw["last_seen"] > HEARTBEAT_INTERVAL * FRAMEWORK_SILENCE_LIMIT:
                    fw["connected"] = False
                    fw["active"] = False
                    fw["disconnected_at"] = now
                    fw["unregistered_time"] = time.time()
                    LOG.warning("framework %s (%s) disconnected", fw["id"], fw["name"])
                if not fw["connected"] and fw["disconnected_at"] is not None and \
                        now - fw["disconnected_at"] > fw["failover_timeout"]:
                    LOG.warning("framework %s (%s) failover timeout elapsed; removing it", fw["id"], fw["name"])
                    self.remove_framework(fw)
                # terminal tasks age out of "tasks" into "completed_tasks"
                for task_id, task in list(fw["tasks"].items()):
                    if task["_terminal_at"] is not None and now - task["_terminal_at"] > TERMINAL_TASK_RETENTION:
                        fw["completed_tasks"].append(fw["tasks"].pop(task_id))

    def remove_framework(self, fw: dict) -> None:
        with self.lock:
            for task in fw["tasks"].values():
                if task["state"] not in TERMINAL_STATES:
                    self.set_task_state(task, "TASK_KILLED", "Framework removed")
            agents = list(self.agents.values())
            self.frameworks.pop(fw["id"], None)
            fw["active"] = False
            fw["connected"] = False
            fw["unregistered_time"] = time.time()
            self.completed_frameworks.append(fw)
            del self.completed_frameworks[:-max(self.flags.max_completed_frameworks, 0) or None]
        for agent in agents:
            threading.Thread(target=self.send_to_agent, args=(agent, "/_standin/shutdown_framework",
                                                               {"framework_id": fw["id"]}), daemon=True).start()

    # -- JSON models ------------------------------------------------------------------

    def task_json(self, task: dict) -> dict:
        return {k: v for k, v in task.items() if not k.startswith("_")}

    def framework_json(self, fw: dict) -> dict:
        used = c.Resources()
        for task in fw["tasks"].values():
            if task["state"] not in TERMINAL_STATES:
                used = used + task["_resources"]
        out = {k: v for k, v in fw.items() if k not in ("tasks", "completed_tasks", "last_seen",
                                                         "disconnected_at") and not k.startswith("_")}
        out.update({
            "pid": f"scheduler-{fw['id']}@{fw['hostname'] or '127.0.0.1'}",
            "used_resources": used.model(),
            "offered_resources": c.Resources().model(),
            "resources": used.model(),
            "tasks": [self.task_json(t) for t in fw["tasks"].values()],
            "unreachable_tasks": [self.task_json(t) for t in fw["tasks"].values()
                                  if t["state"] == "TASK_UNREACHABLE"],
            "completed_tasks": [self.task_json(t) for t in fw["completed_tasks"]],
            "offers": self.alloc.offers(fw) if fw["active"] and fw["connected"] else [],
            "executors": [],
        })
        if out.get("principal") is None:
            out.pop("principal", None)
        return out

    def agent_json(self, agent: dict) -> dict:
        info = agent["info"]
        used = self.used_resources(info["id"])
        reserved, reserved_full = self.alloc.reservations_json(agent)
        unreserved = self.alloc.pool_totals(agent)[_roles.UNRESERVED]
        out = {
            "id": info["id"],
            "pid": f"slave(1)@{info['ip']}:{info['port']}",
            "hostname": info["hostname"],
            "port": info["port"],
            "registered_time": agent["registered_time"],
            "resources": agent["resources"].model(),
            "used_resources": used.model(),
            "offered_resources": c.Resources().model(),
            "reserved_resources": reserved,
            "unreserved_resources": unreserved.model(),
            "reserved_resources_full": reserved_full,
            "unreserved_resources_full": unreserved.protobuf(),
            "used_resources_full": used.protobuf(),
            "offered_resources_full": [],
            "attributes": agent["attributes"],
            "active": agent["active"],
            "deactivated": not agent["active"],
            "version": info.get("version", VERSION),
            "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "RESOURCE_PROVIDER",
                             "RESIZE_VOLUME", "AGENT_OPERATION_FEEDBACK", "AGENT_DRAINING", "TASK_RESOURCE_LIMITS"],
        }
        if agent.get("reregistered_time"):
            out["reregistered_time"] = agent["reregistered_time"]
        return out

    def state_json(self, include_flags: bool = True) -> dict:
        with self.lock:
            out: dict[str, Any] = {
                "version": VERSION,
                "build_date": "2020-11-16 00:00:00",
                "build_time": BUILD_TIME,
                "build_user": "standin",
                "start_time": self.start_time,
                "id": self.id,
                "pid": self.pid,
                "hostname": self.d["hostname"],
                "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
                "activated_slaves": sum(1 for a in self.agents.values() if a["active"]),
                "deactivated_slaves": sum(1 for a in self.agents.values() if not a["active"]),
                "unreachable_slaves": len(self.unreachable_agents),
            }
            if self.elected:
                out["elected_time"] = self.elected_time
            if self.leader_info:
                out["leader"] = self.leader_info.get("pid")
                leader = {"id": self.leader_info.get("id"), "pid": self.leader_info.get("pid"),
                          "port": self.leader_info.get("port"), "hostname": self.leader_info.get("hostname")}
                out["leader_info"] = leader
            if self.flags.cluster:
                out["cluster"] = self.flags.cluster
            if self.flags.log_dir:
                out["log_dir"] = self.flags.log_dir
            if self.flags.external_log_file:
                out["external_log_file"] = self.flags.external_log_file
            if include_flags:
                out["flags"] = self.flags.as_strings()
            out["slaves"] = [self.agent_json(a) for a in self.agents.values()]
            out["recovered_slaves"] = list(self.recovered_agents.values())
            out["frameworks"] = [self.framework_json(f) for f in self.frameworks.values()]
            out["completed_frameworks"] = [self.framework_json(f) for f in self.completed_frameworks]
            out["orphan_tasks"] = []
            out["unregistered_frameworks"] = []
        return out

    def metrics(self) -> dict[str, float]:
        """monitoring.md keys (the subset a health check and the modules read)."""
        with self.lock:
            total = c.Resources()
            used = c.Resources()
            for agent in self.agents.values():
                total = total + agent["resources"]
                used = used + self.used_resources(agent["info"]["id"])
            task_states: dict[str, int] = {}
            for fw in self.frameworks.values():
                for task in fw["tasks"].values():
                    task_states[task["state"]] = task_states.get(task["state"], 0) + 1
            for fw in self.completed_frameworks:
                for task in list(fw["tasks"].values()) + fw["completed_tasks"]:
                    task_states[task["state"]] = task_states.get(task["state"], 0) + 1
            out: dict[str, float] = {
                "master/elected": 1.0 if self.elected else 0.0,
                "master/uptime_secs": time.time() - self.start_time,
                "master/slaves_active": float(sum(1 for a in self.agents.values() if a["active"])),
                "master/slaves_inactive": float(sum(1 for a in self.agents.values() if not a["active"])),
                "master/slaves_connected": float(len(self.agents)),
                "master/slaves_disconnected": float(len(self.recovered_agents)),
                "master/slaves_unreachable": float(len(self.unreachable_agents)),
                "master/frameworks_active": float(sum(1 for f in self.frameworks.values() if f["active"])),
                "master/frameworks_inactive": float(sum(1 for f in self.frameworks.values() if not f["active"])),
                "master/frameworks_connected": float(sum(1 for f in self.frameworks.values() if f["connected"])),
                "master/frameworks_disconnected": float(
                    sum(1 for f in self.frameworks.values() if not f["connected"])),
                "master/outstanding_offers": 0.0,
                "master/slave_registrations": self.counters.get("master/slave_registrations", 0.0),
                "master/slave_reregistrations": self.counters.get("master/slave_reregistrations", 0.0),
                "master/slave_removals": self.counters.get("master/slave_removals", 0.0),
                "master/slave_unreachable_completed": self.counters.get("master/slave_unreachable_completed", 0.0),
                "master/messages_register_framework": self.counters.get("subscribe", 0.0),
                "master/messages_launch_tasks": self.counters.get("launch", 0.0),
                "master/messages_kill_task": self.counters.get("kill", 0.0),
                "master/valid_status_updates": self.counters.get("status_updates", 0.0),
                "master/invalid_status_updates": 0.0,
                "master/dropped_messages": 0.0,
                "registrar/log/recovered": 1.0 if self.recovered else 0.0,
                "registrar/log/ensemble_size": float(self.replicas_seen),
                "registrar/queued_operations": 0.0,
                "registrar/registry_size_bytes": 0.0,
                "system/cpus_total": float(os.cpu_count() or 1),
                "system/load_1min": os.getloadavg()[0],
                "system/load_5min": os.getloadavg()[1],
                "system/load_15min": os.getloadavg()[2],
            }
            for state in ("STAGING", "STARTING", "RUNNING", "KILLING", "FINISHED", "FAILED", "KILLED", "LOST",
                          "ERROR", "DROPPED", "UNREACHABLE", "GONE", "GONE_BY_OPERATOR", "UNKNOWN"):
                out[f"master/tasks_{state.lower()}"] = float(task_states.get(f"TASK_{state}", 0))
            for name in ("cpus", "mem", "disk", "gpus"):
                t = total.scalars.get(name, 0.0)
                u = used.scalars.get(name, 0.0)
                out[f"master/{name}_total"] = t
                out[f"master/{name}_used"] = u
                out[f"master/{name}_percent"] = (u / t) if t else 0.0
                out[f"master/{name}_revocable_total"] = 0.0
                out[f"master/{name}_revocable_used"] = 0.0
                out[f"master/{name}_revocable_percent"] = 0.0
            mem = _meminfo()
            out["system/mem_total_bytes"] = float(mem.get("MemTotal", 0))
            out["system/mem_free_bytes"] = float(mem.get("MemAvailable", mem.get("MemFree", 0)))
        return out


def _meminfo() -> dict[str, int]:
    result = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts:
                    result[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return result


def task_role(fw: dict, task_info: dict) -> str:
    """The role a task's resources are allocated to (``allocation_info.role`` of
    MULTI_ROLE frameworks), else the framework's only role."""
    for item in task_info.get("resources") or []:
        role = (item.get("allocation_info") or {}).get("role")
        if role:
            return role
    return (fw.get("roles") or [fw.get("role", "*")])[0]


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


def build_app(m: Master) -> c.HttpApp:
    app = c.HttpApp(f"mesos-master/{VERSION}")
    flags = m.flags

    def authenticate(req: c.Request, realm: str, enabled: bool) -> c.Response | None:
        """Basic authentication as authentication.md describes it: only when the
        realm's --authenticate_http_* flag is set; 401 with a challenge otherwise."""
        creds = req.basic_auth()
        if creds is not None and m.d["credentials"].get(creds[0]) == creds[1]:
            req.principal = creds[0]
            return None
        if not enabled:
            return None
        return c.unauthorized(realm)

    def readonly(req):
        return authenticate(req, READONLY_REALM, bool(flags.authenticate_http_readonly))

    def readwrite(req):
        return authenticate(req, READWRITE_REALM, bool(flags.authenticate_http_readwrite))

    def authenticated_peer(req: c.Request, what: str, required: bool) -> str | None:
        """authentication.md: with --authenticate_frameworks (--authenticate_agents) only an
        authenticated framework (agent) registers, and one that offers a credential is checked
        either way. The real peers run CRAM-MD5 before registering; the stand-ins' private
        protocol carries the principal and secret as Basic authentication instead. Returns the
        authenticated principal (None when the peer offered none and none is required)."""
        creds = req.basic_auth()
        peer = ":".join(str(part) for part in req.client) if isinstance(req.client, tuple) else req.client
        if creds is None:
            if required:
                LOG.warning("Refusing %s at %s: it is not authenticated", what, peer)
                raise c.HttpError(401, f"Refusing {what}: it is not authenticated")
            return None
        if m.d["credentials"].get(creds[0]) != creds[1]:
            LOG.warning("Authentication of %s at %s with principal '%s' failed: unknown principal or wrong secret",
                        what, peer, creds[0])
            raise c.HttpError(401, f"Authentication of {what} with principal '{creds[0]}' failed")
        return creds[0]

    def authorize(action: str, subject: str | None, obj: str | None, what: str) -> None:
        if not _acls.authorized(m.d["acls"], action, subject, obj):
            LOG.warning("Refusing %s: principal '%s' is not authorized to %s '%s' (--acls %s)", what,
                        subject if subject is not None else "ANY", action, obj if obj is not None else "ANY",
                        action)
            raise c.HttpError(403, f"Not authorized: {what} ({action} of '{obj}' for principal '{subject}')")

    def redirect_or_unavailable(req: c.Request) -> c.Response | None:
        """README.md note 2: 307 to the leader when not elected, 503 without a leader;
        503 while the elected master is still recovering."""
        if not m.elected:
            leader = m.leader_info
            if not leader:
                return c.text_response("No leader elected", 503)
            target = f"//{leader.get('hostname') or leader.get('address', {}).get('ip')}:{leader.get('port')}"
            location = target + req.path + (f"?{req.query_string}" if req.query_string else "")
            return c.empty_response(307, {"Location": location})
        if not m.recovered:
            return c.text_response("Master has not finished recovery", 503)
        return None

    def guarded(realm_check, handler):
        def wrapped(req: c.Request) -> c.Response:
            denied = realm_check(req) if realm_check else None
            if denied is not None:
                return denied
            redirected = redirect_or_unavailable(req)
            if redirected is not None:
                return redirected
            return handler(req)

        return wrapped

    # -- always local ---------------------------------------------------------------

    @app.route("GET", "/master/health", "/health")
    def health(req):
        # README.md note 4, endpoints/master/health.md: 200, empty, every master, no auth
        return c.empty_response(200)

    @app.route("GET", "/master/redirect", "/redirect")
    def redirect(req):
        # README.md note 3: 307 on every master, path-less protocol-relative Location.
        leader = m.leader_info
        if not leader:
            return c.text_response("No leader elected", 503)
        hostname = leader.get("hostname") or leader.get("address", {}).get("ip")
        return c.empty_response(307, {"Location": f"//{hostname}:{leader.get('port')}"})

    @app.route(("GET", "POST"), "/master/redirect/{rest:path}", "/redirect/{rest:path}")
    def redirect_loop(req):
        return c.empty_response(404)

    @app.route("GET", "/version")
    def version(req):
        return c.json_response({"version": VERSION, "build_date": "2020-11-16 00:00:00",
                                "build_time": BUILD_TIME, "build_user": "standin"})

    @app.route("GET", "/metrics/snapshot")
    def snapshot(req):
        denied = readonly(req)
        return denied or c.json_response(m.metrics())

    @app.route("GET", "/master/flags", "/flags")
    def flags_endpoint(req):
        denied = readonly(req)
        return denied or c.json_response({"flags": flags.as_strings()})

    # -- leader only --------------------------------------------------------------------

    def state(req):
        return c.json_response(m.state_json())

    app.add("GET", "/master/state", guarded(readonly, state))
    app.add("GET", "/master/state.json", guarded(readonly, state))
    app.add("GET", "/state", guarded(readonly, state))
    app.add("GET", "/state.json", guarded(readonly, state))

    def state_summary(req):
        full = m.state_json(include_flags=False)
        for fw in full["frameworks"]:
            fw.pop("tasks", None)
            fw.pop("completed_tasks", None)
        return c.json_response({k: full[k] for k in ("hostname", "cluster", "slaves", "frameworks") if k in full})

    app.add("GET", "/master/state-summary", guarded(readonly, state_summary))

    def slaves(req):
        wanted = req.arg("slave_id")
        with m.lock:
            agents = [m.agent_json(a) for a in m.agents.values() if not wanted or a["info"]["id"] == wanted]
            recovered = [a for a in m.recovered_agents.values() if not wanted or a["id"] == wanted]
        return c.json_response({"slaves": agents, "recovered_slaves": recovered})

    app.add("GET", "/master/slaves", guarded(readonly, slaves))

    def frameworks(req):
        wanted = req.arg("framework_id")
        with m.lock:
            active = [m.framework_json(f) for f in m.frameworks.values() if not wanted or f["id"] == wanted]
            done = [m.framework_json(f) for f in m.completed_frameworks if not wanted or f["id"] == wanted]
        return c.json_response({"frameworks": active, "completed_frameworks": done,
                                "unregistered_frameworks": []})

    app.add("GET", "/master/frameworks", guarded(readonly, frameworks))

    def tasks(req):
        # endpoints/master/tasks.md: framework_id, task_id, limit (100), offset, order (desc)
        try:
            limit = int(req.arg("limit", "100"))
            offset = int(req.arg("offset", "0"))
        except ValueError:
            raise c.HttpError(400, "Failed to parse query parameter 'limit' or 'offset'") from None
        order = req.arg("order", "des")
        fw_id = req.arg("framework_id")
        task_id = req.arg("task_id")
        with m.lock:
            items = []
            for fw in list(m.frameworks.values()) + m.completed_frameworks:
                if fw_id and fw["id"] != fw_id:
                    continue
                for task in list(fw["tasks"].values()) + fw["completed_tasks"]:
                    if task_id and task["id"] != task_id:
                        continue
                    items.append(task)
        items.sort(key=lambda t: t["statuses"][0]["timestamp"] if t["statuses"] else 0,
                   reverse=not order.startswith("asc"))
        return c.json_response({"tasks": [m.task_json(t) for t in items[offset:offset + limit]]})

    app.add("GET", "/master/tasks", guarded(readonly, tasks))
    app.add("GET", "/master/tasks.json", guarded(readonly, tasks))

    # -- roles, weights, quota, reservations (_roles.py) ----------------------------------

    def roles(req):
        with m.lock:
            return c.json_response({"roles": m.alloc.roles_json()})

    app.add("GET", "/master/roles", guarded(readonly, roles))
    app.add("GET", "/master/roles.json", guarded(readonly, roles))

    def weights_get(req):
        with m.lock:
            return c.json_response([{"role": r, "weight": w} for r, w in sorted(m.alloc.policy.weights.items())])

    def weights_put(req):
        try:
            body = json.loads(req.body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError):
            raise c.HttpError(400, "Failed to parse the request body as JSON") from None
        with m.lock:
            m.alloc.update_weights(body)
        m.store_registry()
        return c.empty_response(200)

    app.add("GET", "/master/weights", guarded(readonly, weights_get))
    app.add("PUT", "/master/weights", guarded(readwrite, weights_put))

    def quota_get(req):
        with m.lock:
            return c.json_response(m.alloc.policy.quota_status())

    app.add("GET", "/master/quota", guarded(readonly, quota_get))

    def reservation(kind):
        def handler(req):
            form = req.form()
            try:
                items = json.loads(form.get("resources") or "null")
            except ValueError:
                raise c.HttpError(400, "Failed to parse 'resources' as JSON") from None
            with m.lock:
                if kind == "reserve":
                    m.alloc.reserve(form.get("slaveId"), items, getattr(req, "principal", None))
                else:
                    m.alloc.unreserve(form.get("slaveId"), items)
            m.store_registry()
            return c.empty_response(202)
        return handler

    app.add("POST", "/master/reserve", guarded(readwrite, reservation("reserve")))
    app.add("POST", "/master/unreserve", guarded(readwrite, reservation("unreserve")))

    # -- maintenance (maintenance.md) ------------------------------------------------------

    def schedule(req):
        if req.method == "GET":
            return c.json_response(m.schedule or {})
        doc = req.json()
        if not isinstance(doc, dict):
            raise c.HttpError(400, "Failed to convert JSON into a Schedule protobuf: expected an object")
        windows = doc.get("windows") or []
        if not isinstance(windows, list):
            raise c.HttpError(400, "Failed to convert JSON into a Schedule protobuf: 'windows' is not an array")
        seen: set = set()
        for window in windows:
            if not isinstance(window, dict) or not window.get("machine_ids"):
                raise c.HttpError(400, "List of machines in the maintenance window is empty")
            unavailability = window.get("unavailability")
            if not isinstance(unavailability, dict) or "start" not in unavailability:
                raise c.HttpError(400, "Maintenance window must specify an unavailability")
            for key in validate_machine_list(window["machine_ids"]):
                if key in seen:
                    raise c.HttpError(400, f"Machine '{json.dumps(machine_json(key))}' appears more than once "
                                           "in the schedule")
                seen.add(key)
        with m.lock:
            for key, mode in m.machine_modes.items():
                if mode == "DOWN" and key not in seen:
                    raise c.HttpError(400, f"Machine '{json.dumps(machine_json(key))}' is deactivated and "
                                           "must be present in the schedule")
            m.schedule = doc if windows else {}
            modes = {k: ("DOWN" if m.machine_modes.get(k) == "DOWN" else "DRAINING") for k in seen}
            m.machine_modes = modes
        m.store_registry()
        LOG.info("maintenance schedule updated: %d machines", len(seen))
        return c.empty_response(200)

    app.add(("GET", "POST"), "/master/maintenance/schedule", guarded(readwrite, schedule))

    def status(req):
        with m.lock:
            draining = [{"id": machine_json(k)} for k, v in sorted(m.machine_modes.items()) if v == "DRAINING"]
            down = [machine_json(k) for k, v in sorted(m.machine_modes.items()) if v == "DOWN"]
        out: dict[str, Any] = {}
        if draining:
            out["draining_machines"] = draining
        if down:
            out["down_machines"] = down
        return c.json_response(out)

    app.add("GET", "/master/maintenance/status", guarded(readonly, status))

    def machine_down(req):
        keys = validate_machine_list(req.json())
        with m.lock:
            for key in keys:
                if key not in m.machine_modes:
                    raise c.HttpError(400, f"Machine '{json.dumps(machine_json(key))}' is not part of a "
                                           "maintenance schedule")
                if m.machine_modes[key] == "DOWN":
                    raise c.HttpError(400, f"Machine '{json.dumps(machine_json(key))}' is already in DOWN mode")
            for key in keys:
                m.machine_modes[key] = "DOWN"
            victims = [a for a in m.agents.values()
                       if (a["info"]["hostname"].lower(), a["info"]["ip"]) in keys]
            for agent in victims:
                agent_id = agent["info"]["id"]
                m.agents.pop(agent_id, None)
                m.count("master/slave_removals")
                m.lose_tasks(agent_id, "Agent removed: its machine is DOWN for maintenance", "REASON_SLAVE_REMOVED")
        m.store_registry()
        for agent in victims:
            LOG.info("shutting down agent %s: machine is DOWN", agent["info"]["id"])
            threading.Thread(target=m.send_to_agent, args=(agent, "/_standin/shutdown",
                                                            {"message": "Machine is DOWN for maintenance"}),
                             daemon=True).start()
        return c.empty_response(200)

    app.add("POST", "/master/machine/down", guarded(readwrite, machine_down))

    def machine_up(req):
        keys = validate_machine_list(req.json())
        with m.lock:
            for key in keys:
                if m.machine_modes.get(key) != "DOWN":
                    raise c.HttpError(400, f"Machine '{json.dumps(machine_json(key))}' is not in DOWN mode")
            for key in keys:
                m.machine_modes.pop(key, None)
            # machines brought up leave the schedule (endpoints/master/machine/up.md)
            windows = []
            for window in (m.schedule or {}).get("windows", []):
                ids = [mid for mid in window.get("machine_ids", []) if machine_key(mid) not in keys]
                if ids:
                    windows.append(dict(window, machine_ids=ids))
            m.schedule = {"windows": windows} if windows else {}
        m.store_registry()
        return c.empty_response(200)

    app.add("POST", "/master/machine/up", guarded(readwrite, machine_up))

    def teardown(req):
        fw_id = req.form().get("frameworkId") or req.arg("frameworkId")
        if not fw_id:
            raise c.HttpError(400, "Missing 'frameworkId' query parameter in the request body")
        fw = m.frameworks.get(fw_id)
        if fw is None:
            raise c.HttpError(400, f"No framework found with specified ID '{fw_id}'")
        # authorization.md: teardown_frameworks, the operator's name against the framework's principal
        authorize("teardown_frameworks", getattr(req, "principal", None), fw.get("principal"),
                  f"teardown of framework {fw_id}")
        m.remove_framework(fw)
        return c.empty_response(200)

    app.add("POST", "/master/teardown", guarded(readwrite, teardown))

    # -- operator API, a subset (operator-http-api.md) ---------------------------------------

    def operator(req):
        call = req.json()
        if not isinstance(call, dict) or "type" not in call:
            raise c.HttpError(400, "Failed to validate master::Call: Expecting 'type' to be present")
        kind = call["type"]

        def inner(method, path, body=None):
            data = json.dumps(body).encode("utf-8") if body is not None else b""
            return app.dispatch(c.Request(method, path, req.headers, data, req.client))

        if kind == "GET_HEALTH":
            return c.json_response({"type": kind, "get_health": {"healthy": True}})
        if kind == "GET_VERSION":
            info = {"version": VERSION, "build_date": "2020-11-16 00:00:00", "build_time": BUILD_TIME,
                    "build_user": "standin"}
            return c.json_response({"type": kind, "get_version": {"version_info": info}})
        if kind == "GET_FLAGS":
            flags_list = [{"name": k, "value": v} for k, v in flags.as_strings().items()]
            return c.json_response({"type": kind, "get_flags": {"flags": flags_list}})
        if kind == "GET_METRICS":
            metrics = [{"name": k, "value": v} for k, v in sorted(m.metrics().items())]
            return c.json_response({"type": kind, "get_metrics": {"metrics": metrics}})
        if kind == "GET_MASTER":
            return c.json_response({"type": kind, "get_master": {"master_info": m.master_info(),
                                                                 "start_time": m.start_time,
                                                                 "elected_time": m.elected_time}})
        if kind == "GET_MAINTENANCE_STATUS":
            status_ = json.loads(inner("GET", "/master/maintenance/status").payload())
            return c.json_response({"type": kind, "get_maintenance_status": {"status": status_}})
        if kind == "GET_MAINTENANCE_SCHEDULE":
            return c.json_response({"type": kind, "get_maintenance_schedule": {"schedule": m.schedule or {}}})
        if kind in ROLE_CALLS:
            return role_call(req, kind, call.get(kind.lower()) or {})
        targets = {"UPDATE_MAINTENANCE_SCHEDULE": ("/master/maintenance/schedule", "schedule"),
                   "START_MAINTENANCE": ("/master/machine/down", "machines"),
                   "STOP_MAINTENANCE": ("/master/machine/up", "machines")}
        if kind in targets:
            path, field = targets[kind]
            body = (call.get(kind.lower()) or {}).get(field)
            if body is None:
                raise c.HttpError(400, f"Failed to validate master::Call: Expecting '{kind.lower()}.{field}'")
            result = inner("POST", path, body)
            return c.empty_response(202) if result.status == 200 else result
        raise c.HttpError(501, f"The stand-in does not implement the operator call '{kind}'")

    def role_call(req, kind, body):
        with m.lock:
            if kind == "GET_ROLES":
                return c.json_response({"type": kind, "get_roles": {"roles": m.alloc.roles_v1()}})
            if kind == "GET_WEIGHTS":
                infos = [{"role": r, "weight": w} for r, w in sorted(m.alloc.policy.weights.items())]
                return c.json_response({"type": kind, "get_weights": {"weight_infos": infos}})
            if kind == "GET_QUOTA":
                return c.json_response({"type": kind, "get_quota": {"status": m.alloc.policy.quota_status()}})
            if kind == "UPDATE_WEIGHTS":
                m.alloc.update_weights(body.get("weight_infos"))
                status = 202
            elif kind == "UPDATE_QUOTA":
                m.alloc.update_quota(body)
                status = 200
            else:
                agent_id = (body.get("agent_id") or {}).get("value")
                if kind == "RESERVE_RESOURCES":
                    source = body.get("source")
                    if source and any(_roles.pool_of(item) != _roles.UNRESERVED for item in source):
                        raise c.HttpError(501, "The stand-in only reserves unreserved resources "
                                               "(no re-reservation from one role to another)")
                    m.alloc.reserve(agent_id, body.get("resources"), getattr(req, "principal", None))
                else:
                    m.alloc.unreserve(agent_id, body.get("resources"))
                status = 202
        m.store_registry()
        return c.empty_response(status)

    app.add("POST", "/api/v1", guarded(readwrite, operator))
    app.add("POST", "/master/api/v1", guarded(readwrite, operator))

    # -- scheduler API (brief: stand-in simplification of scheduler-http-api.md) ---------

    def scheduler(req):
        if flags.authenticate_http_frameworks:
            denied = authenticate(req, SCHEDULER_REALM, True)
            if denied:
                return denied
        redirected = redirect_or_unavailable(req)
        if redirected is not None:
            return redirected
        call = req.json()
        if not isinstance(call, dict) or "type" not in call:
            raise c.HttpError(400, "Failed to validate scheduler::Call: Expecting 'type' to be present")
        kind = call["type"]
        if kind == "SUBSCRIBE":
            info = ((call.get("subscribe") or {}).get("framework_info")) or {}
            what = f"subscription of framework '{info.get('name')}'"
            principal = authenticated_peer(req, what, bool(flags.authenticate_frameworks))
            if principal is not None and info.get("principal", principal) != principal:
                LOG.warning("Refusing %s: framework principal '%s' does not match authenticated principal '%s'",
                            what, info.get("principal"), principal)
                raise c.HttpError(403, f"Framework principal '{info.get('principal')}' does not match "
                                       f"authenticated principal '{principal}'")
            for role in info.get("roles") or [info.get("role") or "*"]:
                authorize("register_frameworks", info.get("principal"), role, what)
            return subscribe(call)
        fw_id = (call.get("framework_id") or {}).get("value")
        if not fw_id:
            raise c.HttpError(400, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present")
        with m.lock:
            fw = m.frameworks.get(fw_id)
            if fw is None or fw["recovered"]:
                raise c.HttpError(403, "Framework is not subscribed")
            if flags.authenticate_frameworks and authenticated_peer(req, f"call of framework {fw_id}", True) \
                    != fw.get("principal"):
                raise c.HttpError(403, f"Framework {fw_id} is authenticated with another principal")
            fw["last_seen"] = time.monotonic()
        if kind == "ACCEPT":
            return accept(fw, call.get("accept") or {})
        if kind == "KILL":
            return kill(fw, call.get("kill") or {})
        if kind == "TEARDOWN":
            m.remove_framework(fw)
            return c.empty_response(202)
        if kind == "ACKNOWLEDGE":
            task_id = ((call.get("acknowledge") or {}).get("task_id") or {}).get("value")
            with m.lock:
                task = fw["tasks"].get(task_id)
                if task is not None and task["state"] in TERMINAL_STATES:
                    fw["completed_tasks"].append(fw["tasks"].pop(task_id))
            return c.empty_response(202)
        if kind in ("REVIVE", "SUPPRESS"):
            # scheduler-http-api.md: both take an optional list of roles (all roles without one)
            roles = set((call.get(kind.lower()) or {}).get("roles") or fw["roles"]) & set(fw["roles"])
            with m.lock:
                wanting = fw.setdefault("_wanting", set())
                if kind == "REVIVE":
                    wanting |= roles
                else:
                    wanting -= roles
            return c.empty_response(202)
        if kind in ("DECLINE", "RECONCILE", "MESSAGE", "REQUEST",
                    "ACCEPT_INVERSE_OFFERS", "DECLINE_INVERSE_OFFERS", "SHUTDOWN"):
            return c.empty_response(202)
        raise c.HttpError(400, f"Failed to validate scheduler::Call: unknown call type '{kind}'")

    def subscribe(call):
        info = ((call.get("subscribe") or {}).get("framework_info")) or {}
        if not info.get("name"):
            raise c.HttpError(400, "Failed to validate scheduler::Call: Expecting 'framework_info.name'")
        wanted = (info.get("id") or {}).get("value")
        with m.lock:
            if wanted and any(f["id"] == wanted for f in m.completed_frameworks):
                raise c.HttpError(403, "Framework has been removed")
            fw = m.frameworks.get(wanted) if wanted else None
            if fw is None:
                if wanted:
                    fw_id = wanted
                else:
                    fw_id = f"{m.id}-{m.framework_seq:04d}"
                    m.framework_seq += 1
                fw = m.make_framework(fw_id, info)
                if wanted:
                    fw["reregistered_time"] = time.time()
                m.frameworks[fw_id] = fw
                LOG.info("framework %s (%s) subscribed", fw_id, fw["name"])
            else:
                was = fw["connected"], fw["recovered"]
                tasks_, completed = fw["tasks"], fw["completed_tasks"]
                registered = fw["registered_time"]
                wanting = fw.get("_wanting") or set()
                fw.update(m.make_framework(fw["id"], info))
                fw["_wanting"] = wanting & set(fw["roles"])
                fw["tasks"], fw["completed_tasks"] = tasks_, completed
                fw["registered_time"] = registered
                if was != (True, False):
                    fw["reregistered_time"] = time.time()
                    LOG.info("framework %s (%s) re-subscribed", fw["id"], fw["name"])
            m.count("subscribe")
        return c.json_response({"type": "SUBSCRIBED", "subscribed": {
            "framework_id": {"value": fw["id"]},
            "heartbeat_interval_seconds": HEARTBEAT_INTERVAL,
            "master_info": m.master_info(),
        }})

    def accept(fw, accept_call):
        launches = []
        for op in accept_call.get("operations") or []:
            if op.get("type") != "LAUNCH":
                continue
            launches.extend((op.get("launch") or {}).get("task_infos") or [])
        planned: dict[str, c.Resources] = {}
        unauthorized: list[tuple[dict, str]] = []
        with m.lock:
            for ti in launches:
                task_id = (ti.get("task_id") or {}).get("value")
                agent_id = (ti.get("agent_id") or {}).get("value")
                if not task_id or not agent_id:
                    raise c.HttpError(400, "Task must have 'task_id' and 'agent_id'")
                existing = fw["tasks"].get(task_id)
                if existing is not None and existing["state"] not in TERMINAL_STATES:
                    raise c.HttpError(400, f"Task '{task_id}' is a duplicate of a running task")
                agent = m.agents.get(agent_id)
                if agent is None or not agent["active"]:
                    raise c.HttpError(400, f"Agent '{agent_id}' is not registered or not active")
                info = agent["info"]
                if m.machine_mode(info["hostname"], info["ip"]) == "DOWN":
                    raise c.HttpError(400, f"Agent '{agent_id}' is on a machine that is DOWN for maintenance")
                try:
                    c.Resources.from_protobuf(ti.get("resources") or [])
                except (ValueError, KeyError, TypeError) as exc:
                    raise c.HttpError(400, f"Invalid resources of task '{task_id}': {exc}") from None
                role = task_role(fw, ti)
                # authorization.md: run_tasks, the framework's principal against the task's user
                user = (ti.get("command") or {}).get("user") or fw.get("user")
                if not _acls.authorized(m.d["acls"], "run_tasks", fw.get("principal"), user):
                    unauthorized.append((ti, user))
                    continue
                agent_plan = planned.setdefault(agent_id, {})
                pools = _roles.split_pools(ti.get("resources") or [])
                missing = m.alloc.check_launch(fw, agent, role, pools, agent_plan)
                if missing:
                    raise c.HttpError(400, f"Insufficient resources on agent '{agent_id}' for task '{task_id}': "
                                           + "; ".join(missing))
                if not (ti.get("command") or {}).get("value") and not ti.get("container") \
                        and not ti.get("executor"):
                    raise c.HttpError(400, f"Task '{task_id}' has neither a command nor an executor")
                for pool, res in pools.items():
                    agent_plan[pool] = agent_plan.get(pool, c.Resources()) + res
            for ti, user in unauthorized:
                # the master answers an unauthorized launch with TASK_ERROR (task-state-reasons.md)
                task = m.new_task(fw, ti, ti["agent_id"]["value"])
                fw["tasks"][task["id"]] = task
                LOG.warning("Refusing launch of task %s of framework %s: principal '%s' is not authorized "
                            "to run tasks as user '%s' (--acls run_tasks)", task["id"], fw["id"],
                            fw.get("principal") or "ANY", user)
                m.set_task_state(task, "TASK_ERROR", f"Not authorized to launch as user '{user}'",
                                 reason="REASON_TASK_UNAUTHORIZED")
                launches.remove(ti)
            sends = []
            for ti in launches:
                agent_id = ti["agent_id"]["value"]
                task = m.new_task(fw, ti, agent_id)
                task["_launching"] = True
                fw["tasks"][task["id"]] = task
                m.count("launch")
                sends.append((m.agents[agent_id], task, ti))
        for agent, task, ti in sends:
            threading.Thread(target=launch_on_agent, args=(fw, agent, task, ti), daemon=True).start()
        return c.empty_response(202)

    def launch_on_agent(fw, agent, task, ti):
        body = {"framework_id": fw["id"],
                "framework_info": {"name": fw["name"], "user": fw["user"], "checkpoint": fw["checkpoint"]},
                "task_info": ti}
        result = m.send_to_agent(agent, "/_standin/launch", body)
        with m.lock:
            task.pop("_launching", None)
            if result is None or result.status >= 300:
                message = result.text if result is not None else "Agent unreachable"
                m.set_task_state(task, "TASK_LOST" if result is None else "TASK_ERROR", message,
                                 reason="REASON_SLAVE_REMOVED" if result is None else "REASON_TASK_INVALID")

    def kill(fw, kill_call):
        task_id = (kill_call.get("task_id") or {}).get("value")
        if not task_id:
            raise c.HttpError(400, "Failed to validate scheduler::Call: Expecting 'kill.task_id'")
        with m.lock:
            task = fw["tasks"].get(task_id)
            m.count("kill")
            if task is None or task["state"] in TERMINAL_STATES:
                return c.empty_response(202)
            agent = m.agents.get(task["slave_id"])
            if agent is None:
                m.set_task_state(task, "TASK_LOST" if task["slave_id"] not in m.unreachable_agents else
                                 "TASK_UNREACHABLE", "Kill of a task whose agent is gone")
                return c.empty_response(202)
            if task["state"] in ("TASK_STAGING",) and task.get("_launching"):
                m.set_task_state(task, "TASK_KILLED", "Killed before delivery to the agent")
        threading.Thread(target=m.send_to_agent, args=(agent, "/_standin/kill",
                                                        {"framework_id": fw["id"], "task_id": task_id}),
                         daemon=True).start()
        return c.empty_response(202)

    app.add("POST", "/api/v1/scheduler", scheduler)
    app.add("POST", "/master/api/v1/scheduler", scheduler)

    # -- agent <-> master (stand-in private protocol) -------------------------------------

    def agent_register(req):
        redirected = redirect_or_unavailable(req)
        if redirected is not None:
            return redirected
        body = req.json()
        info = (body.get("agent_info") or {}) if isinstance(body, dict) else {}
        authenticated_peer(req, f"registration of agent {info.get('hostname')}:{info.get('port')}",
                           bool(flags.authenticate_agents))
        return c.json_response(m.register_agent(body))

    def agent_status(req):
        redirected = redirect_or_unavailable(req)
        if redirected is not None:
            return redirected
        body = req.json()
        with m.lock:
            if body.get("agent_id") not in m.agents:
                raise c.HttpError(409, "Agent is not registered with this master")
            fw = m.frameworks.get(body.get("framework_id"))
            task = fw["tasks"].get(body.get("task_id")) if fw else None
            if task is None and fw is not None:
                task = next((t for t in fw["completed_tasks"] if t["id"] == body.get("task_id")), None)
            if task is not None:
                m.count("status_updates")
                if body.get("state") == "TASK_RUNNING" and body.get("container_status"):
                    task["container_status"] = body["container_status"]
                m.set_task_state(task, body.get("state"), body.get("message"), body.get("reason"),
                                 source="SOURCE_EXECUTOR")
        return c.json_response({"ok": True})

    app.add("POST", "/_standin/agent/register", agent_register)
    app.add("POST", "/_standin/agent/status", agent_status)

    # -- aliases: /x answers like /master/x (the master is libprocess' delegate) ----------

    def not_found(req):
        if not req.path.startswith(("/master/", "/_standin/", "/api/", "/metrics/")) and req.path != "/master":
            alias = c.Request(req.method, "/master" + req.path + (f"?{req.query_string}" if req.query_string
                                                                     else ""), req.headers, req.body, req.client)
            response = app.dispatch(alias, use_not_found=False)
            if response is not None:
                return response
        return c.empty_response(404)

    app.not_found = not_found
    return app


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def _body(argv: list[str]) -> int:
    flags = parse(argv)
    derived = validate(flags)
    c.setup_logging(PROGRAM, flags.logging_level if not flags.quiet else "WARNING")
    if flags.log_dir:
        try:
            os.makedirs(flags.log_dir, exist_ok=True)
            handler = logging.FileHandler(os.path.join(flags.log_dir, "mesos-master.INFO"))
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger().addHandler(handler)
        except OSError as exc:
            raise c.FlagError(f"Failed to use --log_dir '{flags.log_dir}': {exc.strerror}") from None
    try:
        master = Master(flags, derived)
    except _replica.ReplicaError as exc:
        raise c.StartupError(str(exc)) from None
    if master.replica is not None:
        if master.replica.restored:
            LOG.info("log replica in %s: %s (log %s)", master.replica.folder, master.replica.status,
                     master.replica.log)
        else:
            LOG.info("log replica in %s: no persisted state, the replica is EMPTY", master.replica.folder)
    app = build_app(master)
    try:
        server = c.serve_http(app, derived["bind_ip"], flags.port)
    except OSError as exc:
        LOG.error("Failed to bind %s:%s: %s", derived["bind_ip"], flags.port, exc.strerror)
        return 1
    LOG.info("mesos-master %s (stand-in) listening on %s:%s, id %s", VERSION, derived["bind_ip"], flags.port,
             master.id)
    if derived["zk"] is None:
        LOG.info("no --zk given: running standalone (non-HA)")
    master.start_zk()
    threading.Thread(target=master.pinger, name="pinger", daemon=True).start()
    stop = threading.Event()

    def on_signal(signum, frame):
        LOG.info("received signal %d, exiting", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    master.stop_event.set()
    server.shutdown()
    if master.zk is not None:
        try:
            master.zk.stop()
            master.zk.close()
        except Exception:
            pass
    return 0


def main(argv: list[str] | None = None) -> int:
    return c.run_main(_body, argv, PROGRAM)


if __name__ == "__main__":
    raise SystemExit(main())
