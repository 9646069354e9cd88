#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: marathon_app
short_description: Create, update, restart or remove a Marathon app
version_added: 0.1.0
description:
  - Makes a Marathon app match a definition given as a dict or a JSON file.
  - Compares only the fields the definition sets with the app Marathon has; fields Marathon fills
    in with defaults or computes (V(version), V(versionInfo), task counts, deployments) are ignored.
    A port of V(0) (assign one) matches the port Marathon assigned.
  - Creates a missing app with C(POST /v2/apps) and updates a differing one with
    C(PUT /v2/apps/{id}), which changes only the fields sent. Fields you stop setting keep their
    current value in Marathon; set them explicitly to change them.
  - Waits for the deployment to finish and reports the app's tasks.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.marathon
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Reads the app and reports what would change; sends no write.
  diff_mode:
    support: full
    description: Shows the app before and after, without server-computed fields.
options:
  id:
    description:
      - The app id, for example V(/web) or V(/group/web). A leading V(/) is added if missing.
      - May be left out when the definition has an C(id).
    type: str
  definition:
    description:
      - The app definition as Marathon's C(/v2/apps) API takes it (C(cmd), C(instances),
        C(cpus), C(mem), C(portDefinitions), C(healthChecks), C(constraints), ...).
      - Required with O(state=present) unless O(definition_file) is given.
    type: dict
  definition_file:
    description:
      - Path, on the managed host, of a JSON file holding the app definition.
    type: path
  state:
    description:
      - V(present) creates or updates the app.
      - V(absent) removes it and all its tasks.
      - V(restarted) makes it present first when a definition is given, then restarts all its
        tasks unless that update already rolled them; always a change.
    type: str
    choices: [present, absent, restarted]
    default: present
  force:
    description:
      - When the app is locked by a running deployment (HTTP 409), cancel that deployment by
        sending C(force=true).
      - When V(false), wait up to O(wait_timeout) for the deployment to finish, then try once more.
    type: bool
    default: false
  wait:
    description:
      - Wait until the deployment that the change started has finished.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for a deployment (and for a lock to clear).
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two looks at the deployments while waiting.
    type: float
    default: 2
notes:
  - Talks to the Marathon leader found with C(GET /v2/leader); standbys would proxy anyway.
seealso:
  - module: mesosphere.cluster.marathon_app_info
"""

EXAMPLES = r"""
- name: Run two instances of a web server behind service port 10000
  mesosphere.cluster.marathon_app:
    marathon_endpoints:
      - http://m1.example.com:8080
      - http://m2.example.com:8080
    id: /web
    definition:
      cmd: python3 -m http.server $PORT0
      instances: 2
      cpus: 0.1
      mem: 64
      portDefinitions:
        - port: 10000
          protocol: tcp
      healthChecks:
        - protocol: MESOS_HTTP
          portIndex: 0
          path: /
      constraints:
        - [hostname, UNIQUE]
      labels:
        HAPROXY_GROUP: external

- name: Set the connection once for a block of Marathon tasks
  module_defaults:
    group/mesosphere.cluster.marathon:
      marathon_endpoints: "{{ groups['marathon'] | map('regex_replace', '$', ':8080') | list }}"
      marathon_username: admin
      marathon_password: "{{ vault_marathon_password }}"
  block:
    - name: Deploy from a JSON file kept with the playbook
      mesosphere.cluster.marathon_app:
        definition_file: /srv/apps/worker.json

    - name: Restart every task of /web
      mesosphere.cluster.marathon_app:
        id: /web
        state: restarted

    - name: Remove an app, cancelling a stuck deployment
      mesosphere.cluster.marathon_app:
        id: /old
        state: absent
        force: true
"""

RETURN = r"""
app:
  description: The app as Marathon has it after the run (predicted in check mode); empty when absent.
  returned: always
  type: dict
  sample: {"id": "/web", "cmd": "python3 -m http.server $PORT0", "instances": 2, "cpus": 0.1, "mem": 64}
