#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesos_maintenance
short_description: Schedule maintenance for Mesos machines, take them down and bring them up
version_added: 0.1.0
description:
  - V(scheduled) puts the machines in a maintenance window; Mesos then drains them (frameworks
    get inverse offers) but they keep running.
  - V(down) starts maintenance; the agents on the machines are shut down and may not register
    until the machines are up again. Machines not yet scheduled are scheduled first, as Mesos
    requires.
  - V(up) ends maintenance, or cancels it for machines only scheduled, and removes them from
    the schedule.
  - Mesos keeps one schedule for the whole cluster and replaces it with every
    C(POST /master/maintenance/schedule); this module reads it first and changes only the
    windows of the given machines, so other machines' windows are kept.
  - Returns every machine's mode and the schedule after the change.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.mesos
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Reads the schedule and the status and reports what would change; sends no write.
  diff_mode:
    support: full
    description: Shows the schedule and the machines' modes before and after.
options:
  machines:
    description:
      - The machines, each with its C(hostname), its C(ip), or both, exactly as the agents on it
        announce themselves (agents started with C(--hostname) and C(--ip) are matched most surely).
      - The host name is compared without regard to case.
    type: list
    elements: dict
    required: true
    suboptions:
      hostname:
        description: Host name of the machine.
        type: str
      ip:
        description: IP address of the machine.
        type: str
  state:
    description:
      - V(scheduled), V(down) or V(up), as described above.
    type: str
    choices: [scheduled, down, up]
    default: scheduled
  start:
    description:
      - Start of the maintenance window, as an ISO 8601 time (V(2026-03-01T22:00:00Z)) or
        seconds since the epoch.
      - When not set, a new window starts now, and machines already in a window keep it
        (so a second run changes nothing). When set, a differing window is replaced.
    type: str
  duration:
    description:
      - Expected length of the window in seconds. Mesos uses it only to inform frameworks.
      - When O(start) is not set, an existing window is kept whatever its duration.
    type: int
    default: 3600
seealso:
  - module: mesosphere.cluster.mesos_info
