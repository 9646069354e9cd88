"""Marathon scheduling on the stand-in Mesos cluster: placement, ports and task environment
(ports.md, task-environment-vars.md), constraints (constraints.md), health checks
(health-checks.md), replacement of lost tasks, rolling upgrades (deployments.md) and the
events a load balancer consumes (event-bus.md)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from fixtures import start_mesos_agent
from framework_client import SSE, base_of, call, wait_for

DATA = json.loads((Path(__file__).resolve().parent.parent / "data" / "marathon_app_defaults.json").read_text())
SERVE = "env > env.txt && exec python3 -m http.server $PORT0 --bind 127.0.0.1"


def leader_of(cluster) -> str:
    for proc in cluster.marathons:
        if proc.alive():
            reply = call(base_of(proc), "GET", "/v2/leader")
            if reply.status == 200:
                return reply.json["leader"]
    raise AssertionError("no Marathon leader")


def kill_tasks_under(folder: Path) -> None:
    """Kill the task processes the stand-in agents started under ``folder`` (their sandboxes).
    Agents start tasks in sessions of their own, so killing an agent leaves them running."""
    folder = str(folder.resolve())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/cwd").startswith(folder):
                os.kill(int(pid), signal.SIGKILL)


class Pool:
    """Agents of our own with the attributes pool:<name> (so apps can be pinned to them) and
    rack:r<index>."""

    def __init__(self, cluster, tmpdir: Path, size: int = 2, machines: bool = False):
        self.cluster = cluster
        self.name = f"p{uuid.uuid4().hex[:6]}"
        self.tmpdir = tmpdir
        # below the kernel's ephemeral port range (32768+), where free_port() and clients live
        base = random.randrange(21000, 30000, 100)
        self.ranges = [(base + 50 * i, base + 50 * i + 49) for i in range(size)]
        self.agents = [
            start_mesos_agent(cluster.mesos_zk, tmpdir / f"{self.name}-{i}" / "work",
                              ports_range=f"[{lo}-{hi}]", extra_args=[f"--attributes=pool:{self.name};rack:r{i}"],
                              name=f"{self.name}-{i}",
                              # machines of their own (maintenance.md: a machine is a host name
                              # and an IP); such names do not resolve, so their tasks serve nothing
                              **({"hostname": f"{self.name}-{i}.example"} if machines else {}))
            for i, (lo, hi) in enumerate(self.ranges)
        ]
        for agent in self.agents:
            agent.wait_http("/health", timeout=30)
        self.ids = wait_for(self._registered, 30, what="pool agents registered")

    def _registered(self):
        master = self.cluster.leading_master(timeout=10)
        slaves = call(base_of(master), "GET", "/master/slaves").json["slaves"]
        mine = {s["attributes"].get("pool"): s for s in slaves}
        ids = [s["id"] for s in slaves if s["attributes"].get("pool") == self.name and s["active"]]
        return ids if len(ids) == len(self.agents) and mine else None

    def agent_id_of(self, index: int) -> str:
        state = call(f"127.0.0.1:{self.agents[index].port}", "GET", "/state").json
        return state["id"]

    def close(self):
        for agent in self.agents:
            agent.kill()
        kill_tasks_under(self.tmpdir)


@pytest.fixture(scope="module")
def cluster(standin_cluster):
    return standin_cluster


@pytest.fixture(scope="module")
def pool(cluster, tmp_path_factory):
    p = Pool(cluster, tmp_path_factory.mktemp("pool"))
    yield p
    p.close()


def app_state(leader, app_id):
    return call(leader, "GET", f"/v2/apps{app_id}").json["app"]


def settled(leader, app_id, running, healthy=None):
    app = app_state(leader, app_id)
    ok = app["tasksRunning"] == running and not app["deployments"] and \
        (healthy is None or app["tasksHealthy"] == healthy)
    return app if ok else None


def http_ok(host, port, path="/"):
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as resp:
        return resp.status, resp.read().decode()


def task_env(task) -> dict:
    status, text = http_ok(task["host"], task["ports"][0], "/env.txt")
    assert status == 200
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def delete_app(leader, app_id):
    call(leader, "DELETE", f"/v2/apps{app_id}")
    wait_for(lambda: call(leader, "GET", f"/v2/apps{app_id}").status == 404 and not [
        t for t in call(leader, "GET", "/v2/tasks").json["tasks"] if t["appId"] == app_id], 30,
        what=f"{app_id} and its tasks gone")


def web_app(app_id, pool_name, instances=2, **extra):
    return {"id": app_id, "cmd": SERVE, "instances": instances, "cpus": 0.1, "mem": 32,
            "constraints": [["pool", "CLUSTER", pool_name]],
            "healthChecks": [{"protocol": "HTTP", "path": "/env.txt", "portIndex": 0, "intervalSeconds": 1,
                              "timeoutSeconds": 2, "gracePeriodSeconds": 30, "maxConsecutiveFailures": 3}],
            **extra}


# ------------------------------------------------------------------------------------------


def test_two_instances_serve_http_and_are_replaced_when_their_agent_dies(cluster, tmp_path):
    """The issue's must-show: 2 instances really serving on their assigned ports, and
    replaced on another agent when their agent dies."""
    leader = leader_of(cluster)
    pool = Pool(cluster, tmp_path)
    app_id = f"/sched/web-{uuid.uuid4().hex[:6]}"
    try:
        reply = call(leader, "POST", "/v2/apps", web_app(app_id, pool.name))
        assert reply.status == 201, reply.text
        service_port = reply.json["portDefinitions"][0]["port"]
        app = wait_for(lambda: settled(leader, app_id, 2, 2), 60, what="2 healthy tasks")
        tasks = app["tasks"]
        assert sorted(t["slaveId"] for t in tasks) == sorted(pool.ids)  # spread over the agents
        for task in tasks:
            assert set(DATA["task_fields"]) <= set(task)
            (port,) = task["ports"]
            assert any(lo <= port <= hi for lo, hi in pool.ranges)
            assert task["servicePorts"] == [service_port]
            assert task["state"] == "TASK_RUNNING" and task["host"] == "127.0.0.1"
            (result,) = task["healthCheckResults"]
            assert result["alive"] is True and result["consecutiveFailures"] == 0
            env = task_env(task)
            assert env["PORT0"] == env["PORT"] == env["PORTS"] == str(port)
            assert env["HOST"] == "127.0.0.1"
            assert env["MARATHON_APP_ID"] == app_id
            assert env["MARATHON_APP_VERSION"] == app["version"]
            assert env["MESOS_TASK_ID"] == task["id"]
        # the agent of the first task dies (with its tasks, as a machine would)
        victim = tasks[0]
        index = [pool.agent_id_of(i) for i in range(2)].index(victim["slaveId"])
        stream = SSE(leader)
        try:
            pool.agents[index].kill()
            kill_tasks_under(tmp_path / f"{pool.name}-{index}")
            _, update = stream.wait(lambda n, d: n == "status_update_event" and d["taskId"] == victim["id"],
                                    timeout=30)
            assert update["taskStatus"] in ("TASK_UNREACHABLE", "TASK_LOST")
        finally:
            stream.close()
        survivor = pool.ids[1 - pool.ids.index(victim["slaveId"])]
        app = wait_for(lambda: (lambda a: a if a["tasksRunning"] == 2 and a["tasksHealthy"] == 2 and
                                all(t["slaveId"] == survivor for t in a["tasks"]) else None)(
            app_state(leader, app_id)), 60, what="replacement on the surviving agent")
        assert victim["id"] not in [t["id"] for t in app["tasks"]]
        assert app["lastTaskFailure"]["state"] in ("TASK_UNREACHABLE", "TASK_LOST", "TASK_FAILED")
        for task in app["tasks"]:
            assert http_ok(task["host"], task["ports"][0])[0] == 200
        delete_app(leader, app_id)
    finally:
        pool.close()


def test_constraints(cluster, pool):
    leader = leader_of(cluster)
    ids = []
    try:
        # both pool agents have hostname 127.0.0.1: hostname UNIQUE leaves room for one task
        unique = f"/sched/unique-{uuid.uuid4().hex[:6]}"
        ids.append(unique)
        call(leader, "POST", "/v2/apps", {**web_app(unique, pool.name), "healthChecks": [],
                                           "constraints": [["pool", "CLUSTER", pool.name], ["hostname", "UNIQUE"]]})
        like = f"/sched/like-{uuid.uuid4().hex[:6]}"
        ids.append(like)
        call(leader, "POST", "/v2/apps", {**web_app(like, pool.name), "healthChecks": [],
                                           "constraints": [["pool", "LIKE", pool.name[:3] + ".*"],
                                                           ["rack", "MAX_PER", "1"]]})
        wait_for(lambda: app_state(leader, unique)["tasksRunning"] == 1, 30, what="one UNIQUE task")
        wait_for(lambda: settled(leader, like, 2), 30, what="LIKE/MAX_PER tasks")
        tasks = app_state(leader, like)["tasks"]
        assert sorted(t["slaveId"] for t in tasks) == sorted(pool.ids)
        app = app_state(leader, unique)
        assert app["tasksRunning"] == 1 and app["deployments"]  # the second one cannot be placed
        unlike = f"/sched/unlike-{uuid.uuid4().hex[:6]}"
        ids.append(unlike)
        call(leader, "POST", "/v2/apps", {"id": unlike, "cmd": "sleep 600", "instances": 1, "cpus": 0.01,
                                           "mem": 8, "constraints": [["pool", "UNLIKE", pool.name]]})
        task = wait_for(lambda: settled(leader, unlike, 1), 30, what="UNLIKE task")["tasks"][0]
        assert task["slaveId"] not in pool.ids
    finally:
        for app_id in ids:
            delete_app(leader, app_id)


def test_health_checks_tcp_command_and_failing_http(cluster, pool):
    leader = leader_of(cluster)
    good = f"/sched/checks-{uuid.uuid4().hex[:6]}"
    bad = f"/sched/failing-{uuid.uuid4().hex[:6]}"
    stream = SSE(leader)
    try:
        call(leader, "POST", "/v2/apps", web_app(good, pool.name, instances=1, healthChecks=[
            {"protocol": "TCP", "intervalSeconds": 1, "timeoutSeconds": 2, "gracePeriodSeconds": 30},
            {"protocol": "COMMAND", "command": {"value": 'test -n "$PORT0"'}, "intervalSeconds": 1,
             "timeoutSeconds": 2, "gracePeriodSeconds": 30}]))
        app = wait_for(lambda: settled(leader, good, 1, 1), 40, what="TCP+COMMAND healthy")
        results = app["tasks"][0]["healthCheckResults"]
        assert len(results) == 2 and all(r["alive"] for r in results)
        call(leader, "POST", "/v2/apps", web_app(bad, pool.name, instances=1, healthChecks=[
            {"protocol": "HTTP", "path": "/missing", "intervalSeconds": 1, "timeoutSeconds": 2,
             "gracePeriodSeconds": 0, "maxConsecutiveFailures": 2}]))
        _, changed = stream.wait(lambda n, d: n == "health_status_changed_event" and d["appId"] == bad, 40)
        assert changed["alive"] is False
        _, killed = stream.wait(lambda n, d: n == "unhealthy_instance_kill_event" and d["appId"] == bad, 40)
        first = killed["taskId"]
        wait_for(lambda: [t for t in app_state(leader, bad)["tasks"] if t["id"] != first], 40,
                 what="a replacement for the unhealthy task")
    finally:
        stream.close()
        delete_app(leader, good)
        delete_app(leader, bad)


def test_rolling_upgrade_respects_the_upgrade_strategy(cluster, pool):
    leader = leader_of(cluster)
    app_id = f"/sched/roll-{uuid.uuid4().hex[:6]}"
    try:
        call(leader, "POST", "/v2/apps", web_app(app_id, pool.name, upgradeStrategy={
            "minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}))
        old = {t["id"] for t in wait_for(lambda: settled(leader, app_id, 2, 2), 60, what="v1")["tasks"]}
        stream = SSE(leader)
        try:
            reply = call(leader, "PUT", f"/v2/apps{app_id}", {"cmd": SERVE + " --directory ."})
            assert reply.status == 200
            dep_id = reply.json["deploymentId"]
            _, info = stream.wait(lambda n, d: n == "deployment_info" and d["plan"]["id"] == dep_id, 10)
            assert info["plan"]["steps"][0]["actions"][0]["action"] == "RestartApplication"
            lowest = 2
            for name, data in stream.events():
                app = app_state(leader, app_id)
                lowest = min(lowest, app["tasksHealthy"])
                # maximumOverCapacity 0: never more than 2 tasks
                assert len(app["tasks"]) <= 2
                if name == "deployment_success" and data["id"] == dep_id:
                    break
            assert lowest >= 1  # minimumHealthCapacity 0.5 of 2
        finally:
            stream.close()
        app = wait_for(lambda: settled(leader, app_id, 2, 2), 30, what="v2")
        assert not old & {t["id"] for t in app["tasks"]}
        assert {t["version"] for t in app["tasks"]} == {app["version"]}
    finally:
        delete_app(leader, app_id)


def test_scaling_up_and_down(cluster, pool):
    leader = leader_of(cluster)
    app_id = f"/sched/scale-{uuid.uuid4().hex[:6]}"
    try:
        call(leader, "POST", "/v2/apps", {**web_app(app_id, pool.name, instances=1), "healthChecks": []})
        wait_for(lambda: settled(leader, app_id, 1), 30, what="1 task")
        call(leader, "PUT", f"/v2/apps{app_id}", {"instances": 3})
        wait_for(lambda: settled(leader, app_id, 3), 30, what="3 tasks")
        ports = [t["ports"][0] for t in app_state(leader, app_id)["tasks"]]
        assert len(set(ports)) == 3
        call(leader, "PUT", f"/v2/apps{app_id}", {"instances": 1})
        wait_for(lambda: settled(leader, app_id, 1) and len(app_state(leader, app_id)["tasks"]) == 1, 30,
                 what="scaled down to 1")
    finally:
        delete_app(leader, app_id)


def test_kill_tasks_with_and_without_scale(cluster, pool):
    leader = leader_of(cluster)
    app_id = f"/sched/kill-{uuid.uuid4().hex[:6]}"
    try:
        call(leader, "POST", "/v2/apps", {**web_app(app_id, pool.name, instances=2), "healthChecks": []})
        tasks = wait_for(lambda: settled(leader, app_id, 2), 30, what="2 tasks")["tasks"]
        # without scale: killed and replaced
        reply = call(leader, "DELETE", f"/v2/apps{app_id}/tasks/{tasks[0]['id']}")
        assert reply.status == 200 and reply.json["task"]["id"] == tasks[0]["id"]
        wait_for(lambda: (lambda a: a["tasksRunning"] == 2 and tasks[0]["id"] not in
                          [t["id"] for t in a["tasks"]])(app_state(leader, app_id)), 30, what="a replacement")
        # with scale: a deployment lowers the instance count
        victim = app_state(leader, app_id)["tasks"][0]["id"]
        reply = call(leader, "POST", "/v2/tasks/delete?scale=true", {"ids": [victim]})
        assert reply.status == 200 and set(reply.json) == {"version", "deploymentId"}
        app = wait_for(lambda: settled(leader, app_id, 1), 30, what="scaled to 1")
        assert app["instances"] == 1 and victim not in [t["id"] for t in app["tasks"]]
    finally:
        delete_app(leader, app_id)


def test_container_port_mappings(cluster, pool):
    """Marathon 1.5+ networking: service and host ports from container.portMappings."""
    leader = leader_of(cluster)
    app_id = f"/sched/bridge-{uuid.uuid4().hex[:6]}"
    try:
        reply = call(leader, "POST", "/v2/apps", {
            "id": app_id, "cmd": SERVE, "instances": 1, "cpus": 0.1, "mem": 32,
            "constraints": [["pool", "CLUSTER", pool.name]],
            "container": {"type": "MESOS", "portMappings": [{"containerPort": 0, "name": "web", "labels": {}}]},
            "networks": [{"mode": "container/bridge"}]})
        assert reply.status == 201, reply.text
        (mapping,) = reply.json["container"]["portMappings"]
        assert 10000 <= mapping["servicePort"] <= 20000 and mapping["hostPort"] == 0
        assert reply.json["portDefinitions"] == []
        task = wait_for(lambda: settled(leader, app_id, 1), 30, what="the task")["tasks"][0]
        assert task["servicePorts"] == [mapping["servicePort"]]
        env = task_env(task)
        assert env["PORT0"] == env["PORT_WEB"] == str(task["ports"][0])
        assert any(lo <= task["ports"][0] <= hi for lo, hi in pool.ranges)
    finally:
        delete_app(leader, app_id)


def test_agents_in_a_maintenance_window_get_no_new_tasks(cluster, tmp_path):
    """maintenance-mode.md: Marathon declines the offers of an agent whose maintenance window has
    begun (the master puts the window on its offers, maintenance.md), so a restarted app moves."""
    leader = leader_of(cluster)
    master = base_of(cluster.leading_master(timeout=10))
    app_id = f"/sched/maint-{uuid.uuid4().hex[:6]}"
    machines = Pool(cluster, tmp_path, machines=True)
    try:
        call(leader, "POST", "/v2/apps", {**web_app(app_id, machines.name, instances=1), "cmd": "sleep 600",
                                          "healthChecks": []})
        task = wait_for(lambda: settled(leader, app_id, 1), 30, what="1 task")["tasks"][0]
        agent = next(s for s in call(master, "GET", "/master/slaves").json["slaves"] if s["id"] == task["slaveId"])
        machine = {"hostname": agent["hostname"], "ip": agent["pid"].split("@", 1)[1].rsplit(":", 1)[0]}
        reply = call(master, "POST", "/master/maintenance/schedule", {"windows": [{
            "machine_ids": [machine], "unavailability": {"start": {"nanoseconds": int(time.time() * 1e9)},
                                                         "duration": {"nanoseconds": 3600 * 10**9}}}]})
        assert reply.status == 200
        previous = task["id"]
        for _ in range(2):  # twice: the second restart may not go back either
            call(leader, "POST", f"/v2/apps{app_id}/restart", {})
            app = wait_for(lambda: (lambda a: a if a["tasksRunning"] == 1 and not a["deployments"] and  # noqa: B023
                                    a["tasks"][0]["id"] != previous else None)(app_state(leader, app_id)),  # noqa: B023
                           30, what="the restarted task")
            assert app["tasks"][0]["slaveId"] != agent["id"], "a task started on an agent under maintenance"
            previous = app["tasks"][0]["id"]
    finally:
        call(master, "POST", "/master/maintenance/schedule", {"windows": []})
        delete_app(leader, app_id)
        machines.close()
