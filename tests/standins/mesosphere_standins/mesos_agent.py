"""Stand-in for ``mesos-agent`` / ``mesos-slave`` (Apache Mesos 1.11).

Reference (mesos/docs/ of the shared reference): configuration/agent.md and
master-and-agent.md (flags), agent-recovery.md (checkpointed agent info under
``<work_dir>/meta/slaves/latest``, --reconfiguration_policy), endpoints/slave/
(state, health, flags), monitoring.md (metrics), maintenance.md (a DOWN
machine's agent is shut down and may not re-register until it is UP).

Tasks are command tasks run as real local processes (``sh -c <value>``) in a
sandbox under ``<work_dir>/slaves/<agent id>/frameworks/<fw>/executors/<task>/
runs/<container>``. Containerizers are not modelled: ``docker`` is accepted
as a flag value but tasks still run as plain processes.

Stand-in protocol with the master: POST ``/_standin/agent/register`` and
``/_standin/agent/status`` on the leading master; the master calls this
agent's ``/_standin/{ping,launch,kill,shutdown_framework,shutdown}``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

from . import _common as c
from . import _roles
from .mesos_master import BUILD_TIME, TERMINAL_STATES, VERSION, default_ip, flag_specs

LOG = logging.getLogger("mesos-agent")
READONLY_REALM = "mesos-agent-readonly"
READWRITE_REALM = "mesos-agent-readwrite"
DEFAULT_PORTS = "[31000-32000]"
DEFAULT_KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL (command executor default)


def program_name() -> str:
    """``mesos-slave`` when started under that name (argv[0], or STANDIN_PROGRAM_NAME
    set by a wrapper script), else ``mesos-agent``."""
    name = os.environ.get("STANDIN_PROGRAM_NAME") or os.path.basename(sys.argv[0] or "")
    return "mesos-slave" if "slave" in name else "mesos-agent"


def parse(argv: list[str], env: dict | None = None, program: str = "mesos-agent") -> c.Flags:
    specs = flag_specs("agent")
    flags = c.parse_flags(specs, argv, program=program, env=env, env_prefix="MESOS_", style="mesos",
                          version=VERSION)
    if flags.version:
        raise c.ExitRequest(0, f"mesos {VERSION}")
    if flags.help:
        raise c.ExitRequest(0, c.usage(specs, program))
    return flags


def _meminfo_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 * 1024**3


def default_resources(work_dir: str) -> c.Resources:
    """Auto-detected resources (configuration/agent.md --resources): all CPUs;
    memory and disk: total minus 1GB when at least 2GB, else half; ports
    [31000-32000]."""
    gb = 1024**3
    mem = _meminfo_total()
    mem_mb = (mem - gb if mem >= 2 * gb else mem / 2) / 1024**2
    try:
        st = os.statvfs(work_dir)
        disk = st.f_blocks * st.f_frsize
    except OSError:
        disk = 10 * gb
    disk_mb = (disk - gb if disk >= 2 * gb else disk / 2) / 1024**2
    return c.Resources({"cpus": float(os.cpu_count() or 1), "mem": float(int(mem_mb)), "disk": float(int(disk_mb))},
                       {"ports": c.parse_ranges(DEFAULT_PORTS)})


def validate(flags: c.Flags) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if not flags.master:
        raise c.FlagError("Missing required option --master")
    if not flags.work_dir:
        raise c.FlagError("Flag 'work_dir' is required, but it was not provided")
    master = flags.master.strip()
    if master.startswith(("zk://", "file://")):
        try:
            d["zk"] = c.parse_zk_url(master)
        except ValueError as exc:
            raise c.FlagError(f"Failed to create a master detector: {exc}") from None
        d["master_url"] = None
    else:
        hostport = master[len("master@"):] if master.startswith("master@") else master
        try:
            host, port = c.parse_host_list(hostport)[0]
        except ValueError as exc:
            raise c.FlagError(f"Failed to create a master detector: {exc}") from None
        d["zk"] = None
        d["master_url"] = f"http://{host}:{port}"
    for name in (x.strip() for x in flags.containerizers.split(",")):
        if name not in ("mesos", "docker"):
            raise c.FlagError(f"Unknown or unsupported containerizer: {name}")
    if flags.reconfiguration_policy not in ("equal", "additive"):
        raise c.FlagError(f"Unknown reconfiguration policy '{flags.reconfiguration_policy}'")
    if flags.recover not in ("reconnect", "cleanup"):
        raise c.FlagError("--recover should be either 'reconnect' or 'cleanup'")
    try:
        os.makedirs(flags.work_dir, exist_ok=True)
    except OSError as exc:
        raise c.FlagError(f"Failed to create --work_dir '{flags.work_dir}': {exc.strerror}") from None
    resources = default_resources(flags.work_dir)
    d["reserved"] = {}
    if flags.resources:
        try:
            text = c.read_value_or_file(flags.resources) if flags.resources.startswith(
                "file://") else flags.resources
            given = c.Resources.parse(text)
            # roles.md: "cpus(role):n" reserves statically; --default_role applies to the rest
            d["reserved"] = _roles.parse_reserved(text, flags.default_role or _roles.UNRESERVED)
            for role in d["reserved"]:
                problem = _roles.role_error(role)
                if problem:
                    raise ValueError(problem)
        except ValueError as exc:
            raise c.FlagError(f"Failed to determine agent resources: {exc}") from None
        for name, value in given.scalars.items():
            resources.scalars[name] = value
        for name, value in given.ranges.items():
            resources.ranges[name] = value
        for name, value in given.sets.items():
            resources.sets[name] = value
    d["resources"] = resources
    try:
        d["attributes"] = c.parse_attributes(flags.attributes or "")
    except ValueError as exc:
        raise c.FlagError(f"Failed to parse --attributes: {exc}") from None
    # configuration/libprocess.md: LIBPROCESS_IP / LIBPROCESS_ADVERTISE_IP stand in for --ip / --advertise_ip
    ip = flags.ip or os.environ.get("LIBPROCESS_IP")
    if ip:
        try:
            socket.inet_aton(ip)
        except OSError:
            raise c.FlagError(f"Failed to parse --ip '{ip}': not an IPv4 address") from None
    d["bind_ip"] = ip or "0.0.0.0"
    d["ip"] = (flags.advertise_ip or os.environ.get("LIBPROCESS_ADVERTISE_IP")
              or (ip if ip and ip != "0.0.0.0" else default_ip()))
    d["port"] = flags.advertise_port or flags.port
    if flags.hostname:
        d["hostname"] = flags.hostname
    elif flags.hostname_lookup:
        d["hostname"] = socket.getfqdn()
    else:
        d["hostname"] = d["ip"]
    credentials = {}
    if flags.http_credentials:
        credentials = c.load_mesos_credentials(flags.http_credentials)
    for flag, realm in (("authenticate_http_readonly", READONLY_REALM),
                        ("authenticate_http_readwrite", READWRITE_REALM)):
        if flags.get(flag) and not credentials:
            raise c.FlagError(f"No credentials provided for the default 'basic' HTTP authenticator for realm "
                              f"'{realm}' (--{flag} needs --http_credentials)")
    d["credentials"] = credentials
    d["credential"] = c.load_agent_credential(flags.credential) if flags.credential else None
    if flags.acls:
        # The agent's ACLs guard its own endpoints (authorization.md); the stand-in decides none of them.
        raise c.FlagError("--acls on an agent is not decided by this stand-in; give ACLs to the master")
    env_vars = None
    if flags.executor_environment_variables:
        try:
            env_vars = json.loads(c.read_value_or_file(flags.executor_environment_variables))
            if not isinstance(env_vars, dict) or not all(isinstance(v, str) for v in env_vars.values()):
                raise ValueError("expected a JSON object of strings")
        except ValueError as exc:
            raise c.FlagError(f"Failed to parse --executor_environment_variables: {exc}") from None
    d["executor_env"] = env_vars
    if flags.logging_level.upper() not in ("INFO", "WARNING", "ERROR"):
        raise c.FlagError("'logging_level' must be one of INFO, WARNING, ERROR")
    return d


# ---------------------------------------------------------------------------
# Checkpointed agent info (agent-recovery.md)
# ---------------------------------------------------------------------------


def meta_dir(work_dir: str) -> str:
    return os.path.join(work_dir, "meta", "slaves")


def read_checkpoint(work_dir: str) -> dict | None:
    latest = os.path.join(meta_dir(work_dir), "latest")
    try:
        with open(os.path.join(latest, "slave.info"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_checkpoint(work_dir: str, info: dict) -> None:
    folder = os.path.join(meta_dir(work_dir), info["id"])
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, "slave.info.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(folder, "slave.info"))
    latest = os.path.join(meta_dir(work_dir), "latest")
    tmp_link = latest + ".tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp_link)
    os.symlink(info["id"], tmp_link)
    os.replace(tmp_link, latest)


def remove_checkpoint_link(work_dir: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(meta_dir(work_dir), "latest"))


def read_task_checkpoint(work_dir: str) -> list[dict]:
    """The checkpointed tasks of the agent `latest` points to (Agent.save_tasks)."""
    try:
        with open(os.path.join(meta_dir(work_dir), "latest", "tasks.json"), encoding="utf-8") as handle:
            entries = json.load(handle)
    except (OSError, ValueError):
        return []
    return entries if isinstance(entries, list) else []


def executor_alive(pid: int, sandbox: str) -> bool:
    """Whether `pid` is still the executor that ran in `sandbox` (a pid may be reused)."""
    try:
        return os.path.realpath(os.readlink(f"/proc/{pid}/cwd")) == os.path.realpath(sandbox)
    except OSError:
        return False


def compatible(old: dict, new: dict, policy: str) -> list[str]:
    """Differences that --reconfiguration_policy does not allow (empty: fine)."""
    problems = []
    old_res, new_res = c.Resources.parse(old.get("resources", "")), c.Resources.parse(new.get("resources", ""))
    old_attr = {k: v for k, v in old.get("attributes", [])}
    new_attr = {k: v for k, v in new.get("attributes", [])}
    if policy == "equal":
        if old_res != new_res:
            problems.append(f"resources changed from '{old_res.text()}' to '{new_res.text()}'")
        if old_attr != new_attr:
            problems.append(f"attributes changed from {old_attr} to {new_attr}")
    else:
        if not new_res.contains(old_res):
            problems.append(f"resources '{new_res.text()}' are not a superset of '{old_res.text()}'")
        for key, value in old_attr.items():
            if key not in new_attr or new_attr[key] != value:
                problems.append(f"attribute '{key}' was removed or changed")
    # hostname and port changes are refused by the master, not here (agent.md --reconfiguration_policy)
    return problems


# ---------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------

_libc = None


def _set_pdeathsig(sig: int = signal.SIGTERM) -> None:
    """Run in the executor child before exec: own session, and `sig` when the agent
    dies (PR_SET_PDEATHSIG survives exec): SIGTERM stops the task, SIGUSR2 starts the
    executor's wait for a new agent (a checkpointing framework's task)."""
    os.setsid()
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl(1, sig, 0, 0, 0)
    except OSError:
        pass


# The stand-in's command executor: one small process per task, between the agent and
# the task. It runs the command in a process group of its own and, on SIGTERM (a kill,
# or the agent's death), stops that whole group: SIGTERM, then SIGKILL after the grace
# period. It exits like the command did (same status, or the same signal), and it
# kills what is left of the command's group when the command ends. It writes how the
# command ended to EXIT_FILE in its sandbox (its working directory), for an agent that
# adopted it and so cannot wait for it.
# A checkpointing framework's executor outlives the agent (agent-recovery.md): the
# agent's death sends it SIGUSR2 instead, and it waits up to --recovery_timeout seconds
# for a new agent to reconnect (SIGUSR1) before it stops its task and exits.
EXIT_FILE = "executor.exit"
EXECUTOR = r"""
import os, signal, subprocess, sys, threading
grace = float(sys.argv[1])
ready = int(sys.argv[2])
recovery = float(sys.argv[3])
child = None
stopping = []
waiting = []
def group(sig):
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
def stop(signum, frame):
    if child is None:
        stopping.append(signum)  # not started yet: the start below sees it
        return
    group(signal.SIGTERM)
    timer = threading.Timer(grace, group, (signal.SIGKILL,))
    timer.daemon = True
    timer.start()
