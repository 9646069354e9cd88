import urllib.error

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _zookeeper
from ansible_collections.mesosphere.cluster.plugins.modules import cluster_ha_check, mesos_info

MASTERS = ["http://m1:5050", "http://m2:5050", "http://m3:5050"]
MARATHONS = ["http://m1:8080", "http://m2:8080"]
CHRONOS = ["http://m1:4400", "http://m2:4400"]
ZK = "z1:2181,z2:2181,z3:2181"


def refused():
    return urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


def state(frameworks=("marathon", "chronos"), agents_active=(True, True)):
    return {
        "version": "1.11.0", "leader": "master@10.0.0.2:5050",
        "leader_info": {"hostname": "m2", "port": 5050, "id": "x"},
        "slaves": [{"id": "S%d" % i, "hostname": "a%d" % i, "active": a, "resources": {"cpus": 2},
                    "attributes": {}} for i, a in enumerate(agents_active)],
        "frameworks": [{"id": "F-" + n, "name": n, "active": True, "tasks": []} for n in frameworks],
    }


def cluster(fake, down=(), quorum="2", leader="m2:5050", elected="http://m2:5050", ensemble=3,
            frameworks=("marathon", "chronos"), marathon_down=(), chronos_leaders=None):
    for m in MASTERS:
        if m in down:
            for path in ("/metrics/snapshot", "/master/redirect"):
                fake.add("GET", m + path, error=refused(), repeat=True)
            continue
        fake.add("GET", m + "/metrics/snapshot", body={
            "master/elected": 1.0 if m == elected else 0.0, "master/uptime_secs": 10.0,
            "registrar/log/recovered": 1.0, "registrar/log/ensemble_size": float(ensemble)}, repeat=True)
        fake.add("GET", m + "/master/redirect", 307, headers={"Location": "//" + leader}, repeat=True)
        fake.add("GET", m + "/version", body={"version": "1.11.0"}, repeat=True)
        fake.add("GET", m + "/master/flags", body={"flags": {
            "quorum": quorum, "zk": "zk://z1:2181/mesos", "work_dir": "/var/lib/mesos", "hostname": m[7:9],
            "port": "5050"}}, repeat=True)
    lead = "http://" + leader
    fake.add("GET", lead + "/master/state", body=state(frameworks), repeat=True)
    fake.add("GET", lead + "/master/maintenance/schedule", body={}, repeat=True)
    fake.add("GET", lead + "/master/maintenance/status", body={}, repeat=True)
    for mt in MARATHONS:
        if mt in marathon_down:
            fake.add("GET", mt + "/v2/leader", error=refused(), repeat=True)
        else:
            fake.add("GET", mt + "/v2/leader", body={"leader": "m1:8080"}, repeat=True)
    for i, c in enumerate(CHRONOS):
        name = (chronos_leaders or ["m2:4400"] * len(CHRONOS))[i]
        fake.add("GET", c + "/leader", body={"leader": name}, repeat=True)


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
    modes = {"z1": "leader", "z2": "follower", "z3": "follower"}

    def open_(address, timeout):
        mode = modes[address[0]]
        if mode is None:
            raise ConnectionRefusedError(111, "refused")
        return FakeSocket("Zookeeper version: 3.8.0-x, built on y\nLatency min/avg/max: 0/0.1/1\nReceived: 1\n"
                          "Sent: 1\nConnections: 1\nOutstanding: 0\nZxid: 0x100000003\nMode: %s\n"
                          "Node count: 9\n" % mode)

    monkeypatch.setattr(_zookeeper, "_open", open_)
    return modes


def args(**extra):
    base = dict(mesos_endpoints=MASTERS, marathon_endpoints=MARATHONS, chronos_endpoints=CHRONOS,
                zookeeper_hosts=ZK, expected_agents=2, request_retries=0)
    base.update(extra)
    return base


def by_name(result):
    return dict((c["name"], c) for c in result["checks"])


