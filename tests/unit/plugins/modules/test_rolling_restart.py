"""rolling_restart against fake members: scripted HTTP (fake_http) and scripted ZooKeeper srvr answers.

Waiting is simulated by fake_http (sleeping advances a fake clock), so timeouts end at once.
"""

from __future__ import annotations

import urllib.error

import pytest
from ansible.module_utils import basic

from ansible_collections.mesosphere.cluster.plugins.module_utils import _zookeeper
from ansible_collections.mesosphere.cluster.plugins.modules import rolling_restart

SRVR = "Zookeeper version: 3.8.0-abc, built on 2024-12-29 17:54 UTC\nZxid: 0x100000004\nMode: %s\nNode count: 7\n"
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"

ZK_MEMBERS = [dict(name="zk%d" % i, endpoint="10.0.0.%d:2181" % i) for i in (1, 2, 3)]
MASTERS = [dict(name="master%d" % i, endpoint="http://10.0.0.%d:5050" % i) for i in (1, 2, 3)]
MARATHONS = [dict(name="master%d" % i, endpoint="http://10.0.0.%d:8080" % i, leader_id="master%d:8080" % i)
             for i in (1, 2, 3)]
CHRONOS = [dict(name="master%d" % i, endpoint="http://10.0.0.%d:4400" % i) for i in (1, 2, 3)]


def refused():
    return urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


class FakeSocket:
    def __init__(self, text):
        self.text = text.encode()

    def sendall(self, data):
        pass

    def settimeout(self, t):
        pass

    def recv(self, n):
        data, self.text = self.text, b""
        return data

    def close(self):
        pass


@pytest.fixture
def zk(monkeypatch):
    """zk.modes[host] = 'leader' | 'follower' | 'standalone' | 'electing' | 'down'; or a list, one per poll."""

    class Zk:
        modes = {"10.0.0.1": "follower", "10.0.0.2": "leader", "10.0.0.3": "follower"}
        asked = []

    def open_(address, timeout):
        host = address[0]
        Zk.asked.append(host)
        mode = Zk.modes[host]
        if isinstance(mode, list):
            mode = mode.pop(0) if len(mode) > 1 else mode[0]
        if mode == "down":
            raise ConnectionRefusedError(111, "Connection refused")
        return FakeSocket(NOT_SERVING if mode == "electing" else SRVR % mode)

    monkeypatch.setattr(_zookeeper, "_open", open_)
    return Zk


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: seen.append(msg))
    return seen


def run(run_module, service, members, **args):
    return run_module(rolling_restart.main, dict(service=service, members=members, **args))


def by_name(result):
    return dict((m["name"], m) for m in result["members"])


# -- ZooKeeper ---------------------------------------------------------------------------------


def test_zookeeper_plan_puts_the_leader_last(run_module, fake_http, zk):
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, restart=["zk2", "zk3", "zk1"])
    assert not failed
    assert result["changed"] is False
    assert result["order"] == ["zk3", "zk1", "zk2"]
    assert result["leader"] == "zk2"
    assert result["quorum"] == 2
    assert result["down"] == []
    assert result["refused"] is None
    assert by_name(result)["zk2"] == dict(name="zk2", serving=True, leader=True, names_leader="10.0.0.2:2181",
                                          error=None)
    assert sorted(zk.asked) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]  # one look was enough


def test_zookeeper_refuses_to_restart_a_healthy_member_with_one_down(run_module, fake_http, zk):
    zk.modes["10.0.0.3"] = "down"
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, restart=["zk1"], wait_timeout=10)
    assert failed
    msg = result["msg"]
    assert msg.startswith("Refusing to restart ZooKeeper member zk1: zk3 does not serve (zk3: connection to "
                          "10.0.0.3:2181 refused")
    assert "only 1 of 3 ZooKeeper members would serve" in msg
    assert "quorum of 2" in msg and "allow_quorum_loss" in msg
    assert result["down"] == ["zk3"]
    assert len(zk.asked) > 3  # it looked again before refusing
    assert fake_http.now[0] - 1000.0 >= 10


def test_zookeeper_allows_restarting_the_down_member_with_the_others(run_module, fake_http, zk):
    zk.modes["10.0.0.3"] = "down"
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, restart=["zk1", "zk2", "zk3"])
    assert not failed
    assert result["order"] == ["zk3", "zk1", "zk2"]
    assert result["refused"] is None


def test_allow_quorum_loss_returns_the_plan_with_a_warning(run_module, fake_http, zk, warnings):
    zk.modes["10.0.0.3"] = "down"
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, restart=["zk1"], allow_quorum_loss=True)
    assert not failed
    assert result["order"] == ["zk1"]
    assert result["refused"].startswith("Refusing to restart ZooKeeper member zk1: zk3 does not serve")
    assert len(warnings) == 1 and "zk3 does not serve" in warnings[0]
    assert len(zk.asked) == 3  # the override does not wait for the down member


def test_a_member_that_comes_back_during_the_wait_lets_the_plan_through(run_module, fake_http, zk):
    zk.modes["10.0.0.3"] = ["electing", "electing", "follower"]
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, restart=["zk1"], delay=1)
    assert not failed
    assert result["order"] == ["zk1"]
    assert fake_http.slept == [1, 1]


