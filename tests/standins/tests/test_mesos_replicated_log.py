"""The log replicas of the Mesos master stand-in: durable status under
<work_dir>/replicated_log, EMPTY replicas that do not vote, catch-up and auto-initialization
(replicated-log-internals.md "Automatic replica recovery", "Non-voting replicas", "Catch-up",
"Auto initialization"; operational-guide.md; configuration/master.md --work_dir, --quorum,
--log_auto_initialize, --registry_fetch_timeout). The masters run with --zk_session_timeout=3secs."""

import json
import shutil
import time

import pytest
from fixtures import start_mesos_master
from harness import StandinProcess, free_port, run_standin

from mesosphere_standins import _replica
from mesosphere_standins._common import http_request, wait_until

EMPTY, STARTING, VOTING = _replica.EMPTY, _replica.STARTING, _replica.VOTING
SCHEDULE = {"windows": [{"machine_ids": [{"hostname": "maint.example", "ip": "10.0.0.9"}],
                         "unavailability": {"start": {"nanoseconds": 1700000000000000000},
                                            "duration": {"nanoseconds": 3600 * 10**9}}}]}
FETCH_TIMEOUT = "--registry_fetch_timeout=30secs"  # a fresh or repaired trio recovers well within it


def get(proc, path):
    return http_request("GET", proc.url(path))


def metrics(proc):
    return get(proc, "/metrics/snapshot").json()


def elected(proc):
    try:
        return proc.alive() and metrics(proc)["master/elected"] == 1.0
    except OSError:
        return False


def serving_leader(procs):
    for proc in procs:
        if proc is not None and elected(proc):
            try:
                if get(proc, "/master/state").status == 200:
                    return proc
            except OSError:
                pass
    return None


def schedule(proc):
    return get(proc, "/master/maintenance/schedule").json()


class Trio:
    """Three masters with --quorum=2 on a private znode path, each with a fixed port and
    work directory so that it can be stopped, wiped and started again."""

    def __init__(self, factory, zk_ensemble):
        self.factory = factory
        self.ports = [free_port() for _ in range(3)]
        self.workdirs = [factory.tmpdir / f"replica{i}" / "work" for i in range(3)]
        self.procs: list[StandinProcess | None] = [None, None, None]
        self.runs = 0
        self.zk = zk_ensemble.client()

    def start(self, i, *extra):
        self.runs += 1
        proc = start_mesos_master(self.factory.zk_url, self.workdirs[i], quorum=2, port=self.ports[i],
                                  extra_args=[*extra] or [FETCH_TIMEOUT], name=f"replica{i}-run{self.runs}")
        self.factory.procs.append(proc)
        self.procs[i] = proc
        return proc

    def start_all(self, *extra):
        procs = [self.start(i, *extra) for i in range(3)]
        for proc in procs:
            proc.wait_http("/master/health")
        return procs

    def stop(self, *indexes):
        for i in indexes:
            self.procs[i].terminate()  # SIGTERM: the master closes its session, its znodes go at once

    def wipe(self, i):
        shutil.rmtree(self.workdirs[i])

    def state(self, i):
        return json.loads((self.workdirs[i] / "replicated_log" / "standin-replica.json").read_text())

    def index(self, proc):
        return self.procs.index(proc)

    def znodes(self):
        """{port: (raw data, Peer)} of the log_replicas znodes, the newest one per pid."""
        parent = f"{self.factory.path}/log_replicas"
        found = {}
        for name in sorted(self.zk.get_children(parent)):
            data, _ = self.zk.get(f"{parent}/{name}")
            peer = _replica.parse(data)
            found[int(peer.pid.rsplit(":", 1)[1])] = (data, peer)
        return found

    def statuses(self):
        """{index: status} of the replicas visible in ZooKeeper."""
        by_port = {port: peer.status for port, (_data, peer) in self.znodes().items()}
        return {i: by_port[port] for i, port in enumerate(self.ports) if port in by_port}

    def close(self):
        self.zk.stop()


@pytest.fixture
def trio(mesos_factory, zk_ensemble):
    replicas = Trio(mesos_factory, zk_ensemble)
    yield replicas
    replicas.close()


def set_schedule(leader):
    result = http_request("POST", leader.url("/master/maintenance/schedule"), SCHEDULE)
    assert result.status == 200, result.text
    assert schedule(leader) == SCHEDULE


def leader_with_schedule(trio):
    """Start the three masters, wait for a serving leader, set the schedule through it; the
    leader and the log id the replicas share."""
    procs = trio.start_all()
    leader = wait_until(lambda: serving_leader(procs), 30)
    assert leader
    set_schedule(leader)
    return leader, trio.state(0)["log"]


