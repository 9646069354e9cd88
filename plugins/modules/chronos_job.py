#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: chronos_job
short_description: Create, update or remove a Chronos job
version_added: 0.1.0
description:
  - Makes a Chronos job match a definition, either a scheduled job (O(schedule), an ISO 8601 repeating
    interval) or a dependent job (O(parents), run after its parents).
  - Compares only the fields the definition sets with the job Chronos has; the run counters
    (C(successCount), C(lastSuccess), ...) are ignored. Chronos moves a schedule's start
    forward as the job runs; a start reached from the asked one by whole periods is the same
    schedule.
  - Creates or updates with C(POST) or C(PUT) on C(/v1/scheduler/iso8601) (scheduled) or
    C(/v1/scheduler/dependency) (dependent), sending the whole job, and removes with
    C(DELETE /v1/scheduler/job/{name}).
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.chronos
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Reads the job and reports what would change; sends no write.
  diff_mode:
    support: full
    description: Shows the job before and after, without the run counters.
options:
  name:
    description:
      - The job's name (letters, digits, V(_), V(.), V(-)).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the job; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  command:
    description:
      - The command the job runs. Same as C(command) in O(definition).
    type: str
  schedule:
    description:
      - ISO 8601 repeating interval C(R[n]/<start>/<period>), for example
        V(R/2026-01-01T02:00:00Z/P1D). An empty start means now.
      - Mutually exclusive with O(parents).
    type: str
  parents:
    description:
      - Names of the jobs that must have run before this one; makes it a dependent job.
    type: list
    elements: str
  definition:
    description:
      - Any other job fields as the Chronos API takes them (C(epsilon), C(owner), C(cpus),
        C(mem), C(disk), C(retries), C(shell), C(arguments), C(environmentVariables),
        C(constraints), C(container), C(scheduleTimeZone), C(disabled), ...).
      - O(name), O(command), O(schedule) and O(parents) take precedence over the same keys here.
    type: dict
    default: {}
notes:
  - Talks to the Chronos leader found with C(GET /leader); standbys would proxy anyway.
seealso:
  - module: mesosphere.cluster.chronos_job_info
"""

EXAMPLES = r"""
- name: Clean up temporary files every night at two
  mesosphere.cluster.chronos_job:
    chronos_endpoints: [http://m1.example.com:4400, http://m2.example.com:4400]
    name: nightly-cleanup
    command: find /tmp -mtime +7 -delete
    schedule: R/2026-01-01T02:00:00Z/P1D
    definition:
      epsilon: PT30M
      owner: ops@example.com
      cpus: 0.1
      mem: 64

- name: Report once the cleanup has run
  mesosphere.cluster.chronos_job:
    chronos_endpoints: [http://m1.example.com:4400]
    name: cleanup-report
    command: du -sh /tmp
    parents: [nightly-cleanup]

- name: Remove a job
  mesosphere.cluster.chronos_job:
    chronos_endpoints: [http://m1.example.com:4400]
    name: old-job
    state: absent
"""

RETURN = r"""
job:
  description: The job as Chronos has it after the run (predicted in check mode); empty when absent.
  returned: always
  type: dict
  sample:
    name: nightly-cleanup
    command: find /tmp -mtime +7 -delete
    schedule: R/2026-01-01T02:00:00.000Z/P1D
changed_fields:
  description: The fields that differed from Chronos's job.
  returned: always
  type: list
  elements: str
  sample: [schedule]
diff:
  description: Before and after, without the run counters.
  returned: when diff mode is on
  type: dict
  sample: {"before": {}, "after": {"name": "nightly-cleanup"}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api
from ansible_collections.mesosphere.cluster.plugins.module_utils import _chronos as ch


def main():
    argument_spec = _api.chronos_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        command=dict(type="str"),
        schedule=dict(type="str"),
        parents=dict(type="list", elements="str"),
        definition=dict(type="dict", default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("schedule", "parents")])
    p = module.params
    name = p["name"]
    if not ch.NAME_RE.match(name):
        module.fail_json(msg="The job name %r may hold only letters, digits, _, . and -." % name)
    wanted = dict(p["definition"] or {})
    for key in ("command", "schedule", "parents"):
        if p[key] is not None:
            wanted[key] = p[key]
    wanted["name"] = name
    if wanted.get("schedule") and wanted.get("parents"):
        module.fail_json(msg="Job %s: give either a schedule or parents, not both." % name)
    if wanted.get("schedule"):
        try:
            ch.parse_schedule(wanted["schedule"])
        except ValueError as exc:
            module.fail_json(msg="Job %s: the schedule %s." % (name, exc))

    client = _api.client_from_params(p, "chronos")
    result = dict(changed=False, job={}, changed_fields=[])
    action = "create or update" if p["state"] == "present" else "remove"
    try:
        current = ch.get_job(client, name)
        before = ch.strip_server_fields(current) if current else {}
        if p["state"] == "absent":
            after = {}
            result["changed"] = current is not None
            if result["changed"] and not module.check_mode:
                client.request("DELETE", ch.job_path(name), expect=(200, 204))
        else:
            if not current and not (wanted.get("schedule") or wanted.get("parents")):
                module.fail_json(msg="Job %s does not exist; creating it needs a schedule or parents." % name)
            if not current and not wanted.get("command"):
                module.fail_json(msg="Job %s does not exist; creating it needs a command." % name)
            result["changed_fields"] = ch.differing_keys(wanted, current) if current else sorted(wanted)
            after = ch.desired_job(current, wanted) if result["changed_fields"] else before
            result["changed"] = bool(result["changed_fields"])
            if result["changed"] and not module.check_mode:
                client.request("PUT" if current else "POST", ch.write_path(after), body=after,
                               expect=(200, 201, 204))
                after = ch.strip_server_fields(ch.get_job(client, name)) or after
            result["job"] = after if result["changed"] else (current or {})
    except _api.ApiError as exc:
        module.fail_json(msg="Could not %s Chronos job %s: %s" % (action, name, exc), **result)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