def test_healthy_cluster_passes(fake_http, run_module, zk):
    cluster(fake_http)
    result, failed = run_module(cluster_ha_check.main, args())
    assert not failed, result["msg"] if failed else None
    assert result["ok"] is True and result["failed_checks"] == []
    assert [c["name"] for c in result["checks"]] == [
        "zookeeper_quorum", "mesos_master_count", "mesos_single_leader", "mesos_leader_agreement",
        "mesos_quorum_flag", "mesos_registrar_log", "mesos_agents_active",
        "marathon_reachable", "marathon_leader_agreement", "marathon_framework_active",
        "chronos_reachable", "chronos_leader_agreement", "chronos_framework_active"]
    assert result["mesos_leader"] == "m2:5050" and result["marathon_leader"] == "m1:8080"
    assert result["zookeeper"]["leader"] == "z1:2181"
    assert fake_http.writes() == []


def test_master_down_is_named(fake_http, run_module, zk):
    cluster(fake_http, down=("http://m3:5050",))
    result, failed = run_module(cluster_ha_check.main, args())
    assert failed and result["failed_checks"] == ["mesos_master_count"]
    assert result["msg"].startswith(
        "The cluster is not highly available: mesos_master_count failed (observed 2 of 3 masters answering "
        "(not answering: http://m3:5050); expected 3 masters, all answering).")
    assert result["msg"].count(".") >= 1 and "Traceback" not in result["msg"]


def test_wrong_quorum_flag_is_named(fake_http, run_module, zk):
    cluster(fake_http, quorum="1")
    result, failed = run_module(cluster_ha_check.main, args())
    assert failed and result["failed_checks"] == ["mesos_quorum_flag"]
    check = by_name(result)["mesos_quorum_flag"]
    assert check["observed"] == "quorum 1 on http://m1:5050, quorum 1 on http://m2:5050, quorum 1 on http://m3:5050"
    assert check["expected"] == "the same quorum on every master, a strict majority of 3 (2 or 3)"


def test_several_failures_in_one_sentence(fake_http, run_module, zk):
    zk["z2"] = None
    zk["z3"] = None
    cluster(fake_http, frameworks=("marathon",), marathon_down=("http://m2:8080",),
            chronos_leaders=["m1:4400", "m2:4400"], ensemble=2)
    result, failed = run_module(cluster_ha_check.main, args())
    assert failed
    assert result["failed_checks"] == ["zookeeper_quorum", "mesos_registrar_log", "marathon_reachable",
                                       "marathon_leader_agreement", "chronos_leader_agreement",
                                       "chronos_framework_active"]
    msg = result["msg"]
    assert msg.startswith("The cluster is not highly available: zookeeper_quorum failed (observed 1 of 3")
    assert "chronos_framework_active failed (observed no framework named chronos" in msg
    assert msg.endswith(").")


def test_no_leader_anywhere(fake_http, run_module, zk):
    for m in MASTERS:
        fake_http.add("GET", m + "/metrics/snapshot", body={"master/elected": 0.0}, repeat=True)
        fake_http.add("GET", m + "/master/redirect", 503, body="No leader elected", repeat=True)
        fake_http.add("GET", m + "/version", body={"version": "1.11.0"}, repeat=True)
        fake_http.add("GET", m + "/master/flags", body={"flags": {"quorum": "2"}}, repeat=True)
    result, failed = run_module(cluster_ha_check.main, dict(mesos_endpoints=MASTERS, request_retries=0))
    assert failed
    assert result["failed_checks"] == ["mesos_single_leader", "mesos_leader_agreement", "mesos_registrar_log",
                                       "mesos_agents_active"]
    assert "could not read the leader's state: No Mesos master leader is elected" in result["msg"]


