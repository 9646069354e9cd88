"""Roles, weights, quota and reservations of the mesos-master stand-in (roles.md,
operator-http-api.md, endpoints/master/{roles,weights,quota,reserve,unreserve}.md) and the
allocator that decides which role gets resources when they are short."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from harness import StandinProcess, free_port

from mesosphere_standins._common import http_request, wait_until

SCHED = "/api/v1/scheduler"


def get(master, path, **kw):
    return http_request("GET", master.url(path), **kw)


def v1(master, call, **kw):
    return http_request("POST", master.url("/api/v1"), call, **kw)


def scalar(name, value, role=None, allocation=None):
    item = {"name": name, "type": "SCALAR", "scalar": {"value": value}}
    if role:
        item["reservations"] = [{"type": "DYNAMIC", "role": role, "principal": "ops"}]
    if allocation:
        item["allocation_info"] = {"role": allocation}
    return item


def slaves(master):
    return get(master, "/master/slaves").json()["slaves"]


def start_agent(factory, hostname, resources):
    """An agent of the factory's cluster with these --resources (the fixture's own are fixed)."""
    port = free_port()
    workdir = factory.tmpdir / hostname / "work"
    workdir.mkdir(parents=True)
    proc = StandinProcess("mesos_agent", ["--ip=127.0.0.1", f"--port={port}", f"--hostname={hostname}",
                                          f"--master={factory.zk_url}", f"--work_dir={workdir}",
                                          "--zk_session_timeout=3secs", f"--resources={resources}"],
                          None, port=port, log_path=workdir.parent / "agent.log")
    factory.procs.append(proc)
    proc.wait_http("/health", timeout=30)
    return proc


@pytest.fixture
def cluster(mesos_factory):
    """One master, agent A (4 cpus, 1 of them statically reserved for prod) and agent B (4 cpus)."""
    master = mesos_factory.master(quorum=1)
    assert wait_until(lambda: get(master, "/master/state").status == 200, 15)
    start_agent(mesos_factory, "agent-a.example", "cpus:3;cpus(prod):1;mem:2048;disk:1000;ports:[31600-31609]")
    start_agent(mesos_factory, "agent-b.example", "cpus:4;mem:2048;disk:1000;ports:[31610-31619]")
    assert wait_until(lambda: len(slaves(master)) == 2, 20)
    ids = {s["hostname"]: s["id"] for s in slaves(master)}
    return master, ids["agent-a.example"], ids["agent-b.example"]


class Framework:
    def __init__(self, master, name, roles):
        self.master = master
        reply = http_request("POST", master.url(SCHED), {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "name": name, "user": "root", "roles": roles, "capabilities": [{"type": "MULTI_ROLE"}]}}})
        assert reply.status == 200, reply.text
        self.id = reply.json()["subscribed"]["framework_id"]["value"]
        self.n = 0

    def call(self, kind, body=None):
        return http_request("POST", self.master.url(SCHED), {"type": kind, "framework_id": {"value": self.id},
                                                            **({kind.lower(): body} if body else {})})

    def launch(self, agent_id, role, resources):
        self.n += 1
        task = {"name": f"t{self.n}", "task_id": {"value": f"{self.id}-t{self.n}"}, "agent_id": {"value": agent_id},
                "resources": [dict(r, allocation_info={"role": role}) for r in resources],
                "command": {"value": "sleep 300"}}
        return self.call("ACCEPT", {"operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]})

    def offers(self):
        state = get(self.master, "/master/state").json()
        return next(f for f in state["frameworks"] if f["id"] == self.id)["offers"]


def test_weights_put_get_and_refusals(cluster):
    master, _, _ = cluster
    assert http_request("PUT", master.url("/weights"), [{"role": "prod", "weight": 3.0}]).status == 200
    assert get(master, "/master/weights").json() == [{"role": "prod", "weight": 3.0}]
    assert v1(master, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [
        {"role": "batch", "weight": 0.5}]}}).status == 202
    weights = v1(master, {"type": "GET_WEIGHTS"}).json()["get_weights"]["weight_infos"]
    assert weights == [{"role": "batch", "weight": 0.5}, {"role": "prod", "weight": 3.0}]
    roles = {r["name"]: r for r in get(master, "/roles").json()["roles"]}
    assert roles["prod"]["weight"] == 3.0 and roles["*"]["weight"] == 1.0
    for bad in ([{"role": "prod", "weight": -1}], [{"role": "a b", "weight": 2}], {"prod": 2}):
        reply = http_request("PUT", master.url("/weights"), bad)
        assert reply.status == 400, reply.text
    assert get(master, "/weights").json() == [{"role": "batch", "weight": 0.5}, {"role": "prod", "weight": 3.0}]


def test_quota_update_get_and_refusals(cluster):
    master, _, _ = cluster
    update = {"type": "UPDATE_QUOTA", "update_quota": {"force": False, "quota_configs": [
        {"role": "prod", "guarantees": {"cpus": {"value": 2}, "mem": {"value": 512}},
         "limits": {"cpus": {"value": 4}}}]}}
    assert v1(master, update).status == 200
    configs = v1(master, {"type": "GET_QUOTA"}).json()["get_quota"]["status"]["infos"][0]["configs"]
    assert configs == [{"role": "prod", "guarantees": {"cpus": {"value": 2.0}, "mem": {"value": 512.0}},
                        "limits": {"cpus": {"value": 4.0}}}]
    assert get(master, "/quota").json()["infos"][0]["configs"] == configs

    def refused(config, force=False, text=""):
        reply = v1(master, {"type": "UPDATE_QUOTA", "update_quota": {"force": force, "quota_configs": [config]}})
        assert reply.status == 400 and text in reply.text, reply.text

    refused({"role": "prod", "guarantees": {"cpus": {"value": 100}}}, text="capacity")
    refused({"role": "prod", "guarantees": {"cpus": {"value": -1}}}, text="non-negative")
    refused({"role": "prod", "guarantees": {"bogus": {"value": 1}}}, text="not a quota resource")
    refused({"role": "prod", "guarantees": {"cpus": {"value": 3}}, "limits": {"cpus": {"value": 2}}},
            text="greater than its limit")
    assert v1(master, {"type": "GET_QUOTA"}).json()["get_quota"]["status"]["infos"][0]["configs"] == configs
    # force accepts guarantees beyond the capacity; empty fields remove the quota
    assert v1(master, {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": [
        {"role": "batch", "guarantees": {"cpus": {"value": 100}}}]}}).status == 200
    assert v1(master, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "batch"}, {"role": "prod"}]}}).status == 200
    assert v1(master, {"type": "GET_QUOTA"}).json()["get_quota"]["status"] == {}


def test_reservations_dynamic_and_static(cluster):
    master, agent_a, agent_b = cluster
    by_id = {s["id"]: s for s in slaves(master)}
    assert by_id[agent_a]["reserved_resources"] == {"prod": {"cpus": 1.0}}
    assert by_id[agent_a]["unreserved_resources"]["cpus"] == 3.0
    reserve = {"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": {"value": agent_b}, "resources": [
        scalar("cpus", 2.0, "prod"), scalar("mem", 512.0, "prod")]}}
    assert v1(master, reserve).status == 202
    agent = {s["id"]: s for s in slaves(master)}[agent_b]
    assert agent["reserved_resources"] == {"prod": {"cpus": 2.0, "mem": 512.0}}
    # no HTTP authentication: the reservation names no principal
    assert agent["reserved_resources_full"]["prod"][0]["reservations"] == [{"type": "DYNAMIC", "role": "prod"}]
    # more than the agent's unreserved resources, an unknown agent, role '*'
    too_much = {"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": {"value": agent_b}, "resources": [
        scalar("cpus", 3.0, "batch")]}}
    assert v1(master, too_much).status == 409
    unknown = {"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": {"value": "nope-S9"}, "resources": [
        scalar("cpus", 1.0, "batch")]}}
    reply = v1(master, unknown)
    assert reply.status == 400 and "Unknown agent 'nope-S9'" in reply.text
    # the v0 form endpoint
    form = urllib.parse.urlencode({"slaveId": agent_b, "resources": json.dumps([scalar("cpus", 1.0, "batch")])})
    reply = http_request("POST", master.url("/master/reserve"), form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 202, reply.text
    agent = {s["id"]: s for s in slaves(master)}[agent_b]
    assert agent["reserved_resources"]["batch"] == {"cpus": 1.0}
    reply = http_request("POST", master.url("/master/unreserve"), form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 202
    assert v1(master, {"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": agent_b}, "resources": [scalar("cpus", 2.0, "prod"), scalar("mem", 512.0, "prod")]}}
              ).status == 202
    assert {s["id"]: s for s in slaves(master)}[agent_b]["reserved_resources"] == {}
    # nothing left to unreserve
    assert v1(master, {"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": agent_b}, "resources": [scalar("cpus", 1.0, "prod")]}}).status == 409


def test_reserved_resources_only_for_their_role(cluster):
    master, agent_a, _ = cluster
    batch = Framework(master, "batch-fw", ["batch"])
    prod = Framework(master, "prod-fw", ["prod"])
    reply = batch.launch(agent_a, "batch", [scalar("cpus", 1.0, "prod")])
    assert reply.status == 400 and "reserved for role 'prod'" in reply.text
    # batch waits; the reserved cpu is still offered to prod alone
    assert batch.call("REVIVE", {"roles": ["batch"]}).status == 202
    offered_to_batch = {o["slave_id"]: o for o in batch.offers()}
    assert all("prod" not in json.dumps(o["resources_full"]) for o in offered_to_batch.values())
    prod_offer = next(o for o in prod.offers() if o["slave_id"] == agent_a)
    assert prod_offer["resources_full"][0]["reservations"][0] == {"type": "STATIC", "role": "prod"}
    static = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0},
              "reservations": [{"type": "STATIC", "role": "prod"}]}
    assert prod.launch(agent_a, "prod", [static]).status == 202
    tasks = get(master, "/master/tasks").json()["tasks"]
    assert [t["role"] for t in tasks] == ["prod"]


def test_quota_role_is_offered_first_then_weighted_shares(cluster):
    master, agent_a, agent_b = cluster
    batch = Framework(master, "batch-fw", ["batch"])
    prod = Framework(master, "prod-fw", ["prod"])
    dev = Framework(master, "dev-fw", ["dev"])
    # nobody waits: unreserved resources are open to every role
    assert batch.launch(agent_b, "batch", [scalar("cpus", 1.0)]).status == 202
    assert v1(master, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "prod", "guarantees": {"cpus": {"value": 2}}}]}}).status == 200
    for fw, role in ((batch, "batch"), (prod, "prod"), (dev, "dev")):
        assert fw.call("REVIVE", {"roles": [role]}).status == 202
    # prod is below its guarantee: it holds the unreserved resources
    assert {o["allocation_info"]["role"] for o in prod.offers()} == {"prod"}
    assert batch.offers() == [] and dev.offers() == []
    reply = batch.launch(agent_b, "batch", [scalar("cpus", 1.0)])
    assert reply.status == 400 and "offered to role 'prod' first" in reply.text
    assert prod.launch(agent_b, "prod", [scalar("cpus", 1.0)]).status == 202
    assert prod.launch(agent_b, "prod", [scalar("cpus", 1.0)]).status == 202
    # guarantee met (2 cpus): now the lowest weighted share leads; dev (0) before batch (1 cpu)
    assert [o["slave_id"] for o in dev.offers()] == sorted([agent_a, agent_b])
    assert dev.launch(agent_a, "dev", [scalar("cpus", 1.0)]).status == 202
    assert dev.launch(agent_a, "dev", [scalar("cpus", 1.0)]).status == 400
    # dev 1 cpu, batch 1: equal shares, batch leads by name, unless dev's weight is higher
    assert batch.offers() and not dev.offers()
    assert http_request("PUT", master.url("/weights"), [{"role": "dev", "weight": 2.0}]).status == 200
    assert dev.offers() and not batch.offers()
    assert dev.launch(agent_a, "dev", [scalar("cpus", 1.0)]).status == 202
    # dev 2 cpus / weight 2 == batch 1 cpu / weight 1: batch again
    assert batch.offers() and not dev.offers()
    roles = {r["name"]: r for r in get(master, "/roles").json()["roles"]}
    assert roles["dev"]["resources"]["cpus"] == 2.0 and roles["prod"]["quota"]["guarantees"]["cpus"]["value"] == 2
    # a suppressed role no longer holds resources
    assert batch.call("SUPPRESS", {"roles": ["batch"]}).status == 202
    assert dev.offers() and not batch.offers()


def test_quota_limit_caps_offers_and_launches(cluster):
    master, _, agent_b = cluster
    batch = Framework(master, "batch-fw", ["batch"])
    assert v1(master, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "batch", "limits": {"cpus": {"value": 1.5}}}]}}).status == 200
    offer = next(o for o in batch.offers() if o["slave_id"] == agent_b)
    assert offer["resources"]["cpus"] == 1.5
    assert batch.launch(agent_b, "batch", [scalar("cpus", 1.0)]).status == 202
    reply = batch.launch(agent_b, "batch", [scalar("cpus", 1.0)])
    assert reply.status == 400 and "quota limit of role 'batch'" in reply.text


def test_policy_needs_readwrite_credentials_and_survives_failover(mesos_factory, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": "s3cret"}]}))
    args = [f"--credentials={creds}", "--authenticate_http_readwrite", "--authenticate_http_readonly"]
    first = mesos_factory.master(quorum=1, extra_args=args)
    assert wait_until(lambda: get(first, "/master/state", auth=("ops", "s3cret")).status == 200, 15)
    reply = http_request("PUT", first.url("/weights"), [{"role": "prod", "weight": 2.0}])
    assert reply.status == 401
    assert http_request("PUT", first.url("/weights"), [{"role": "prod", "weight": 2.0}],
                        auth=("ops", "s3cret")).status == 200
    assert v1(first, {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": [
        {"role": "prod", "guarantees": {"cpus": {"value": 1}}}]}}, auth=("ops", "s3cret")).status == 200
    # a new leader reads weights and quota from the registry
    second = mesos_factory.master(quorum=1, extra_args=args)
    first.kill()
    assert wait_until(lambda: get(second, "/master/weights", auth=("ops", "s3cret")).status == 200, 30)
    assert get(second, "/weights", auth=("ops", "s3cret")).json() == [{"role": "prod", "weight": 2.0}]
    assert get(second, "/quota", auth=("ops", "s3cret")).json()["infos"][0]["configs"][0]["role"] == "prod"


def test_tasks_of_an_unreachable_agent_hold_nothing(mesos_factory):
    """A quota role whose tasks were on a lost agent is below its guarantee again, even though
    partition-aware frameworks see those tasks as TASK_UNREACHABLE (not terminal)."""
    master = mesos_factory.master(quorum=1)
    assert wait_until(lambda: get(master, "/master/state").status == 200, 15)
    start_agent(mesos_factory, "agent-c.example", "cpus:2;mem:512;disk:100;ports:[31620-31629]")
    doomed = start_agent(mesos_factory, "agent-d.example", "cpus:2;mem:512;disk:100;ports:[31630-31639]")
    assert wait_until(lambda: len(slaves(master)) == 2, 20)
    ids = {s["hostname"]: s["id"] for s in slaves(master)}
    reply = http_request("POST", master.url(SCHED), {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "name": "prod-fw", "user": "root", "roles": ["prod"],
        "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}]}}})
    prod = Framework.__new__(Framework)
    prod.master, prod.id, prod.n = master, reply.json()["subscribed"]["framework_id"]["value"], 0
    batch = Framework(master, "batch-fw", ["batch"])
    assert v1(master, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "prod", "guarantees": {"cpus": {"value": 1}}}]}}).status == 200
    assert prod.launch(ids["agent-d.example"], "prod", [scalar("cpus", 1.0)]).status == 202
    assert wait_until(lambda: [t["state"] for t in get(master, "/master/tasks").json()["tasks"]] == ["TASK_RUNNING"],
                      15)
    for fw, role in ((prod, "prod"), (batch, "batch")):
        assert fw.call("REVIVE", {"roles": [role]}).status == 202
    assert batch.offers() and not prod.offers()  # prod's guarantee is met: batch has the lower share
    doomed.kill()
    assert wait_until(lambda: [t["state"] for t in get(master, "/master/tasks").json()["tasks"]] ==
                      ["TASK_UNREACHABLE"], 20)
    roles = {r["name"]: r for r in get(master, "/roles").json()["roles"]}
    assert roles["prod"]["resources"] == {}
    assert prod.offers() and not batch.offers()