def test_zookeeper_waits_for_a_leader_before_planning(run_module, fake_http, zk):
    zk.modes = {"10.0.0.1": ["electing", "leader"], "10.0.0.2": ["electing", "follower"],
                "10.0.0.3": ["electing", "follower"]}
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, restart=["zk1", "zk2"])
    assert not failed
    assert result["order"] == ["zk2", "zk1"]
    assert result["leader"] == "zk1"


def test_single_standalone_member_leads(run_module, fake_http, zk):
    zk.modes = {"10.0.0.1": "standalone"}
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS[:1], restart=["zk1"])
    assert not failed
    assert result["leader"] == "zk1" and result["quorum"] == 1
    assert result["order"] == ["zk1"]


def test_zookeeper_settled_waits_for_the_restarted_member(run_module, fake_http, zk):
    zk.modes["10.0.0.1"] = ["down", "electing", "follower"]
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, state="settled", member="zk1", delay=2)
    assert not failed
    assert by_name(result)["zk1"]["serving"] is True
    assert result["waited"] == 4.0
    assert result["leader"] == "zk2"


def test_zookeeper_settled_without_a_member_waits_for_the_ensemble(run_module, fake_http, zk):
    # After a first start: no member was restarted, the members come up and elect a leader.
    zk.modes = {"10.0.0.1": ["down", "follower"], "10.0.0.2": ["electing", "leader"], "10.0.0.3": "down"}
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, state="settled", delay=2)
    assert not failed
    assert result["leader"] == "zk2" and result["waited"] == 2.0


def test_zookeeper_settled_without_a_member_times_out_below_quorum(run_module, fake_http, zk):
    zk.modes = {"10.0.0.1": "down", "10.0.0.2": "leader", "10.0.0.3": "down"}
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, state="settled", wait_timeout=4)
    assert failed
    assert result["msg"].startswith("Timed out after 4s waiting for the members to serve under one leader")
    assert "1 of 3 serve, fewer than the quorum of 2" in result["msg"]


def test_zookeeper_settled_times_out_with_what_it_saw(run_module, fake_http, zk):
    zk.modes["10.0.0.1"] = "down"
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, state="settled", member="zk1", wait_timeout=6)
    assert failed
    assert result["msg"].startswith("Timed out after 6s waiting for zk1 to serve again")
    assert "(zk1 does not serve)" in result["msg"]
    assert "zk1 does not serve (connection to 10.0.0.1:2181 refused" in result["msg"]
    assert "zk2 serves and leads" in result["msg"]
    assert "zk3 serves" in result["msg"]


# -- Mesos masters -----------------------------------------------------------------------------


def masters(fake, elected="http://10.0.0.2:5050", named=("10.0.0.2:5050",) * 3, down=(), no_leader=()):
    for i, m in enumerate(MASTERS):
        url = m["endpoint"]
        if url in down:
            fake.add("GET", url + "/metrics/snapshot", error=refused(), repeat=True)
            continue
        fake.add("GET", url + "/metrics/snapshot", body={"master/elected": 1.0 if url == elected else 0.0},
                 repeat=True)
        if url in no_leader:
            fake.add("GET", url + "/master/redirect", 503, body="No leader elected", repeat=True)
        else:
            fake.add("GET", url + "/master/redirect", 307, headers={"Location": "//" + named[i]}, repeat=True)


def test_mesos_plan(run_module, fake_http):
    masters(fake_http)
    result, failed = run(run_module, "mesos_master", MASTERS, restart=["master2", "master1", "master3"])
    assert not failed
    assert result["order"] == ["master1", "master3", "master2"]
    assert result["leader"] == "master2"
    assert by_name(result)["master1"] == dict(name="master1", serving=True, leader=False,
                                              names_leader="10.0.0.2:5050", error=None)
    assert set(c[1] for c in fake_http.calls) == set(
        m["endpoint"] + p for m in MASTERS for p in ("/metrics/snapshot", "/master/redirect"))


def test_mesos_master_without_leader_does_not_serve_and_blocks_a_restart(run_module, fake_http):
    masters(fake_http, no_leader=("http://10.0.0.3:5050",))
    result, failed = run(run_module, "mesos_master", MASTERS, restart=["master1"], wait_timeout=4)
    assert failed
    assert "master3 does not serve (master3: it knows no leader" in result["msg"]
    assert result["down"] == ["master3"]


def test_mesos_master_down_is_named_with_its_error(run_module, fake_http):
    masters(fake_http, down=("http://10.0.0.1:5050",))
    result, failed = run(run_module, "mesos_master", MASTERS, restart=["master3"], wait_timeout=0,
                         request_retries=0)
    assert failed
    assert "Refusing to restart Mesos master master3: master1 does not serve (master1: Could not reach" in result["msg"]
    assert "Connection refused" in result["msg"]