# -- three masters ------------------------------------------------------------------------------


def test_fresh_masters_auto_initialize_and_recover(trio):
    procs = trio.start_all()
    leader = wait_until(lambda: serving_leader(procs), 30)
    assert leader, [p.log_tail() for p in procs]
    assert wait_until(lambda: trio.statuses() == {0: VOTING, 1: VOTING, 2: VOTING}, 10), trio.statuses()
    states = [trio.state(i) for i in range(3)]
    assert [s["status"] for s in states] == [VOTING] * 3
    assert states[0]["log"] and len({s["log"] for s in states}) == 1  # one log
    snap = metrics(leader)
    assert snap["registrar/log/recovered"] == 1.0 and snap["registrar/log/ensemble_size"] == 3.0
    for i, proc in enumerate(procs):
        text = proc.log_text()
        assert "no persisted state, the replica is EMPTY" in text
        assert "log replica is now VOTING" in text
        data, peer = trio.znodes()[trio.ports[i]]
        # the znode still starts with the replica's pid; the status follows on the next line
        assert data.split(b"\n")[0] == f"log-replica(1)@127.0.0.1:{trio.ports[i]}".encode()
        assert peer == _replica.Peer(f"log-replica(1)@127.0.0.1:{trio.ports[i]}", VOTING, states[0]["log"])


def test_wiped_master_comes_back_empty_catches_up_and_votes(trio):
    leader, log = leader_with_schedule(trio)
    wiped = trio.index(leader)
    trio.stop(wiped)
    trio.wipe(wiped)
    others = [p for p in trio.procs if p is not leader]
    new_leader = wait_until(lambda: serving_leader(others), 15)
    assert new_leader, [p.log_tail() for p in others]
    # catch-up needs no auto-initialization: the flag is off for the wiped master
    back = trio.start(wiped, FETCH_TIMEOUT, "--log_auto_initialize=false")
    back.wait_http("/master/health")
    assert wait_until(lambda: trio.statuses().get(wiped) == VOTING, 15), back.log_tail()
    text = back.log_text()
    assert "no persisted state, the replica is EMPTY" in text
    assert "caught up from 2 VOTING replicas" in text
    assert trio.state(wiped) == {**trio.state(wiped), "status": VOTING, "log": log}
    assert schedule(new_leader) == SCHEDULE
    # the caught-up replica votes: with the new leader gone it and the remaining original
    # replica are the quorum a leader recovers the registry from
    trio.stop(trio.index(new_leader))
    rest = [p for p in trio.procs if p is not new_leader]
    third = wait_until(lambda: serving_leader(rest), 15)
    assert third, [p.log_tail() for p in rest]
    assert schedule(third) == SCHEDULE


def test_two_wiped_masters_lose_the_quorum_until_the_healthy_log_is_copied(trio):
    leader, log = leader_with_schedule(trio)
    trio.stop(0, 1, 2)
    trio.wipe(1)
    trio.wipe(2)
    # Replica 1 first: alone it sees fewer than --quorum replicas and does nothing. Then the
    # healthy replica 0 (VOTING), then replica 2. Replica 1 leads; its EMPTY replica cannot catch
    # up from a single VOTING replica, and a VOTING replica rules out auto-initialization.
    fast = "--registry_fetch_timeout=8secs"
    wiped_leader = trio.start(1, fast)
    wiped_leader.wait_http("/master/health")
    assert wait_until(lambda: trio.statuses() == {1: EMPTY}, 10)
    healthy = trio.start(0, fast)
    assert wait_until(lambda: trio.statuses() == {0: VOTING, 1: EMPTY}, 10), healthy.log_tail()
    other = trio.start(2, fast)
    assert wait_until(lambda: trio.statuses() == {0: VOTING, 1: EMPTY, 2: EMPTY}, 10), other.log_tail()
    started = [healthy, wiped_leader, other]
    assert elected(wiped_leader)
    time.sleep(1.0)
    snap = metrics(wiped_leader)
    assert snap["master/elected"] == 1.0
    assert snap["registrar/log/recovered"] == 0.0
    assert snap["registrar/log/ensemble_size"] == 3.0
    assert get(wiped_leader, "/master/state").status == 503
    assert serving_leader(started) is None
    assert trio.statuses() == {0: VOTING, 1: EMPTY, 2: EMPTY}
    assert "waiting for a quorum of 2 VOTING log replicas to recover the registry (1 VOTING of 3 visible" \
        in wiped_leader.log_text()
    assert "catching up needs 2 VOTING replicas, 1 visible" in other.log_text()
    # like upstream, the leader gives up after --registry_fetch_timeout
    assert wait_until(lambda: wiped_leader.returncode() is not None, 15)
    assert wiped_leader.returncode() != 0
    assert "Recovery failed" in wiped_leader.log_text()
    assert trio.state(2)["status"] == EMPTY and trio.statuses()[2] == EMPTY
    assert serving_leader(started) is None

    # The operator's recovery: stop every master, copy the healthy replica's replicated_log
    # into the wiped work directories, start them all.
    trio.stop(0, 2)
    for i in (1, 2):
        shutil.rmtree(trio.workdirs[i] / "replicated_log")
        shutil.copytree(trio.workdirs[0] / "replicated_log", trio.workdirs[i] / "replicated_log")
    repaired = trio.start_all()
    leader = wait_until(lambda: serving_leader(repaired), 30)
    assert leader, [p.log_tail() for p in repaired]
    assert trio.statuses() == {0: VOTING, 1: VOTING, 2: VOTING}
    assert [trio.state(i)["log"] for i in range(3)] == [log] * 3
    assert schedule(leader) == SCHEDULE
    assert metrics(leader)["registrar/log/recovered"] == 1.0
    for proc in repaired:
        assert f"replicated_log: VOTING (log {log})" in proc.log_text()


