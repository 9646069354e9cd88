# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters for Mesos flag values: the replicated log's quorum, agent resources and attributes;
and the check of a role policy (weights and quota) before it is applied.

Documentation: the YAML files of the same names beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mesosphere.cluster.plugins.module_utils._mesos_names import (
    QUOTA_RESOURCES,
    resources_error,
    role_name_error,
)


def _count(masters):
    if isinstance(masters, bool):
        raise AnsibleFilterError("mesos_quorum expects a number of masters or a list of masters, got a boolean")
    if isinstance(masters, int):
        return masters
    if isinstance(masters, str):
        try:
            return int(masters)
        except ValueError:
            raise AnsibleFilterError(f"mesos_quorum expects a number of masters, got {masters!r}") from None
    if isinstance(masters, Mapping) or not hasattr(masters, "__iter__"):
        raise AnsibleFilterError(f"mesos_quorum expects a number or a list of masters, got {type(masters).__name__}")
    return len(list(dict.fromkeys(masters)))


def mesos_quorum(masters):
    """Strict majority of the masters: floor(n/2)+1 (n from a count or a list of masters)."""
    count = _count(masters)
    if count < 1:
        raise AnsibleFilterError(f"a Mesos cluster needs at least one master, got {count}")
    return count // 2 + 1


