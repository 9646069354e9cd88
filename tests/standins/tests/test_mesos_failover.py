"""Leader election, failover, replicated-log quorum, ZooKeeper session loss and
agent failure detection of the Mesos stand-ins (reference README notes 2 and 5,
high-availability.md, configuration/master.md --quorum, --agent_ping_timeout,
--max_agent_ping_timeouts; the masters run with --zk_session_timeout=3secs)."""

import contextlib
import os
import signal
import time
from pathlib import Path

from harness import ZooKeeperEnsemble

from mesosphere_standins._common import http_request, wait_until

SESSION_TIMEOUT = 3.0
ZK_LEADER_RESTARTS = 6


def get(proc, path):
    return http_request("GET", proc.url(path))


def elected(proc):
    try:
        return get(proc, "/metrics/snapshot").json()["master/elected"] == 1.0
    except OSError:
        return False


def serving_leader(masters):
    for proc in masters:
        if proc.alive() and elected(proc):
            try:
                if get(proc, "/master/state").status == 200:
                    return proc
            except OSError:
                pass
    return None


def slaves(proc):
    return {s["id"]: s for s in get(proc, "/master/slaves").json()["slaves"]}


def scheduler(proc, body):
    return http_request("POST", proc.url("/api/v1/scheduler"), body)


def launch(leader, fid, agent_id, task_id, command="sleep 300", grace=None):
    ti = {"name": task_id, "task_id": {"value": task_id}, "agent_id": {"value": agent_id},
          "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
          "command": {"value": command}}
    if grace is not None:
        ti["kill_policy"] = {"grace_period": {"nanoseconds": int(grace * 1e9)}}
    result = scheduler(leader, {"type": "ACCEPT", "framework_id": {"value": fid}, "accept": {"operations": [
        {"type": "LAUNCH", "launch": {"task_infos": [ti]}}]}})
    assert result.status == 202, result.text


def tasks(proc):
    return {t["id"]: t for t in get(proc, "/master/tasks").json()["tasks"]}


def test_leader_failover_keeps_agents_tasks_and_frameworks(mesos_factory):
    masters = [mesos_factory.master(quorum=2, wait=False) for _ in range(3)]
    for proc in masters:
        proc.wait_http("/master/health")
    agents = [mesos_factory.agent(ports="[31400-31409]"), mesos_factory.agent(ports="[31410-31419]")]
    leader = wait_until(lambda: serving_leader(masters), 30)
    assert leader
    assert sum(1 for m in masters if elected(m)) == 1
    assert wait_until(lambda: len(slaves(leader)) == 2, 20)
    before = slaves(leader)
    sub = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "failover-test", "user": "root",
                                                                 "failover_timeout": 600}}}
    fid = scheduler(leader, sub).json()["subscribed"]["framework_id"]["value"]
    agent_id = next(iter(before))
    launch(leader, fid, agent_id, "survivor")
    assert wait_until(lambda: tasks(leader).get("survivor", {}).get("state") == "TASK_RUNNING", 20)

    leader.kill()
    started = time.monotonic()
    standbys = [m for m in masters if m is not leader]
    new_leader = wait_until(lambda: serving_leader(standbys), SESSION_TIMEOUT + 10, interval=0.1)
    took = time.monotonic() - started
    assert new_leader, standbys[0].log_tail()
    assert took < SESSION_TIMEOUT + 3, took  # the dead session expires (3s), then 0.2s detection; slack for load
    # the other standby now redirects to the new leader
    other = next(m for m in standbys if m is not new_leader)
    wanted = f"//127.0.0.1:{new_leader.port}/master/state"
    assert wait_until(lambda: get(other, "/master/state").headers.get("location") == wanted, 2)
    assert get(other, "/master/state").status == 307
    # agents re-register with their ids; the running task is still known
    assert wait_until(lambda: set(slaves(new_leader)) == set(before), 20), slaves(new_leader)
    assert tasks(new_leader)["survivor"]["state"] == "TASK_RUNNING"
    snap = get(new_leader, "/metrics/snapshot").json()
    assert snap["master/slave_reregistrations"] >= 2
    # the framework re-subscribes with its id and can kill its task
    sub["subscribe"]["framework_info"]["id"] = {"value": fid}
    assert scheduler(new_leader, sub).json()["subscribed"]["framework_id"]["value"] == fid
    fw = next(f for f in get(new_leader, "/master/frameworks").json()["frameworks"] if f["id"] == fid)
    assert fw["name"] == "failover-test" and fw["active"] is True
    assert {t["id"] for t in fw["tasks"]} == {"survivor"}
    assert scheduler(new_leader, {"type": "KILL", "framework_id": {"value": fid},
                                  "kill": {"task_id": {"value": "survivor"}}}).status == 202
    assert wait_until(lambda: tasks(new_leader)["survivor"]["state"] == "TASK_KILLED", 20)
    for agent in agents:
        assert agent.alive()


