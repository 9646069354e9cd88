"""Maintenance primitives of the mesos-master stand-in (maintenance.md,
endpoints/master/maintenance/*.md, endpoints/master/machine/*.md) and the
agent's behaviour when its machine goes DOWN."""

import time

import pytest

from mesosphere_standins._common import http_request, wait_until

A = {"hostname": "agent-a.example", "ip": "127.0.0.1"}
B = {"hostname": "agent-b.example", "ip": "127.0.0.1"}


def get(proc, path):
    return http_request("GET", proc.url(path))


def post(proc, path, body):
    return http_request("POST", proc.url(path), body)


def window(*machines, start_ns=None):
    start = start_ns if start_ns is not None else int(time.time() * 1e9)
    return {"machine_ids": list(machines),
            "unavailability": {"start": {"nanoseconds": start}, "duration": {"nanoseconds": 3600 * 10**9}}}


def slaves_by_host(master):
    return {s["hostname"]: s for s in get(master, "/master/slaves").json()["slaves"]}


@pytest.fixture
def cluster(mesos_factory):
    master = mesos_factory.master(quorum=1)
    assert wait_until(lambda: get(master, "/master/state").status == 200, 15)
    agent_a = mesos_factory.agent(ports="[31500-31509]", hostname=A["hostname"])
    agent_b = mesos_factory.agent(ports="[31510-31519]", hostname=B["hostname"])
    assert wait_until(lambda: len(slaves_by_host(master)) == 2, 20)
    return master, agent_a, agent_b


def subscribe_and_launch(master, agent_id, task_id):
    fid = http_request("POST", master.url("/api/v1/scheduler"), {"type": "SUBSCRIBE", "subscribe": {
        "framework_info": {"name": "maint", "user": "root", "failover_timeout": 600}}}).json()[
        "subscribed"]["framework_id"]["value"]
    return fid, launch(master, fid, agent_id, task_id)


def launch(master, fid, agent_id, task_id):
    return http_request("POST", master.url("/api/v1/scheduler"), {
        "type": "ACCEPT", "framework_id": {"value": fid}, "accept": {"operations": [{"type": "LAUNCH", "launch": {
            "task_infos": [{"name": task_id, "task_id": {"value": task_id}, "agent_id": {"value": agent_id},
                            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
                            "command": {"value": "sleep 300"}}]}}]}})


def task_state(master, task_id):
    return next((t["state"] for t in get(master, "/master/tasks").json()["tasks"] if t["id"] == task_id), None)


def test_schedule_down_up_cycle(cluster):
    master, agent_a, agent_b = cluster
    assert get(master, "/master/maintenance/schedule").json() == {}
    assert get(master, "/master/maintenance/status").json() == {}
    agent_a_id = slaves_by_host(master)[A["hostname"]]["id"]
    fid, result = subscribe_and_launch(master, agent_a_id, "on-a")
    assert result.status == 202
    assert wait_until(lambda: task_state(master, "on-a") == "TASK_RUNNING", 20)

    # down without a schedule is refused
    assert post(master, "/master/machine/down", [A]).status == 400
    # schedule: A goes DRAINING
    schedule = {"windows": [window(A)]}
    assert post(master, "/maintenance/schedule", schedule).status == 200
    assert get(master, "/master/maintenance/schedule").json() == schedule
    status = get(master, "/master/maintenance/status").json()
    assert status == {"draining_machines": [{"id": A}]}
    # a draining machine still gets tasks
    assert launch(master, fid, agent_a_id, "on-a-draining").status == 202

    # DOWN: the agent is removed, its tasks are lost, no task may go there
    assert post(master, "/master/machine/down", [A]).status == 200
    assert get(master, "/master/maintenance/status").json() == {"down_machines": [A]}
    assert wait_until(lambda: A["hostname"] not in slaves_by_host(master), 10)
    assert task_state(master, "on-a") == "TASK_LOST"
    refused = launch(master, fid, agent_a_id, "on-a-down")
    assert refused.status == 400
    assert wait_until(lambda: not get(agent_a, "/state").json()["frameworks"], 10)  # tasks killed on the agent
    time.sleep(2)
    assert A["hostname"] not in slaves_by_host(master)  # may not re-register while DOWN
    assert get(agent_a, "/metrics/snapshot").json()["slave/registered"] == 0.0
    # the schedule must keep DOWN machines
    assert post(master, "/master/maintenance/schedule", {"windows": [window(B)]}).status == 400
    assert post(master, "/master/machine/down", [A]).status == 400  # already down

    # UP: machine leaves the schedule, agent registers again (with a new id)
    assert post(master, "/master/machine/up", [A]).status == 200
    assert get(master, "/master/maintenance/schedule").json() == {}
    assert get(master, "/master/maintenance/status").json() == {}
    assert wait_until(lambda: A["hostname"] in slaves_by_host(master), 15)
    new_id = slaves_by_host(master)[A["hostname"]]["id"]
    assert new_id != agent_a_id
    assert launch(master, fid, new_id, "on-a-again").status == 202
    assert wait_until(lambda: task_state(master, "on-a-again") == "TASK_RUNNING", 20)
    assert post(master, "/master/machine/up", [A]).status == 400  # not down any more


@pytest.mark.parametrize("body", [
    {"windows": [{"machine_ids": [], "unavailability": {"start": {"nanoseconds": 0}}}]},
    {"windows": [{"machine_ids": [A]}]},
    {"windows": [window(A), window(A)]},
    {"windows": [window({"hostname": "", "ip": ""})]},
    {"windows": [window({"ip": "not-an-ip"})]},
    ["not", "an", "object"],
])
def test_invalid_schedules(cluster, body):
    master = cluster[0]
    assert post(master, "/master/maintenance/schedule", body).status == 400
    assert get(master, "/master/maintenance/schedule").json() == {}


def test_invalid_machine_lists(cluster):
    master = cluster[0]
    assert post(master, "/master/maintenance/schedule", {"windows": [window(A)]}).status == 200
    for body in ([], [A, A], [{}], {"hostname": "x"}):
        assert post(master, "/master/machine/down", body).status == 400
    assert http_request("POST", master.url("/master/machine/down"), "{broken").status == 400
    assert post(master, "/master/machine/up", [B]).status == 400
    # an empty schedule cancels maintenance
    assert post(master, "/master/maintenance/schedule", {}).status == 200
    assert get(master, "/master/maintenance/status").json() == {}


def test_schedule_survives_failover(mesos_factory):
    masters = [mesos_factory.master(quorum=1) for _ in range(2)]

    def leader():
        return next((m for m in masters if m.alive() and get(m, "/master/state").status == 200), None)

    first = wait_until(leader, 15)
    schedule = {"windows": [window(A, start_ns=1443830400000000000)]}
    assert post(first, "/master/maintenance/schedule", schedule).status == 200
    assert post(first, "/master/machine/down", [A]).status == 200
    first.kill()
    second = wait_until(leader, 15)
    assert second and second is not first
    assert get(second, "/master/maintenance/schedule").json() == schedule
    assert get(second, "/master/maintenance/status").json() == {"down_machines": [A]}
