"""The rolling-restart engine's decisions: order, quorum refusal and settling, from statuses alone."""

from __future__ import annotations

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _restart


def st(name, serving=True, leader=False, names_leader=None, error=None):
    return dict(name=name, serving=serving, leader=leader, names_leader=names_leader, error=error)


def zk3(down=(), leader="zk1"):
    return [st(n, serving=n not in down, leader=n == leader and n not in down,
               error="connection to %s:2181 refused" % n if n in down else None)
            for n in ("zk1", "zk2", "zk3")]


@pytest.mark.parametrize("service,size,quorum", [
    ("zookeeper", 3, 2), ("zookeeper", 5, 3), ("mesos_master", 3, 2), ("mesos_master", 1, 1),
    ("marathon", 3, 1), ("chronos", 5, 1),
])
def test_default_quorum(service, size, quorum):
    assert _restart.default_quorum(service, size) == quorum


def test_order_not_serving_first_leader_last():
    statuses = [st("m1", leader=True), st("m2"), st("m3", serving=False), st("m4"), st("m5", serving=False)]
    assert _restart.restart_order(statuses, ["m1", "m2", "m3", "m4", "m5", "m2"]) == ["m3", "m5", "m2", "m4", "m1"]
    assert _restart.restart_order(statuses, ["m4", "m1"]) == ["m4", "m1"]
    assert _restart.restart_order(statuses, []) == []


def test_healthy_ensemble_plan_is_allowed():
    plan = _restart.plan("zookeeper", zk3(leader="zk2"), ["zk1", "zk2", "zk3"], 2)
    assert plan == dict(order=["zk1", "zk3", "zk2"], leader="zk2", down=[], refused=None)


def test_restarting_a_healthy_member_with_one_of_three_down_is_refused():
    statuses = zk3(down=["zk2"])
    plan = _restart.plan("zookeeper", statuses, ["zk3"], 2)
    assert plan["down"] == ["zk2"]
    refused = plan["refused"]
    assert refused.startswith("Refusing to restart ZooKeeper member zk3: zk2 does not serve (zk2: connection")
    assert "only 1 of 3 ZooKeeper members would serve" in refused
    assert "quorum of 2" in refused
    assert "allow_quorum_loss" in refused
    assert refused.count(". ") == 0 and refused.endswith(".")  # one sentence


def test_allowed_when_the_down_member_is_restarted_too():
    plan = _restart.plan("zookeeper", zk3(down=["zk2"]), ["zk3", "zk1", "zk2"], 2)
    assert plan["order"] == ["zk2", "zk3", "zk1"]
    assert plan["refused"] is None


def test_only_the_down_member_is_restarted():
    assert _restart.refusal("zookeeper", zk3(down=["zk2"]), ["zk2"], 2) is None


def test_two_down_members_are_both_named():
    refused = _restart.refusal("mesos_master", zk3(down=["zk2", "zk3"]), ["zk1"], 2)
    assert "zk2 and zk3 do not serve" in refused
    assert "only 0 of 3 Mesos masters" in refused


def test_five_members_with_one_down_allow_restarting_a_healthy_one():
    statuses = [st("z%d" % i, serving=i != 4, leader=i == 1) for i in range(1, 6)]
    assert _restart.refusal("zookeeper", statuses, ["z1", "z2", "z3", "z5"], 3) is None
    statuses[1]["serving"] = False  # a second member down: 3 serve, restarting one leaves 2 < 3
    assert "z2 and z4 do not serve" in _restart.refusal("zookeeper", statuses, ["z1"], 3)


def test_frameworks_need_one_instance():
    statuses = [st("m1", leader=True, names_leader="m1:8080"), st("m2", serving=False, error="refused"),
                st("m3", serving=False, error="refused")]
    # Restarting the last serving one leaves none.
    assert "only 0 of 3 Marathon instances" in _restart.refusal("marathon", statuses, ["m1"], 1)
    statuses[1]["serving"] = True
    assert _restart.refusal("marathon", statuses, ["m1"], 1) is None


def test_nothing_serving_means_nothing_to_lose():
    statuses = zk3(down=["zk1", "zk2", "zk3"])
    plan = _restart.plan("zookeeper", statuses, ["zk1"], 2)
    assert plan["refused"] is None
    assert plan["leader"] is None


def test_refusal_without_a_member_down_reads_well():
    refused = _restart.refusal("zookeeper", zk3(), ["zk1"], 3)
    assert "zk1: only 2 of 3 ZooKeeper members would serve" in refused


def test_two_leaders_is_no_leader():
    statuses = zk3()
    statuses[2]["leader"] = True
    assert _restart.leader_name(statuses) is None


def mesos(names=("m1:5050", "m1:5050", "m1:5050"), leaders=(True, False, False), serving=(True, True, True)):
    return [st("m%d" % (i + 1), serving=serving[i], leader=leaders[i], names_leader=names[i] if serving[i] else None,
               error=None if serving[i] else "refused") for i in range(3)]


def test_settled_when_member_serves_and_all_agree():
    assert _restart.settled("mesos_master", mesos(), "m2", 2) is None
    assert _restart.settled("zookeeper", zk3(leader="zk3"), "zk1", 2) is None


def test_not_settled_while_the_member_does_not_serve():
    reason = _restart.settled("mesos_master", mesos(serving=(True, False, True)), "m2", 2)
    assert reason == "m2 does not serve"


def test_not_settled_when_leaders_disagree():
    reason = _restart.settled("mesos_master", mesos(names=("m1:5050", "m3:5050", "m1:5050")), "m2", 2)
    assert "name different leaders (m1: m1:5050, m2: m3:5050, m3: m1:5050)" in reason


def test_not_settled_without_a_leader_or_with_two():
    assert "no member leads" in _restart.settled("mesos_master", mesos(leaders=(False,) * 3), "m2", 2)
    statuses = zk3()
    statuses[1]["leader"] = True
    assert "2 members lead (zk1, zk2)" in _restart.settled("zookeeper", statuses, "zk2", 2)


def test_not_settled_below_quorum():
    reason = _restart.settled("zookeeper", zk3(down=["zk2", "zk3"]), "zk1", 2)
    assert reason == "1 of 3 serve, fewer than the quorum of 2"


def test_describe_names_who_each_member_names():
    text = _restart.describe(mesos(names=("m1:5050", "m3:5050", None), serving=(True, True, False)))
    assert text == ("m1 serves and leads, naming m1:5050 as leader; m2 serves, naming m3:5050 as leader; "
                    "m3 does not serve (refused)")


def test_framework_leaders_are_marked_by_leader_id():
    members = [dict(name="a", endpoint="http://10.0.0.1:8080", leader_id="a.example:8080"),
               dict(name="b", endpoint="http://10.0.0.2:8080", leader_id=None)]
    statuses = [st("a", names_leader="10.0.0.2:8080"), st("b", names_leader="10.0.0.2:8080")]
    _restart.mark_framework_leaders(members, statuses)
    assert [s["leader"] for s in statuses] == [False, True]
    statuses = [st("a", names_leader="a.example:8080"), st("b", names_leader="a.example:8080")]
    _restart.mark_framework_leaders(members, statuses)
    assert [s["leader"] for s in statuses] == [True, False]


def test_a_one_member_ensemble_may_restart():
    assert _restart.refusal("mesos_master", [st("m1", leader=True)], ["m1"], 1) is None