def test_no_quorum_no_serving_leader(mesos_factory):
    """--quorum=2 with one master: it wins the election but cannot recover the
    registry, so it does not serve (503) and agents cannot register."""
    first = mesos_factory.master(quorum=2)
    agent = mesos_factory.agent(ports="[31420-31429]")
    assert wait_until(lambda: elected(first), 15)
    time.sleep(1.0)
    snap = get(first, "/metrics/snapshot").json()
    assert snap["master/elected"] == 1.0
    assert snap["registrar/log/recovered"] == 0.0
    assert snap["registrar/log/ensemble_size"] == 1.0
    result = get(first, "/master/state")
    assert result.status == 503
    assert get(first, "/master/slaves").status == 503
    assert get(first, "/master/health").status == 200
    assert get(agent, "/metrics/snapshot").json()["slave/registered"] == 0.0
    # a second replica makes the quorum: the elected master recovers and serves
    second = mesos_factory.master(quorum=2)
    assert wait_until(lambda: get(first, "/master/state").status == 200, 15)
    assert get(first, "/metrics/snapshot").json()["registrar/log/recovered"] == 1.0
    assert wait_until(lambda: get(second, "/master/state").status == 307, 5)
    assert wait_until(lambda: len(slaves(first)) == 1, 20)


def test_registry_fetch_timeout_exits(mesos_factory):
    proc = mesos_factory.master(quorum=2, extra_args=["--registry_fetch_timeout=2secs"])
    assert wait_until(lambda: proc.returncode() is not None, 15)
    assert proc.returncode() != 0
    assert "Recovery failed" in proc.log_text()


def test_session_loss_ends_leadership_with_nonzero_exit(tmp_path):
    from fixtures import start_mesos_master

    zk = ZooKeeperEnsemble(1, tmp_path / "zk")
    master = None
    try:
        master = start_mesos_master(zk.url("/mesos"), tmp_path / "m" / "work", quorum=1)
        master.wait_http("/master/health")
        assert wait_until(lambda: elected(master), 15)
        zk.stop(0)
        started = time.monotonic()
        assert wait_until(lambda: master.returncode() is not None, SESSION_TIMEOUT * 3 + 5)
        assert master.returncode() != 0
        assert time.monotonic() - started < SESSION_TIMEOUT * 3 + 5
        assert "committing suicide" in master.log_text()
    finally:
        if master:
            master.kill()
        zk.close()


def test_a_stopped_master_exits_cleanly_leader_or_standby(mesos_factory):
    """systemctl stop (SIGTERM) ends a master with status 0, the leader too: closing its own
    ZooKeeper session on the way out is no lost leadership, and systemd must not record the
    unit as failed (a removed master is left inactive, not failed)."""
    masters = [mesos_factory.master(quorum=1, wait=False) for _ in range(2)]
    for proc in masters:
        proc.wait_http("/master/health")
    leader = wait_until(lambda: serving_leader(masters), 30)
    assert leader
    standby = next(m for m in masters if m is not leader)
    assert standby.terminate() == 0, standby.log_tail()
    assert leader.terminate() == 0, leader.log_tail()
    assert "committing suicide" not in leader.log_text()