tasks:
  description: The app's tasks after the deployment (empty in check mode or when not waiting).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Task id.
      type: str
      sample: web.instance-4b2c1a7e-2f31-11ef-9e8c-0242ac110002._app.1
    host:
      description: Agent host name the task runs on.
      type: str
      sample: a1.example.com
    ports:
      description: Host ports assigned to the task.
      type: list
      elements: int
      sample: [31001]
    state:
      description: Mesos task state, when Marathon reports it.
      type: str
      sample: TASK_RUNNING
    started_at:
      description: When the task started.
      type: str
      sample: "2026-01-01T10:00:00.000Z"
    healthy:
      description: Whether every health check passes; null without health checks.
      type: bool
      sample: true
deployment_id:
  description: Id of the deployment the change started, if any.
  returned: when changed and not in check mode
  type: str
  sample: 5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43
changed_fields:
  description: The definition's top-level fields that differed from Marathon's app.
  returned: always
  type: list
  elements: str
  sample: [instances, mem]
diff:
  description: Before and after, without the fields Marathon computes.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"id": "/web", "instances": 1}, "after": {"id": "/web", "instances": 2}}
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api
from ansible_collections.mesosphere.cluster.plugins.module_utils import _marathon as mt


class LockedError(Exception):
    pass


def is_lock(err):
    return (isinstance(err, _api.HttpStatusError) and err.status == 409
            and "locked" in (err.server_message or "").lower())


