"""The mesos inventory plugin against the stand-ins: `ansible-inventory -i cluster.mesos.yml`
groups the agents of a running cluster by attribute and by status, names the leader, survives a
master going down and says in one sentence when no master answers.

The cluster is this file's own (masters on 127.0.0.2-4 so that each is a host of its own, three
agents with rack attributes, on the session's ZooKeeper under /mesos-inventory): the tests stop
its masters.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from fixtures import MESOS_MASTER_FAST_ARGS, ZK_SESSION_TIMEOUT, find_leading_master
from harness import StandinProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = str(Path(sys.executable).with_name("ansible-inventory"))
AGENTS = {"a1.rack1.test": "rack:r1;level:1", "a2.rack1.test": "rack:r1;level:2", "b1.rack2.test": "rack:r2;level:1"}


@pytest.fixture(scope="module")
def cluster(zk_ensemble, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inventory-cluster")
    zk = zk_ensemble.url("/mesos-inventory")
    masters, agents = [], []
    try:
        for i, ip in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4")):
            port = free_port(ip)
            masters.append(StandinProcess("mesos_master", [
                f"--ip={ip}", f"--port={port}", f"--hostname={ip}", f"--zk={zk}", "--quorum=2",
                f"--work_dir={tmp / f'master{i}'}", "--cluster=inventory", *MESOS_MASTER_FAST_ARGS,
            ], host=ip, port=port, log_path=tmp / f"master{i}.log"))
        for proc in masters:
            proc.wait_http("/master/health", timeout=30)
        assert find_leading_master(masters, timeout=30), masters[0].log_tail()
        for i, (hostname, attributes) in enumerate(AGENTS.items()):
            port = free_port()
            agents.append(StandinProcess("mesos_agent", [
                "--ip=127.0.0.1", f"--port={port}", f"--hostname={hostname}", f"--master={zk}",
                f"--work_dir={tmp / f'agent{i}'}", f"--zk_session_timeout={ZK_SESSION_TIMEOUT}",
                f"--resources=cpus:2;mem:1024;disk:1000;ports:[{32000 + 100 * i}-{32000 + 100 * i + 9}]",
                f"--attributes={attributes}", "--containerizers=mesos", "--recovery_timeout=5secs",
            ], port=port, log_path=tmp / f"agent{i}.log"))
        for proc in agents:
            proc.wait_http("/health", timeout=30)
        # an agent that answers has not necessarily registered yet: the tests read what the master lists
        assert wait_registered(masters, len(AGENTS), timeout=30), masters[0].log_tail()
        yield {"masters": masters, "agents": agents, "tmp": tmp}
    finally:
        for proc in agents + masters:
            proc.kill()


def wait_registered(masters, count, timeout):
    """Whether the leading master lists `count` active agents within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader = find_leading_master(masters, timeout=5)
        try:
            with urllib.request.urlopen(leader.url("/master/slaves"), timeout=2) as resp:
                if len([a for a in json.load(resp)["slaves"] if a.get("active")]) == count:
                    return True
        except (OSError, ValueError, KeyError, AttributeError):
            pass
        time.sleep(0.2)
    return False


def inventory(cluster, *args, env=None, config=None):
    """ansible-inventory on a mesos.yml source naming every master; (rc, stdout + stderr)."""
    source = cluster["tmp"] / "cluster.mesos.yml"
    source.write_text(yaml.safe_dump(dict({
        "plugin": "mesosphere.cluster.mesos",
        "mesos_endpoints": [p.url("").rstrip("/") for p in cluster["masters"]],
        "request_retries": 0,
        "keyed_groups": [{"key": "mesos_attributes.rack", "prefix": "rack"},
                         {"key": "mesos_status", "prefix": "status"}],
    }, **(config or {}))))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    environ.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_HOME=str(cluster["tmp"] / "ansible-home"), **(env or {}))
    proc = subprocess.run([INVENTORY, "-i", str(source), *args], capture_output=True, text=True, env=environ,
                          cwd=str(cluster["tmp"]), timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return proc.returncode, proc.stdout, out


def listing(cluster):
    rc, stdout, out = inventory(cluster, "--list")
    assert rc == 0, out
    return json.loads(stdout)


def members(data, group):
    return sorted(data.get(group, {}).get("hosts", []))


def unsafe(value):
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def test_graph_groups_agents_by_rack_and_status_and_names_the_leader(cluster):
    rc, graph, out = inventory(cluster, "--graph")
    assert rc == 0, out
    assert "@rack_r1:" in graph and "@status_active:" in graph and "@mesos_leader:" in graph, graph
    data = listing(cluster)
    assert members(data, "rack_r1") == ["a1.rack1.test", "a2.rack1.test"]
    assert members(data, "rack_r2") == ["b1.rack2.test"]
    assert members(data, "status_active") == sorted(AGENTS)
    assert members(data, "slaves") == sorted(AGENTS)
    assert members(data, "masters") == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    leading = find_leading_master(cluster["masters"], timeout=10)
    assert members(data, "mesos_leader") == [leading.host]
    b1 = data["_meta"]["hostvars"]["b1.rack2.test"]
    assert unsafe(b1["mesos_leader"]) == f"{leading.host}:{leading.port}"
    assert b1["mesos_resources"]["cpus"] == 2 and b1["mesos_attributes"]["level"] == 1


def test_draining_agent_gets_its_status_group(cluster):
    leading = find_leading_master(cluster["masters"], timeout=10)
    schedule = {"windows": [{"machine_ids": [{"hostname": "a2.rack1.test", "ip": "127.0.0.1"}],
                             "unavailability": {"start": {"nanoseconds": int((time.time() + 3600) * 1e9)}}}]}
    request = urllib.request.Request(leading.url("/master/maintenance/schedule"), method="POST",
                                     data=json.dumps(schedule).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    data = listing(cluster)
    assert members(data, "status_draining") == ["a2.rack1.test"]
    assert members(data, "status_active") == ["a1.rack1.test", "b1.rack2.test"]


def test_a_master_down_still_gives_the_inventory_with_the_new_leader(cluster):
    old = find_leading_master(cluster["masters"], timeout=10)
    old.kill()
    deadline = time.monotonic() + 60
    while True:
        rc, stdout, out = inventory(cluster, "--list")
        data = json.loads(stdout) if rc == 0 and stdout.strip() else {}
        leader = members(data, "mesos_leader")
        if leader and leader != [old.host] and members(data, "slaves") == sorted(AGENTS):
            break
        assert time.monotonic() < deadline, f"no new leader in the inventory after 60s:\n{out}"
        time.sleep(2)
    new = find_leading_master(cluster["masters"], timeout=10)
    assert leader == [new.host] and new is not old
    assert unsafe(data["_meta"]["hostvars"][old.host]["mesos_master_status"]) == "unreachable"
    assert members(data, "rack_r1") == ["a1.rack1.test", "a2.rack1.test"]


def test_all_masters_down_is_one_sentence_not_a_traceback(cluster):
    for proc in cluster["masters"]:
        proc.kill()
    rc, _stdout, out = inventory(cluster, "--graph", env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert rc != 0
    assert "Could not read the Mesos cluster for the inventory: No Mesos master answered" in out, out
