"""Chronos REST contract (api.md; reference README note 10), jobs running on agents, and
leader failover among 3 Chronos instances."""

from __future__ import annotations

import datetime
import json
import time
import uuid

import pytest
from fixtures import CHRONOS_ZK_PATH
from framework_client import base_of, call, wait_for

SESSION_TIMEOUT = 3.0  # --zk_timeout=3000 in the fixtures
ELECTION_MARGIN = 4.0


@pytest.fixture(scope="module")
def cluster(standin_cluster):
    return standin_cluster


def leader_of(cluster) -> str:
    for proc in cluster.chronos:
        if proc.alive():
            reply = call(base_of(proc), "GET", "/leader")
            if reply.status == 200 and reply.json["leader"]:
                return reply.json["leader"]
    raise AssertionError("no Chronos leader")


def standby_of(cluster) -> str:
    leader = leader_of(cluster)
    return next(base_of(p) for p in cluster.chronos if p.alive() and base_of(p) != leader)


def jobs(base) -> dict:
    return {j["name"]: j for j in call(base, "GET", "/v1/scheduler/jobs").json}


def future(seconds: float) -> str:
    t = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def name(prefix="job") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_leader_is_answered_everywhere(cluster):
    leader = leader_of(cluster)
    for proc in cluster.chronos:
        reply = call(base_of(proc), "GET", "/leader")
        assert reply.status == 200 and reply.json == {"leader": leader}


def test_create_update_list_delete(cluster):
    leader = leader_of(cluster)
    job = name()
    body = {"schedule": f"R/{future(3600)}/PT1H", "name": job, "epsilon": "PT15M",
            "command": "echo FOO", "owner": "bob@example.com", "async": False}
    reply = call(leader, "POST", "/v1/scheduler/iso8601", body)
    assert reply.status == 204 and reply.body == b""
    stored = jobs(leader)[job]
    for key, value in body.items():
        assert stored[key] == value
    # the defaults of api.md's job configuration table
    assert stored["retries"] == 2 and stored["cpus"] == 0.1 and stored["mem"] == 128 and stored["disk"] == 256
    assert stored["disabled"] is False and stored["concurrent"] is False and stored["shell"] is True
    assert stored["successCount"] == 0 and stored["errorCount"] == 0
    assert stored["lastSuccess"] == "" and stored["lastError"] == ""
    assert "parents" not in stored
    assert not [k for k in stored if k.startswith("_")]
    # PUT updates
    assert call(leader, "PUT", "/v1/scheduler/iso8601", {**body, "command": "echo BAR"}).status == 204
    assert jobs(leader)[job]["command"] == "echo BAR"
    # dependent job
    child = name("child")
    reply = call(leader, "POST", "/v1/scheduler/dependency", {"name": child, "command": "true", "parents": [job]})
    assert reply.status == 204
    assert jobs(leader)[child]["parents"] == [job] and "schedule" not in jobs(leader)[child]
    dot = call(leader, "GET", "/v1/scheduler/graph/dot")
    assert f'"{job}" -> "{child}"' in dot.text
    found = call(leader, "GET", f"/v1/scheduler/jobs/search?name={child}").json
    assert [j["name"] for j in found] == [child]
    assert call(leader, "DELETE", f"/v1/scheduler/job/{child}").status == 204
    assert call(leader, "DELETE", f"/v1/scheduler/job/{job}").status == 204
    assert job not in jobs(leader) and child not in jobs(leader)


def test_bad_jobs_are_400(cluster):
    leader = leader_of(cluster)
    assert call(leader, "POST", "/v1/scheduler/iso8601", b"{nope").status == 400
    assert call(leader, "POST", "/v1/scheduler/iso8601",
                {"name": name(), "command": "true", "schedule": "sometimes"}).status == 400
    assert call(leader, "POST", "/v1/scheduler/iso8601",
                {"name": "bad name!", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}).status == 400
    assert call(leader, "POST", "/v1/scheduler/dependency",
                {"name": name(), "command": "true", "parents": ["no-such-parent"]}).status == 400
    assert call(leader, "DELETE", "/v1/scheduler/job/no-such-job").status == 400
    assert call(leader, "PUT", "/v1/scheduler/job/no-such-job").status == 400


def test_standbys_proxy_transparently(cluster):
    standby = standby_of(cluster)
    job = name("proxied")
    reply = call(standby, "POST", "/v1/scheduler/iso8601",
                 {"name": job, "command": "true", "schedule": f"R/{future(3600)}/PT1H"})
    assert reply.status == 204 and "location" not in reply.headers
    assert job in jobs(leader_of(cluster))
    assert job in jobs(standby)
    call(standby, "DELETE", f"/v1/scheduler/job/{job}")


def test_registered_as_framework_chronos(cluster):
    master = cluster.leading_master(timeout=10)

    def chronos_framework():
        frameworks = call(base_of(master), "GET", "/master/frameworks").json["frameworks"]
        return [f for f in frameworks if f["name"] == "chronos" and f["active"]]

    (fw,) = wait_for(chronos_framework, 20, what="framework chronos")
    zk = cluster.zk.client()
    try:
        assert zk.get(f"{CHRONOS_ZK_PATH}/frameworkId")[0].decode() == fw["id"]
    finally:
        zk.stop()
        zk.close()