class MarathonApp:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.result = dict(changed=False, app={}, tasks=[], changed_fields=[])

    def load_definition(self):
        definition = self.params["definition"]
        path = self.params["definition_file"]
        if path:
            try:
                with open(path, "rb") as handle:
                    definition = json.loads(handle.read().decode("utf-8"))
            except (OSError, ValueError) as exc:
                self.module.fail_json(msg="Could not read the app definition from %s: %s" % (path, exc))
            if not isinstance(definition, dict):
                self.module.fail_json(msg="The app definition in %s is not a JSON object." % path)
        definition = dict(definition or {})
        app_id = self.params["id"] or definition.get("id")
        if not app_id:
            self.module.fail_json(msg="Give the app id in the id option or in the definition.")
        app_id = mt.normalize_app_id(app_id)
        if definition.get("id") and mt.normalize_app_id(definition["id"]) != app_id:
            self.module.fail_json(
                msg="The id option (%s) and the definition's id (%s) differ." % (app_id, definition["id"]))
        if definition:
            definition["id"] = app_id
        return app_id, definition

    # -- writes --------------------------------------------------------------------------------
    def write(self, method, path, body=None, expect=(200,)):
        """Send a write; on a deployment lock cancel it (force) or wait for it and try once more."""
        query = {"force": "true"} if self.params["force"] else None
        try:
            return self.client.request(method, path, body=body, query=query, expect=expect)
        except _api.HttpStatusError as err:
            if not is_lock(err):
                raise
            self.wait_for_app_deployments()
            return self.client.request(method, path, body=body, query=query, expect=expect)

    def wait_for_app_deployments(self):
        def check():
            running = mt.deployments_for(self.client, self.app_id)
            return not running, [d.get("id") for d in running]

        try:
            _api.wait_until(check, self.params["wait_timeout"], self.params["poll_interval"],
                            what="the deployments that lock %s to finish" % self.app_id)
        except _api.WaitTimeout as exc:
            raise LockedError("%s is locked by deployment(s) %s, still running after %ss; set force=true to "
                              "cancel them." % (self.app_id, ", ".join(exc.last or []), self.params["wait_timeout"])
                              ) from None

    def wait_for(self, deployment_id):
        if not deployment_id or not self.params["wait"]:
            return

        def check():
            return not mt.deployment_running(self.client, deployment_id), None

        try:
            _api.wait_until(check, self.params["wait_timeout"], self.params["poll_interval"],
                            what="deployment %s of %s" % (deployment_id, self.app_id))
        except _api.WaitTimeout as exc:
            tasks = [mt.summarize_task(t) for t in mt.get_tasks(self.client, self.app_id)]
            self.module.fail_json(
                msg="%s Marathon is still working on it; its tasks now: %s." % (
                    exc, ", ".join("%s on %s (%s)" % (t["id"], t["host"], t["state"]) for t in tasks) or "none"),
                deployment_id=deployment_id, tasks=tasks, changed=True)

    # -- states --------------------------------------------------------------------------------
    def present(self, definition, current):
        if not definition:
            self.module.fail_json(msg="state=present needs a definition or a definition_file.")
        before = mt.strip_server_fields(current) if current else {}
        after = mt.merge(before, definition)
        self.result["diff"] = dict(before=before, after=after)
        self.result["app"] = after
        if current is None:
            self.result["changed_fields"] = sorted(definition)
        else:
            self.result["changed_fields"] = mt.differing_keys(definition, current)
            if not self.result["changed_fields"]:
                self.result["app"] = current
                return False
        self.result["changed"] = True
        if self.module.check_mode:
            return True
        if current is None:
            try:
                resp = self.write("POST", "/v2/apps", body=definition, expect=(201,))
            except _api.HttpStatusError as err:
                if err.status != 409:
                    raise
                # Created meanwhile by someone else: update it instead.
                resp = self.write("PUT", mt.app_path(self.app_id), body=definition, expect=(200, 201))
        else:
            resp = self.write("PUT", mt.app_path(self.app_id), body=definition, expect=(200, 201))
        self.result["deployment_id"] = mt.deployment_id_of(resp)
        self.wait_for(self.result["deployment_id"])
        return True

    def absent(self, current):
        self.result["diff"] = dict(before=mt.strip_server_fields(current) if current else {}, after={})
        if current is None:
            return False
        self.result["changed"] = True
        if self.module.check_mode:
            return True
        resp = self.write("DELETE", mt.app_path(self.app_id), expect=(200, 202, 404))
        if resp.status != 404:
            self.result["deployment_id"] = mt.deployment_id_of(resp)
            self.wait_for(self.result["deployment_id"])
        return True

    def restart(self, definition, current):
        if current is None and not definition:
            self.module.fail_json(msg="Cannot restart %s: Marathon has no such app." % self.app_id)
        if definition:
            if self.present(definition, current):
                return True
        else:
            self.result["app"] = current
            self.result["diff"] = dict(before=mt.strip_server_fields(current), after=mt.strip_server_fields(current))
        self.result["changed"] = True
        if self.module.check_mode:
            return True
        resp = self.write("POST", mt.app_path(self.app_id, "/restart"), body={}, expect=(200, 201))
        self.result["deployment_id"] = mt.deployment_id_of(resp)
        self.wait_for(self.result["deployment_id"])
        return True

    def warn_short_of_instances(self):
        wanted = self.result["app"].get("instances")
        running = [t for t in self.result["tasks"] if t["state"] in (None, "TASK_RUNNING")]
        if self.params["wait"] and isinstance(wanted, int) and len(running) < wanted:
            self.module.warn("%s wants %d instance(s) but %d task(s) are running; see its tasks and "
                             "lastTaskFailure in Marathon." % (self.app_id, wanted, len(running)))

    def run(self):
        self.app_id, definition = self.load_definition()
        state = self.params["state"]
        action = {"present": "create or update", "absent": "remove", "restarted": "restart"}[state]
        try:
            current = mt.get_app(self.client, self.app_id)
            if state == "present":
                self.present(definition, current)
            elif state == "absent":
                self.absent(current)
            else:
                self.restart(definition, current)
            if self.result["changed"] and not self.module.check_mode and state != "absent":
                self.result["app"] = mt.get_app(self.client, self.app_id) or self.result["app"]
            if state != "absent" and not self.module.check_mode:
                self.result["tasks"] = [mt.summarize_task(t) for t in mt.get_tasks(self.client, self.app_id)]
                self.warn_short_of_instances()
            elif state == "absent":
                self.result["app"] = {}
        except (_api.ApiError, LockedError) as exc:
            self.module.fail_json(msg="Could not %s Marathon app %s: %s" % (action, self.app_id, exc),
                                  **dict((k, v) for k, v in self.result.items() if k != "diff"))
        if not self.module._diff:
            self.result.pop("diff", None)
        self.module.exit_json(**self.result)


def main():
    argument_spec = _api.marathon_argument_spec()
    argument_spec.update(
        id=dict(type="str"),
        definition=dict(type="dict"),
        definition_file=dict(type="path"),
        state=dict(type="str", default="present", choices=["present", "absent", "restarted"]),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=2.0),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("definition", "definition_file")],
        required_one_of=[("id", "definition", "definition_file")],
        supports_check_mode=True,
    )
    client = _api.client_from_params(module.params, "marathon")
    MarathonApp(module, client).run()


if __name__ == "__main__":
    main()
