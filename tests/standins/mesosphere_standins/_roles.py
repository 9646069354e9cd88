"""Roles, weights, quota, reservations and the allocator of the mesos-master stand-in.

Reference (mesos/docs/ of the shared reference): roles.md (role names, the ``*`` role,
weighted DRF, quota before fair sharing), operator-http-api.md (GET_ROLES, GET_WEIGHTS,
UPDATE_WEIGHTS, GET_QUOTA, UPDATE_QUOTA, RESERVE_RESOURCES, UNRESERVE_RESOURCES) and
endpoints/master/{roles,weights,quota,reserve,unreserve}.md.

The allocator is the stand-in's simplification of offers. A framework role *waits* for
resources after the framework REVIVEs it, until it SUPPRESSes it. The free unreserved
resources of the cluster are offered to the first waiting role in this order: roles whose
quota guarantee is not met, then the lowest weighted dominant share, then the name. Roles
at their quota limit take no more. Resources reserved for a role are offered only to
that role. When no role waits, unreserved resources are open to every framework (the
behaviour of frameworks that never revive or suppress, such as the Chronos stand-in).
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import _common as c

QUOTA_RESOURCES = ("cpus", "mem", "disk", "gpus")
UNRESERVED = "*"


def role_error(name: Any) -> str | None:
    """Why ``name`` is not a valid role name (roles.md, "Invalid role names"), or None."""
    if not isinstance(name, str) or name == "":
        return "Role name must not be empty"
    if name in (".", ".."):
        return f"Role name '{name}' cannot be '.' or '..'"
    if name.startswith("-"):
        return f"Role name '{name}' cannot start with '-'"
    if re.search(r"[/\\\s\x08]", name):
        return f"Role name '{name}' cannot contain a slash, backspace or whitespace character"
    return None


def parse_reserved(text: str, default_role: str = UNRESERVED) -> dict[str, c.Resources]:
    """The statically reserved part of an agent's ``--resources``: ``cpus(prod):2`` puts
    2 cpus in the pool of ``prod``; items without a role go to ``--default_role``."""
    pools: dict[str, c.Resources] = {}
    text = (text or "").strip()
    if text.startswith("["):
        for item in json.loads(text):
            role = item.get("role") or default_role
            pools[role] = pools.get(role, c.Resources()) + c.Resources.from_protobuf([item])
    else:
        for item in filter(None, (part.strip() for part in text.split(";"))):
            name, _, _ = item.partition(":")
            match = re.search(r"\((.*)\)$", name.strip())
            role = match.group(1) if match else default_role
            plain = re.sub(r"\(.*\)$", "", name.strip()) + item[len(name):]
            pools[role] = pools.get(role, c.Resources()) + c.Resources.parse(plain)
    pools.pop(UNRESERVED, None)
    return pools


def scalars_of(res: c.Resources) -> dict[str, float]:
    return {k: v for k, v in res.scalars.items() if k in QUOTA_RESOURCES}


def pool_of(item: dict) -> str:
    """The role a protobuf Resource is reserved for (``*`` when unreserved)."""
    reservations = item.get("reservations") or []
    if reservations:
        return reservations[-1].get("role") or UNRESERVED
    return item.get("role") or UNRESERVED


def split_pools(items: list) -> dict[str, c.Resources]:
    pools: dict[str, c.Resources] = {}
    for item in items or []:
        pool = pool_of(item)
        pools[pool] = pools.get(pool, c.Resources()) + c.Resources.from_protobuf([item])
    return pools


def reserved_protobuf(res: c.Resources, role: str, kind: str, principal: str | None = None,
                      allocation_role: str | None = None) -> list[dict]:
    out = []
    for item in res.protobuf(role):
        if role != UNRESERVED:
            reservation = {"type": kind, "role": role}
            if principal:
                reservation["principal"] = principal
            item["reservations"] = [reservation]
        if allocation_role:
            item["allocation_info"] = {"role": allocation_role}
        out.append(item)
    return out


class Policy:
    """Weights, quota configurations and dynamic reservations; kept in the registry."""

    def __init__(self) -> None:
        self.weights: dict[str, float] = {}
        self.quotas: dict[str, dict[str, dict[str, float]]] = {}
        # agent id -> role -> {"resources": Resources, "principal": str | None}
        self.dynamic: dict[str, dict[str, dict]] = {}

    def to_json(self) -> dict:
        return {"weights": self.weights, "quotas": self.quotas,
                "reservations": {a: {r: {"resources": v["resources"].text(), "principal": v["principal"]}
                                     for r, v in roles.items()} for a, roles in self.dynamic.items()}}

    def load(self, doc: dict) -> None:
        self.weights = {k: float(v) for k, v in (doc.get("weights") or {}).items()}
        self.quotas = doc.get("quotas") or {}
        self.dynamic = {a: {r: {"resources": c.Resources.parse(v["resources"]), "principal": v.get("principal")}
                            for r, v in roles.items()} for a, roles in (doc.get("reservations") or {}).items()}

    def weight(self, role: str) -> float:
        return self.weights.get(role, 1.0)

    def quota_configs(self) -> list[dict]:
        out = []
        for role, q in sorted(self.quotas.items()):
            config: dict[str, Any] = {"role": role}
            for field in ("guarantees", "limits"):
                if q.get(field):
                    config[field] = {k: {"value": v} for k, v in sorted(q[field].items())}
            out.append(config)
        return out

    def quota_status(self) -> dict:
        # The shape of operator-http-api.md's GET_QUOTA example (configs inside infos).
        return {"infos": [{"configs": self.quota_configs()}]} if self.quotas else {}


class Allocator:
    """Reads the master's agents, frameworks and tasks (under the master's lock)."""

    def __init__(self, master: Any, terminal_states: set[str]) -> None:
        self.m = master
        self.terminal = terminal_states
        self.policy = Policy()

    # -- pools of an agent ------------------------------------------------------------

    def reserved(self, agent: dict) -> dict[str, dict]:
        """role -> {"resources", "type", "principal"} for an agent's reservations."""
        out: dict[str, dict] = {}
        for role, res in (agent.get("static") or {}).items():
            out[role] = {"resources": res, "type": "STATIC", "principal": None}
        for role, entry in self.policy.dynamic.get(agent["info"]["id"], {}).items():
            if role in out:
                out[role] = {"resources": out[role]["resources"] + entry["resources"], "type": "DYNAMIC",
                             "principal": entry["principal"]}
            else:
                out[role] = {"resources": entry["resources"], "type": "DYNAMIC", "principal": entry["principal"]}
        return out

    def pool_totals(self, agent: dict) -> dict[str, c.Resources]:
        pools = {role: v["resources"] for role, v in self.reserved(agent).items()}
        unreserved = agent["resources"]
        for res in pools.values():
            unreserved = unreserved - res
        pools[UNRESERVED] = unreserved
        return pools

    def pool_used(self, agent_id: str) -> dict[str, c.Resources]:
        used: dict[str, c.Resources] = {}
        for fw in self.m.frameworks.values():
            for task in fw["tasks"].values():
                if task["slave_id"] == agent_id and task["state"] not in self.terminal:
                    for pool, res in (task.get("_pools") or {UNRESERVED: task["_resources"]}).items():
                        used[pool] = used.get(pool, c.Resources()) + res
        return used

    def pool_free(self, agent: dict) -> dict[str, c.Resources]:
        used = self.pool_used(agent["info"]["id"])
        return {pool: total - used.get(pool, c.Resources()) for pool, total in self.pool_totals(agent).items()}

    # -- roles --------------------------------------------------------------------------

    def allocated(self) -> dict[str, c.Resources]:
        """Resources of the non-terminal tasks of each role on registered agents (the tasks
        of an unreachable agent hold nothing the allocator could give)."""
        out: dict[str, c.Resources] = {}
        for fw in self.m.frameworks.values():
            for task in fw["tasks"].values():
                if task["state"] not in self.terminal and task["slave_id"] in self.m.agents:
                    out[task["role"]] = out.get(task["role"], c.Resources()) + task["_resources"]
        return out

    def total(self) -> c.Resources:
        total = c.Resources()
        for agent in self.m.agents.values():
            total = total + agent["resources"]
        return total

    def waiting_roles(self) -> set[str]:
        roles: set[str] = set()
        for fw in self.m.frameworks.values():
            if fw["active"] and fw["connected"] and not fw["recovered"]:
                roles |= set(fw.get("_wanting") or ())
        return roles

    def below_guarantee(self, role: str, allocated: c.Resources) -> bool:
        guarantees = (self.policy.quotas.get(role) or {}).get("guarantees") or {}
        return any(allocated.scalars.get(k, 0.0) + 1e-9 < v for k, v in guarantees.items())

    def at_limit(self, role: str, allocated: c.Resources) -> bool:
        limits = (self.policy.quotas.get(role) or {}).get("limits") or {}
        return any(allocated.scalars.get(k, 0.0) + 1e-9 >= v for k, v in limits.items())

    def share(self, role: str, allocated: c.Resources, total: c.Resources) -> float:
        shares = [allocated.scalars.get(k, 0.0) / t for k, t in total.scalars.items()
                  if k in QUOTA_RESOURCES and t > 0]
        return max(shares, default=0.0) / self.policy.weight(role)

    def ranking(self) -> list[str]:
        """Waiting roles in the order they are offered unreserved resources."""
        allocated = self.allocated()
        total = self.total()
        empty = c.Resources()
        roles = [r for r in self.waiting_roles() if not self.at_limit(r, allocated.get(r, empty))]
        return sorted(roles, key=lambda r: (not self.below_guarantee(r, allocated.get(r, empty)),
                                            self.share(r, allocated.get(r, empty), total), r))

    def unreserved_holder(self) -> str | None:
        """The role the unreserved resources are offered to now, or None (open to all)."""
        ranking = self.ranking()
        if ranking:
            return ranking[0]
        return None

    def offers(self, fw: dict) -> list[dict]:
        """What this framework is offered now: per agent and role, free unreserved resources
        (when its role holds them) and the free resources reserved for its roles."""
        holder = self.unreserved_holder()
        out = []
        roles = fw.get("roles") or [fw.get("role", UNRESERVED)]
        for agent_id, agent in sorted(self.m.agents.items()):
            info = agent["info"]
            if not agent["active"] or self.m.machine_mode(info["hostname"], info["ip"]) == "DOWN":
                continue
            free = self.pool_free(agent)
            reserved = self.reserved(agent)
            unavailability = self.m.machine_unavailability(info["hostname"], info["ip"])
            for role in roles:
                full: list[dict] = []
                merged = c.Resources()
                limited = self.limit_left(role)
                if holder is None or holder == role:
                    unreserved = self.clip(free.get(UNRESERVED, c.Resources()), limited)
                    if not unreserved.empty():
                        full += reserved_protobuf(unreserved, UNRESERVED, "", allocation_role=role)
                        merged = merged + unreserved
                if role in free and role != UNRESERVED and not free[role].empty():
                    full += reserved_protobuf(free[role], role, reserved[role]["type"], reserved[role]["principal"],
                                              allocation_role=role)
                    merged = merged + free[role]
                if full:
                    offer = {"id": {"value": f"{self.m.id}-O-{agent_id}-{role}"}, "framework_id": fw["id"],
                             "slave_id": agent_id, "hostname": info["hostname"],
                             "allocation_info": {"role": role},
                             "resources": merged.model(), "resources_full": full}
                    if unavailability:
                        offer["unavailability"] = unavailability
                    out.append(offer)
        return out

    def limit_left(self, role: str) -> dict[str, float] | None:
        limits = (self.policy.quotas.get(role) or {}).get("limits") or {}
        if not limits:
            return None
        allocated = self.allocated().get(role, c.Resources())
        return {k: max(0.0, v - allocated.scalars.get(k, 0.0)) for k, v in limits.items()}

    @staticmethod
    def clip(res: c.Resources, left: dict[str, float] | None) -> c.Resources:
        if left is None:
            return res
        out = res.copy()
        for k, v in left.items():
            if k in out.scalars:
                out.scalars[k] = min(out.scalars[k], v)
        return out

    def check_launch(self, fw: dict, agent: dict, role: str, pools: dict[str, c.Resources],
                     planned: dict[str, c.Resources]) -> list[str]:
        """Why a task of ``role`` may not take ``pools`` on ``agent`` now (empty: it may)."""
        problems = []
        roles = fw.get("roles") or [fw.get("role", UNRESERVED)]
        if role not in roles:
            return [f"the framework is not subscribed to role '{role}'"]
        free = self.pool_free(agent)
        for pool, res in pools.items():
            if pool not in (UNRESERVED, role):
                problems.append(f"resources reserved for role '{pool}' cannot be used by role '{role}'")
                continue
            available = free.get(pool, c.Resources()) - planned.get(pool, c.Resources())
            problems += [f"{text} ({'unreserved' if pool == UNRESERVED else 'reserved for ' + pool})"
                         for text in available.missing(res)]
        if UNRESERVED in pools and not problems:
            holder = self.unreserved_holder()
            if holder is not None and holder != role:
                problems.append(f"unreserved resources are offered to role '{holder}' first")
            left = self.limit_left(role)
            if left is not None:
                for k, v in scalars_of(sum(pools.values(), c.Resources())).items():
                    if k in left and left[k] + 1e-9 < v:
                        problems.append(f"the quota limit of role '{role}' leaves {left[k]:g} {k}")
        return problems

    # -- JSON -----------------------------------------------------------------------------

    def known_roles(self) -> list[str]:
        names = set(self.policy.weights) | set(self.policy.quotas)
        for fw in self.m.frameworks.values():
            names |= set(fw.get("roles") or [fw.get("role", UNRESERVED)])
        return sorted(names | {UNRESERVED})

    def roles_json(self) -> list[dict]:
        allocated = self.allocated()
        out = []
        for role in self.known_roles():
            frameworks = [f["id"] for f in self.m.frameworks.values()
                          if role in (f.get("roles") or [f.get("role", UNRESERVED)])]
            entry: dict[str, Any] = {"name": role, "weight": self.policy.weight(role), "frameworks": frameworks,
                                     "resources": allocated.get(role, c.Resources()).model()}
            quota = self.policy.quota_configs()
            mine = next((q for q in quota if q["role"] == role), None)
            if mine:
                entry["quota"] = mine
            out.append(entry)
        return out

    def roles_v1(self) -> list[dict]:
        allocated = self.allocated()
        out = []
        for entry in self.roles_json():
            role = entry["name"]
            item: dict[str, Any] = {"name": role, "weight": entry["weight"]}
            if entry["frameworks"]:
                item["frameworks"] = [{"value": f} for f in entry["frameworks"]]
            res = allocated.get(role)
            if res is not None and not res.empty():
                item["resources"] = res.protobuf(role)
            out.append(item)
        return out

    def reservations_json(self, agent: dict) -> tuple[dict, dict]:
        """``reserved_resources`` and ``reserved_resources_full`` of /master/slaves."""
        model, full = {}, {}
        for role, entry in sorted(self.reserved(agent).items()):
            model[role] = entry["resources"].model()
            full[role] = reserved_protobuf(entry["resources"], role, entry["type"], entry["principal"])
        return model, full

    # -- changes ----------------------------------------------------------------------------

    def update_weights(self, infos: Any) -> None:
        if not isinstance(infos, list):
            raise c.HttpError(400, "Failed to validate the weights: expected a JSON array of "
                                   "{\"role\": ..., \"weight\": ...}")
        new = {}
        for info in infos:
            if not isinstance(info, dict):
                raise c.HttpError(400, "Failed to validate the weights: each entry must be an object")
            role = info.get("role")
            problem = role_error(role)
            if problem:
                raise c.HttpError(400, f"Failed to validate the weights: {problem}")
            weight = info.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
                raise c.HttpError(400, f"Failed to validate the weights: the weight of role '{role}' "
                                       f"must be a positive number, not {json.dumps(weight)}")
            new[role] = float(weight)
        self.policy.weights.update(new)
        self.policy.weights = {k: v for k, v in self.policy.weights.items() if v != 1.0}

    def update_quota(self, body: Any) -> None:
        """UPDATE_QUOTA: all-or-nothing; a guarantee may not exceed the limit; without
        ``force`` the guarantees together must fit into the cluster's resources."""
        if not isinstance(body, dict) or not isinstance(body.get("quota_configs"), list):
            raise c.HttpError(400, "Failed to validate master::Call: Expecting 'update_quota.quota_configs'")
        quotas = {k: dict(v) for k, v in self.policy.quotas.items()}
        for config in body["quota_configs"]:
            if not isinstance(config, dict):
                raise c.HttpError(400, "Invalid QuotaConfig: expected an object")
            role = config.get("role")
            problem = role_error(role)
            if problem:
                raise c.HttpError(400, f"Invalid QuotaConfig: {problem}")
            if role == UNRESERVED:
                raise c.HttpError(400, "Invalid QuotaConfig: quota cannot be set for role '*'")
            entry: dict[str, dict[str, float]] = {}
            for field in ("guarantees", "limits"):
                values = config.get(field) or {}
                if not isinstance(values, dict):
                    raise c.HttpError(400, f"Invalid QuotaConfig of role '{role}': '{field}' must be an object")
                parsed = {}
                for name, value in values.items():
                    if name not in QUOTA_RESOURCES:
                        raise c.HttpError(400, f"Invalid QuotaConfig of role '{role}': '{name}' is not a quota "
                                               f"resource (one of {', '.join(QUOTA_RESOURCES)})")
                    number = value.get("value") if isinstance(value, dict) else None
                    if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                        raise c.HttpError(400, f"Invalid QuotaConfig of role '{role}': {field} of '{name}' must be "
                                               f"a non-negative number, not {json.dumps(value)}")
                    parsed[name] = float(number)
                if parsed:
                    entry[field] = parsed
            for name, guarantee in (entry.get("guarantees") or {}).items():
                limit = (entry.get("limits") or {}).get(name)
                if limit is not None and guarantee > limit:
                    raise c.HttpError(400, f"Invalid QuotaConfig of role '{role}': the guarantee of '{name}' "
                                           f"({guarantee:g}) is greater than its limit ({limit:g})")
            if entry:
                quotas[role] = entry
            else:
                quotas.pop(role, None)
        if not body.get("force"):
            total = self.total()
            for name in QUOTA_RESOURCES:
                wanted = sum((q.get("guarantees") or {}).get(name, 0.0) for q in quotas.values())
                if wanted > total.scalars.get(name, 0.0) + 1e-9:
                    raise c.HttpError(400, f"Invalid QuotaConfig: total quota guarantees of '{name}' ({wanted:g}) "
                                           f"exceed the cluster's capacity ({total.scalars.get(name, 0.0):g}); "
                                           "use 'force' to set them anyway")
        self.policy.quotas = quotas

    def reserve(self, agent_id: Any, items: Any, principal: str | None) -> None:
        agent = self.agent(agent_id)
        pools = self.parse_reservation(items, "reserve")
        free = self.pool_free(agent).get(UNRESERVED, c.Resources())
        wanted = sum(pools.values(), c.Resources())
        missing = free.missing(wanted)
        if missing:
            raise c.HttpError(409, f"Invalid RESERVE operation on agent {agent_id}: the agent's unreserved free "
                                   f"resources do not contain them ({'; '.join(missing)})")
        roles = self.policy.dynamic.setdefault(agent_id, {})
        for role, res in pools.items():
            entry = roles.setdefault(role, {"resources": c.Resources(), "principal": principal})
            entry["resources"] = entry["resources"] + res

    def unreserve(self, agent_id: Any, items: Any) -> None:
        agent = self.agent(agent_id)
        pools = self.parse_reservation(items, "unreserve")
        roles = self.policy.dynamic.get(agent_id, {})
        free = self.pool_free(agent)
        for role, res in pools.items():
            held = (roles.get(role) or {}).get("resources", c.Resources())
            missing = held.missing(res)
            if missing:
                raise c.HttpError(409, f"Invalid UNRESERVE operation on agent {agent_id}: role '{role}' has no such "
                                       f"dynamic reservation ({'; '.join(missing)})")
            busy = free.get(role, c.Resources()).missing(res)
            if busy:
                raise c.HttpError(409, f"Invalid UNRESERVE operation on agent {agent_id}: resources reserved for "
                                       f"role '{role}' are in use ({'; '.join(busy)})")
        for role, res in pools.items():
            left = roles[role]["resources"] - res
            if left.empty():
                del roles[role]
            else:
                roles[role]["resources"] = left
        if not roles:
            self.policy.dynamic.pop(agent_id, None)

    def agent(self, agent_id: Any) -> dict:
        agent = self.m.agents.get(agent_id) if isinstance(agent_id, str) else None
        if agent is None:
            raise c.HttpError(400, f"Unknown agent '{agent_id}': no such registered agent")
        return agent

    @staticmethod
    def parse_reservation(items: Any, what: str) -> dict[str, c.Resources]:
        if not isinstance(items, list) or not items:
            raise c.HttpError(400, f"Invalid {what.upper()} operation: 'resources' must be a non-empty JSON array")
        pools: dict[str, c.Resources] = {}
        for item in items:
            if not isinstance(item, dict) or not item.get("name"):
                raise c.HttpError(400, f"Invalid {what.upper()} operation: each resource needs a 'name'")
            role = pool_of(item)
            if role == UNRESERVED:
                raise c.HttpError(400, f"Invalid {what.upper()} operation: resource '{item['name']}' has no "
                                       "reservation (reservations for role '*' are not allowed)")
            problem = role_error(role)
            if problem:
                raise c.HttpError(400, f"Invalid {what.upper()} operation: {problem}")
            try:
                res = c.Resources.from_protobuf([item])
            except (ValueError, KeyError, TypeError) as exc:
                raise c.HttpError(400, f"Invalid {what.upper()} operation: resource '{item['name']}': {exc}") from None
            if any(v <= 0 for v in res.scalars.values()):
                raise c.HttpError(400, f"Invalid {what.upper()} operation: resource '{item['name']}' must be positive")
            pools[role] = pools.get(role, c.Resources()) + res
        return pools