def test_wait_timeout_retries_until_healthy(fake_http, run_module, zk):
    # first look: leader killed, others not yet agreed; second look: new leader elected
    for m in MASTERS[1:]:
        fake_http.add("GET", m + "/metrics/snapshot", body={"master/elected": 0.0})
        fake_http.add("GET", m + "/master/redirect", 503, body="No leader elected")
        fake_http.add("GET", m + "/version", body={"version": "1.11.0"})
        fake_http.add("GET", m + "/master/flags", body={"flags": {"quorum": "2"}})
    fake_http.add("GET", MASTERS[0] + "/metrics/snapshot", error=refused(), repeat=True)
    fake_http.add("GET", MASTERS[0] + "/master/redirect", error=refused(), repeat=True)
    for m in MASTERS[1:]:
        fake_http.add("GET", m + "/metrics/snapshot", body={
            "master/elected": 1.0 if m.endswith("m3:5050") else 0.0,
            "registrar/log/recovered": 1.0, "registrar/log/ensemble_size": 3.0}, repeat=True)
        fake_http.add("GET", m + "/master/redirect", 307, headers={"Location": "//m3:5050"}, repeat=True)
        fake_http.add("GET", m + "/version", body={"version": "1.11.0"}, repeat=True)
        fake_http.add("GET", m + "/master/flags", body={"flags": {"quorum": "2"}}, repeat=True)
    fake_http.add("GET", "http://m3:5050/master/state", body=state(), repeat=True)
    result, failed = run_module(cluster_ha_check.main, dict(
        mesos_endpoints=MASTERS[1:], expected_masters=3, request_retries=0, wait_timeout=30, poll_interval=5))
    # two masters of three answering is not "all answering" -> still fails on the count only
    assert failed and result["failed_checks"] == ["mesos_master_count"] and result["attempts"] >= 2
    assert result["mesos_leader"] == "m3:5050"


def test_wait_timeout_passes_once_replaced(fake_http, run_module, zk):
    for m in MASTERS:
        fake_http.add("GET", m + "/metrics/snapshot", body={"master/elected": 0.0})
        fake_http.add("GET", m + "/master/redirect", 503, body="No leader elected")
        fake_http.add("GET", m + "/version", body={"version": "1.11.0"})
        fake_http.add("GET", m + "/master/flags", body={"flags": {"quorum": "2"}})
    cluster(fake_http, leader="m3:5050", elected="http://m3:5050")
    result, failed = run_module(cluster_ha_check.main, args(wait_timeout=60, poll_interval=5))
    assert not failed, result.get("msg")
    assert result["attempts"] == 2 and result["mesos_leader"] == "m3:5050"
    assert fake_http.slept and all(s <= 5 for s in fake_http.slept)


def test_bad_zookeeper_hosts(fake_http, run_module):
    result, failed = run_module(cluster_ha_check.main, dict(mesos_endpoints=MASTERS, zookeeper_hosts="z1:notaport"))
    assert failed and result["msg"].startswith("Could not read zookeeper_hosts: the port of ZooKeeper member")
    assert fake_http.calls == []


def test_mesos_info_reports_down_master_as_data(fake_http, run_module):
    cluster(fake_http, down=("http://m1:5050",))
    result, failed = run_module(mesos_info.main, dict(mesos_endpoints=MASTERS, zookeeper=False, request_retries=0))
    assert not failed, result.get("msg")
    assert result["leader"] == "m2:5050" and result["masters_agree"] is True
    m1, m2, m3 = result["masters"]
    assert m1["reachable"] is False and "Connection refused" in m1["error"]
    assert m2["elected"] is True and m2["flags"]["quorum"] == "2" and m2["version"] == "1.11.0"
    assert [a["hostname"] for a in result["agents"]] == ["a0", "a1"]
    assert [f["name"] for f in result["frameworks"]] == ["marathon", "chronos"]
    assert result["maintenance"] == {"schedule": {}, "status": {}}
    assert fake_http.writes() == []


def test_mesos_info_zookeeper_without_zk_url(fake_http, run_module, monkeypatch):
    from ansible_collections.mesosphere.cluster.plugins.module_utils import _mesos
    monkeypatch.setattr(_mesos, "HAS_KAZOO", False)
    cluster(fake_http)
    result, failed = run_module(mesos_info.main, dict(mesos_endpoints=MASTERS, request_retries=0))
    assert not failed
    assert result["zookeeper"]["error"] == "the kazoo Python library is not installed on the host that runs the module"


