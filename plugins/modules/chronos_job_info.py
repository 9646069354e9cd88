#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: chronos_job_info
short_description: Read Chronos jobs
version_added: 0.1.0
description:
  - Returns one job or every job as Chronos has it, with its run counters, and which Chronos
    instance leads.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.chronos
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
options:
  name:
    description:
      - Name of the job to read. Without it, every job is returned.
    type: str
seealso:
  - module: mesosphere.cluster.chronos_job
"""

EXAMPLES = r"""
- name: Read one job
  mesosphere.cluster.chronos_job_info:
    chronos_endpoints: [http://m1.example.com:4400]
    name: nightly-cleanup
  register: cleanup

- name: Warn when it failed last
  ansible.builtin.debug:
    msg: "nightly-cleanup last failed at {{ cleanup.jobs[0].lastError }}"
  when: cleanup.exists and cleanup.jobs[0].lastError | default('') > cleanup.jobs[0].lastSuccess | default('')
"""

RETURN = r"""
exists:
  description: With O(name), whether the job exists; otherwise whether there is any job.
  returned: always
  type: bool
  sample: true
leader:
  description: Base URL of the leading Chronos instance.
  returned: always
  type: str
  sample: http://m1.example.com:4400
jobs:
  description: The jobs as Chronos returns them.
  returned: always
  type: list
  elements: dict
  sample:
    - {"name": "nightly-cleanup", "schedule": "R/2026-01-01T02:00:00.000Z/P1D", "successCount": 3, "errorCount": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api
from ansible_collections.mesosphere.cluster.plugins.module_utils import _chronos as ch


def main():
    argument_spec = _api.chronos_argument_spec()
    argument_spec.update(name=dict(type="str"))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = _api.client_from_params(module.params, "chronos")
    name = module.params["name"]
    try:
        leader = client.find_leader()
        jobs = ch.list_jobs(client)
    except _api.ApiError as exc:
        module.fail_json(msg="Could not read %s: %s" % ("Chronos job %s" % name if name else "the Chronos jobs", exc))
    if name:
        jobs = [j for j in jobs if j.get("name") == name]
    module.exit_json(changed=False, exists=bool(jobs), leader=leader, jobs=jobs)


if __name__ == "__main__":
    main()
