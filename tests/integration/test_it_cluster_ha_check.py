"""cluster_ha_check against the stand-ins: healthy, a master down, a wrong --quorum, and a
killed leader replaced while the check waits.

Tests that break the session cluster put it back and wait for the check to pass again, so the
other integration tests find it whole.
"""

import socket
import threading
import time

import pytest
from integration_helpers import start_mesos_master


def ha_args(endpoints, **extra):
    args = dict(mesos_endpoints=endpoints["mesos"], marathon_endpoints=endpoints["marathon"],
                chronos_endpoints=endpoints["chronos"], zookeeper_hosts=endpoints["zookeeper"],
                expected_agents=2, request_retries=0, request_timeout=3)
    args.update(extra)
    return args


def wait_healthy(ansible_module, endpoints):
    result = ansible_module("cluster_ha_check", ha_args(endpoints, wait_timeout=120, poll_interval=1))
    assert not result.get("failed"), result.get("msg")
    return result


def test_healthy_cluster_passes(standin_cluster, endpoints, ansible_module):
    result = wait_healthy(ansible_module, endpoints)
    assert result["ok"] is True and result["changed"] is False
    assert len(result["checks"]) == 13 and all(c["ok"] for c in result["checks"])
    leading = standin_cluster.leading_master(timeout=5)
    assert result["mesos_leader"] == "127.0.0.1:%d" % leading.port
    assert result["zookeeper"]["quorum"] is True
    # read-only: the same in check mode
    check = ansible_module("cluster_ha_check", ha_args(endpoints), check=True)
    assert check["ok"] is True


def test_master_down_is_named(standin_cluster, endpoints, ansible_module):
    leading = standin_cluster.leading_master(timeout=10)
    victim = next(p for p in standin_cluster.masters if p is not leading)
    victim.kill()
    try:
        result = ansible_module("cluster_ha_check", ha_args(endpoints))
        assert result["failed"] is True and "mesos_master_count" in result["failed_checks"]
        assert result["msg"].startswith("The cluster is not highly available: ")
        assert ("mesos_master_count failed (observed 2 of 3 masters answering (not answering: %s)"
                % victim.url("").rstrip("/")) in result["msg"]
    finally:
        victim.start()
    wait_healthy(ansible_module, endpoints)


def test_wrong_quorum_flag_is_named(standin_cluster, endpoints, ansible_module, tmp_path):
    zk_url = standin_cluster.zk.url("/mesos-itest-badquorum")
    masters = [start_mesos_master(zk_url, tmp_path / ("m%d" % i) / "work", quorum=1, name="badq%d" % i)
               for i in range(3)]
    try:
        for proc in masters:
            proc.wait_http("/master/health", timeout=30)
        args = dict(mesos_endpoints=[p.url("").rstrip("/") for p in masters], zookeeper_hosts=endpoints["zookeeper"],
                    expected_agents=0, request_retries=0)
        result = ansible_module("cluster_ha_check", args)
        assert result["failed"] is True
        assert "mesos_quorum_flag" in result["failed_checks"]
        assert "mesos_quorum_flag failed (observed quorum 1 on http://127.0.0.1:" in result["msg"]
        assert "expected the same quorum on every master, a strict majority of 3 (2 or 3))" in result["msg"]
    finally:
        for proc in masters:
            proc.kill()


def restart_after_first_probe(proc, ready):
    """Hold the killed master's port until the waiting check has probed it once (so that check
    has seen the master gone), then start the master again, as systemd would.

    Agents and frameworks may knock on the port too; only the module's probe (the collection's
    user agent asking for /metrics/snapshot) counts. Every connection is dropped unanswered.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", proc.port))
    listener.listen(16)
    listener.settimeout(5)
    ready.set()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                conn, _addr = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    head = conn.recv(4096)
                except OSError:
                    head = b""
            if head.startswith(b"GET /metrics/snapshot") and b"ansible-mesosphere.cluster" in head:
                break
    finally:
        listener.close()
    proc.start()


def test_killed_leader_replaced_within_wait_timeout(standin_cluster, endpoints, ansible_module):
    wait_healthy(ansible_module, endpoints)
    leading = standin_cluster.leading_master(timeout=10)
    old = "127.0.0.1:%d" % leading.port
    leading.kill()
    restarter = None
    try:
        failing = ansible_module("cluster_ha_check", ha_args(endpoints))
        assert failing["failed"] is True and "mesos_master_count" in failing["failed_checks"]

        ready = threading.Event()
        restarter = threading.Thread(target=restart_after_first_probe, args=(leading, ready))
        restarter.start()
        assert ready.wait(10)
        started = time.monotonic()
        result = ansible_module("cluster_ha_check", ha_args(endpoints, wait_timeout=120, poll_interval=1))
        assert not result.get("failed"), result.get("msg")
        assert result["attempts"] >= 2, result
        assert result["mesos_leader"] != old
        assert time.monotonic() - started < 120
    finally:
        if restarter is not None:
            restarter.join()
        if not leading.alive():
            leading.start()
    wait_healthy(ansible_module, endpoints)


@pytest.mark.parametrize("bad", ["127.0.0.1:notaport", ""])
def test_bad_zookeeper_hosts_is_a_sentence(endpoints, ansible_module, bad):
    result = ansible_module("cluster_ha_check", ha_args(endpoints, zookeeper_hosts=bad or ","))
    assert result["failed"] is True and result["msg"].startswith("Could not read zookeeper_hosts: ")