"""

EXAMPLES = r"""
- name: Announce maintenance of a1 tonight
  mesosphere.cluster.mesos_maintenance:
    mesos_endpoints: [http://m1.example.com:5050, http://m2.example.com:5050, http://m3.example.com:5050]
    machines:
      - hostname: a1.example.com
        ip: 10.0.0.21
    start: "2026-03-01T22:00:00Z"
    duration: 7200

- name: Take it down
  mesosphere.cluster.mesos_maintenance:
    mesos_endpoints: [http://m1.example.com:5050]
    machines:
      - {hostname: a1.example.com, ip: 10.0.0.21}
    state: down

- name: Bring it back
  mesosphere.cluster.mesos_maintenance:
    mesos_endpoints: [http://m1.example.com:5050]
    machines:
      - {hostname: a1.example.com, ip: 10.0.0.21}
    state: up
"""

RETURN = r"""
machines:
  description: The given machines with their mode after the run (UP, DRAINING or DOWN).
  returned: always
  type: list
  elements: dict
  sample: [{"hostname": "a1.example.com", "ip": "10.0.0.21", "mode": "DOWN"}]
schedule:
  description: The cluster's maintenance schedule after the run (predicted in check mode).
  returned: always
  type: dict
  sample:
    windows:
      - machine_ids: [{"hostname": "a1.example.com", "ip": "10.0.0.21"}]
        unavailability: {"start": {"nanoseconds": 1772402400000000000}, "duration": {"nanoseconds": 7200000000000}}
status:
  description:
    - The cluster's maintenance status after the run (before it in check mode), as
      C(/master/maintenance/status) returns it.
  returned: always
  type: dict
  sample: {"draining_machines": [], "down_machines": [{"hostname": "a1.example.com", "ip": "10.0.0.21"}]}
requests:
  description: The writes sent (or that would be sent in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [POST /master/maintenance/schedule, POST /master/machine/down]
diff:
  description: Schedule and modes before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: {"machines": [{"hostname": "a1", "mode": "UP"}]}
    after: {"machines": [{"hostname": "a1", "mode": "DRAINING"}]}
"""

import copy
import time
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api

NS = 1000000000


def parse_start(value):
    """ISO 8601 time or epoch seconds -> nanoseconds since the epoch."""
    text = str(value).strip()
    try:
        return int(float(text) * NS)
    except ValueError:
        pass
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


def matches(wanted, machine_id):
    if not isinstance(machine_id, dict):
        return False
    if wanted.get("hostname") and (machine_id.get("hostname") or "").lower() != wanted["hostname"].lower():
        return False
    return not (wanted.get("ip") and machine_id.get("ip") != wanted["ip"])


def machine_id(wanted):
    return dict((k, wanted[k]) for k in ("hostname", "ip") if wanted.get(k))


def ns(value):
    if isinstance(value, dict):
        return int(value.get("nanoseconds", 0))
    return int(value or 0)


class Maintenance:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.p = module.params
        self.requests = []
        self.machines = []
        for m in self.p["machines"]:
            if not m.get("hostname") and not m.get("ip"):
                module.fail_json(msg="Each machine needs a hostname or an ip (got %r)." % (m,))
            self.machines.append(machine_id(m))
        self.start = None
        if self.p["start"] is not None:
            try:
                self.start = parse_start(self.p["start"])
            except ValueError:
                module.fail_json(msg="start %r is neither an ISO 8601 time nor seconds since the epoch."
                                 % self.p["start"])
        if self.p["duration"] <= 0:
            module.fail_json(msg="duration must be a positive number of seconds, not %s." % self.p["duration"])

    def read(self):
        schedule = self.client.get_json("/master/maintenance/schedule") or {}
        status = self.client.get_json("/master/maintenance/status") or {}
        return schedule, status

    @staticmethod
    def mode(wanted, status):
        if any(matches(wanted, m) for m in status.get("down_machines") or []):
            return "DOWN"
        if any(matches(wanted, (d or {}).get("id")) for d in status.get("draining_machines") or []):
            return "DRAINING"
        return "UP"

    def window_of(self, wanted, schedule):
        for window in schedule.get("windows") or []:
            if any(matches(wanted, m) for m in window.get("machine_ids") or []):
                return window
        return None

    def without(self, schedule, machines):
        """The schedule with these machines taken out of their windows (empty windows dropped)."""
        out = copy.deepcopy(schedule) if schedule else {}
        windows = []
        for window in out.get("windows") or []:
            ids = [m for m in window.get("machine_ids") or [] if not any(matches(w, m) for w in machines)]
            if ids:
                window["machine_ids"] = ids
                windows.append(window)
        out["windows"] = windows
        return out

    def needs_window(self, schedule):
        """Machines that have no window, or (start given) one that differs from the asked one."""
        out = []
        for wanted in self.machines:
            window = self.window_of(wanted, schedule)
            if window is None:
                out.append(wanted)
            elif self.start is not None:
                unavailability = window.get("unavailability") or {}
                if (ns(unavailability.get("start")) != self.start
                        or ns(unavailability.get("duration")) != self.p["duration"] * NS):
                    out.append(wanted)
        return out

    def scheduled_with(self, schedule, machines):
        start = self.start if self.start is not None else int(time.time()) * NS
        out = self.without(schedule, machines)
        out["windows"].append(dict(
            machine_ids=[dict(m) for m in machines],
            unavailability=dict(start=dict(nanoseconds=start), duration=dict(nanoseconds=self.p["duration"] * NS)),
        ))
        return out

    def post(self, path, body):
        self.requests.append("POST %s" % path)
        if not self.module.check_mode:
            self.client.request("POST", path, body=body, expect=(200, 202, 204))

    def run(self):
        state = self.p["state"]
        schedule, status = self.read()
        before = dict(schedule=schedule, machines=[dict(m, mode=self.mode(m, status)) for m in self.machines])
        new_schedule = schedule
        modes = dict((i, self.mode(m, status)) for i, m in enumerate(self.machines))
        if state in ("scheduled", "down"):
            # A DOWN machine stays in the schedule; its window is not rewritten under it.
            movable = [m for i, m in enumerate(self.machines) if modes[i] != "DOWN"]
            todo = self.needs_window(schedule)
            todo = [m for m in todo if m in movable]
            if todo:
                new_schedule = self.scheduled_with(schedule, todo)
                self.post("/master/maintenance/schedule", new_schedule)
                for i, m in enumerate(self.machines):
                    if m in todo and modes[i] == "UP":
                        modes[i] = "DRAINING"
            if state == "down":
                going = [m for i, m in enumerate(self.machines) if modes[i] != "DOWN"]
                if going:
                    self.post("/master/machine/down", going)
                    for i in modes:
                        modes[i] = "DOWN"
        else:
            down = [m for i, m in enumerate(self.machines) if modes[i] == "DOWN"]
            if down:
                self.post("/master/machine/up", down)
            remaining = self.without(schedule, down)
            scheduled = [m for m in self.machines if m not in down and self.window_of(m, remaining)]
            if scheduled:
                new_schedule = self.without(remaining, scheduled)
                self.post("/master/maintenance/schedule", new_schedule)
            elif down:
                new_schedule = remaining
            for i in modes:
                modes[i] = "UP"
        changed = bool(self.requests)
        if changed and not self.module.check_mode:
            new_schedule, status = self.read()
            modes = dict((i, self.mode(m, status)) for i, m in enumerate(self.machines))
        machines = [dict(m, mode=modes[i]) for i, m in enumerate(self.machines)]
        result = dict(changed=changed, machines=machines, schedule=new_schedule, status=status,
                      requests=self.requests)
        if self.module._diff:
            result["diff"] = dict(before=before, after=dict(schedule=new_schedule, machines=machines))
        return result


def main():
    argument_spec = _api.mesos_argument_spec()
    argument_spec.update(
        machines=dict(type="list", elements="dict", required=True,
                      options=dict(hostname=dict(type="str"), ip=dict(type="str"))),
        state=dict(type="str", default="scheduled", choices=["scheduled", "down", "up"]),
        start=dict(type="str"),
        duration=dict(type="int", default=3600),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = _api.client_from_params(module.params, "mesos")
    job = Maintenance(module, client)
    names = ", ".join(m.get("hostname") or m.get("ip") for m in job.machines)
    try:
        result = job.run()
    except _api.ApiError as exc:
        module.fail_json(msg="Could not set the maintenance of %s to %s: %s" % (names, module.params["state"], exc),
                         requests=job.requests)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