def test_all_masters_wiped_start_a_new_log_with_an_empty_registry(trio):
    """The caveat of auto-initialization: every replica EMPTY is taken for a first start."""
    leader, log = leader_with_schedule(trio)
    trio.stop(0, 1, 2)
    for i in range(3):
        trio.wipe(i)
    procs = trio.start_all()
    leader = wait_until(lambda: serving_leader(procs), 30)
    assert leader, [p.log_tail() for p in procs]
    assert len({trio.state(i)["log"] for i in range(3)} - {log}) == 1
    assert schedule(leader) == {}
    assert "recovering an empty registry" in leader.log_text()


def test_without_auto_initialization_fresh_masters_stay_empty(trio):
    procs = trio.start_all("--log_auto_initialize=false", FETCH_TIMEOUT)
    assert wait_until(lambda: trio.statuses() == {0: EMPTY, 1: EMPTY, 2: EMPTY}, 10)
    leader = wait_until(lambda: next((p for p in procs if elected(p)), None), 10)
    assert leader
    time.sleep(1.5)
    assert serving_leader(procs) is None
    assert metrics(leader)["registrar/log/recovered"] == 0.0
    assert trio.statuses() == {0: EMPTY, 1: EMPTY, 2: EMPTY}
    assert [trio.state(i)["status"] for i in range(3)] == [EMPTY] * 3
    assert all("--log_auto_initialize is false" in p.log_text() for p in procs)


# -- one master -------------------------------------------------------------------------------


def standalone(workdir, *extra):
    port = free_port()
    args = [f"--work_dir={workdir}", "--ip=127.0.0.1", f"--port={port}", "--hostname=127.0.0.1",
            "--registry_fetch_timeout=30secs", *extra]
    proc = StandinProcess("mesos_master", args, port=port)
    proc.wait_http("/master/health")
    return proc


def test_standalone_master_initializes_its_log_once(tmp_path):
    with standalone(tmp_path / "fresh") as proc:
        assert wait_until(lambda: get(proc, "/master/state").status == 200, 10)
        assert json.loads((tmp_path / "fresh" / "replicated_log" / "standin-replica.json").read_text())[
            "status"] == VOTING
    # its persisted VOTING replica needs no initialization
    with standalone(tmp_path / "fresh", "--log_auto_initialize=false") as proc:
        assert wait_until(lambda: get(proc, "/master/state").status == 200, 10)
    with standalone(tmp_path / "never", "--log_auto_initialize=false") as proc:
        time.sleep(1.5)
        result = get(proc, "/master/state")
        assert (result.status, result.text) == (503, "Master has not finished recovery")
        assert metrics(proc)["registrar/log/recovered"] == 0.0


def test_unreadable_replica_state_stops_the_master(tmp_path):
    folder = tmp_path / "replicated_log"
    folder.mkdir()
    (folder / "standin-replica.json").write_text("not json")
    result = run_standin("mesos_master", [f"--work_dir={tmp_path}", "--ip=127.0.0.1", f"--port={free_port()}"])
    assert result.returncode == 1
    assert "Failed to recover the log replica" in result.stderr


def test_in_memory_registry_keeps_no_replica(tmp_path):
    with standalone(tmp_path, "--registry=in_memory") as proc:
        assert wait_until(lambda: get(proc, "/master/state").status == 200, 10)
    assert not (tmp_path / "replicated_log").exists()