def test_mesos_settled_needs_every_master_to_name_the_same_leader(run_module, fake_http):
    masters(fake_http, named=("10.0.0.2:5050", "10.0.0.2:5050", "10.0.0.1:5050"))
    result, failed = run(run_module, "mesos_master", MASTERS, state="settled", member="master3", wait_timeout=4)
    assert failed
    assert "the serving members name different leaders" in result["msg"]
    assert "master3 serves, naming 10.0.0.1:5050 as leader" in result["msg"]


def test_mesos_settled(run_module, fake_http):
    masters(fake_http)
    result, failed = run(run_module, "mesos_master", MASTERS, state="settled", member="master3")
    assert not failed
    assert result["waited"] == 0
    assert result["leader"] == "master2"


def test_credentials_are_sent_and_not_returned(run_module, fake_http):
    masters(fake_http)
    result, failed = run(run_module, "mesos_master", MASTERS, username="ops", password="s3cr3t-pw",
                         restart=["master1"])
    assert not failed
    assert all(k["url_username"] == "ops" and k["url_password"] == "s3cr3t-pw" and k["force_basic_auth"]
               for k in fake_http.kwargs)
    assert "s3cr3t-pw" not in repr(result)


# -- Marathon and Chronos ----------------------------------------------------------------------


def test_marathon_leader_by_leader_id_and_quorum_one(run_module, fake_http):
    for m in MARATHONS:
        fake_http.add("GET", m["endpoint"] + "/v2/leader", body={"leader": "master3:8080"}, repeat=True)
    result, failed = run(run_module, "marathon", MARATHONS, restart=["master3", "master1", "master2"])
    assert not failed
    assert result["quorum"] == 1
    assert result["leader"] == "master3"
    assert result["order"] == ["master1", "master2", "master3"]


def test_marathon_with_two_down_refuses_restarting_the_last_one(run_module, fake_http):
    fake_http.add("GET", "http://10.0.0.1:8080/v2/leader", body={"leader": "master1:8080"}, repeat=True)
    fake_http.add("GET", "http://10.0.0.2:8080/v2/leader", error=refused(), repeat=True)
    fake_http.add("GET", "http://10.0.0.3:8080/v2/leader", 404, body={"message": "There is no leader"}, repeat=True)
    result, failed = run(run_module, "marathon", MARATHONS, restart=["master1"], wait_timeout=0)
    assert failed
    assert "master2 and master3 do not serve" in result["msg"]
    assert "only 0 of 3 Marathon instances" in result["msg"]
    # With one more serving, quorum 1 allows it.
    fake_http.routes[("GET", "http://10.0.0.2:8080/v2/leader")] = []
    fake_http.add("GET", "http://10.0.0.2:8080/v2/leader", body={"leader": "master1:8080"}, repeat=True)
    result, failed = run(run_module, "marathon", MARATHONS, restart=["master1"], wait_timeout=0)
    assert not failed


def test_chronos_settled_and_disagreement(run_module, fake_http):
    answers = {"http://10.0.0.1:4400": ["10.0.0.2:4400", "10.0.0.2:4400"],
               "http://10.0.0.2:4400": ["10.0.0.1:4400", "10.0.0.2:4400"],
               "http://10.0.0.3:4400": ["10.0.0.2:4400", "10.0.0.2:4400"]}
    for url, leaders in answers.items():
        for leader in leaders:
            fake_http.add("GET", url + "/leader", body={"leader": leader})
    result, failed = run(run_module, "chronos", CHRONOS, state="settled", member="master2", delay=1)
    assert not failed
    assert result["leader"] == "master2"
    assert result["waited"] == 1.0
    assert fake_http.slept == [1]


def test_marathon_leader_id_that_matches_nothing_is_warned(run_module, fake_http, warnings):
    for m in MARATHONS:
        fake_http.add("GET", m["endpoint"] + "/v2/leader", body={"leader": "elsewhere:8080"}, repeat=True)
    result, failed = run(run_module, "marathon", MARATHONS, restart=["master1"], wait_timeout=4)
    assert not failed
    assert result["leader"] is None and result["order"] == ["master1"]
    assert len(warnings) == 1 and "check members[].leader_id" in warnings[0]


# -- Arguments ---------------------------------------------------------------------------------


def test_settled_refuses_an_unknown_member(run_module, fake_http):
    result, failed = run(run_module, "mesos_master", MASTERS, state="settled", member="master9")
    assert failed and result["msg"].startswith("master9 is not in members")


def test_unknown_names_are_refused(run_module, fake_http):
    result, failed = run(run_module, "mesos_master", MASTERS, restart=["master9"])
    assert failed
    assert result["msg"].startswith("master9 is not in members")
    assert fake_http.calls == []


def test_quorum_out_of_range(run_module, fake_http):
    result, failed = run(run_module, "zookeeper", ZK_MEMBERS, quorum=4)
    assert failed and "between 1 and the 3 members" in result["msg"]


def test_check_mode_plans_the_same(run_module, fake_http, zk):
    result, failed = run_module(rolling_restart.main, dict(service="zookeeper", members=ZK_MEMBERS,
                                                           restart=["zk2", "zk1"]), check_mode=True)
    assert not failed
    assert result["order"] == ["zk1", "zk2"]