@contextlib.contextmanager
def masters_on(zk, tmp_path, count, quorum):
    """`count` masters on the ensemble's /mesos, each answering /master/health; killed on exit."""
    from fixtures import start_mesos_master

    masters = []
    try:
        for i in range(count):
            masters.append(start_mesos_master(zk.url("/mesos"), tmp_path / f"m{i}" / "work", quorum=quorum,
                                              name=f"m{i}"))
        for proc in masters:
            proc.wait_http("/master/health")
        yield masters
    finally:
        for proc in masters:
            proc.kill()


def test_standby_without_zookeeper_knows_no_leader(tmp_path):
    """README note 2: 503 when no leader is known; note 3: /master/redirect too."""
    with ZooKeeperEnsemble(1, tmp_path / "zk") as zk, masters_on(zk, tmp_path, 2, quorum=1) as masters:
        leader = wait_until(lambda: serving_leader(masters), 15)
        standby = next(m for m in masters if m is not leader)
        assert wait_until(lambda: get(standby, "/master/state").status == 307, 5)
        zk.stop(0)
        assert wait_until(lambda: get(standby, "/master/state").status == 503, SESSION_TIMEOUT * 3 + 5)
        result = get(standby, "/master/redirect")
        assert (result.status, result.text) == (503, "No leader elected")
        assert get(standby, "/master/slaves").text == "No leader elected"
        assert get(standby, "/master/health").status == 200
        assert get(standby, "/metrics/snapshot").json()["master/elected"] == 0.0
        assert wait_until(lambda: leader.returncode() is not None, SESSION_TIMEOUT * 3 + 5)
        # ZooKeeper back: the standby contends again and leads
        zk.start(0)
        assert wait_until(lambda: get(standby, "/master/state").status == 200, 30), standby.log_tail()
        assert standby.alive()


def test_dead_agent_is_marked_unreachable_and_its_tasks_lost(mesos_factory):
    """--agent_ping_timeout=1secs, --max_agent_ping_timeouts=3 (fixtures)."""
    master = mesos_factory.master(quorum=1)
    doomed = mesos_factory.agent(ports="[31430-31439]")
    assert wait_until(lambda: len(slaves(master)) == 1 if get(master, "/master/state").status == 200 else 0, 20)
    agent_id = next(iter(slaves(master)))
    fid = scheduler(master, {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "name": "lost-test", "user": "root", "failover_timeout": 600}}}).json()["subscribed"]["framework_id"]["value"]
    launch(master, fid, agent_id, "orphan")
    assert wait_until(lambda: tasks(master).get("orphan", {}).get("state") == "TASK_RUNNING", 20)
    doomed.kill()
    started = time.monotonic()
    assert wait_until(lambda: agent_id not in slaves(master), 15)
    assert time.monotonic() - started < 10
    assert tasks(master)["orphan"]["state"] == "TASK_LOST"
    snap = get(master, "/metrics/snapshot").json()
    assert snap["master/slaves_unreachable"] == 1.0 and snap["master/slaves_active"] == 0.0
    assert get(master, "/master/state").json()["unreachable_slaves"] == 1
    # a new agent process on the same work_dir comes back with the same id
    workdir = next(a.split("=", 1)[1] for a in doomed.args if a.startswith("--work_dir="))
    back = mesos_factory.agent(ports="[31430-31439]", workdir=Path(workdir), port=doomed.port)
    assert wait_until(lambda: agent_id in slaves(master), 20), back.log_tail()
    assert get(master, "/metrics/snapshot").json()["master/slaves_unreachable"] == 0.0


