#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: marathon_app_info
short_description: Read Marathon apps, their tasks and deployments
version_added: 0.1.0
description:
  - Returns one app or all apps as Marathon has them, with their tasks and running deployments,
    and which Marathon instance leads.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.marathon
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
options:
  id:
    description:
      - Id of the app to read. Without it, every app is returned.
    type: str
  tasks:
    description:
      - Include each app's tasks (one more request per app).
    type: bool
    default: true
seealso:
  - module: mesosphere.cluster.marathon_app
"""

EXAMPLES = r"""
- name: Read /web
  mesosphere.cluster.marathon_app_info:
    marathon_endpoints: [http://m1.example.com:8080]
    id: /web
  register: web

- name: Show where its tasks run
  ansible.builtin.debug:
    msg: "{{ web.apps[0].tasks | map(attribute='host') | list }}"
  when: web.exists

- name: List every app, without tasks
  mesosphere.cluster.marathon_app_info:
    marathon_endpoints: [http://m1.example.com:8080]
    tasks: false
"""

RETURN = r"""
exists:
  description: With O(id), whether the app exists; otherwise whether there is any app.
  returned: always
  type: bool
  sample: true
leader:
  description: Base URL of the leading Marathon instance.
  returned: always
  type: str
  sample: http://m2.example.com:8080
apps:
  description: The apps as Marathon returns them, each with C(tasks) (summaries) when O(tasks=true).
  returned: always
  type: list
  elements: dict
  sample:
    - {"id": "/web", "instances": 2, "tasksRunning": 2, "tasks": [{"id": "web.1", "host": "a1", "ports": [31000]}]}
deployments:
  description: Running deployments that affect the returned apps.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "97c136bf-5a28-4821-9d94-480d9fbb01c8", "affectedApps": ["/web"]}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api
from ansible_collections.mesosphere.cluster.plugins.module_utils import _marathon as mt


def main():
    argument_spec = _api.marathon_argument_spec()
    argument_spec.update(
        id=dict(type="str"),
        tasks=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = _api.client_from_params(module.params, "marathon")
    app_id = mt.normalize_app_id(module.params["id"]) if module.params["id"] else None
    what = "Marathon app %s" % app_id if app_id else "the Marathon apps"
    try:
        leader = client.find_leader()
        if app_id:
            app = mt.get_app(client, app_id)
            apps = [app] if app else []
        else:
            apps = (client.get_json("/v2/apps") or {}).get("apps", [])
        if module.params["tasks"]:
            for app in apps:
                app["tasks"] = [mt.summarize_task(t) for t in mt.get_tasks(client, app["id"])]
        ids = set(a.get("id") for a in apps)
        deployments = [d for d in (client.get_json("/v2/deployments") or [])
                       if ids.intersection(d.get("affectedApps") or [])]
    except _api.ApiError as exc:
        module.fail_json(msg="Could not read %s: %s" % (what, exc))
    module.exit_json(changed=False, exists=bool(apps), leader=leader, apps=apps, deployments=deployments)


if __name__ == "__main__":
    main()
