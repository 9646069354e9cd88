"""HTTP contract of the mesos-master and mesos-agent stand-ins against the
reference: mesos/docs/endpoints/master/*.md, endpoints/slave/*.md,
endpoints/metrics/snapshot.md, endpoints/version.md, monitoring.md and the
notes 1-5 of the reference README (307/503, /master/redirect, /master/health,
znodes). One private cluster per module: 3 masters (quorum 2), 2 agents."""

import json
from pathlib import Path

import pytest
from conftest import MesosFactory

from mesosphere_standins._common import http_request, wait_until

LEADER_ONLY = [
    "/master/state",
    "/master/state.json",
    "/state",
    "/state.json",
    "/master/state-summary",
    "/master/slaves",
    "/master/frameworks",
    "/master/tasks",
    "/master/roles",
    "/master/maintenance/schedule",
    "/master/maintenance/status",
]


def get(proc, path, **kw):
    return http_request("GET", proc.url(path), **kw)


def post(proc, path, body=None, **kw):
    return http_request("POST", proc.url(path), body, **kw)


@pytest.fixture(scope="module")
def mesos(zk_ensemble, tmp_path_factory):
    factory = MesosFactory(zk_ensemble, Path(tmp_path_factory.mktemp("mesos-endpoints")))
    try:
        masters = [factory.master(quorum=2, wait=False) for _ in range(3)]
        for proc in masters:
            proc.wait_http("/master/health")
        agents = [factory.agent(ports="[31100-31199]", extra_args=["--attributes=rack:r1;level:2"]),
                  factory.agent(ports="[31200-31299]")]
        leader = wait_until(lambda: _leader(masters), 30)
        assert leader, masters[0].log_tail()
        assert wait_until(lambda: len(get(leader, "/master/slaves").json()["slaves"]) == 2, 30)
        factory.masters, factory.agents = masters, agents
        yield factory
    finally:
        factory.close()


def _leader(masters):
    for proc in masters:
        try:
            if get(proc, "/metrics/snapshot").json()["master/elected"] == 1.0 and \
                    get(proc, "/master/state").status == 200:
                return proc
        except OSError:
            pass
    return None


def leader_and_standbys(mesos):
    leader = _leader(mesos.masters)
    return leader, [m for m in mesos.masters if m is not leader]


# -- ZooKeeper layout (reference NOTES.md, README note 5) ---------------------------------


def test_znodes_layout(mesos, zk_ensemble):
    leader, _ = leader_and_standbys(mesos)
    zk = zk_ensemble.client()
    try:
        children = zk.get_children(mesos.path)
        infos = sorted(c for c in children if c.startswith("json.info_"))
        assert len(infos) == 3
        assert all(len(c) == len("json.info_") + 10 and c[10:].isdigit() for c in infos)
        data, stat = zk.get(f"{mesos.path}/{infos[0]}")
        assert stat.ephemeralOwner != 0
        info = json.loads(data)
        assert info["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": leader.port}
        assert info["pid"] == f"master@127.0.0.1:{leader.port}"
        assert info["ip"] == 16777343 and info["port"] == leader.port and info["version"] == "1.11.0"
        assert len(zk.get_children(f"{mesos.path}/log_replicas")) == 3
    finally:
        zk.stop()


# -- health, redirect, 307/503 ------------------------------------------------------------


def test_health_on_every_master_and_agent(mesos):
    for proc in mesos.masters:
        for path in ("/master/health", "/health"):
            result = get(proc, path)
            assert (result.status, result.body) == (200, b"")
    for proc in mesos.agents:
        for path in ("/health", "/slave(1)/health"):
            assert get(proc, path).status == 200


def test_redirect_is_307_everywhere(mesos):
    leader, _ = leader_and_standbys(mesos)
    for proc in mesos.masters:
        result = get(proc, "/master/redirect")
        assert result.status == 307
        assert result.headers["location"] == f"//127.0.0.1:{leader.port}"  # protocol-relative, no path
        assert get(proc, "/redirect").status == 307
        assert get(proc, "/master/redirect/anything").status == 404