def test_manual_start_runs_the_job_on_an_agent(cluster):
    leader = leader_of(cluster)
    job = name("manual")
    call(leader, "POST", "/v1/scheduler/iso8601",
         {"name": job, "command": "test -n \"$CHRONOS_JOB_NAME\"", "schedule": f"R/{future(3600)}/PT1H"})
    assert call(leader, "PUT", f"/v1/scheduler/job/{job}").status == 204
    done = wait_for(lambda: (lambda j: j if j["successCount"] == 1 else None)(jobs(leader)[job]), 30,
                    what="the job to succeed once")
    assert done["lastSuccess"]
    master = cluster.leading_master(timeout=10)
    tasks = [t for f in call(base_of(master), "GET", "/master/frameworks").json["frameworks"]
             if f["name"] == "chronos" for t in f["tasks"] + f["completed_tasks"]]
    assert any(t["id"].startswith("ct:") and t["id"].endswith(f":{job}:") for t in tasks)
    call(leader, "DELETE", f"/v1/scheduler/job/{job}")


def test_due_jobs_run_and_dependents_follow(cluster):
    leader = leader_of(cluster)
    parent, child = name("due"), name("after")
    call(leader, "POST", "/v1/scheduler/iso8601",
         {"name": parent, "command": "true", "schedule": f"R1/{future(1)}/PT1M", "epsilon": "PT30S"})
    call(leader, "POST", "/v1/scheduler/dependency", {"name": child, "command": "true", "parents": [parent]})
    wait_for(lambda: jobs(leader)[parent]["successCount"] == 1, 30, what="the scheduled run")
    wait_for(lambda: jobs(leader)[child]["successCount"] == 1, 30, what="the dependent run")
    assert jobs(leader)[parent]["schedule"].startswith("R0/")
    failing = name("failing")
    call(leader, "POST", "/v1/scheduler/iso8601",
         {"name": failing, "command": "exit 3", "schedule": f"R1/{future(1)}/PT1M", "retries": 1})
    wait_for(lambda: jobs(leader)[failing]["errorCount"] == 1, 40, what="a failure after the retry")
    assert jobs(leader)[failing]["lastError"]
    for job in (child, parent, failing):
        call(leader, "DELETE", f"/v1/scheduler/job/{job}")


def test_killing_the_leader_keeps_every_job(cluster):
    leader = leader_of(cluster)
    proc = next(p for p in cluster.chronos if base_of(p) == leader)
    names = [name("keep") for _ in range(3)]
    for job in names:
        call(leader, "POST", "/v1/scheduler/iso8601",
             {"name": job, "command": "true", "schedule": f"R/{future(3600)}/PT1H"})
    killed_at = time.monotonic()
    proc.kill()

    def new_leader():
        for p in cluster.chronos:
            if p.alive():
                reply = call(base_of(p), "GET", "/leader", timeout=2)
                if reply.status == 200 and reply.json["leader"] not in ("", leader):
                    return reply.json["leader"]
        return None

    new = wait_for(new_leader, SESSION_TIMEOUT + ELECTION_MARGIN, interval=0.1, what="a new Chronos leader")
    assert time.monotonic() - killed_at <= SESSION_TIMEOUT + ELECTION_MARGIN
    stored = wait_for(lambda: jobs(new), 10, what="jobs from the new leader")
    assert set(names) <= set(stored)
    zk = cluster.zk.client()
    try:
        candidates = zk.get_children(f"{CHRONOS_ZK_PATH}/candidate")
        assert {zk.get(f"{CHRONOS_ZK_PATH}/candidate/{c}")[0].decode() for c in candidates} == \
            {base_of(p) for p in cluster.chronos if p.alive()}
        assert json.loads(zk.get(f"{CHRONOS_ZK_PATH}/J_{names[0]}")[0])["name"] == names[0]
    finally:
        zk.stop()
        zk.close()
    proc.restart()
    proc.wait_http("/leader", timeout=30)
    assert call(base_of(proc), "GET", "/leader").json == {"leader": new}
    for job in names:
        call(new, "DELETE", f"/v1/scheduler/job/{job}")


def test_http_credentials(cluster):
    import base64

    from fixtures import start_chronos

    zk_path = f"/chronos-auth-{uuid.uuid4().hex[:6]}"
    proc = start_chronos(cluster, f"chronos-auth-{zk_path[-6:]}", zk_path=zk_path,
                         extra_args=["--http_credentials=ops:s3cret", "--mesos_framework_name=chronos-auth-test"])
    try:
        proc.wait_http("/leader", timeout=20, statuses=(200,))
        base = base_of(proc)
        # /leader answers before the election: wait until it names this instance as leader.
        deadline = time.monotonic() + 30
        while not call(base, "GET", "/leader").json.get("leader") and time.monotonic() < deadline:
            time.sleep(0.1)
        denied = call(base, "GET", "/v1/scheduler/jobs")
        assert denied.status == 401 and denied.headers["www-authenticate"] == 'Basic realm="Mesosphere"'
        token = base64.b64encode(b"ops:s3cret").decode()
        assert call(base, "GET", "/v1/scheduler/jobs", headers={"Authorization": f"Basic {token}"}).json == []
    finally:
        proc.kill()
