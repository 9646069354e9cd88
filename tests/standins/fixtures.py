"""Pytest fixtures for the stand-ins: a real ZooKeeper ensemble and a whole
stand-in cluster on 127.0.0.1.

Use as a plugin: ``pytest_plugins = ["tests.standins.fixtures"]`` (from the
repository root) or load this file by path.

Fixtures:
  ``zk_ensemble``      session scope, 3 ZooKeeper servers (do not stop its
                       servers in a test: make your own ZooKeeperEnsemble).
  ``standin_cluster``  session scope, a :class:`StandinCluster`: 3 Mesos
                       masters and 2 agents (Mesos section below), plus what
                       the launchers in ``CLUSTER_LAUNCHERS`` add (the
                       Marathon/Chronos section appends theirs).

Timeouts are short so failover tests are quick: ZooKeeper sessions of
3 seconds, agent pings every second (3 misses = agent lost).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness import StandinProcess, ZooKeeperEnsemble, free_port, zookeeper_available  # noqa: E402

ZK_SESSION_TIMEOUT = "3secs"
MESOS_ZK_PATH = "/mesos"


@dataclass
class StandinCluster:
    zk: ZooKeeperEnsemble
    tmpdir: Path
    masters: list[StandinProcess] = field(default_factory=list)
    agents: list[StandinProcess] = field(default_factory=list)
    marathons: list[StandinProcess] = field(default_factory=list)
    chronos: list[StandinProcess] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # anything else a launcher wants to publish

    @property
    def mesos_zk(self) -> str:
        return self.zk.url(MESOS_ZK_PATH)

    def processes(self) -> list[StandinProcess]:
        return [*self.chronos, *self.marathons, *self.agents, *self.masters]

    def leading_master(self, timeout: float = 0.0) -> StandinProcess | None:
        """The master whose /metrics/snapshot says master/elected == 1."""
        return find_leading_master(self.masters, timeout)

    def close(self) -> None:
        for proc in self.processes():
            with contextlib.suppress(Exception):  # keep cleaning up the rest
                proc.kill()


# Each launcher gets the cluster and starts its programs into it, in order.
# The Mesos section registers launch_mesos; the frameworks section appends its own.
CLUSTER_LAUNCHERS: list[Callable[[StandinCluster], None]] = []


# ---------------------------------------------------------------------------
# ZooKeeper
# ---------------------------------------------------------------------------


def _require_zookeeper() -> None:
    if not zookeeper_available():
        pytest.fail("ZooKeeper jars (/usr/share/java/zookeeper.jar) or java missing: apt-get install zookeeper")


@pytest.fixture(scope="session")
def zk_ensemble(tmp_path_factory):
    _require_zookeeper()
    ensemble = ZooKeeperEnsemble(3, tmp_path_factory.mktemp("zk-ensemble"))
    yield ensemble
    ensemble.close()


# ---------------------------------------------------------------------------
# Mesos (owned by the Mesos stand-in engineer)
# ---------------------------------------------------------------------------

MESOS_MASTER_FAST_ARGS = [
    f"--zk_session_timeout={ZK_SESSION_TIMEOUT}",
    "--agent_ping_timeout=1secs",
    "--max_agent_ping_timeouts=3",
]


def start_mesos_master(zk_url: str, workdir: Path, *, quorum: int = 2, port: int | None = None,
                       extra_args: list[str] | None = None, env: dict | None = None,
                       name: str = "master") -> StandinProcess:
    port = port or free_port()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        "--ip=127.0.0.1",
        f"--port={port}",
        "--hostname=127.0.0.1",
        f"--zk={zk_url}",
        f"--quorum={quorum}",
        f"--work_dir={workdir}",
        "--cluster=standin",
        *MESOS_MASTER_FAST_ARGS,
        *(extra_args or []),
    ]
    return StandinProcess("mesos_master", args, env, port=port, log_path=workdir.parent / f"{name}.log")


def start_mesos_agent(zk_url: str, workdir: Path, *, port: int | None = None, ports_range: str | None = None,
                      extra_args: list[str] | None = None, env: dict | None = None, name: str = "agent",
                      module: str = "mesos_agent", hostname: str = "127.0.0.1") -> StandinProcess:
    port = port or free_port()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ports_range = ports_range or "[31000-31099]"
    args = [
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--hostname={hostname}",
        f"--master={zk_url}",
        f"--work_dir={workdir}",
        f"--zk_session_timeout={ZK_SESSION_TIMEOUT}",
        f"--resources=cpus:4;mem:2048;disk:10000;ports:{ports_range}",
        "--containerizers=mesos",
        # a checkpointing framework's executors outlive a killed agent: not for 15 minutes here
        *([] if any(a.startswith("--recovery_timeout") for a in extra_args or []) else ["--recovery_timeout=5secs"]),
        *(extra_args or []),
    ]
    return StandinProcess(module, args, env, port=port, log_path=workdir.parent / f"{name}.log")


def find_leading_master(masters: list[StandinProcess], timeout: float = 0.0) -> StandinProcess | None:
    import json
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        for proc in masters:
            if not proc.alive():
                continue
            try:
                with urllib.request.urlopen(proc.url("/metrics/snapshot"), timeout=2) as resp:
                    if json.load(resp).get("master/elected") == 1.0:
                        return proc
            except Exception:
                continue
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def launch_mesos(cluster: StandinCluster, masters: int = 3, agents: int = 2) -> None:
    for i in range(masters):
        cluster.masters.append(
            start_mesos_master(cluster.mesos_zk, cluster.tmpdir / f"master{i + 1}" / "work", name=f"master{i + 1}")
        )
    for proc in cluster.masters:
        proc.wait_http("/master/health", timeout=30)
    if cluster.leading_master(timeout=30) is None:
        raise RuntimeError("no Mesos master was elected:\n" + cluster.masters[0].log_tail())
    for i in range(agents):
        start = 31000 + 1000 * i
        cluster.agents.append(
            start_mesos_agent(cluster.mesos_zk, cluster.tmpdir / f"agent{i + 1}" / "work",
                              ports_range=f"[{start}-{start + 99}]", name=f"agent{i + 1}")
        )
    for proc in cluster.agents:
        proc.wait_http("/health", timeout=30)


CLUSTER_LAUNCHERS.append(launch_mesos)


# ---------------------------------------------------------------------------
# Marathon and Chronos (owned by the frameworks engineer): append launchers
# to CLUSTER_LAUNCHERS here, e.g. CLUSTER_LAUNCHERS.append(launch_marathon).
# ---------------------------------------------------------------------------

MARATHON_ZK_PATH = "/marathon"
CHRONOS_ZK_PATH = "/chronos/state"
FRAMEWORK_ENV = {"STANDIN_TICK_SECONDS": "0.5"}  # scheduler loop period of the stand-ins


def start_marathon(cluster: StandinCluster, name: str, *, port: int | None = None, zk_path: str = MARATHON_ZK_PATH,
                   extra_args: list[str] | None = None, env: dict | None = None) -> StandinProcess:
    port = port or free_port()
    args = [
        f"--master={cluster.mesos_zk}",
        f"--zk={cluster.zk.url(zk_path)}",
        "--hostname=127.0.0.1",
        "--http_address=127.0.0.1",
        f"--http_port={port}",
        "--zk_session_timeout=3000",
        *(extra_args or []),
    ]
    return StandinProcess("marathon", args, {**FRAMEWORK_ENV, **(env or {})}, port=port,
                          log_path=cluster.tmpdir / f"{name}.log")


def start_chronos(cluster: StandinCluster, name: str, *, port: int | None = None, zk_path: str = CHRONOS_ZK_PATH,
                  extra_args: list[str] | None = None, env: dict | None = None) -> StandinProcess:
    port = port or free_port()
    args = [
        f"--master={cluster.mesos_zk}",
        f"--zk_hosts={cluster.zk.hosts}",
        f"--zk_path={zk_path}",
        "--hostname=127.0.0.1",
        "--http_address=127.0.0.1",
        f"--http_port={port}",
        "--zk_timeout=3000",
        *(extra_args or []),
    ]
    return StandinProcess("chronos", args, {**FRAMEWORK_ENV, **(env or {})}, port=port,
                          log_path=cluster.tmpdir / f"{name}.log")


def launch_frameworks(cluster: StandinCluster, marathons: int = 3, chronos: int = 3) -> None:
    for i in range(marathons):
        cluster.marathons.append(start_marathon(cluster, f"marathon{i + 1}"))
    for i in range(chronos):
        cluster.chronos.append(start_chronos(cluster, f"chronos{i + 1}"))
    # /ping on a standby is proxied to the leader: 200 everywhere means a leader serves
    for proc in cluster.marathons:
        proc.wait_http("/ping", timeout=30, statuses=(200,))
    for proc in cluster.chronos:
        proc.wait_http("/v1/scheduler/jobs", timeout=30, statuses=(200,))


CLUSTER_LAUNCHERS.append(launch_frameworks)


# ---------------------------------------------------------------------------
# The cluster fixture
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def standin_cluster(zk_ensemble, tmp_path_factory):
    cluster = StandinCluster(zk=zk_ensemble, tmpdir=Path(tmp_path_factory.mktemp("standin-cluster")))
    try:
        for launcher in CLUSTER_LAUNCHERS:
            launcher(cluster)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def standin_tmpdir():
    with tempfile.TemporaryDirectory(prefix="standin-") as folder:
        yield Path(folder)
