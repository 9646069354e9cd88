# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private version rules of the collection: reading a version, and which upgrades the upstream
documentation allows.

This is private to the mesosphere.cluster collection; it may change without notice.

The rules of upgrade_problems, each from the upstream documentation the project carries:

* every component: no downgrade (a running version newer than the target; state only moves
  forward, Marathon migrates its state when a newer leader takes over, data-migration.md), and no
  other major version (no upstream note covers one);
* Mesos: a stable release may be skipped (versioning.md, "Upgrades": from a stable release N
  directly to another M without the releases between), masters before agents (upgrades.md);
* Marathon: no release skipped (upgrade/index.md: "It is recommended not to skip Marathon
  releases", for example 1.4 to 1.6 goes through 1.5);
* ZooKeeper: a rolling upgrade to 3.5 or later needs 3.4.6 or later first (the admin guide's
  upgrade notes);
* Chronos: its documentation gives no upgrade rule; within a major version any release.
Standard library only.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping

VERSION_RE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")
NAMES = {"zookeeper": "ZooKeeper", "mesos": "Mesos", "marathon": "Marathon", "chronos": "Chronos"}


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a version (a Debian revision or build suffix is ignored), or None."""
    match = VERSION_RE.match(str(text or ""))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def upstream(text: str | None) -> str:
    """The upstream version of a Debian one: 1.11.0-1+standin.2026 -> 1.11.0; 3.8.0-11 -> 3.8.0."""
    text = str(text or "").strip()
    if ":" in text.split("-", 1)[0]:
        text = text.split(":", 1)[1]  # an epoch
    return text.split("-", 1)[0]


def matches_pin(version: str, pattern: str) -> bool:
    """Whether a version fits an apt pin's version pattern (like 1.11.0* or 1.11.*)."""
    return fnmatch.fnmatchcase(str(version), str(pattern))


def upgrade_problems(component: str, running: Mapping[str, str | None], target: str) -> list[str]:
    """Why `component` cannot go from what runs on each node (node to version) to `target`,
    each a sentence; empty when every node may."""
    name = NAMES.get(component, component)
    goal = parse_version(target)
    if goal is None:
        return ["%s: the target version %r is not a version." % (name, target)]
    problems = []
    for node, version in sorted(running.items()):
        now = parse_version(version)
        if now is None:
            continue  # not running there (yet): nothing to refuse
        if now[0] != goal[0]:
            problems.append("%s runs %s on %s and the target is %s, another major version: no upstream note "
                            "covers that upgrade." % (name, version, node, target))
        elif now > goal:
            problems.append("%s runs %s on %s, newer than the target %s: upgrade.yml does not downgrade "
                            "(state only moves forward; restore a backup of the older cluster instead)."
                            % (name, version, node, target))
        elif component == "marathon" and goal[1] - now[1] > 1:
            problems.append("Marathon runs %s on %s and the target is %s: Marathon's upgrade notes say not to "
                            "skip a release (upgrade/index.md); upgrade to %d.%d first."
                            % (version, node, target, now[0], now[1] + 1))
        elif component == "zookeeper" and now < (3, 4, 6) and goal >= (3, 5, 0):
            problems.append("ZooKeeper runs %s on %s and the target is %s: a rolling upgrade to 3.5 or later "
                            "needs 3.4.6 or later first (the admin guide's upgrade notes)." % (version, node, target))
    return problems
