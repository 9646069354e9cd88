# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters over the results of the host_config module, for decisions that span the hosts of a play.

Documentation: the YAML files of the same names beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def _unit(name: str) -> str:
    return name if "." in name else name + ".service"


def service_idle(results: Any, unit: str) -> bool:
    """True when, on every host, `unit` runs and has no restart pending (host_config's findings)."""
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError("service_idle takes the list of host_config results of the play's hosts")
    unit = _unit(unit)
    for result in results:
        if not isinstance(result, Mapping) or "units" not in result or "pending" not in result:
            # a host without a result (skipped, failed): not known to be idle
            return False
        state = result["units"].get(unit)
        pending = result["pending"].get(unit)
        if state is None or pending is None:
            raise AnsibleFilterError(
                "service_idle: the host_config results name no unit %s in both units and pending" % unit
            )
        if not state.get("active") or pending.get("restart_pending"):
            return False
    return True


class FilterModule:
    def filters(self):
        return {"service_idle": service_idle}
