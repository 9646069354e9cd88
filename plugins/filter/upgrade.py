# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of playbooks/upgrade.yml: the upgrade rules (module_utils/_versions.py) over what runs.

Documentation: the YAML files of the same names beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError  # type: ignore[import-untyped]

from ansible_collections.mesosphere.cluster.plugins.module_utils import _versions


def upgrade_problems(running: Any, targets: Any) -> list[str]:
    """Sentences saying why the components cannot go from what runs to the targets; [] when they can."""
    if not isinstance(running, Mapping) or not isinstance(targets, Mapping):
        raise AnsibleFilterError("upgrade_problems takes {component: {node: version}} and {component: target version}")
    problems: list[str] = []
    for component, target in targets.items():
        nodes = running.get(component) or {}
        if not isinstance(nodes, Mapping):
            raise AnsibleFilterError(
                "upgrade_problems: what runs of %s is not a mapping of node to version" % component)
        problems += _versions.upgrade_problems(str(component), dict(nodes), str(target))
    return problems


def upgrade_targets(madison: Any, pins: Any) -> dict[str, str | None]:
    """The version of each package to upgrade to: the newest that `apt-cache madison` lists
    (its text) and that fits the package's pin (a version pattern like 1.11.0*), or None."""
    if not isinstance(pins, Mapping):
        raise AnsibleFilterError("upgrade_targets takes apt-cache madison's output and {package: version pattern}")
    offered: dict[str, list[str]] = {}
    for line in str(madison or "").splitlines():
        fields = [field.strip() for field in line.split("|")]
        if len(fields) >= 2 and fields[0] and fields[1]:
            offered.setdefault(fields[0], []).append(fields[1])
    targets: dict[str, str | None] = {}
    for package, pattern in pins.items():
        fitting = [v for v in offered.get(str(package), []) if _versions.matches_pin(v, str(pattern or "*"))]
        fitting.sort(key=lambda v: (_versions.parse_version(v) or (0, 0, 0), v))
        targets[str(package)] = fitting[-1] if fitting else None
    return targets


def upgrade_behind(running: Any, targets: Any) -> list[str]:
    """What runs something other than its target, one sentence per component and node
    ("marathon 1.10.26 on master1 (target 1.11.24)"); [] when every node runs its targets."""
    if not isinstance(running, Mapping) or not isinstance(targets, Mapping):
        raise AnsibleFilterError("upgrade_behind takes {component: {node: version}} and {component: target version}")
    behind: list[str] = []
    for component, nodes in running.items():
        target = targets.get(component)
        if not target or not isinstance(nodes, Mapping):
            continue
        for node, version in nodes.items():
            if version and _versions.upstream(str(version)) != _versions.upstream(str(target)):
                behind.append("%s %s on %s (target %s)" % (component, version, node, target))
    return behind


def upstream_version(text: Any) -> str:
    """The upstream version of a Debian package version (1.11.0-1+standin.x -> 1.11.0)."""
    return _versions.upstream(None if text is None else str(text))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"upgrade_behind": upgrade_behind, "upgrade_problems": upgrade_problems,
                "upgrade_targets": upgrade_targets,
                "upstream_version": upstream_version}