@pytest.mark.parametrize("path", LEADER_ONLY)
def test_standbys_redirect_leader_only_endpoints(mesos, path):
    leader, standbys = leader_and_standbys(mesos)
    for proc in standbys:
        result = get(proc, path + "?x=1")
        assert result.status == 307, (path, result.status)
        assert result.headers["location"] == f"//127.0.0.1:{leader.port}{path}?x=1"
    assert get(leader, path).status == 200


def test_standbys_redirect_writes_and_scheduler_api(mesos):
    leader, standbys = leader_and_standbys(mesos)
    for path in ("/master/machine/down", "/master/machine/up", "/master/maintenance/schedule",
                 "/api/v1/scheduler", "/master/teardown"):
        result = post(standbys[0], path, {})
        assert result.status == 307, path
        assert result.headers["location"].endswith(path)


def test_metrics_snapshot(mesos):
    leader, standbys = leader_and_standbys(mesos)
    wanted = ["master/elected", "master/uptime_secs", "master/slaves_active", "master/slaves_inactive",
              "master/slaves_connected", "master/slaves_disconnected", "master/slaves_unreachable",
              "master/frameworks_active", "master/frameworks_connected", "master/tasks_running",
              "master/tasks_staging", "master/tasks_lost", "master/cpus_total", "master/mem_total",
              "registrar/log/recovered", "registrar/log/ensemble_size", "system/cpus_total", "system/load_1min"]
    snap = get(leader, "/metrics/snapshot").json()
    for key in wanted:
        assert isinstance(snap[key], float), key
    assert snap["master/elected"] == 1.0 and snap["registrar/log/recovered"] == 1.0
    assert snap["registrar/log/ensemble_size"] == 3.0
    assert snap["master/slaves_active"] == 2.0
    assert snap["master/cpus_total"] == 8.0  # 2 agents x cpus:4
    for proc in standbys:  # served locally, never redirected
        result = get(proc, "/metrics/snapshot")
        assert result.status == 200 and result.json()["master/elected"] == 0.0


def test_version_and_flags(mesos):
    for proc in mesos.masters:
        version = get(proc, "/version").json()
        assert version["version"] == "1.11.0"
        assert {"build_time", "build_date", "build_user"} <= set(version)
        flags = get(proc, "/master/flags").json()["flags"]
        assert flags["quorum"] == "2" and flags["zk"].startswith("zk://")
        assert all(isinstance(v, str) for v in flags.values())
        assert get(proc, "/flags").json() == {"flags": flags}


def test_state(mesos):
    leader, standbys = leader_and_standbys(mesos)
    state = get(leader, "/master/state").json()
    for key in ("version", "build_date", "build_time", "build_user", "start_time", "id", "pid", "hostname",
                "capabilities", "activated_slaves", "deactivated_slaves", "unreachable_slaves", "leader",
                "leader_info", "elected_time", "flags", "slaves", "recovered_slaves", "frameworks",
                "completed_frameworks", "orphan_tasks", "unregistered_frameworks", "cluster"):
        assert key in state, key
    assert state["leader"] == state["pid"] == f"master@127.0.0.1:{leader.port}"
    assert state["leader_info"]["port"] == leader.port and state["leader_info"]["hostname"] == "127.0.0.1"
    assert state["activated_slaves"] == 2
    assert state["orphan_tasks"] == [] and state["unregistered_frameworks"] == []
    assert get(leader, "/state.json").json()["id"] == state["id"]