def test_zk_credentials_protect_the_znodes(mesos_factory, zk_ensemble):
    """zk://user:pass@hosts/path: the master authenticates (digest) and its znodes
    are world-readable, writable by the creator only."""
    mesos_factory.path = mesos_factory.path + "-auth"
    url = f"zk://jane:doe@{zk_ensemble.hosts}{mesos_factory.path}"
    from fixtures import start_mesos_master

    proc = start_mesos_master(url, mesos_factory.tmpdir / "authm" / "work", quorum=1)
    mesos_factory.procs.append(proc)
    proc.wait_http("/master/health")
    assert wait_until(lambda: get(proc, "/master/state").status == 200, 15)
    zk = zk_ensemble.client()
    try:
        name = next(c for c in zk.get_children(mesos_factory.path) if c.startswith("json.info_"))
        acls, _ = zk.get_acls(f"{mesos_factory.path}/{name}")
        schemes = sorted((a.id.scheme, a.perms) for a in acls)
        assert ("world", 1) in schemes  # READ for everyone
        assert any(scheme == "digest" and perms == 31 for scheme, perms in schemes)  # ALL for jane
        assert b'"address"' in zk.get(f"{mesos_factory.path}/{name}")[0]
    finally:
        zk.stop()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_task_process_trees_die_with_kill_and_with_the_agent(mesos_factory, tmp_path):
    """A task's whole process group is stopped on KILL and when its agent dies."""
    master = mesos_factory.master(quorum=1)
    agent = mesos_factory.agent(ports="[31440-31449]")
    assert wait_until(lambda: len(slaves(master)) == 1 if get(master, "/master/state").status == 200 else 0, 20)
    agent_id = next(iter(slaves(master)))
    fid = scheduler(master, {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "name": "tree-test", "user": "root", "failover_timeout": 600}}}).json()["subscribed"]["framework_id"]["value"]
    pids = {}
    for name in ("killed", "orphaned"):
        pidfile = tmp_path / f"{name}.pid"
        launch(master, fid, agent_id, name, f"sleep 300 & echo $! > {pidfile}; wait")
        assert wait_until(lambda p=pidfile: p.exists() and p.read_text().strip(), 20)
        pids[name] = int(pidfile.read_text())
        assert _alive(pids[name])
    started = time.monotonic()
    assert scheduler(master, {"type": "KILL", "framework_id": {"value": fid},
                              "kill": {"task_id": {"value": "killed"}}}).status == 202
    assert wait_until(lambda: tasks(master)["killed"]["state"] == "TASK_KILLED", 20)
    assert time.monotonic() - started < 2.0  # SIGTERM is enough: no wait for the grace period
    assert wait_until(lambda: not _alive(pids["killed"]), 10)
    # a task that ignores SIGTERM gets SIGKILL after its kill policy's grace period
    launch(master, fid, agent_id, "stubborn", "trap '' TERM; sleep 300 & wait; wait", grace=1.0)
    assert wait_until(lambda: tasks(master)["stubborn"]["state"] == "TASK_RUNNING", 20)
    time.sleep(0.5)
    started = time.monotonic()
    scheduler(master, {"type": "KILL", "framework_id": {"value": fid}, "kill": {"task_id": {"value": "stubborn"}}})
    assert wait_until(lambda: tasks(master)["stubborn"]["state"] == "TASK_KILLED", 10)
    assert 0.9 <= time.monotonic() - started < 4.0
    assert _alive(pids["orphaned"])
    agent.kill()
    assert wait_until(lambda: not _alive(pids["orphaned"]), 10)


