"""The local authorizer of the mesos-master stand-in: ``--acls``.

Reference (mesos/docs/ of the shared reference): authorization.md ("Local authorizer",
"Authorizable Actions", the examples) and configuration/master.md (``--acls``).

The document is a JSON object: ``permissive`` (default true) and, per action, a list of
rules, each a subject entity ``principals`` and an object entity. An entity is
``{"values": [...]}`` or ``{"type": "ANY"}`` or ``{"type": "NONE"}``. Rules are tried in
order; the first whose entities *match* the request decides, and it allows the request
only when its entities *allow* it. With no matching rule, ``permissive`` decides.

A request's subject or object is a name, or ANY when it has none (a framework without a
principal, an operator who did not authenticate):

* a rule entity matches a named request when it is ANY, NONE, or lists the name;
  it matches an ANY request only when it is ANY itself, likewise NONE;
* a rule entity allows a named request when it is ANY or lists the name; it allows an
  ANY request only when it is ANY.

So ``{"principals": {"type": "NONE"}, "roles": {"values": ["analytics"]}}`` matches every
named principal asking for ``analytics`` and allows none of them, and a framework without
a principal is decided by ``permissive`` unless a rule names ANY for it.

The stand-in decides the actions below. A document naming another action is refused at
start-up: accepting a rule and not enforcing it would let a wrongly written ACL pass a test.
"""

from __future__ import annotations

import json
from typing import Any

from . import _common as c

# action -> the name of its object entity (authorization.md, "Authorizable Actions")
ACTIONS = {
    "register_frameworks": "roles",
    "run_tasks": "users",
    "teardown_frameworks": "framework_principals",
}
ANY = None  # a request without a name


def _entity(action: str, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise c.FlagError(f"Failed to parse ACLs: {action}: '{key}' must be an object")
    kind = value.get("type")
    values = value.get("values")
    if kind is not None and kind not in ("ANY", "NONE"):
        raise c.FlagError(f"Failed to parse ACLs: {action}: '{key}' has an unknown type '{kind}'")
    if values is not None and (not isinstance(values, list) or not all(isinstance(v, str) for v in values)):
        raise c.FlagError(f"Failed to parse ACLs: {action}: '{key}.values' must be a list of strings")
    if kind is None and values is None:
        raise c.FlagError(f"Failed to parse ACLs: {action}: '{key}' needs 'values' or 'type'")
    return {"type": kind or "SOME", "values": list(values or [])}


def parse(value: str | None) -> dict | None:
    """The ``--acls`` flag (a path, ``file://`` URL or the JSON itself); None without one."""
    if not value:
        return None
    text = c.read_value_or_file(value)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise c.FlagError(f"Failed to parse ACLs: {exc}") from None
    if not isinstance(doc, dict):
        raise c.FlagError("Failed to parse ACLs: expected a JSON object")
    permissive = doc.get("permissive", True)
    if not isinstance(permissive, bool):
        raise c.FlagError("Failed to parse ACLs: 'permissive' must be true or false")
    rules: dict[str, list[tuple[dict, dict]]] = {}
    for action, entries in doc.items():
        if action == "permissive":
            continue
        if action not in ACTIONS:
            raise c.FlagError(f"ACLs for '{action}' are not decided by this stand-in (it decides "
                              f"{', '.join(sorted(ACTIONS))})")
        if not isinstance(entries, list):
            raise c.FlagError(f"Failed to parse ACLs: '{action}' must be a list")
        parsed = []
        for entry in entries:
            if not isinstance(entry, dict) or set(entry) != {"principals", ACTIONS[action]}:
                raise c.FlagError(f"Failed to parse ACLs: each '{action}' rule has exactly "
                                  f"'principals' and '{ACTIONS[action]}'")
            parsed.append((_entity(action, "principals", entry["principals"]),
                           _entity(action, ACTIONS[action], entry[ACTIONS[action]])))
        rules[action] = parsed
    return {"permissive": permissive, "rules": rules}


def _matches(rule: dict, name: str | None) -> bool:
    if name is ANY:
        return rule["type"] == "ANY"
    return rule["type"] in ("ANY", "NONE") or name in rule["values"]


def _allows(rule: dict, name: str | None) -> bool:
    if name is ANY:
        return rule["type"] == "ANY"
    return rule["type"] == "ANY" or (rule["type"] == "SOME" and name in rule["values"])


def authorized(acls: dict | None, action: str, subject: str | None, obj: str | None) -> bool:
    """Whether ``subject`` (a principal, or None) may do ``action`` on ``obj`` (or None)."""
    if acls is None:
        return True
    for principals, target in acls["rules"].get(action, []):
        if _matches(principals, subject) and _matches(target, obj):
            return _allows(principals, subject) and _allows(target, obj)
    return bool(acls["permissive"])
