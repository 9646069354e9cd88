"""Contract tests of the stand-ins: the fixtures, and a private Mesos cluster per test.

The package, harness.py and fixtures.py are importable through `pythonpath` in
tests/standins/pyproject.toml, the configuration these tests run with.
"""

import contextlib
import itertools
from pathlib import Path

import pytest
from fixtures import (  # noqa: F401
    standin_cluster,
    standin_tmpdir,
    start_mesos_agent,
    start_mesos_master,
    zk_ensemble,
)

_paths = itertools.count(1)


class MesosFactory:
    """Masters and agents of a private Mesos cluster on the session ZooKeeper
    (own znode path per test), killed at the end of the test."""

    def __init__(self, zk, tmpdir: Path):
        self.zk = zk
        self.tmpdir = tmpdir
        self.path = f"/mesos-test-{next(_paths)}"
        self.procs = []
        self._n = itertools.count(1)

    @property
    def zk_url(self) -> str:
        return self.zk.url(self.path)

    def master(self, quorum: int = 1, extra_args=None, wait: bool = True, env=None):
        n = next(self._n)
        proc = start_mesos_master(self.zk_url, self.tmpdir / f"master{n}" / "work", quorum=quorum,
                                  extra_args=extra_args, env=env, name=f"master{n}")
        self.procs.append(proc)
        if wait:
            proc.wait_http("/master/health", timeout=30)
        return proc

    def agent(self, extra_args=None, wait: bool = True, ports: str | None = None, env=None,
              module: str = "mesos_agent", workdir: Path | None = None, hostname: str = "127.0.0.1",
              port: int | None = None):
        n = next(self._n)
        proc = start_mesos_agent(self.zk_url, workdir or (self.tmpdir / f"agent{n}" / "work"), ports_range=ports,
                                 extra_args=extra_args, env=env, name=f"agent{n}", module=module,
                                 hostname=hostname, port=port)
        self.procs.append(proc)
        if wait:
            proc.wait_http("/health", timeout=30)
        return proc

    def close(self):
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.kill()


@pytest.fixture
def mesos_factory(zk_ensemble, tmp_path):  # noqa: F811 - the imported fixture
    factory = MesosFactory(zk_ensemble, tmp_path)
    yield factory
    factory.close()
