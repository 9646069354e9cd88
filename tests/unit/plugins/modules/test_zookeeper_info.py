"""zookeeper_info against a fake network: every member's four-letter-word answers are scripted.

The fake replaces the one network call of module_utils/_zookeeper.py (_open) and records every
connection and command, so the tests state exactly what the module sends.
"""

from __future__ import annotations

import socket

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _zookeeper as zk
from ansible_collections.mesosphere.cluster.plugins.modules import zookeeper_info

SRVR = (
    "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n"
    "Latency min/avg/max: 0/0.5/3\nReceived: 10\nSent: 9\nConnections: 2\nOutstanding: 0\n"
    "Zxid: 0x100000004\nMode: %s\nNode count: 7\n"
)
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


class Conn:
    def __init__(self, net, address):
        self.net = net
        self.address = address
        self.answer = None

    def sendall(self, data):
        command = data.decode()
        self.net.commands.append((self.address, command))
        answer = self.net.members[self.address].get(command)
        if answer is None:
            answer = "%s is not executed because it is not in the whitelist.\n" % command
        self.answer = answer

    def settimeout(self, value):
        pass

    def recv(self, size):
        if isinstance(self.answer, Exception):
            raise self.answer
        data, self.answer = self.answer, ""
        return data.encode()

    def close(self):
        pass


class FakeNet:
    def __init__(self):
        self.members = {}
        self.connects = []
        self.commands = []

    def member(self, host, port=2181, **answers):
        """answers: command -> text (or exception raised while reading); 'connect' -> exception."""
        self.members[(host, port)] = answers
        return self

    def __call__(self, address, timeout):
        self.connects.append((address, timeout))
        answers = self.members.get(address)
        if answers is None:
            raise socket.gaierror(-2, "Name or service not known")
        if "connect" in answers:
            raise answers["connect"]
        return Conn(self, address)


@pytest.fixture
def net(monkeypatch):
    fake = FakeNet()
    monkeypatch.setattr(zk, "_open", fake)
    return fake


def healthy(net):
    net.member("zk1", srvr=SRVR % "follower", ruok="imok")
    net.member("zk2", srvr=SRVR % "leader", ruok="imok")
    net.member("zk3", srvr=SRVR % "follower", ruok="imok")


def test_healthy_ensemble(run_module, net):
    healthy(net)
    result, failed = run_module(zookeeper_info.main, dict(hosts="zk1:2181,zk2:2181,zk3:2181"))
    assert not failed
    assert result["changed"] is False
    assert sorted(net.commands) == [(("zk1", 2181), "srvr"), (("zk2", 2181), "srvr"), (("zk3", 2181), "srvr")]
    assert [m["mode"] for m in result["members"]] == ["follower", "leader", "follower"]
    assert [m["address"] for m in result["members"]] == ["zk1:2181", "zk2:2181", "zk3:2181"]
    member = result["members"][1]
    assert member["zxid"] == "0x100000004" and member["epoch"] == 1
    assert member["latency"] == {"min": 0.0, "avg": 0.5, "max": 3.0}
    assert (member["connections"], member["outstanding"], member["node_count"]) == (2, 0, 7)
    assert member["version"] == "3.8.0-${mvngit.commit.id}"
    assert "ruok" not in member and "mntr" not in member
    ensemble = result["ensemble"]
    assert ensemble["quorum"] is True
    assert ensemble["leader"] == "zk2:2181"
    assert ensemble["followers"] == ["zk1:2181", "zk3:2181"]
    assert (ensemble["size"], ensemble["serving"], ensemble["majority"]) == (3, 3, 2)


def test_check_mode_reads_the_same(run_module, net):
    healthy(net)
    result, failed = run_module(zookeeper_info.main, dict(hosts=["zk1", "zk2", "zk3"]), check_mode=True)
    assert not failed
    assert result["ensemble"]["quorum"] is True
    assert {command for _host, command in net.commands} == {"srvr"}


def test_members_down_are_data_not_failures(run_module, net):
    net.member("zk1", connect=ConnectionRefusedError(111, "Connection refused"))
    net.member("zk2", srvr=SRVR % "leader")
    net.member("zk3", connect=TimeoutError())
    result, failed = run_module(zookeeper_info.main, dict(hosts="zk1,zk2,zk3", timeout=1.5))
    assert not failed
    zk1, zk2, zk3 = result["members"]
    assert not zk1["reachable"] and "refused" in zk1["error"]
    assert not zk3["reachable"] and "within 1.5s" in zk3["error"]
    assert zk2["serving"]
    assert all(timeout == 1.5 for _address, timeout in net.connects)
    ensemble = result["ensemble"]
    assert ensemble["quorum"] is False
    assert ensemble["leader"] == "zk2:2181"
    assert ensemble["unreachable"] == ["zk1:2181", "zk3:2181"]