def test_slaves(mesos):
    leader, _ = leader_and_standbys(mesos)
    body = get(leader, "/master/slaves").json()
    assert set(body) == {"slaves", "recovered_slaves"}
    by_port = {s["port"]: s for s in body["slaves"]}
    agent = by_port[mesos.agents[0].port]
    assert agent["pid"] == f"slave(1)@127.0.0.1:{mesos.agents[0].port}"
    assert agent["hostname"] == "127.0.0.1" and agent["active"] is True
    assert agent["resources"] == {"cpus": 4.0, "mem": 2048.0, "disk": 10000.0, "ports": "[31100-31199]"}
    assert agent["attributes"] == {"rack": "r1", "level": 2.0}
    assert "used_resources" in agent and "registered_time" in agent
    only = get(leader, f"/master/slaves?slave_id={agent['id']}").json()["slaves"]
    assert [s["id"] for s in only] == [agent["id"]]


def test_wrong_method_and_unknown_path(mesos):
    leader, _ = leader_and_standbys(mesos)
    assert http_request("DELETE", leader.url("/master/state")).status == 405
    assert get(leader, "/master/nope").status == 404


# -- framework API (team brief; scheduler-http-api.md simplified) ---------------------------


def subscribe(leader, name="contract", fid=None, **info):
    framework_info = {"name": name, "user": "root", "hostname": "127.0.0.1", "failover_timeout": 60, **info}
    if fid:
        framework_info["id"] = {"value": fid}
    result = post(leader, "/api/v1/scheduler", {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}})
    assert result.status == 200, result.text
    return result.json()


def task_info(task_id, agent_id, command, cpus=0.1, mem=16.0, ports=None):
    resources = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                 {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]
    if ports:
        resources.append({"name": "ports", "type": "RANGES",
                          "ranges": {"range": [{"begin": p, "end": p} for p in ports]}})
    return {"name": task_id, "task_id": {"value": task_id}, "agent_id": {"value": agent_id},
            "resources": resources, "command": {"value": command}}


