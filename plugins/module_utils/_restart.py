# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private rolling-restart engine of the rolling_restart module.

This is private to the mesosphere.cluster collection; it may change without notice.

Two halves:

* pure decisions over member statuses (no network, no clock): the restart order (members that
  do not serve first, serving followers next, the leader last), the quorum refusal, and whether
  an ensemble has settled after a restart. A status is a dict with ``name``, ``serving``,
  ``leader``, ``names_leader`` and ``error``;
* probes that turn what the services answer into those statuses: ZooKeeper's ``srvr``
  four-letter word, the Mesos masters' metrics and redirect, Marathon's and Chronos's leader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.mesosphere.cluster.plugins.module_utils._api import (
    ApiClient,
    ApiError,
    EndpointUnreachable,
    normalize_endpoint,
)
from ansible_collections.mesosphere.cluster.plugins.module_utils._zookeeper import (
    FourLetterWordError,
    HostSpecError,
    format_address,
    parse_hosts,
    probe_member,
)

SERVICES = ("zookeeper", "mesos_master", "marathon", "chronos")

# Services that need only one instance serving: the others are standbys.
FRAMEWORKS = ("marathon", "chronos")

# The ApiClient service of each HTTP service.
API_SERVICE = {"mesos_master": "mesos", "marathon": "marathon", "chronos": "chronos"}

LABELS = {
    "zookeeper": ("ZooKeeper member", "ZooKeeper members"),
    "mesos_master": ("Mesos master", "Mesos masters"),
    "marathon": ("Marathon instance", "Marathon instances"),
    "chronos": ("Chronos instance", "Chronos instances"),
}

# ZooKeeper modes in which a member serves as a voting member (or alone).
ZOOKEEPER_SERVING = ("leader", "follower", "standalone")


# --------------------------------------------------------------------------------------------
# Pure decisions


def default_quorum(service: str, size: int) -> int:
    """A majority for ZooKeeper and Mesos masters; one serving instance for the frameworks."""
    if service in FRAMEWORKS:
        return 1
    return size // 2 + 1


def host_port(endpoint: str | None) -> str | None:
    """'http://h:8080/' -> 'h:8080'; 'h:2181' -> 'h:2181'."""
    if not endpoint:
        return None
    return urlsplit(normalize_endpoint(endpoint)).netloc or None


def _sentence_part(text: str | None) -> str:
    return (text or "no error reported").strip().rstrip(".")


def _names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return "%s and %s" % (", ".join(names[:-1]), names[-1])


def leader_name(statuses: list[dict[str, Any]]) -> str | None:
    """The one member that leads, or None when none or several do."""
    leaders = [s["name"] for s in statuses if s["leader"]]
    return leaders[0] if len(leaders) == 1 else None


def restart_order(statuses: list[dict[str, Any]], restart: list[str]) -> list[str]:
    """Members of `restart` that do not serve first, then serving non-leaders, the leader last.

    Within each group the order of `restart` is kept; duplicates are dropped.
    """
    by_name = dict((s["name"], s) for s in statuses)
    wanted: list[str] = []
    for name in restart:
        if name not in wanted:
            wanted.append(name)
    down = [n for n in wanted if not by_name[n]["serving"]]
    followers = [n for n in wanted if by_name[n]["serving"] and not by_name[n]["leader"]]
    leaders = [n for n in wanted if by_name[n]["serving"] and by_name[n]["leader"]]
    return down + followers + leaders


def refusal(service: str, statuses: list[dict[str, Any]], order: list[str], quorum: int) -> str | None:
    """Why restarting `order` one member at a time would leave less than `quorum` serving, or None.

    Members restarted before a serving one that do not serve now are assumed back afterwards:
    they are restarted to heal. Each serving member in `order` is down while it restarts, so the
    members serving then, minus that one, must still be a quorum. When no member serves at all,
    there is nothing to lose and the restart is allowed; so it is for a one-member ensemble, which
    no rolling restart can keep serving.
    """
    by_name = dict((s["name"], s) for s in statuses)
    serving = sum(1 for s in statuses if s["serving"])
    if not order or serving == 0 or len(statuses) == 1:
        return None
    healed = 0
    for name in order:
        if not by_name[name]["serving"]:
            healed += 1
            continue
        left = serving + healed - 1
        if left >= quorum:
            continue
        one, many = LABELS[service]
        down = [s for s in statuses if not s["serving"] and s["name"] not in order]
        if down:
            cause = " %s %s not serve (%s), so" % (
                _names([s["name"] for s in down]), "does" if len(down) == 1 else "do",
                "; ".join("%s: %s" % (s["name"], _sentence_part(s["error"])) for s in down))
        else:
            cause = ""
        return ("Refusing to restart %s %s:%s only %d of %d %s would serve while it restarts, fewer than "
                "the quorum of %d; set allow_quorum_loss to restart it anyway."
                % (one, name, cause, left, len(statuses), many, quorum))
    return None


def plan(service: str, statuses: list[dict[str, Any]], restart: list[str], quorum: int) -> dict[str, Any]:
    order = restart_order(statuses, restart)
    return dict(
        order=order,
        leader=leader_name(statuses),
        down=[s["name"] for s in statuses if not s["serving"]],
        refused=refusal(service, statuses, order, quorum),
    )