def test_mesos_info_all_down_is_a_sentence(fake_http, run_module):
    for m in MASTERS:
        fake_http.add("GET", m + "/metrics/snapshot", error=refused(), repeat=True)
    result, failed = run_module(mesos_info.main, dict(mesos_endpoints=MASTERS, request_retries=0))
    assert failed
    assert result["msg"].startswith("Could not read the Mesos cluster from http://m1:5050, http://m2:5050, "
                                    "http://m3:5050: No Mesos master answered: Could not reach any Mesos master "
                                    "endpoint for GET /metrics/snapshot (http://m1:5050/metrics/snapshot: "
                                    "[Errno 111] Connection refused).")


def test_mesos_info_without_leader_reports_it(fake_http, run_module):
    for m in MASTERS:
        fake_http.add("GET", m + "/metrics/snapshot", body={"master/elected": 0.0}, repeat=True)
        fake_http.add("GET", m + "/master/redirect", 503, body="No leader elected", repeat=True)
        fake_http.add("GET", m + "/version", body={"version": "1.11.0"}, repeat=True)
        fake_http.add("GET", m + "/master/flags", body={"flags": {"quorum": "2"}}, repeat=True)
    result, failed = run_module(mesos_info.main, dict(mesos_endpoints=MASTERS, zookeeper=False, request_retries=0))
    assert not failed
    assert result["leader"] is None and result["masters_agree"] is False and result["agents"] == []
    assert result["errors"] == ["Could not read the leader's state: No Mesos master leader is elected: "
                                "http://m1:5050, http://m2:5050, http://m3:5050 answered that none is known."]


@pytest.mark.parametrize("self_pid,agrees", [("master@10.0.0.2:5050", True), ("master@10.0.0.3:5050", False)])
def test_leader_advertised_by_address(fake_http, run_module, self_pid, agrees):
    # the masters name the leader by its address, not by the name used in mesos_endpoints
    for m in MASTERS:
        fake_http.add("GET", m + "/metrics/snapshot", body={
            "master/elected": 1.0 if m == "http://m2:5050" else 0.0,
            "registrar/log/recovered": 1.0, "registrar/log/ensemble_size": 3.0}, repeat=True)
        fake_http.add("GET", m + "/master/redirect", 307, headers={"Location": "//10.0.0.2:5050"}, repeat=True)
        fake_http.add("GET", m + "/version", body={"version": "1.11.0"}, repeat=True)
        fake_http.add("GET", m + "/master/flags", body={"flags": {"quorum": "2"}}, repeat=True)
    fake_http.add("GET", "http://10.0.0.2:5050/master/state", body=dict(state(), pid=self_pid), repeat=True)
    result, failed = run_module(cluster_ha_check.main, dict(mesos_endpoints=MASTERS, request_retries=0,
                                                            expected_agents=2))
    assert by_name(result)["mesos_leader_agreement"]["ok"] is agrees
    assert failed is not agrees


def test_mesos_info_maintenance_only_asks_the_leader_two_things(fake_http, run_module):
    # an agent's run reads the machines in maintenance: two requests, whatever the agents
    cluster(fake_http)
    result, failed = run_module(mesos_info.main, dict(mesos_endpoints=MASTERS, sections=["maintenance"],
                                                      request_retries=0))
    assert not failed, result.get("msg")
    asked = [url for _method, url, _body in fake_http.calls]
    assert asked == ["http://m1:5050/master/redirect", "http://m2:5050/master/maintenance/schedule",
                     "http://m2:5050/master/maintenance/status"], asked
    assert result["maintenance"] == {"schedule": {}, "status": {}}
    assert (result["masters"], result["agents"], result["leader"]) == ([], [], None)


def test_mesos_info_maintenance_only_with_every_master_down_fails(fake_http, run_module):
    for m in MASTERS:
        fake_http.add("GET", m + "/master/redirect", error=refused(), repeat=True)
    result, failed = run_module(mesos_info.main, dict(mesos_endpoints=MASTERS, sections=["maintenance"],
                                                      request_retries=0))
    assert failed and "Could not reach any Mesos master endpoint" in result["msg"], result
