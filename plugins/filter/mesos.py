# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters for Mesos flag values: the replicated log's quorum, agent resources and attributes.

Documentation: the YAML files of the same names beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text


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


class FilterModule:
    def filters(self):
        return {
            "mesos_quorum": mesos_quorum,
            "mesos_resources": mesos_resources,
            "mesos_attributes": mesos_attributes,
        }
