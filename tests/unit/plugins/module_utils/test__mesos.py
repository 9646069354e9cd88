import json

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _mesos


class FakeKazoo:
    instances = []
    children = {}
    data = {}
    fail_start = []  # the error start() raises, if any

    def __init__(self, hosts, timeout, read_only, auth_data):
        self.hosts = hosts
        self.auth_data = auth_data
        self.stopped = False
        FakeKazoo.instances.append(self)

    def start(self, timeout):
        if FakeKazoo.fail_start:
            raise FakeKazoo.fail_start[0]

    def get_children(self, path):
        return FakeKazoo.children[path]

    def get(self, path):
        return FakeKazoo.data[path], None

    def stop(self):
        self.stopped = True

    def close(self):
        pass


@pytest.fixture
def kazoo(monkeypatch):
    FakeKazoo.instances = []
    FakeKazoo.fail_start = []
    FakeKazoo.children = {"/mesos": ["log_replicas", "json.info_0000000007", "json.info_0000000003"]}
    FakeKazoo.data = {"/mesos/json.info_0000000003": json.dumps({
        "address": {"hostname": "m2", "ip": "10.0.0.2", "port": 5050}, "pid": "master@10.0.0.2:5050",
        "id": "abc", "port": 5050}).encode()}
    monkeypatch.setattr(_mesos, "HAS_KAZOO", True)
    monkeypatch.setattr(_mesos, "KazooClient", FakeKazoo, raising=False)
    return FakeKazoo


def test_lowest_sequence_leads(kazoo):
    info, error = _mesos.zk_leader("zk://z1:2181,z2:2181/mesos")
    assert error is None
    assert info == dict(znode="/mesos/json.info_0000000003", masters_registered=2, hostname="m2", ip="10.0.0.2",
                        port=5050, pid="master@10.0.0.2:5050", id="abc")
    assert kazoo.instances[0].hosts == "z1:2181,z2:2181" and kazoo.instances[0].stopped


def test_credentials_in_url_become_digest_auth(kazoo):
    _mesos.zk_leader("zk://mesos:pw@z1:2181/mesos")
    assert kazoo.instances[0].auth_data == [("digest", "mesos:pw")] and kazoo.instances[0].hosts == "z1:2181"


def test_errors_are_data(kazoo, monkeypatch):
    kazoo.children["/mesos"] = ["log_replicas"]
    assert _mesos.zk_leader("zk://z1:2181/mesos") == (None, "no master has registered under /mesos")
    kazoo.fail_start = [RuntimeError("Connection time-out")]
    info, error = _mesos.zk_leader("zk://z1:2181/mesos")
    assert info is None and error == "could not read /mesos from ZooKeeper z1:2181: Connection time-out"
    assert _mesos.zk_leader("file:///etc/mesos/zk")[1] == (
        "the masters read their --zk from file:///etc/mesos/zk, which this module cannot read: give the zk_url option")
    assert _mesos.zk_leader(None)[1].startswith("no zk:// URL to read")
    monkeypatch.setattr(_mesos, "HAS_KAZOO", False)
    assert _mesos.zk_leader("zk://z1:2181/mesos")[1] == (
        "the kazoo Python library is not installed on the host that runs the module")


def test_host_port():
    assert _mesos.host_port("http://m1:5050") == "m1:5050"
    assert _mesos.host_port(None) is None
