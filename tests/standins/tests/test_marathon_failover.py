"""Marathon high availability: leader election under <zk>/leader-curator, state under
<zk>/state (reference README note 9, high-availability.md), abdication (leader.raml,
note 8), and re-subscription after a Mesos master failover."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from fixtures import MARATHON_ZK_PATH
from framework_client import base_of, call, wait_for

SESSION_TIMEOUT = 3.0  # --zk_session_timeout=3000 in the fixtures
ELECTION_MARGIN = 4.0  # noticing the expiry, electing and loading state


@pytest.fixture(scope="module")
def cluster(standin_cluster):
    return standin_cluster


def leader_process(cluster):
    for proc in cluster.marathons:
        if proc.alive():
            reply = call(base_of(proc), "GET", "/v2/leader")
            if reply.status == 200:
                leader = reply.json["leader"]
                return next(p for p in cluster.marathons if base_of(p) == leader)
    raise AssertionError("no Marathon leader")


def other_leader(cluster, old: str):
    for proc in cluster.marathons:
        if proc.alive() and base_of(proc) != old:
            reply = call(base_of(proc), "GET", "/v2/leader", timeout=2)
            if reply.status == 200 and reply.json["leader"] != old:
                return reply.json["leader"]
    return None


def test_znodes_follow_the_marathon_layout(cluster):
    zk = cluster.zk.client()
    try:
        latches = zk.get_children(f"{MARATHON_ZK_PATH}/leader-curator")
        assert len([c for c in latches if "-latch-" in c]) == len([p for p in cluster.marathons if p.alive()])
        ids = {zk.get(f"{MARATHON_ZK_PATH}/leader-curator/{c}")[0].decode() for c in latches}
        assert ids == {base_of(p) for p in cluster.marathons if p.alive()}
        for c in latches:
            assert zk.exists(f"{MARATHON_ZK_PATH}/leader-curator/{c}").ephemeralOwner != 0
        assert zk.exists(f"{MARATHON_ZK_PATH}/state")
    finally:
        zk.stop()
        zk.close()


def test_killing_the_leader_elects_another_with_every_app(cluster):
    proc = leader_process(cluster)
    old = base_of(proc)
    apps = [f"/failover/app-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for app_id in apps:
        assert call(old, "POST", "/v2/apps", {"id": app_id, "cmd": "sleep 600", "instances": 0,
                                               "labels": {"k": app_id}}).status == 201
    running = f"/failover/run-{uuid.uuid4().hex[:6]}"
    call(old, "POST", "/v2/apps", {"id": running, "cmd": "sleep 600", "instances": 1, "cpus": 0.01, "mem": 8})
    task_ids = wait_for(lambda: [t["id"] for t in call(old, "GET", f"/v2/apps{running}").json["app"]["tasks"]
                                 if t["state"] == "TASK_RUNNING"], 30, what="a running task")
    framework_id = wait_for(lambda: call(old, "GET", "/v2/info").json["frameworkId"], 20, what="framework id")
    before = {a["id"]: a for a in call(old, "GET", "/v2/apps").json["apps"]}
    killed_at = time.monotonic()
    proc.kill()
    new = wait_for(lambda: other_leader(cluster, old), SESSION_TIMEOUT + ELECTION_MARGIN, interval=0.1,
                   what="a new leader")
    elapsed = time.monotonic() - killed_at
    assert new != old and elapsed <= SESSION_TIMEOUT + ELECTION_MARGIN
    after = {a["id"]: a for a in call(new, "GET", "/v2/apps").json["apps"]}
    assert set(before) <= set(after)
    for app_id in apps:
        assert after[app_id]["labels"] == {"k": app_id}
        assert after[app_id]["version"] == before[app_id]["version"]
    assert call(new, "GET", "/v2/info").json["frameworkId"] == framework_id
    # the running task is adopted, not relaunched
    time.sleep(2)
    tasks = call(new, "GET", f"/v2/apps{running}").json["app"]["tasks"]
    assert [t["id"] for t in tasks] == task_ids
    # the old leader comes back as a standby
    proc.restart()
    proc.wait_http("/ping", timeout=30, statuses=(200,))
    assert call(base_of(proc), "GET", "/v2/leader").json == {"leader": new}
    call(new, "DELETE", f"/v2/apps{running}")


def test_abdication_exits_and_hands_over(cluster):
    proc = leader_process(cluster)
    old = base_of(proc)
    app_id = f"/failover/abdicate-{uuid.uuid4().hex[:6]}"
    call(old, "POST", "/v2/apps", {"id": app_id, "cmd": "sleep 600", "instances": 0})
    reply = call(old, "DELETE", "/v2/leader")
    assert reply.status == 200 and reply.json == {"message": "Leadership abdicated"}
    assert proc.wait(timeout=10) == 105  # exit-codes.md: LeadershipEndedGracefully
    new = wait_for(lambda: other_leader(cluster, old), 10, what="a new leader")
    assert call(new, "GET", f"/v2/apps{app_id}").status == 200
    proc.restart()
    proc.wait_http("/ping", timeout=30, statuses=(200,))


def test_resubscribes_after_a_mesos_master_failover(cluster):
    leader = base_of(leader_process(cluster))
    framework_id = wait_for(lambda: call(leader, "GET", "/v2/info").json["frameworkId"], 20, what="framework id")
    kept_id = f"/failover/kept-{uuid.uuid4().hex[:6]}"
    call(leader, "POST", "/v2/apps", {"id": kept_id, "cmd": "sleep 600", "instances": 1, "cpus": 0.01, "mem": 8})

    def kept_tasks():
        app = call(leader, "GET", f"/v2/apps{kept_id}?embed=app.tasks").json["app"]
        return sorted(t["id"] for t in app.get("tasks", [])) if app["tasksRunning"] == 1 else None

    before = wait_for(kept_tasks, 40, what="the kept app's task running")
    master = cluster.leading_master(timeout=10)
    master.kill()
    try:
        def registered_with_new_master():
            new = cluster.leading_master()
            if new is None or new is master:
                return None
            frameworks = call(base_of(new), "GET", "/master/frameworks").json["frameworks"]
            mine = [f for f in frameworks if f["id"] == framework_id and f["active"]]
            return mine[0] if mine else None

        fw = wait_for(registered_with_new_master, 40, what="Marathon re-subscribed to the new master")
        assert fw["name"] == "marathon"
        # The new master recovered the agents from its registry; until they re-register their
        # tasks are not lost, so Marathon keeps the task it had rather than start another.
        new_master = cluster.leading_master()
        wait_for(lambda: not call(base_of(new_master), "GET", "/master/slaves").json.get("recovered_slaves"), 40,
                 what="every agent re-registered")
        time.sleep(2)  # a few scheduler ticks
        assert kept_tasks() == before
        call(leader, "DELETE", f"/v2/apps{kept_id}")
    finally:
        master.restart()
        master.wait_http("/master/health", timeout=30)
    app_id = f"/failover/after-master-{uuid.uuid4().hex[:6]}"
    call(leader, "POST", "/v2/apps", {"id": app_id, "cmd": "sleep 600", "instances": 1, "cpus": 0.01, "mem": 8})
    wait_for(lambda: call(leader, "GET", f"/v2/apps{app_id}").json["app"]["tasksRunning"] == 1, 40,
             what="a task launched through the new master")
    call(leader, "DELETE", f"/v2/apps{app_id}")


def test_state_is_in_zookeeper(cluster):
    leader = base_of(leader_process(cluster))
    app_id = f"/failover/zk-{uuid.uuid4().hex[:6]}"
    call(leader, "POST", "/v2/apps", {"id": app_id, "cmd": "sleep 600", "instances": 0})
    zk = cluster.zk.client()
    try:
        stored = json.loads(zk.get(f"{MARATHON_ZK_PATH}/state/apps/{app_id.strip('/').replace('/', '_')}")[0])
        assert stored["id"] == app_id
        fid = zk.get(f"{MARATHON_ZK_PATH}/state/framework-id")[0].decode()
        assert fid == call(leader, "GET", "/v2/info").json["frameworkId"]
    finally:
        zk.stop()
        zk.close()


def test_sigterm_hands_over_without_waiting_for_the_session_timeout(cluster):
    proc = leader_process(cluster)
    old = base_of(proc)
    started = time.monotonic()
    assert proc.terminate(timeout=10) == 0
    wait_for(lambda: other_leader(cluster, old), SESSION_TIMEOUT, interval=0.05, what="a new leader")
    assert time.monotonic() - started < SESSION_TIMEOUT
    proc.restart()
    proc.wait_http("/ping", timeout=30, statuses=(200,))
