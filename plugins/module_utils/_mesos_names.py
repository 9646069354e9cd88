# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What makes a Mesos role name and a set of quota or reservation amounts valid (roles.md,
quota.md), with nothing else imported: the filters load this module in every task that uses
one of them, so it must not pull in _mesos.py and its HTTP client. mesos_role and
mesos_reservation import it too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUOTA_RESOURCES = ("cpus", "mem", "disk", "gpus")


def role_name_error(name: object) -> str | None:
    """Why a role name is invalid (roles.md: not empty, not . or .., no leading -, no slash,
    backspace or whitespace), or None."""
    if not isinstance(name, str) or not name:
        return "a role name must not be empty"
    if name in (".", ".."):
        return "a role name cannot be '.' or '..'"
    if name.startswith("-"):
        return "a role name cannot start with '-'"
    if any(ch in name for ch in "/\\\b") or any(ch.isspace() for ch in name):
        return "a role name cannot contain a slash, backspace or whitespace"
    return None


def resources_error(values: Mapping[str, Any] | None, what: str) -> str | None:
    """Why a {resource: amount} mapping is not a valid quota or reservation, or None."""
    for name, amount in sorted((values or {}).items()):
        if name not in QUOTA_RESOURCES:
            return "%s: unknown resource '%s' (use %s)" % (what, name, ", ".join(QUOTA_RESOURCES))
        if isinstance(amount, bool):
            return "%s: the amount of '%s' must be a number, not %r" % (what, name, amount)
        try:
            number = float(amount)
        except (TypeError, ValueError):
            return "%s: the amount of '%s' must be a number, not %r" % (what, name, amount)
        if number < 0:
            return "%s: the amount of '%s' must not be negative (%s)" % (what, name, amount)
    return None
