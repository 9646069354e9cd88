"""Integration tests: the collection's modules, run through Ansible, against the stand-ins.

The stand-in cluster (3 Mesos masters, 2 agents, 3 Marathons, 3 Chronos on 127.0.0.1, real
ZooKeeper) comes from tests/standins/fixtures.py. Modules run as `ansible localhost -m
mesosphere.cluster.NAME` with the checkout's collection path, so the whole path a user takes
(argument spec, module_utils shipping, JSON result) is exercised.
"""

import sys
from pathlib import Path

import pytest

STANDINS = str(Path(__file__).resolve().parents[1] / "standins")
if STANDINS not in sys.path:
    sys.path.insert(0, STANDINS)

from fixtures import standin_cluster, zk_ensemble  # noqa: E402,F401  (the stand-in fixtures)
from integration_helpers import AnsibleRun  # noqa: E402


@pytest.fixture(scope="session")
def ansible_module(tmp_path_factory):
    return AnsibleRun(tmp_path_factory)


@pytest.fixture(scope="session")
def endpoints(standin_cluster):  # noqa: F811 - the fixture imported above
    c = standin_cluster
    return dict(
        mesos=[p.url("").rstrip("/") for p in c.masters],
        marathon=[p.url("").rstrip("/") for p in c.marathons],
        chronos=[p.url("").rstrip("/") for p in c.chronos],
        zookeeper=c.zk.hosts,
    )