# -- the rules, without processes -------------------------------------------------------------


def peer(n, status, log=None):
    return _replica.Peer(f"log-replica(1)@10.0.0.{n}:5050", status, log)


def test_rules_catch_up_needs_a_quorum_of_voting_replicas():
    me = peer(1, EMPTY)
    lost = _replica.decide(me, [me, peer(2, VOTING, "L"), peer(3, EMPTY)], 2, True)
    assert lost.status is None and "catching up needs 2 VOTING replicas, 1 visible" in lost.reason
    caught = _replica.decide(me, [me, peer(2, VOTING, "L"), peer(3, VOTING, "L")], 2, False)
    assert (caught.status, caught.log) == (VOTING, "L")
    assert _replica.decide(peer(1, STARTING), [peer(1, STARTING), peer(2, VOTING, "L"), peer(3, VOTING, "L")],
                           2, False).status == VOTING


def test_rules_auto_initialization_in_two_phases():
    ids = iter(["b", "a"])
    alone = _replica.decide(peer(1, EMPTY), [peer(1, EMPTY)], 2, True)
    assert alone.status is None and "sees 1 of the 2 replicas" in alone.reason
    first = _replica.decide(peer(1, EMPTY), [peer(1, EMPTY), peer(2, EMPTY)], 2, True, lambda: next(ids))
    second = _replica.decide(peer(2, EMPTY), [peer(1, EMPTY), peer(2, EMPTY)], 2, True, lambda: next(ids))
    assert (first.status, second.status) == (STARTING, STARTING)
    view = [peer(1, STARTING, first.log), peer(2, STARTING, second.log), peer(3, EMPTY)]
    # an EMPTY replica joins the round; the STARTING ones wait for it
    assert _replica.decide(view[2], view, 2, True).status == STARTING
    assert _replica.decide(view[0], view, 2, True).status is None
    view[2] = peer(3, STARTING, "a")
    done = [_replica.decide(p, view, 2, True) for p in view]
    assert {(d.status, d.log) for d in done} == {(VOTING, "a")}  # one log for all
    # disabled: nothing moves
    assert _replica.decide(peer(1, EMPTY), [peer(1, EMPTY), peer(2, EMPTY)], 2, False).status is None


def test_rules_a_voting_replica_ends_the_round_for_starting_ones():
    # replica 3 registered after replica 1 went VOTING and before replica 2 did
    view = [peer(1, VOTING, "a"), peer(2, STARTING, "b"), peer(3, EMPTY)]
    assert (_replica.decide(view[1], view, 2, True).status, _replica.decide(view[1], view, 2, True).log) == \
        (VOTING, "a")
    assert _replica.decide(view[2], view, 2, True).status is None  # waits to catch up
    view[1] = peer(2, VOTING, "a")
    assert _replica.decide(view[2], view, 2, True).status == VOTING


def test_rules_only_voting_replicas_make_the_leaders_quorum():
    me = peer(1, VOTING, "L")
    assert not _replica.log_usable(me, [me, peer(2, EMPTY), peer(3, STARTING, "L")], 2)
    assert _replica.log_usable(me, [me, peer(2, VOTING, "L"), peer(3, EMPTY)], 2)
    assert not _replica.log_usable(peer(1, EMPTY), [peer(1, EMPTY), peer(2, VOTING, "L"), peer(3, VOTING, "L")], 2)


def test_znode_data_round_trip_and_older_forms():
    data = _replica.encode("log-replica(1)@10.0.0.1:5050", VOTING, "L")
    assert data.split(b"\n")[0] == b"log-replica(1)@10.0.0.1:5050"
    assert _replica.parse(data) == peer(1, VOTING, "L")
    assert _replica.parse(b"log-replica(1)@10.0.0.1:5050") == peer(1, VOTING)  # a pid alone votes
    assert _replica.parse(b"log-replica(1)@10.0.0.1:5050\n{bad") == peer(1, EMPTY)
    assert _replica.parse(b"") is None


def test_state_file_persists_the_status(tmp_path):
    replica = _replica.LocalReplica.open(str(tmp_path))
    assert (replica.status, replica.log, replica.restored) == (EMPTY, None, False)
    assert (tmp_path / "replicated_log" / "standin-replica.json").exists()
    replica.persist(VOTING, "L")
    again = _replica.LocalReplica.open(str(tmp_path))
    assert (again.status, again.log, again.restored) == (VOTING, "L", True)
    (tmp_path / "replicated_log" / "standin-replica.json").write_text('{"status": "MAYBE"}')
    with pytest.raises(_replica.ReplicaError, match="unknown status"):
        _replica.LocalReplica.open(str(tmp_path))