def agent_gone(signum, frame):
    timer = threading.Timer(recovery, stop, (signal.SIGTERM, None))
    timer.daemon = True
    timer.start()
    waiting.append(timer)
def reconnected(signum, frame):
    while waiting:
        waiting.pop().cancel()
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGUSR2, agent_gone)
signal.signal(signal.SIGUSR1, reconnected)
signal.signal(signal.SIGINT, signal.SIG_IGN)
if os.getppid() == 1 or stopping:
    sys.exit(143)
child = subprocess.Popen(sys.argv[4:], start_new_session=True)
os.write(ready, b"%d\n" % child.pid)
os.close(ready)
if stopping:
    stop(signal.SIGTERM, None)
rc = child.wait()
group(signal.SIGKILL)
with open("executor.exit.tmp", "w") as handle:
    handle.write("%d\n" % rc)
os.replace("executor.exit.tmp", "executor.exit")
if rc < 0:
    signal.signal(-rc, signal.SIG_DFL)
    os.kill(os.getpid(), -rc)
sys.exit(rc)
"""


class Task:
    def __init__(self, framework_id: str, framework_info: dict, task_info: dict, sandbox: str):
        self.framework_id = framework_id
        self.framework_info = framework_info
        self.info = task_info
        self.id = task_info["task_id"]["value"]
        self.sandbox = sandbox
        self.container_id = os.path.basename(sandbox)
        self.state = "TASK_STAGING"
        self.proc: subprocess.Popen | None = None
        # the executor's pid: our child's, or an adopted executor's (see Agent.adopt)
        self.pid: int | None = None
        self.command_pid: int | None = None
        # agent-recovery.md: a checkpointing framework's executors outlive the agent
        self.checkpoint = bool(framework_info.get("checkpoint"))
        self.kill_requested = False
        self.statuses: list[dict] = []
        self.resources = c.Resources.from_protobuf(task_info.get("resources") or [])
        self.exit_message = ""

    def exit_code(self) -> int | None:
        """How the executor ended (its exit status, minus the signal that killed it), or None
        while it runs. An adopted executor is not our child: its EXIT_FILE tells."""
        if self.proc is not None:
            return self.proc.poll()
        if self.pid is None:
            return None
        try:
            os.kill(self.pid, 0)
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as handle:
                if handle.read().rpartition(")")[2].split()[0] != "Z":
                    return None
        except (ProcessLookupError, FileNotFoundError):
            pass
        except PermissionError:
            return None
        try:
            with open(os.path.join(self.sandbox, EXIT_FILE), encoding="ascii") as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return -signal.SIGKILL  # gone without saying how: killed

    def signal(self, sig: int) -> bool:
        """Send `sig` to the executor; False when it is gone."""
        try:
            if self.proc is not None:
                self.proc.send_signal(sig)
            elif self.pid is not None:
                os.kill(self.pid, sig)
            else:
                return False
        except ProcessLookupError:
            return False
        return True

    def checkpoint_json(self) -> dict:
        return {"framework_id": self.framework_id, "framework_info": self.framework_info, "task_info": self.info,
                "sandbox": self.sandbox, "pid": self.pid, "command_pid": self.command_pid,
                "statuses": self.statuses[-5:]}

    def json(self, agent_id: str) -> dict:
        return {
            "id": self.id,
            "name": self.info.get("name", self.id),
            "framework_id": self.framework_id,
            "executor_id": "",
            "slave_id": agent_id,
            "state": self.state,
            "resources": self.resources.model(),
            "statuses": self.statuses,
        }


class Agent:
    def __init__(self, flags: c.Flags, d: dict, program: str):
        self.flags = flags
        self.d = d
        self.program = program
        self.start_time = time.time()
        self.lock = threading.RLock()
        self.id: str | None = None
        self.registered = False
        self.master_id: str | None = None
        self.master_url: str | None = d["master_url"]
        self.master_info: dict | None = None
        self.down = False  # told to shut down (machine DOWN); refused until UP
        self.last_ping = time.monotonic()
        self.ping_limit = 75.0
        self.tasks: dict[str, Task] = {}
        self.completed: list[Task] = []
        self.launch_queue: queue.Queue = queue.Queue()
        self.status_queue: queue.Queue = queue.Queue()
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.tracker: c.MesosLeaderTracker | None = None
        self.counters: dict[str, float] = {}
        self.recovery_seconds = float(flags.recovery_timeout)  # parsed from its duration

    # -- identity ----------------------------------------------------------------

    def info(self) -> dict:
        return {
            "id": self.id,
            "hostname": self.d["hostname"],
            "ip": self.d["ip"],
            "port": self.d["port"],
            "resources": self.d["resources"].text(),
            "reserved": {role: res.text() for role, res in self.d["reserved"].items()},
            "attributes": c.attributes_model(self.d["attributes"]),
            "version": VERSION,
        }

    def checkpoint_info(self) -> dict:
        return {"id": self.id, "hostname": self.d["hostname"], "port": self.d["port"],
                "resources": self.d["resources"].text(), "attributes": [list(a) for a in self.d["attributes"]]}

    def recover(self) -> None:
        """agent-recovery.md: reuse the checkpointed agent id when the agent info
        is compatible under --reconfiguration_policy; refuse to start otherwise. Then
        reconnect with the live executors of checkpointing frameworks (--recover=reconnect),
        or kill them and start afresh (--recover=cleanup)."""
        work_dir = self.flags.work_dir
        if self.flags.recover == "cleanup":
            for entry in read_task_checkpoint(work_dir):
                pid = entry.get("pid")
                if pid and executor_alive(pid, entry.get("sandbox", "")):
                    LOG.info("--recover=cleanup: killing the executor of task %s (pid %s)",
                             entry["task_info"]["task_id"]["value"], pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            remove_checkpoint_link(work_dir)
            return
        old = read_checkpoint(work_dir)
        if old is None:
            return
        self.id = old["id"]
        new = self.checkpoint_info()
        problems = compatible(old, new, self.flags.reconfiguration_policy)
        if problems:
            latest = os.path.join(meta_dir(work_dir), "latest")
            LOG.error("incompatible agent info detected: %s", "; ".join(problems))
            raise c.StartupError(
                "Failed to perform recovery: Incompatible agent info detected "
                f"(--reconfiguration_policy={self.flags.reconfiguration_policy}): " + "; ".join(problems) + ".\n"
                f"Old agent info: {json.dumps(old, sort_keys=True)}\n"
                f"New agent info: {json.dumps(new, sort_keys=True)}\n"
                "To restart this agent with a new agent id instead, remove the checkpointed agent info:\n"
                f"    rm -f {latest}\n"
                "This ensures that the agent does not recover old live executors."
            )
        LOG.info("recovered checkpointed agent id %s", self.id)
        self.adopt(read_task_checkpoint(work_dir))

    def adopt(self, entries: list[dict]) -> None:
        """Take back the tasks whose executors are still alive (they reconnect: SIGUSR1 stops
        their wait for an agent); the others ended while the agent was away and are not
        reported again (the master learns it from the re-registration)."""
        for entry in entries:
            pid = entry.get("pid")
            task = Task(entry["framework_id"], entry.get("framework_info") or {}, entry["task_info"], entry["sandbox"])
            if not pid or not executor_alive(pid, task.sandbox):
                LOG.info("task %s ended while the agent was away", task.id)
                continue
            task.pid = pid
            task.command_pid = entry.get("command_pid")
            task.state = "TASK_RUNNING"
            task.statuses = list(entry.get("statuses") or [])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
            self.tasks[task.id] = task
            LOG.info("reconnected with the executor of task %s (pid %s)", task.id, pid)
        self.save_tasks()

    def save_tasks(self) -> None:
        """Checkpoint the live tasks of checkpointing frameworks (agent-recovery.md)."""
        if self.id is None:
            return
        with self.lock:
            entries = [t.checkpoint_json() for t in self.tasks.values() if t.checkpoint and t.pid is not None]
        folder = os.path.join(meta_dir(self.flags.work_dir), self.id)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, "tasks.json.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(entries, handle)
        os.replace(tmp, os.path.join(folder, "tasks.json"))

    # -- master detection and registration ------------------------------------------

    def leader_url(self) -> str | None:
        if self.tracker is not None:
            return self.tracker.url()
        return self.master_url

    def on_leader_change(self, info: dict | None) -> None:
        with self.lock:
            if info is None or info.get("id") != self.master_id:
                if self.registered:
                    LOG.info("leading master changed: re-registering")
                self.registered = False
        self.wake.set()

    def registration_loop(self) -> None:
        refused_logged = False
        while not self.stop_event.is_set():
            if self.registered and time.monotonic() - self.last_ping > self.ping_limit:
                LOG.warning("no ping from the master for %.0fs: re-detecting the master", self.ping_limit)
                self.registered = False
            if not self.registered:
                url = self.leader_url()
                if url:
                    refused_logged = self.try_register(url, refused_logged)
            self.wake.wait(1.0 if self.down else (0.5 if not self.registered else 1.0))
            self.wake.clear()

    def try_register(self, url: str, refused_logged: bool) -> bool:
        credential = self.d["credential"]
        with self.lock:
            # the tasks that ended while unregistered too: their updates were not delivered
            # (Mesos retries status updates until acknowledged)
            tasks = [{"task_id": t.id, "framework_id": t.framework_id, "state": t.state,
                      "task_info": t.info} for t in list(self.tasks.values()) + self.completed[-50:]]
            body = {"agent_info": self.info(), "tasks": tasks}
        try:
            result = c.http_request("POST", url + "/_standin/agent/register", body, timeout=5,
                                    auth=credential)
        except OSError as exc:
            LOG.info("master %s not reachable: %s", url, exc)
            return refused_logged
        if result.status == 401:
            if not refused_logged:
                LOG.error("master %s refused authentication: %s", url, result.text)
            return True
        if result.status == 403:
            if not refused_logged:
                LOG.warning("registration refused: %s", result.text)
            return True
        if result.status != 200:
            LOG.info("registration with %s answered %s", url, result.status)
            return refused_logged
        answer = result.json()
        with self.lock:
            first = self.id is None
            self.id = answer["agent_id"]
            self.master_id = answer["master_id"]
            self.registered = True
            self.down = False
            self.last_ping = time.monotonic()
            self.ping_limit = float(answer.get("ping_timeout_seconds", 15)) * \
                float(answer.get("max_ping_timeouts", 5)) + 2.0
            write_checkpoint(self.flags.work_dir, self.checkpoint_info())
        self.counters["slave/registrations"] = self.counters.get("slave/registrations", 0) + 1
        LOG.info("%s with master %s as agent %s", "registered" if first else "re-registered", url, self.id)
        for item in answer.get("kill_tasks") or []:
            self.kill_task(item["task_id"], "Task lost while the agent was away")
        return False

    # -- status updates -----------------------------------------------------------

    def update(self, task: Task, state: str, message: str = "", reason: str | None = None) -> None:
        with self.lock:
            if task.state in TERMINAL_STATES:
                return
            task.state = state
            status = {"state": state, "timestamp": time.time()}
            if message:
                status["message"] = message
            if reason:
                status["reason"] = reason
            if state == "TASK_RUNNING":
                status["container_status"] = {
                    "container_id": {"value": task.container_id},
                    "network_infos": [{"ip_addresses": [{"ip_address": self.d["ip"]}]}],
                    "executor_pid": task.pid,
                }
            task.statuses.append(status)
            if state in TERMINAL_STATES:
                self.tasks.pop(task.id, None)
                self.completed.append(task)
                del self.completed[:-200]
        LOG.info("task %s is now %s%s", task.id, state, f" ({message})" if message else "")
        if task.checkpoint and (state == "TASK_RUNNING" or state in TERMINAL_STATES):
            self.save_tasks()
        self.status_queue.put((task, dict(status)))

    def status_loop(self) -> None:
        pending: list[tuple[Task, dict]] = []
        while not self.stop_event.is_set():
            with contextlib.suppress(queue.Empty):
                pending.append(self.status_queue.get(timeout=0.5))
            while pending and not self.stop_event.is_set():
                task, status = pending[0]
                url = self.leader_url()
                if not self.registered or not url:
                    break  # re-registration carries the latest states
                body = {"agent_id": self.id, "framework_id": task.framework_id, "task_id": task.id,
                        "state": status["state"], "message": status.get("message"),
                        "reason": status.get("reason"), "container_status": status.get("container_status")}
                try:
                    result = c.http_request("POST", url + "/_standin/agent/status", body, timeout=5)
                except OSError:
                    break
                if result.status == 409:
                    self.registered = False
                    self.wake.set()
                    pending.clear()
                    break
                if result.status >= 300:
                    break
                pending.pop(0)
            if pending and not self.registered:
                pending.clear()
            if pending:
                time.sleep(0.5)

    # -- running tasks -----------------------------------------------------------------

    def sandbox_for(self, framework_id: str, task_id: str) -> str:
        run = str(uuid.uuid4())
        return os.path.join(self.flags.work_dir, "slaves", self.id or "unregistered", "frameworks", framework_id,
                            "executors", task_id, "runs", run)

    def task_environment(self, task: Task) -> dict[str, str]:
        if self.d["executor_env"] is not None:
            env = dict(self.d["executor_env"])
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_"))}
        ports = []
        for begin, end in task.resources.ranges.get("ports", []):
            ports.extend(range(begin, end + 1))
        # Stand-in convenience: Marathon normally sets these itself (task-environment-vars.md).
        env["HOST"] = self.d["hostname"]
        for i, port in enumerate(ports):
            env[f"PORT{i}"] = str(port)
        if ports:
            env["PORT"] = str(ports[0])
            env["PORTS"] = ",".join(str(p) for p in ports)
        env.update({
            "MESOS_TASK_ID": task.id,
            "MESOS_FRAMEWORK_ID": task.framework_id,
            "MESOS_EXECUTOR_ID": task.id,
            "MESOS_AGENT_ENDPOINT": f"{self.d['ip']}:{self.d['port']}",
            "MESOS_SLAVE_ID": self.id or "",
            "MESOS_SLAVE_PID": f"slave(1)@{self.d['ip']}:{self.d['port']}",
            "MESOS_SANDBOX": task.sandbox,
            "MESOS_DIRECTORY": task.sandbox,
            "MESOS_CONTAINER_IP": self.d["ip"],
        })
        command = task.info.get("command") or {}
        for var in (command.get("environment") or {}).get("variables") or []:
            if "name" in var:
                env[var["name"]] = str(var.get("value", ""))
        return env

    def launcher_loop(self) -> None:
        """Every task process is started from this one long-lived thread: the
        children's PR_SET_PDEATHSIG fires when the forking thread exits."""
        while not self.stop_event.is_set():
            try:
                task = self.launch_queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if task.kill_requested or self.down:
                self.update(task, "TASK_KILLED", "Killed before it started")
                continue
            command = task.info.get("command") or {}
            ready_r = None
            try:
                os.makedirs(task.sandbox, exist_ok=True)
                if command.get("shell", True):
                    argv = ["sh", "-c", command.get("value", "")]
                else:
                    argv = [command.get("value", "")] + list(command.get("arguments") or [])[1:]
                stdout = open(os.path.join(task.sandbox, "stdout"), "ab")  # noqa: SIM115
                stderr = open(os.path.join(task.sandbox, "stderr"), "ab")  # noqa: SIM115
                ready_r, ready_w = os.pipe()
                try:
                    recovery = self.recovery_seconds if task.checkpoint else 0.0
                    executor = [sys.executable, "-c", EXECUTOR, str(self.kill_grace(task)), str(ready_w),
                                str(recovery), *argv]
                    death = signal.SIGUSR2 if task.checkpoint else signal.SIGTERM
                    task.proc = subprocess.Popen(executor, cwd=task.sandbox, env=self.task_environment(task),
                                                 stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                                 preexec_fn=functools.partial(_set_pdeathsig, death), close_fds=True,
                                                 pass_fds=(ready_w,))
                    task.pid = task.proc.pid
                finally:
                    os.close(ready_w)
                    stdout.close()
                    stderr.close()
            except OSError as exc:
                if ready_r is not None:
                    os.close(ready_r)
                self.update(task, "TASK_FAILED", f"Failed to launch the command: {exc}",
                            "REASON_EXECUTOR_TERMINATED")
                continue
            self.update(task, "TASK_STARTING")
            # TASK_RUNNING once the executor has started the command (it writes the command's pid)
            try:
                readable, _, _ = select.select([ready_r], [], [], 10.0)
                started = os.read(ready_r, 64) if readable else b""
            finally:
                os.close(ready_r)
            if started.strip().isdigit():
                task.command_pid = int(started)
                self.update(task, "TASK_RUNNING")
            if task.kill_requested or self.down:  # a kill that raced with the start
                self.kill_task(task.id)

    def monitor_loop(self) -> None:
        while not self.stop_event.is_set():
            with self.lock:
                running = [t for t in self.tasks.values() if t.pid is not None]
            for task in running:
                rc = task.exit_code()
                if rc is None:
                    continue
                if task.kill_requested:
                    how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"status {rc}"
                    self.update(task, "TASK_KILLED", f"Command terminated with {how}")
                elif rc == 0:
                    self.update(task, "TASK_FINISHED", "Command exited with status 0")
                elif rc < 0:
                    self.update(task, "TASK_FAILED", f"Command terminated with signal {signal.Signals(-rc).name}",
                                "REASON_COMMAND_EXECUTOR_FAILED")
                else:
                    self.update(task, "TASK_FAILED", f"Command exited with status {rc}",
                                "REASON_COMMAND_EXECUTOR_FAILED")
            self.stop_event.wait(0.2)

    def launch(self, body: dict) -> c.Response:
        ti = body.get("task_info") or {}
        fw_id = body.get("framework_id")
        if not fw_id or not (ti.get("task_id") or {}).get("value"):
            raise c.HttpError(400, "framework_id and task_info.task_id are required")
        # a launch may overtake the answer to our own registration: give it a moment
        c.wait_until(lambda: not self.down, 3.0, 0.05)
        with self.lock:
            if self.down:
                raise c.HttpError(409, "Agent is shutting down")
            task_id = ti["task_id"]["value"]
            if task_id in self.tasks:
                raise c.HttpError(409, f"Task '{task_id}' already exists")
            task = Task(fw_id, body.get("framework_info") or {}, ti, self.sandbox_for(fw_id, task_id))
            self.tasks[task_id] = task
        task.statuses.append({"state": "TASK_STAGING", "timestamp": time.time()})
        self.launch_queue.put(task)
        self.counters["launches"] = self.counters.get("launches", 0) + 1
        return c.json_response({"accepted": True}, 202)

    def kill_task(self, task_id: str, message: str = "") -> None:
        with self.lock:
            task = self.tasks.get(task_id)
        if task is None:
            return
        task.kill_requested = True
        if task.pid is None:
            return  # the launcher reports TASK_KILLED
        grace = self.kill_grace(task)

        def killer():
            # the executor stops the task's process group (SIGTERM, grace, SIGKILL)
            if not task.signal(signal.SIGTERM):
                return
            deadline = time.monotonic() + grace + 5.0
            while time.monotonic() < deadline and task.exit_code() is None:
                time.sleep(0.05)
            if task.exit_code() is None:
                task.signal(signal.SIGKILL)

        threading.Thread(target=killer, daemon=True).start()

    @staticmethod
    def kill_grace(task: Task) -> float:
        """KillPolicy grace period, else the command executor's default."""
        policy = (task.info.get("kill_policy") or {}).get("grace_period") or {}
        if "nanoseconds" in policy:
            return float(policy["nanoseconds"]) / 1e9
        return DEFAULT_KILL_GRACE

    def kill_all(self, framework_id: str | None = None, wait: float = 0.0, keep_checkpointed: bool = False) -> None:
        with self.lock:
            victims = [t for t in self.tasks.values() if (framework_id is None or t.framework_id == framework_id)
                       and not (keep_checkpointed and t.checkpoint)]
        for task in victims:
            self.kill_task(task.id)
        deadline = time.monotonic() + wait
        while wait and time.monotonic() < deadline and any(t.pid and t.exit_code() is None for t in victims):
            time.sleep(0.05)

    # -- JSON ---------------------------------------------------------------------------

    def state_json(self) -> dict:
        with self.lock:
            frameworks: dict[str, dict] = {}
            for task in list(self.tasks.values()) + self.completed:
                fw = frameworks.setdefault(task.framework_id, {
                    "id": task.framework_id,
                    "name": task.framework_info.get("name", ""),
                    "user": task.framework_info.get("user", ""),
                    "executors": [],
                    "completed_executors": [],
                })
                executor = {
                    "id": task.id,
                    "name": f"Command Executor (Task: {task.id})",
                    "source": task.id,
                    "container": task.container_id,
                    "directory": task.sandbox,
                    "resources": task.resources.model(),
                    "tasks": [task.json(self.id or "")] if task.state not in TERMINAL_STATES else [],
                    "queued_tasks": [],
                    "completed_tasks": [task.json(self.id or "")] if task.state in TERMINAL_STATES else [],
                }
                fw["executors" if task.state not in TERMINAL_STATES else "completed_executors"].append(executor)
            out = {
                "version": VERSION,
                "build_date": "2020-11-16 00:00:00",
                "build_time": BUILD_TIME,
                "build_user": "standin",
                "start_time": self.start_time,
                "id": self.id or "",
                "pid": f"slave(1)@{self.d['ip']}:{self.d['port']}",
                "hostname": self.d["hostname"],
                "resources": self.d["resources"].model(),
                "reserved_resources": {},
                "unreserved_resources": self.d["resources"].model(),
                "reserved_resources_full": {},
                "unreserved_resources_full": self.d["resources"].protobuf(),
                "attributes": c.attributes_model(self.d["attributes"]),
                "flags": self.flags.as_strings(),
                "frameworks": [fw for fw in frameworks.values() if fw["executors"]],
                "completed_frameworks": [fw for fw in frameworks.values() if not fw["executors"]],
            }
            if self.registered and self.tracker is not None and self.tracker.current():
                out["master_hostname"] = self.tracker.current().get("hostname")
            elif self.registered and self.master_url:
                out["master_hostname"] = self.master_url.split("//", 1)[1].rsplit(":", 1)[0]
            if self.flags.log_dir:
                out["log_dir"] = self.flags.log_dir
            if self.flags.external_log_file:
                out["external_log_file"] = self.flags.external_log_file
        return out

    def metrics(self) -> dict[str, float]:
        with self.lock:
            used = c.Resources()
            states: dict[str, int] = {}
            for task in list(self.tasks.values()) + self.completed:
                states[task.state] = states.get(task.state, 0) + 1
                if task.state not in TERMINAL_STATES:
                    used = used + task.resources
            total = self.d["resources"]
            out = {
                "slave/registered": 1.0 if self.registered else 0.0,
                "slave/uptime_secs": time.time() - self.start_time,
                "slave/frameworks_active": float(len({t.framework_id for t in self.tasks.values()})),
                "slave/executors_running": float(sum(1 for t in self.tasks.values() if t.pid is not None)),
                "slave/executors_registering": 0.0,
                "slave/executors_terminating": 0.0,
                "slave/executors_terminated": float(len(self.completed)),
                "slave/recovery_errors": 0.0,
                "slave/container_launch_errors": 0.0,
                "system/cpus_total": float(os.cpu_count() or 1),
                "system/load_1min": os.getloadavg()[0],
                "system/load_5min": os.getloadavg()[1],
                "system/load_15min": os.getloadavg()[2],
            }
            for state in ("STAGING", "STARTING", "RUNNING", "KILLING", "FINISHED", "FAILED", "KILLED", "LOST"):
                out[f"slave/tasks_{state.lower()}"] = float(states.get(f"TASK_{state}", 0))
            for name in ("cpus", "mem", "disk", "gpus"):
                t = total.scalars.get(name, 0.0)
                u = used.scalars.get(name, 0.0)
                out[f"slave/{name}_total"] = t
                out[f"slave/{name}_used"] = u
                out[f"slave/{name}_percent"] = (u / t) if t else 0.0
        return out


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