def _processes_under(folder: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd").startswith(folder) and _alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_agent_killed_right_after_launches_leaves_no_processes(mesos_factory):
    master = mesos_factory.master(quorum=1)
    agent = mesos_factory.agent(ports="[31450-31459]")
    assert wait_until(lambda: len(slaves(master)) == 1 if get(master, "/master/state").status == 200 else 0, 20)
    agent_id = next(iter(slaves(master)))
    fid = scheduler(master, {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "name": "race-test", "user": "root", "failover_timeout": 600}}}).json()["subscribed"]["framework_id"]["value"]
    for i in range(5):
        launch(master, fid, agent_id, f"race-{i}", "sleep 300 & sleep 301; wait")
        time.sleep(0.02 * i)
    agent.kill()
    workdir = next(a.split("=", 1)[1] for a in agent.args if a.startswith("--work_dir="))
    assert wait_until(lambda: not _processes_under(workdir), 10), _processes_under(workdir)


def test_a_restarted_agent_reconnects_with_checkpointing_frameworks_tasks(mesos_factory, tmp_path):
    """agent-recovery.md: the executors of a framework that registered with `checkpoint`
    keep running while the agent is stopped and restarted (as the package's unit does, which
    does not kill them: KillMode=process), and the new agent reconnects with them: the same
    processes, still RUNNING, and killable. Another framework's tasks stop with the agent."""
    master = mesos_factory.master(quorum=1)
    agent = mesos_factory.agent(ports="[31460-31469]")
    assert wait_until(lambda: len(slaves(master)) == 1 if get(master, "/master/state").status == 200 else 0, 20)
    agent_id = next(iter(slaves(master)))
    pids = {}
    for name, checkpoint in (("kept", True), ("stopped", False)):
        fid = scheduler(master, {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "name": f"{name}-fw", "user": "root", "failover_timeout": 600, "checkpoint": checkpoint}}}
        ).json()["subscribed"]["framework_id"]["value"]
        pidfile = tmp_path / f"{name}.pid"
        launch(master, fid, agent_id, name, f"echo $$ > {pidfile}; exec sleep 300")
        assert wait_until(lambda t=name: tasks(master).get(t, {}).get("state") == "TASK_RUNNING", 20)
        assert wait_until(lambda p=pidfile: p.exists() and p.read_text().strip(), 10)
        pids[name] = (int(pidfile.read_text()), fid)
    agent.terminate()
    assert wait_until(lambda: not _alive(pids["stopped"][0]), 10)
    assert _alive(pids["kept"][0])
    workdir = next(a.split("=", 1)[1] for a in agent.args if a.startswith("--work_dir="))
    back = mesos_factory.agent(ports="[31460-31469]", workdir=Path(workdir), port=agent.port)
    assert wait_until(lambda: "reconnected with the executor of task kept" in back.log_text(), 15), back.log_tail()
    assert wait_until(lambda: "re-registered with master" in back.log_text(), 20), back.log_tail()
    assert tasks(master)["kept"]["state"] == "TASK_RUNNING"
    assert [t["id"] for t in get(back, "/state").json()["frameworks"][0]["executors"][0]["tasks"]] == ["kept"]
    assert _alive(pids["kept"][0])
    # the adopted task is not the new agent's child: a kill still stops it and is reported
    assert scheduler(master, {"type": "KILL", "framework_id": {"value": pids["kept"][1]},
                              "kill": {"task_id": {"value": "kept"}}}).status == 202
    assert wait_until(lambda: tasks(master)["kept"]["state"] == "TASK_KILLED", 15), back.log_tail()
    assert wait_until(lambda: not _alive(pids["kept"][0]), 10)