def settled(service: str, statuses: list[dict[str, Any]], member: str | None, quorum: int) -> str | None:
    """None when `member` (if any) serves and the ensemble agrees on one leader; else what is missing.

    Agreement: exactly one member leads and every serving member names that same leader (the
    Mesos redirect target, the Marathon or Chronos leader id). ZooKeeper members do not name
    their leader, so for ZooKeeper exactly one leader is enough. At least `quorum` members serve.
    """
    by_name = dict((s["name"], s) for s in statuses)
    missing = []
    if member is not None and not by_name[member]["serving"]:
        missing.append("%s does not serve" % member)
    leaders = [s["name"] for s in statuses if s["leader"]]
    if not leaders:
        missing.append("no member leads")
    elif len(leaders) > 1:
        missing.append("%d members lead (%s)" % (len(leaders), ", ".join(leaders)))
    if service != "zookeeper":
        named = sorted(set(str(s["names_leader"]) for s in statuses if s["serving"]))
        if len(named) > 1:
            missing.append("the serving members name different leaders (%s)" % ", ".join(
                "%s: %s" % (s["name"], s["names_leader"]) for s in statuses if s["serving"]))
    serving = sum(1 for s in statuses if s["serving"])
    if serving < quorum:
        missing.append("%d of %d serve, fewer than the quorum of %d" % (serving, len(statuses), quorum))
    return "; ".join(missing) if missing else None


def describe(statuses: list[dict[str, Any]]) -> str:
    """What each member was seen doing, for a person."""
    parts = []
    for s in statuses:
        if not s["serving"]:
            parts.append("%s does not serve (%s)" % (s["name"], _sentence_part(s["error"])))
            continue
        text = "%s serves" % s["name"]
        if s["leader"]:
            text += " and leads"
        if s["names_leader"]:
            text += ", naming %s as leader" % s["names_leader"]
        parts.append(text)
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# Probes


def _status(name: str, serving: bool = False, leader: bool = False, names_leader: str | None = None,
            error: str | None = None) -> dict[str, Any]:
    return dict(name=name, serving=serving, leader=leader, names_leader=names_leader, error=error)


def probe_zookeeper(member: dict[str, Any], size: int, timeout: float,
                    probe: Callable[..., dict[str, Any]] | None = None) -> dict[str, Any]:
    """One ZooKeeper member's status from ``srvr``."""
    try:
        target = parse_hosts(member["endpoint"])
    except HostSpecError as exc:
        return _status(member["name"], error="cannot read its endpoint: %s" % exc)
    host, port = target.members[0]
    try:
        found = (probe or probe_member)(host, port, timeout)
    except FourLetterWordError as exc:  # probe_member reports these as data; a replacement may not
        return _status(member["name"], error=str(exc))
    mode = found.get("mode")
    serving = mode in ZOOKEEPER_SERVING
    leader = mode == "leader" or (mode == "standalone" and size == 1)
    error = found.get("error")
    if not serving and not error:
        error = "it runs in mode %s, which does not vote" % mode
    return _status(member["name"], serving=serving, leader=leader,
                   names_leader=format_address(host, port) if leader else None,
                   error=None if serving else error)


def probe_mesos_master(client: ApiClient, member: dict[str, Any]) -> dict[str, Any]:
    """A master serves when it answers and knows a leader; it leads when master/elected is 1."""
    endpoint = member["endpoint"]
    status = _status(member["name"])
    errors = []
    try:
        metrics = client.get_json("/metrics/snapshot", leader=False, endpoint=endpoint) or {}
        status["leader"] = metrics.get("master/elected") == 1
    except EndpointUnreachable as exc:
        status["error"] = str(exc)
        return status
    except ApiError as exc:
        errors.append(str(exc))
    try:
        seen = client.leader_seen_by(endpoint)
        if seen:
            status["serving"] = True
            status["names_leader"] = host_port(seen)
        else:
            errors.append("it knows no leader (an election under way, or no quorum of masters)")
    except ApiError as exc:
        errors.append(str(exc))
    if not status["serving"]:
        status["leader"] = False
        status["error"] = " ".join(errors)
    elif errors:
        status["error"] = " ".join(errors)
    return status


def probe_framework(client: ApiClient, member: dict[str, Any]) -> dict[str, Any]:
    """Marathon or Chronos: serves when it answers with a leader (leader set later, by id)."""
    status = _status(member["name"])
    try:
        seen = client.leader_seen_by(member["endpoint"])
    except ApiError as exc:
        status["error"] = str(exc)
        return status
    if seen:
        status["serving"] = True
        status["names_leader"] = host_port(seen)
    else:
        status["error"] = "it knows no leader (an election under way?)"
    return status


def mark_framework_leaders(members: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> None:
    """A Marathon or Chronos member leads when a serving member names its leader id."""
    named = set(s["names_leader"] for s in statuses if s["serving"] and s["names_leader"])
    for index, status in enumerate(statuses):
        status["leader"] = leader_id(members[index]) in named


def leader_id(member: dict[str, Any]) -> str | None:
    return member.get("leader_id") or host_port(member["endpoint"])