def accept(leader, fid, *tasks):
    return post(leader, "/api/v1/scheduler", {
        "type": "ACCEPT", "framework_id": {"value": fid},
        "accept": {"operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}]}})


def task_state(leader, task_id):
    for task in get(leader, "/master/tasks").json()["tasks"]:
        if task["id"] == task_id:
            return task["state"]
    return None


def agent_ids(leader):
    return {s["port"]: s["id"] for s in get(leader, "/master/slaves").json()["slaves"]}


def test_subscribe_launch_and_task_lifecycle(mesos, tmp_path):
    leader, standbys = leader_and_standbys(mesos)
    answer = subscribe(leader, "contract-lifecycle")
    assert answer["type"] == "SUBSCRIBED"
    fid = answer["subscribed"]["framework_id"]["value"]
    assert answer["subscribed"]["heartbeat_interval_seconds"] > 0
    # re-subscribing with the id keeps the id (heartbeat)
    assert subscribe(leader, "contract-lifecycle", fid)["subscribed"]["framework_id"]["value"] == fid
    frameworks = get(leader, "/master/frameworks").json()
    fw = next(f for f in frameworks["frameworks"] if f["id"] == fid)
    assert fw["name"] == "contract-lifecycle" and fw["active"] is True and fw["user"] == "root"

    agent_id = agent_ids(leader)[mesos.agents[0].port]
    envfile = tmp_path / "env.json"
    dump = f"python3 -c 'import json,os; json.dump(dict(os.environ), open(\"{envfile}\", \"w\"))'"
    result = accept(leader, fid, task_info("envdump", agent_id, dump, ports=[31150, 31151]),
                    task_info("fails", agent_id, "exit 3"),
                    task_info("sleeper", agent_id, "sleep 300"))
    assert result.status == 202, result.text
    assert wait_until(lambda: task_state(leader, "envdump") == "TASK_FINISHED", 20)
    assert wait_until(lambda: task_state(leader, "fails") == "TASK_FAILED", 20)
    assert wait_until(lambda: task_state(leader, "sleeper") == "TASK_RUNNING", 20)
    env = json.loads(envfile.read_text())
    assert env["MESOS_TASK_ID"] == "envdump"
    assert env["PORT0"] == "31150" and env["PORT1"] == "31151" and env["PORT"] == "31150"
    assert env["HOST"] == "127.0.0.1"
    assert env["MESOS_FRAMEWORK_ID"] == fid
    assert Path(env["MESOS_SANDBOX"]).is_dir() and str(Path(env["MESOS_SANDBOX"])).startswith(str(mesos.tmpdir))
    assert "MESOS_MASTER" not in env  # the agent's own configuration does not leak

    task = next(t for t in get(leader, "/master/tasks").json()["tasks"] if t["id"] == "sleeper")
    assert task["slave_id"] == agent_id and task["framework_id"] == fid
    assert [s["state"] for s in task["statuses"]][:1] == ["TASK_STAGING"]
    assert task["resources"]["cpus"] == 0.1
    state = get(leader, "/master/state").json()
    fw = next(f for f in state["frameworks"] if f["id"] == fid)
    assert "sleeper" in {t["id"] for t in fw["tasks"]}
    # the agent's view
    agent_state = get(mesos.agents[0], "/state").json()
    fw_on_agent = next(f for f in agent_state["frameworks"] if f["id"] == fid)
    assert any(t["id"] == "sleeper" and t["state"] == "TASK_RUNNING"
               for e in fw_on_agent["executors"] for t in e["tasks"])
    assert get(mesos.agents[0], "/metrics/snapshot").json()["slave/tasks_running"] >= 1

    # KILL
    result = post(leader, "/api/v1/scheduler", {"type": "KILL", "framework_id": {"value": fid},
                                                "kill": {"task_id": {"value": "sleeper"},
                                                         "agent_id": {"value": agent_id}}})
    assert result.status == 202
    assert wait_until(lambda: task_state(leader, "sleeper") == "TASK_KILLED", 20)

    # TEARDOWN
    accept(leader, fid, task_info("sleeper2", agent_id, "sleep 300"))
    assert wait_until(lambda: task_state(leader, "sleeper2") == "TASK_RUNNING", 20)
    assert post(leader, "/api/v1/scheduler", {"type": "TEARDOWN", "framework_id": {"value": fid}}).status == 202
    frameworks = get(leader, "/master/frameworks").json()
    assert fid not in {f["id"] for f in frameworks["frameworks"]}
    assert fid in {f["id"] for f in frameworks["completed_frameworks"]}
    assert wait_until(lambda: not any(e["tasks"] for f in get(mesos.agents[0], "/state").json()["frameworks"]
                                      if f["id"] == fid for e in f["executors"]), 20)
    # a removed framework cannot come back with its id
    result = post(leader, "/api/v1/scheduler", {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "name": "x", "user": "root", "id": {"value": fid}}}})
    assert result.status == 403


def test_launch_refusals(mesos):
    leader, _ = leader_and_standbys(mesos)
    fid = subscribe(leader, "contract-refusals")["subscribed"]["framework_id"]["value"]
    agent_id = agent_ids(leader)[mesos.agents[1].port]
    cases = [
        task_info("big", agent_id, "true", cpus=64),
        task_info("noport", agent_id, "true", ports=[40000]),
        task_info("ghost", "no-such-agent", "true"),
        {"name": "nocmd", "task_id": {"value": "nocmd"}, "agent_id": {"value": agent_id}, "resources": []},
    ]
    for ti in cases:
        result = accept(leader, fid, ti)
        assert result.status == 400, (ti["name"], result.status)
        assert result.text
    # all-or-nothing: one bad task refuses the whole call
    result = accept(leader, fid, task_info("ok", agent_id, "sleep 1"), task_info("big2", agent_id, "true", cpus=64))
    assert result.status == 400 and task_state(leader, "ok") is None
    assert accept(leader, "not-a-framework", task_info("x", agent_id, "true")).status == 403
    bad = post(leader, "/api/v1/scheduler", {"type": "FLY", "framework_id": {"value": fid}})
    assert bad.status == 400
    assert http_request("POST", leader.url("/api/v1/scheduler"), "{not json").status == 400
    nameless = post(leader, "/api/v1/scheduler", {"type": "SUBSCRIBE", "subscribe": {"framework_info": {}}})
    assert nameless.status == 400
    post(leader, "/api/v1/scheduler", {"type": "TEARDOWN", "framework_id": {"value": fid}})


def test_agent_endpoints(mesos):
    agent = mesos.agents[0]
    state = get(agent, "/state").json()
    for key in ("version", "build_time", "start_time", "id", "pid", "hostname", "resources", "attributes",
                "flags", "frameworks", "completed_frameworks", "master_hostname"):
        assert key in state, key
    assert state["id"] in agent_ids(leader_and_standbys(mesos)[0]).values()
    assert get(agent, "/state.json").json()["id"] == state["id"]
    assert get(agent, "/slave(1)/state").json()["id"] == state["id"]
    flags = get(agent, "/flags").json()["flags"]
    assert flags["master"].startswith("zk://") and flags["port"] == str(agent.port)
    snap = get(agent, "/metrics/snapshot").json()
    assert snap["slave/registered"] == 1.0 and snap["slave/cpus_total"] == 4.0
    assert get(agent, "/version").json()["version"] == "1.11.0"
    checkpoint = Path(flags["work_dir"]) / "meta" / "slaves" / "latest" / "slave.info"
    assert json.loads(checkpoint.read_text())["id"] == state["id"]


def test_agent_registers_under_the_mesos_slave_name(mesos, tmp_path):
    proc = mesos.agent(ports="[31300-31309]", env={"STANDIN_PROGRAM_NAME": "mesos-slave"})
    leader, _ = leader_and_standbys(mesos)
    try:
        assert wait_until(lambda: proc.port in agent_ids(leader), 20)
        assert "mesos-slave" in proc.log_text()
    finally:
        proc.kill()


def test_operator_api_subset(mesos):
    """operator-http-api.md: the calls the stand-in implements; standbys 307 (README note 2)."""
    leader, standbys = leader_and_standbys(mesos)
    result = post(standbys[0], "/api/v1", {"type": "GET_HEALTH"})
    assert result.status == 307 and result.headers["location"] == f"//127.0.0.1:{leader.port}/api/v1"

    def call(body):
        return post(leader, "/api/v1", body)

    assert call({"type": "GET_HEALTH"}).json() == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
    assert call({"type": "GET_VERSION"}).json()["get_version"]["version_info"]["version"] == "1.11.0"
    flags = {f["name"]: f["value"] for f in call({"type": "GET_FLAGS"}).json()["get_flags"]["flags"]}
    assert flags["quorum"] == "2"
    metrics = {x["name"]: x["value"] for x in call({"type": "GET_METRICS"}).json()["get_metrics"]["metrics"]}
    assert metrics["master/elected"] == 1.0
    info = call({"type": "GET_MASTER"}).json()["get_master"]["master_info"]
    assert info["address"]["port"] == leader.port
    machine = {"hostname": "op-api.example", "ip": "10.9.9.9"}
    schedule = {"windows": [{"machine_ids": [machine], "unavailability": {"start": {"nanoseconds": 1}}}]}
    assert call({"type": "UPDATE_MAINTENANCE_SCHEDULE",
                 "update_maintenance_schedule": {"schedule": schedule}}).status == 202
    assert call({"type": "GET_MAINTENANCE_SCHEDULE"}).json()["get_maintenance_schedule"]["schedule"] == schedule
    assert call({"type": "START_MAINTENANCE", "start_maintenance": {"machines": [machine]}}).status == 202
    status = call({"type": "GET_MAINTENANCE_STATUS"}).json()["get_maintenance_status"]["status"]
    assert status == {"down_machines": [machine]}
    assert call({"type": "START_MAINTENANCE", "start_maintenance": {"machines": [machine]}}).status == 400
    assert call({"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [machine]}}).status == 202
    assert get(leader, "/master/maintenance/schedule").json() == {}
    assert call({"type": "DRAIN_AGENT"}).status == 501
    assert call({"no": "type"}).status == 400