def test_an_executor_without_an_agent_gives_up_after_the_recovery_timeout(mesos_factory, tmp_path):
    """agent-recovery.md, --recovery_timeout: a checkpointing framework's executor that no
    agent reconnects with stops its task once the timeout has passed; --recover=cleanup kills
    the executors it finds at once."""
    master = mesos_factory.master(quorum=1)
    agent = mesos_factory.agent(ports="[31470-31479]", extra_args=["--recovery_timeout=3secs"])
    assert wait_until(lambda: len(slaves(master)) == 1 if get(master, "/master/state").status == 200 else 0, 20)
    agent_id = next(iter(slaves(master)))
    fid = scheduler(master, {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "name": "timeout-fw", "user": "root", "failover_timeout": 600, "checkpoint": True}}}
    ).json()["subscribed"]["framework_id"]["value"]
    pids = []
    for name in ("waits", "cleaned"):
        pidfile = tmp_path / f"{name}.pid"
        launch(master, fid, agent_id, name, f"echo $$ > {pidfile}; exec sleep 300")
        assert wait_until(lambda p=pidfile: p.exists() and p.read_text().strip(), 20)
        pids.append(int(pidfile.read_text()))
    assert wait_until(lambda: all(tasks(master).get(t, {}).get("state") == "TASK_RUNNING"
                                  for t in ("waits", "cleaned")), 20)
    agent.terminate()
    stopped = time.monotonic()
    time.sleep(1.5)
    assert _alive(pids[0]) and _alive(pids[1])
    # an agent started with --recover=cleanup kills them at once, without waiting
    workdir = next(a.split("=", 1)[1] for a in agent.args if a.startswith("--work_dir="))
    cleanup = mesos_factory.agent(ports="[31470-31479]", workdir=Path(workdir), port=agent.port,
                                  extra_args=["--recover=cleanup"])
    assert wait_until(lambda: not _alive(pids[0]) and not _alive(pids[1]), 5), cleanup.log_tail()
    assert time.monotonic() - stopped < 3.0 + 2.5
    assert "--recover=cleanup: killing the executor of task waits" in cleanup.log_text()
    cleanup.kill()
    # without any agent, the timeout alone stops a task
    other = mesos_factory.agent(ports="[31480-31489]", extra_args=["--recovery_timeout=2secs"])
    assert wait_until(lambda: any(s.get("port") == other.port and s.get("active") for s in slaves(master).values()),
                      20), other.log_tail()
    other_id = next(i for i, s in slaves(master).items() if s.get("port") == other.port)
    pidfile = tmp_path / "alone.pid"
    launch(master, fid, other_id, "alone", f"echo $$ > {pidfile}; exec sleep 300")
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20)
    pid = int(pidfile.read_text())
    assert wait_until(lambda: tasks(master).get("alone", {}).get("state") == "TASK_RUNNING", 20)
    other.kill()
    gone = time.monotonic()
    assert wait_until(lambda: not _alive(pid), 10)
    assert 1.5 <= time.monotonic() - gone < 8.0


def test_zookeeper_leader_restart_keeps_the_mesos_leader(tmp_path):
    """A dropped ZooKeeper connection keeps the session (high-availability.md: a master loses
    its candidacy when its session expires): restarting the ensemble's leader, which drops every
    client at once, leaves the same Mesos master leading and every master running."""
    with ZooKeeperEnsemble(3, tmp_path / "zk") as zk, masters_on(zk, tmp_path, 3, quorum=2) as masters:
        leader = wait_until(lambda: serving_leader(masters), 20)
        assert leader is not None
        # A master is hurt only when the drop cuts one of its reads: several restarts make that
        # near-certain for a master that mistakes a cut read for a lost membership. Between two,
        # the masters reconnect (a master disconnected for a whole session timeout does end its
        # leadership, rightly).
        for _restart in range(ZK_LEADER_RESTARTS):
            zk_leader = next(i for i in range(3) if zk.mode(i) == "leader")
            zk.stop(zk_leader, signal.SIGTERM)
            zk.start(zk_leader)
            assert wait_until(lambda: sorted(str(zk.mode(i)) for i in range(3)) == ["follower", "follower", "leader"],
                              30)
            time.sleep(SESSION_TIMEOUT / 2)
        time.sleep(SESSION_TIMEOUT)
        assert all(proc.alive() for proc in masters), [proc.log_tail() for proc in masters]
        assert elected(leader), leader.log_tail()
        assert serving_leader(masters) is leader
        assert not any("committing suicide" in proc.log_text() for proc in masters)