def _scalar(value):
    if isinstance(value, bool):
        raise AnsibleFilterError(f"a boolean is not a Mesos resource value: {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return to_text(value)


def _ranges(value):
    parts = []
    for item in value:
        if isinstance(item, Mapping):
            begin, end = item.get("begin"), item.get("end", item.get("begin"))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            begin, end = item
        else:
            begin, _sep, end = to_text(item).partition("-")
            end = end or begin
        try:
            begin, end = int(begin), int(end)
        except (TypeError, ValueError):
            raise AnsibleFilterError(f"a Mesos range needs numbers, got {item!r}") from None
        if begin > end:
            raise AnsibleFilterError(f"a Mesos range must not run backwards: {begin}-{end}")
        parts.append(f"{begin}-{end}")
    return "[" + ",".join(parts) + "]"


def _check_token(kind, text):
    for bad in (";", ":"):
        if bad in text:
            raise AnsibleFilterError(f"a Mesos {kind} must not contain {bad!r}: {text!r}")
    if not text.strip():
        raise AnsibleFilterError(f"a Mesos {kind} must not be empty")


def _check_resource_role(name):
    """`cpus(prod)` reserves the resource statically for the role prod (roles.md); the role must be
    a valid role name and the parentheses must close the name."""
    if "(" not in name and ")" not in name:
        return
    base, _sep, rest = name.partition("(")
    if not base or not rest.endswith(")") or ")" in rest[:-1] or "(" in rest:
        raise AnsibleFilterError(f"a Mesos resource reserved for a role is written name(role), got {name!r}")
    why = role_name_error(rest[:-1])
    if why:
        raise AnsibleFilterError(f"resource {name!r}: {why}")


def mesos_role_policy_errors(policy):
    """Sentences saying what is wrong with a role policy {role: {weight, guarantees, limits}}; empty
    when Mesos would accept its shape (whether guarantees fit the cluster is for Mesos to say)."""
    if policy is None:
        return []
    if not isinstance(policy, Mapping):
        return [f"the role policy must be a mapping of role names to {{weight, guarantees, limits}}, "
                f"not {type(policy).__name__}"]
    errors = []
    for role in sorted(policy, key=str):
        spec = policy[role]
        why = role_name_error(role)
        if why:
            errors.append(f"role {role!r}: {why}")
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            errors.append(f"role {role}: expected {{weight, guarantees, limits}}, got {spec!r}")
            continue
        unknown = sorted(set(map(str, spec)) - {"weight", "guarantees", "limits"})
        if unknown:
            errors.append(f"role {role}: unknown key {', '.join(unknown)} (use weight, guarantees, limits)")
        if "weight" in spec:
            weight = spec["weight"]
            try:
                ok = not isinstance(weight, bool) and float(weight) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                errors.append(f"role {role}: the weight must be a positive number, not {weight!r}")
        for part in ("guarantees", "limits"):
            values = spec.get(part)
            if values is None:
                continue
            if not isinstance(values, Mapping):
                errors.append(f"role {role}: {part} must map resource names ({', '.join(QUOTA_RESOURCES)}) "
                              f"to amounts, not {values!r}")
                continue
            why = resources_error(values, f"role {role}, {part}")
            if why:
                errors.append(why)
        if role == "*" and (spec.get("guarantees") or spec.get("limits")):
            errors.append("role '*': quota cannot be set for the unreserved role '*'")
        guarantees, limits = spec.get("guarantees"), spec.get("limits")
        if isinstance(guarantees, Mapping) and isinstance(limits, Mapping) and not errors:
            for name in sorted(set(guarantees) & set(limits)):
                if float(guarantees[name]) > float(limits[name]):
                    errors.append(f"role {role}: the guarantee of {name} ({guarantees[name]}) is above its "
                                  f"limit ({limits[name]})")
    return errors


def mesos_resources(resources):
    """'cpus:2;mem:1024;ports:[31000-32000]' from a mapping (a string passes through)."""
    if resources is None:
        return ""
    if isinstance(resources, str):
        return resources
    if not isinstance(resources, Mapping):
        raise AnsibleFilterError(f"mesos_resources expects a mapping, got {type(resources).__name__}")
    out = []
    for name in sorted(resources):
        value = resources[name]
        _check_token("resource name", to_text(name))
        _check_resource_role(to_text(name))
        if isinstance(value, (list, tuple)):
            text = _ranges(value)
        elif isinstance(value, str) and value.startswith(("[", "{")):
            text = value  # already ranges or a set, in Mesos text form
        else:
            text = _scalar(value)
        out.append(f"{name}:{text}")
    return ";".join(out)


def mesos_attributes(attributes):
    """'rack:r1;zone:a' from a mapping (a string passes through)."""
    if attributes is None:
        return ""
    if isinstance(attributes, str):
        return attributes
    if not isinstance(attributes, Mapping):
        raise AnsibleFilterError(f"mesos_attributes expects a mapping, got {type(attributes).__name__}")
    out = []
    for name in sorted(attributes):
        key, value = to_text(name), _scalar(attributes[name])
        _check_token("attribute name", key)
        _check_token("attribute value", value)
        out.append(f"{key}:{value}")
    return ";".join(out)


def _amounts(values):
    try:
        return {to_text(name): float(amount) for name, amount in (values or {}).items()}
    except (TypeError, ValueError, AttributeError):
        return None  # malformed: never equal, so the role is applied and Mesos says what is wrong


def mesos_role_policy_changes(policy, current):
    """The roles of `policy` whose weight, guarantees or limits differ from `current` (the roles
    mesos_role_info returned), in policy order: what a run must apply, nothing when it is applied."""
    if not isinstance(policy, Mapping):
        raise AnsibleFilterError("mesos_role_policy_changes takes the role policy, a mapping of role names")
    now = {to_text(role.get("name")): role for role in current or [] if isinstance(role, Mapping)}
    changes = []
    for name, wanted in policy.items():
        wanted = wanted or {}
        role = now.get(to_text(name), {})
        quota = role.get("quota") or {}
        try:
            weight_same = float(wanted.get("weight", 1)) == float(role.get("weight", 1))
        except (TypeError, ValueError):
            weight_same = False
        same = (
            weight_same
            and _amounts(wanted.get("guarantees")) == _amounts(quota.get("guarantees"))
            and _amounts(wanted.get("limits")) == _amounts(quota.get("limits"))
        )
        if not same:
            changes.append(to_text(name))
    return changes


class FilterModule:
    def filters(self):
        return {
            "mesos_role_policy_changes": mesos_role_policy_changes,
            "mesos_quorum": mesos_quorum,
            "mesos_resources": mesos_resources,
            "mesos_attributes": mesos_attributes,
            "mesos_role_policy_errors": mesos_role_policy_errors,
        }
