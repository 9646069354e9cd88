# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private Mesos helpers for mesos_info, cluster_ha_check and mesos_maintenance.

Private to the mesosphere.cluster collection; may change without notice.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from ansible_collections.mesosphere.cluster.plugins.module_utils._api import (
    ApiError,
    EndpointUnreachable,
    redact_url,
)
from ansible_collections.mesosphere.cluster.plugins.module_utils._mesos_names import QUOTA_RESOURCES

try:
    from kazoo.client import KazooClient

    HAS_KAZOO = True
except ImportError:
    HAS_KAZOO = False

# The master flags that decide whether the masters form a highly available group.
HA_FLAGS = ("quorum", "zk", "work_dir", "registry", "cluster", "hostname", "ip", "port",
            "advertise_ip", "advertise_port", "zk_session_timeout", "registry_strict")

METRICS = ("master/elected", "master/uptime_secs", "master/slaves_active", "master/slaves_inactive",
           "master/frameworks_active", "master/frameworks_inactive", "registrar/log/recovered",
           "registrar/log/ensemble_size", "master/tasks_running")

MASTER_INFO_PREFIX = "json.info_"


def host_port(url):
    """'http://h:5050' -> 'h:5050' (what the masters' leader answers compare on)."""
    if not url:
        return None
    return urlsplit(url).netloc or url


def probe_master(client, endpoint):
    """What one master says about itself, read from it alone (no redirect is followed).

    A master that cannot be reached is data: reachable=false and the error.
    """
    master = dict(endpoint=endpoint, reachable=False, error=None, elected=None, leader=None,
                  version=None, uptime_secs=None, flags={}, metrics={})
    errors = []
    try:
        metrics = client.get_json("/metrics/snapshot", leader=False, endpoint=endpoint) or {}
        master["reachable"] = True
        master["metrics"] = dict((k, metrics[k]) for k in METRICS if k in metrics)
        if "master/elected" in metrics:
            master["elected"] = bool(metrics["master/elected"])
        if "master/uptime_secs" in metrics:
            master["uptime_secs"] = metrics["master/uptime_secs"]
    except EndpointUnreachable as exc:
        master["error"] = str(exc)
        return master
    except ApiError as exc:
        master["reachable"] = True
        errors.append(str(exc))
    try:
        leader = client.leader_seen_by(endpoint)
        master["leader"] = host_port(leader)
    except ApiError as exc:
        errors.append(str(exc))
    try:
        master["version"] = (client.get_json("/version", leader=False, endpoint=endpoint) or {}).get("version")
    except ApiError as exc:
        errors.append(str(exc))
    try:
        flags = (client.get_json("/master/flags", leader=False, endpoint=endpoint) or {}).get("flags", {})
        master["flags"] = dict((k, flags[k]) for k in HA_FLAGS if k in flags)
    except ApiError as exc:
        errors.append(str(exc))
    if errors:
        master["error"] = " ".join(errors)
    return master


def summarize_agent(agent):
    return dict(
        id=agent.get("id"),
        hostname=agent.get("hostname"),
        pid=agent.get("pid"),
        active=bool(agent.get("active")),
        resources=agent.get("resources", {}),
        used_resources=agent.get("used_resources", {}),
        attributes=agent.get("attributes", {}),
        registered_time=agent.get("registered_time"),
        version=agent.get("version"),
    )


def summarize_framework(framework):
    return dict(
        id=framework.get("id"),
        name=framework.get("name"),
        # the principal it authenticated (or registered) with; None without one
        principal=framework.get("principal"),
        active=bool(framework.get("active")),
        hostname=framework.get("hostname"),
        webui_url=framework.get("webui_url"),
        tasks=len(framework.get("tasks") or []),
    )


def cluster_state(client):
    """/master/state from the leader, reduced to what a person reads."""
    state = client.get_json("/master/state") or {}
    leader_info = state.get("leader_info") or {}
    return dict(
        leader=dict(
            pid=state.get("leader"),
            hostname=leader_info.get("hostname"),
            port=leader_info.get("port"),
            id=leader_info.get("id"),
        ),
        self_pid=state.get("pid"),
        version=state.get("version"),
        cluster=state.get("cluster"),
        agents=[summarize_agent(a) for a in state.get("slaves") or []],
        frameworks=[summarize_framework(f) for f in state.get("frameworks") or []],
    )


def maintenance(client):
    schedule = client.get_json("/master/maintenance/schedule") or {}
    status = client.get_json("/master/maintenance/status") or {}
    return dict(schedule=schedule, status=status)