def test_two_of_three_keep_quorum(run_module, net):
    net.member("zk1", connect=ConnectionRefusedError(111, "Connection refused"))
    net.member("zk2", srvr=SRVR % "leader")
    net.member("zk3", srvr=SRVR % "follower")
    result, _calls = run_module(zookeeper_info.main, dict(hosts="zk1,zk2,zk3"))
    assert result["ensemble"]["quorum"] is True
    assert result["ensemble"]["voting_serving"] == 2


def test_election_in_progress(run_module, net):
    net.member("zk1", srvr=NOT_SERVING)
    net.member("zk2", srvr=NOT_SERVING)
    net.member("zk3", connect=ConnectionRefusedError(111, "Connection refused"))
    result, failed = run_module(zookeeper_info.main, dict(hosts="zk1,zk2,zk3"))
    assert not failed
    zk1 = result["members"][0]
    assert zk1["reachable"] and not zk1["serving"] and zk1["mode"] is None
    assert "not serving" in zk1["error"]
    assert result["ensemble"]["quorum"] is False
    assert result["ensemble"]["leader"] is None


def test_malformed_and_slow_answers(run_module, net):
    net.member("zk1", srvr="HTTP/1.1 400 Bad Request\r\n\r\n")
    net.member("zk2", srvr=TimeoutError())
    net.member("zk3", srvr=SRVR % "leader" + "Zxid: 0xnothex\n")
    result, failed = run_module(zookeeper_info.main, dict(hosts="zk1,zk2,zk3"))
    assert not failed
    zk1, zk2, zk3 = result["members"]
    assert zk1["reachable"] and not zk1["serving"] and "not a srvr answer" in zk1["error"]
    assert zk2["reachable"] and "no complete answer" in zk2["error"]
    assert zk3["reachable"] and "not hexadecimal" in zk3["error"]
    assert result["ensemble"]["quorum"] is False


def test_unresolvable_member(run_module, net):
    net.member("zk1", srvr=SRVR % "standalone")
    result, failed = run_module(zookeeper_info.main, dict(hosts="zk1,nowhere"))
    assert not failed
    assert "cannot resolve nowhere" in result["members"][1]["error"]


def test_standalone_single_member(run_module, net):
    net.member("zk1", 2182, srvr=SRVR % "standalone")
    result, _calls = run_module(zookeeper_info.main, dict(hosts="zk1:2182"))
    assert result["ensemble"]["quorum"] is True
    assert result["ensemble"]["standalone"] == ["zk1:2182"]


def test_ruok_and_mntr(run_module, net):
    net.member("zk1", srvr=SRVR % "leader", ruok="imok", mntr="zk_version\t3.8.0\nzk_server_state\tleader\n"
               "zk_synced_followers\t2\n")
    net.member("zk2", srvr=SRVR % "follower")  # ruok and mntr not whitelisted
    result, failed = run_module(zookeeper_info.main, dict(hosts="zk://zk1,zk2/mesos", ruok=True, mntr=True))
    assert not failed
    zk1, zk2 = result["members"]
    assert zk1["ruok"] is True and zk1["mntr"]["zk_synced_followers"] == 2
    assert zk1["error"] is None
    assert zk2["ruok"] is None and zk2["mntr"] is None
    assert "4lw.commands.whitelist" in zk2["error"]
    assert zk2["serving"]
    assert sorted(c for a, c in net.commands if a == ("zk1", 2181)) == ["mntr", "ruok", "srvr"]


def test_unreachable_member_is_asked_once(run_module, net):
    net.member("zk1", connect=ConnectionRefusedError(111, "Connection refused"))
    run_module(zookeeper_info.main, dict(hosts="zk1", ruok=True, mntr=True))
    assert len(net.connects) == 1


@pytest.mark.parametrize(("args", "message"), [
    (dict(hosts="zk1:notaport"), "Cannot read the hosts option: the port of ZooKeeper member 'zk1:notaport'"),
    (dict(hosts=""), "no ZooKeeper member"),
    (dict(hosts={"zk1": 2181}), "must be a string or a list"),
    (dict(hosts="zk1", timeout=0), "timeout must be a positive number"),
])
def test_bad_input_fails_with_a_sentence(run_module, net, args, message):
    result, failed = run_module(zookeeper_info.main, args)
    assert failed
    assert message in result["msg"]
    assert net.connects == []