def build_app(a: Agent) -> c.HttpApp:
    app = c.HttpApp(f"mesos-agent/{VERSION}")

    def auth(req, realm, enabled):
        creds = req.basic_auth()
        if creds is not None and a.d["credentials"].get(creds[0]) == creds[1]:
            return None
        return c.unauthorized(realm) if enabled else None

    def readonly(handler):
        def wrapped(req):
            return auth(req, READONLY_REALM, bool(a.flags.authenticate_http_readonly)) or handler(req)
        return wrapped

    app.add("GET", "/health", lambda req: c.empty_response(200))
    app.add("GET", "/slave(1)/health", lambda req: c.empty_response(200))
    state = readonly(lambda req: c.json_response(a.state_json()))
    for path in ("/state", "/state.json", "/slave(1)/state", "/slave(1)/state.json"):
        app.add("GET", path, state)
    flags = readonly(lambda req: c.json_response({"flags": a.flags.as_strings()}))
    app.add("GET", "/flags", flags)
    app.add("GET", "/slave(1)/flags", flags)
    app.add("GET", "/metrics/snapshot", readonly(lambda req: c.json_response(a.metrics())))
    app.add("GET", "/version", lambda req: c.json_response({"version": VERSION, "build_date": "2020-11-16 00:00:00",
                                                           "build_time": BUILD_TIME, "build_user": "standin"}))

    # -- private protocol with the master --------------------------------------------------

    def ping(req):
        body = req.json()
        if not a.registered or body.get("agent_id") != a.id or body.get("master_id") != a.master_id:
            a.wake.set()
            raise c.HttpError(409, "Not registered with this master")
        a.last_ping = time.monotonic()
        return c.json_response({"agent_id": a.id})

    def launch(req):
        return a.launch(req.json())

    def kill(req):
        body = req.json()
        a.kill_task(body.get("task_id"))
        return c.json_response({"ok": True}, 202)

    def shutdown_framework(req):
        a.kill_all(req.json().get("framework_id"))
        return c.json_response({"ok": True}, 202)

    def shutdown(req):
        """maintenance.md: the agents of a DOWN machine are told to shut down.
        The stand-in kills its tasks, forgets its agent id (the next registration
        gets a new one) and keeps asking to register; the master refuses until
        the machine is UP again."""
        message = req.json().get("message", "") if req.body else ""
        LOG.warning("asked to shut down by the master: %s", message)
        with a.lock:
            a.down = True
            a.registered = False
            remove_checkpoint_link(a.flags.work_dir)
            a.id = None
            a.master_id = None
        threading.Thread(target=a.kill_all, kwargs={"wait": 5.0}, daemon=True).start()
        return c.json_response({"ok": True}, 202)

    app.add("POST", "/_standin/ping", ping)
    app.add("POST", "/_standin/launch", launch)
    app.add("POST", "/_standin/kill", kill)
    app.add("POST", "/_standin/shutdown_framework", shutdown_framework)
    app.add("POST", "/_standin/shutdown", shutdown)
    return app