def zk_leader(zk_url, timeout=5.0):
    """The leading master as ZooKeeper says: the lowest json.info_ znode under the --zk path.

    Returns (info dict or None, error or None). Needs kazoo on the host that runs the module.
    """
    if zk_url and str(zk_url).startswith("file://"):
        # the masters read a --zk with a password from a file (mesos_master role), which is theirs
        return None, ("the masters read their --zk from %s, which this module cannot read: give the "
                      "zk_url option" % zk_url)
    if not zk_url or not str(zk_url).startswith("zk://"):
        return None, "no zk:// URL to read (the masters' --zk flag or the zk_url option)"
    if not HAS_KAZOO:
        return None, "the kazoo Python library is not installed on the host that runs the module"
    rest = zk_url[len("zk://"):]
    auth = None
    hosts, _sep, path = rest.partition("/")
    if "@" in hosts:
        cred, hosts = hosts.split("@", 1)
        auth = ("digest", cred)
    path = "/" + path.rstrip("/")
    zk = KazooClient(hosts=hosts, timeout=timeout, read_only=True,
                     auth_data=[auth] if auth else None)
    try:
        zk.start(timeout=timeout)
        children = [c for c in zk.get_children(path) if c.startswith(MASTER_INFO_PREFIX)]
        if not children:
            return None, "no master has registered under %s" % path
        first = sorted(children, key=lambda c: c[len(MASTER_INFO_PREFIX):])[0]
        data, _stat = zk.get("%s/%s" % (path, first))
        info = json.loads(data.decode("utf-8"))
        address = info.get("address") or {}
        return dict(
            znode="%s/%s" % (path, first),
            masters_registered=len(children),
            hostname=address.get("hostname") or info.get("hostname"),
            ip=address.get("ip"),
            port=address.get("port") or info.get("port"),
            pid=info.get("pid"),
            id=info.get("id"),
        ), None
    except Exception as exc:  # kazoo raises many types; all mean "could not read ZooKeeper"
        return None, "could not read %s from ZooKeeper %s: %s" % (path, hosts, exc or exc.__class__.__name__)
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass


SECTIONS = ("masters", "state", "maintenance", "zookeeper")


def gather(client, zk_url=None, zookeeper=True, timeout=5.0, sections=SECTIONS):
    """Everything mesos_info returns, or the `sections` of it asked for; raises ApiError only if
    no master answers at all."""
    result = dict(leader=None, masters_agree=None, masters=[], agents=[], frameworks=[],
                  maintenance={}, zookeeper=dict(leader=None, agrees=None, error=None), errors=[])
    reachable = []
    if "masters" in sections:
        masters = [probe_master(client, e) for e in client.endpoints]
        reachable = [m for m in masters if m["reachable"]]
        if not reachable:
            raise ApiError("No Mesos master answered: %s" % " ".join(m["error"] for m in masters))
        named = set(m["leader"] for m in reachable if m["leader"])
        result["masters_agree"] = len(named) == 1 and all(m["leader"] for m in reachable)
        result["leader"] = named.pop() if len(named) == 1 else None
        result["masters"] = masters
    leader = result["leader"]
    try:
        if "state" in sections:
            state = cluster_state(client)
            result["version"] = state["version"]
            result["agents"] = state["agents"]
            result["frameworks"] = state["frameworks"]
        if "maintenance" in sections:
            result["maintenance"] = maintenance(client)
    except ApiError as exc:
        if "masters" not in sections and isinstance(exc, EndpointUnreachable):
            raise  # nothing else says that no master answered
        # No leader (an election under way) is a state worth reporting, not a failure to read.
        result["errors"].append("Could not read the leader's state: %s" % exc)
    if zookeeper and "zookeeper" in sections:
        url = zk_url or next((m["flags"].get("zk") for m in reachable if m["flags"].get("zk")), None)
        zk, error = zk_leader(url, timeout=timeout)
        result["zookeeper"]["leader"] = zk
        result["zookeeper"]["error"] = error
        if zk and leader:
            result["zookeeper"]["agrees"] = leader in (
                "%s:%s" % (zk.get("hostname"), zk.get("port")), "%s:%s" % (zk.get("ip"), zk.get("port")))
    for master in result["masters"]:
        # a --zk with a password (zk://user:password@...) is shown without it
        if "zk" in master.get("flags", {}):
            master["flags"]["zk"] = redact_url(master["flags"]["zk"])
    return result


# --------------------------------------------------------------------------------------------
# Roles: weights, quota and reservations (mesos_role, mesos_reservation, mesos_role_info).
# The operator API calls of operator-http-api.md (Mesos 1.11): GET_WEIGHTS, UPDATE_WEIGHTS,
# GET_QUOTA, UPDATE_QUOTA, RESERVE_RESOURCES, UNRESERVE_RESOURCES; /master/slaves and
# /master/roles for what an agent holds and what a role is allocated.

OPERATOR_PATH = "/api/v1"


def numbers(values):
    return dict((k, float(v)) for k, v in (values or {}).items())


def operator(client, call, expect=(200,)):
    """One call of the v1 operator API on the leading master; the JSON answer or None."""
    resp = client.request("POST", OPERATOR_PATH, body=call, expect=expect)
    return resp.json() if resp.body else None


def read_weights(client):
    """role -> weight for the roles whose weight was set (GET_WEIGHTS)."""
    answer = operator(client, {"type": "GET_WEIGHTS"}) or {}
    infos = (answer.get("get_weights") or {}).get("weight_infos") or []
    return dict((i["role"], float(i.get("weight", 1.0))) for i in infos if i.get("role"))


def _quota_configs(status):
    # operator-http-api.md's example nests the configs in `infos`; accept them at either level.
    configs = list(status.get("configs") or [])
    for info in status.get("infos") or []:
        configs.extend((info or {}).get("configs") or [])
    return configs


def read_quotas(client):
    """role -> {"guarantees": {...}, "limits": {...}} (GET_QUOTA)."""
    answer = operator(client, {"type": "GET_QUOTA"}) or {}
    status = (answer.get("get_quota") or {}).get("status") or {}
    out = {}
    for config in _quota_configs(status):
        role = config.get("role")
        if not role:
            continue
        out[role] = dict(
            guarantees=dict((k, float((v or {}).get("value", 0))) for k, v in (config.get("guarantees") or {}).items()),
            limits=dict((k, float((v or {}).get("value", 0))) for k, v in (config.get("limits") or {}).items()),
        )
    return out


def quota_config(role, guarantees, limits):
    config = dict(role=role)
    if guarantees:
        config["guarantees"] = dict((k, dict(value=v)) for k, v in sorted(guarantees.items()))
    if limits:
        config["limits"] = dict((k, dict(value=v)) for k, v in sorted(limits.items()))
    return config


def read_agents(client):
    return (client.get_json("/master/slaves") or {}).get("slaves") or []


def find_agent(agents, ref):
    """The agent whose id or host name is `ref`; None when there is none or more than one."""
    by_id = [a for a in agents if a.get("id") == ref]
    if by_id:
        return by_id[0]
    by_name = [a for a in agents if (a.get("hostname") or "").lower() == str(ref).lower()]
    return by_name[0] if len(by_name) == 1 else None


def agent_reservations(agent):
    """role -> {"static": {name: amount}, "dynamic": {name: amount}, "principal": ...} of one agent,
    from reserved_resources_full (scalar resources only)."""
    full = agent.get("reserved_resources_full") or {}
    items = []
    if isinstance(full, dict):
        for values in full.values():
            items.extend(values or [])
    else:
        items = list(full)
    out = {}
    for item in items:
        if item.get("type", "SCALAR") != "SCALAR":
            continue
        reservations = item.get("reservations") or []
        if reservations:
            last = reservations[-1]
            role, kind, principal = last.get("role"), last.get("type", "DYNAMIC"), last.get("principal")
        else:
            role = item.get("role")
            kind = "DYNAMIC" if item.get("reservation") else "STATIC"
            principal = (item.get("reservation") or {}).get("principal")
        if not role or role == "*":
            continue
        entry = out.setdefault(role, dict(static={}, dynamic={}, principal=None))
        bucket = entry["dynamic"] if kind == "DYNAMIC" else entry["static"]
        name = item["name"]
        bucket[name] = round(bucket.get(name, 0.0) + float((item.get("scalar") or {}).get("value", 0)), 6)
        if principal:
            entry["principal"] = principal
    return out


def reservation_resources(amounts, role, principal=None):
    """Resource objects with one dynamic reservation for `role` (operator-http-api.md)."""
    out = []
    for name, value in sorted(amounts.items()):
        reservation = dict(type="DYNAMIC", role=role)
        if principal:
            reservation["principal"] = principal
        out.append(dict(name=name, type="SCALAR", scalar=dict(value=value), reservations=[reservation]))
    return out


def roles_report(client):
    """Every role Mesos knows with its weight, quota, allocation and reservations."""
    weights = read_weights(client)
    quotas = read_quotas(client)
    roles = (client.get_json("/master/roles") or {}).get("roles") or []
    agents = read_agents(client)
    out = {}
    for entry in roles:
        name = entry.get("name")
        if name:
            out[name] = dict(name=name, weight=float(entry.get("weight", weights.get(name, 1.0))),
                             frameworks=list(entry.get("frameworks") or []),
                             allocated=dict((k, v) for k, v in (entry.get("resources") or {}).items()
                                            if k in QUOTA_RESOURCES),
                             quota=dict(guarantees={}, limits={}), reservations=[])
    for name in set(weights) | set(quotas):
        out.setdefault(name, dict(name=name, weight=1.0, frameworks=[], allocated={},
                                  quota=dict(guarantees={}, limits={}), reservations=[]))
    for name, weight in weights.items():
        out[name]["weight"] = weight
    for name, quota in quotas.items():
        out[name]["quota"] = quota
    for agent in agents:
        for role, held in agent_reservations(agent).items():
            entry = out.setdefault(role, dict(name=role, weight=weights.get(role, 1.0), frameworks=[], allocated={},
                                              quota=dict(guarantees={}, limits={}), reservations=[]))
            entry["reservations"].append(dict(agent_id=agent.get("id"), hostname=agent.get("hostname"),
                                              static=held["static"], dynamic=held["dynamic"]))
    return [out[k] for k in sorted(out)]