def _body(argv: list[str], program: str) -> int:
    flags = parse(argv, program=program)
    d = validate(flags)
    c.setup_logging(program, flags.logging_level if not flags.quiet else "WARNING")
    if flags.log_dir:
        try:
            os.makedirs(flags.log_dir, exist_ok=True)
            handler = logging.FileHandler(os.path.join(flags.log_dir, f"{program}.INFO"))
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger().addHandler(handler)
        except OSError as exc:
            raise c.FlagError(f"Failed to use --log_dir '{flags.log_dir}': {exc.strerror}") from None
    agent = Agent(flags, d, program)
    agent.recover()
    try:
        server = c.serve_http(build_app(agent), d["bind_ip"], flags.port)
    except OSError as exc:
        LOG.error("Failed to bind %s:%s: %s", d["bind_ip"], flags.port, exc.strerror)
        return 1
    LOG.info("%s %s (stand-in) listening on %s:%s; resources %s", program, VERSION, d["bind_ip"], flags.port,
             d["resources"].text())
    if d["zk"] is not None:
        agent.tracker = c.MesosLeaderTracker(d["zk"], flags.zk_session_timeout, 0.3,
                                             on_change=agent.on_leader_change).start()
    for target, name in ((agent.registration_loop, "register"), (agent.status_loop, "status"),
                         (agent.launcher_loop, "launcher"), (agent.monitor_loop, "monitor")):
        threading.Thread(target=target, name=name, daemon=True).start()
    stop = threading.Event()

    def on_signal(signum, frame):
        LOG.info("received signal %d, exiting; the executors of checkpointing frameworks keep running "
                 "(agent-recovery.md), the other tasks are stopped", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    agent.kill_all(wait=5.0, keep_checkpointed=True)
    agent.save_tasks()
    agent.stop_event.set()
    server.shutdown()
    if agent.tracker:
        agent.tracker.stop()
    return 0


def main(argv: list[str] | None = None, program: str | None = None) -> int:
    program = program or program_name()
    return c.run_main(lambda args: _body(args, program), argv, program)


if __name__ == "__main__":
    raise SystemExit(main())
