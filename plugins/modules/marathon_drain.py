#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: marathon_drain
short_description: Move Marathon's tasks off agents
version_added: 0.2.0
description:
  - Kills every Marathon task that runs on the given agents, without lowering the instance
    counts, so that Marathon starts each one again elsewhere; then waits until every app it
    touched runs all its instances (healthy, for an app with health checks) on other agents.
  - Marathon must not start the replacements on the same agents. Put their machines in a
    maintenance window first (M(mesosphere.cluster.mesos_maintenance), V(scheduled)); Marathon
    declines the offers of agents in a window (its maintenance mode, on by default since 1.7).
    Marathon's own advice for maintenance is this one, to kill the tasks on a machine under
    maintenance before it goes down, rather than let them be lost with the agent.
  - An app runs one instance fewer on the other agents for every task killed, until its
    replacement runs; an app of one instance is briefly down. Load balancers fed from Marathon
    (the collection's HAProxy) stop sending to a killed task when Marathon reports it.
  - Nothing on the agents, nothing changes; a run interrupted while waiting is completed by the
    next, which kills what is still there and waits again.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.marathon
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Reports the tasks that would be killed and the apps they belong to; kills nothing.
  diff_mode:
    support: none
    description: The result lists the moved tasks.
options:
  hosts:
    description:
      - The agents, by the host name Marathon reports for their tasks (the agent's C(--hostname),
        by default the machine's name). Compared without regard to case.
    type: list
    elements: str
    required: true
  wait_timeout:
    description:
      - Seconds to wait until every app touched runs all its instances elsewhere.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two looks at the apps while waiting.
    type: float
    default: 2.0
seealso:
  - module: mesosphere.cluster.mesos_maintenance
  - module: mesosphere.cluster.marathon_app_info
"""

EXAMPLES = r"""
- name: Stop new tasks on a1 (Marathon declines the offers of machines in a window)
  mesosphere.cluster.mesos_maintenance:
    mesos_endpoints: [http://m1.example.com:5050]
    machines: [{hostname: a1.example.com, ip: 10.0.0.21}]
    state: scheduled

- name: Move Marathon's tasks off a1
  mesosphere.cluster.marathon_drain:
    marathon_endpoints: [http://m1.example.com:8080]
    hosts: [a1.example.com]
  register: drained

- name: Show what moved
  ansible.builtin.debug:
    msg: "{{ drained.moved | map(attribute='app') | unique | list }}"
"""

RETURN = r"""
moved:
  description: The tasks killed on the agents (those that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"app": "/web", "id": "web.3f1c", "host": "a1.example.com"}]
apps:
  description: The apps that had tasks on the agents, each with where its tasks run afterwards.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "/web", "instances": 2, "hosts": ["a2.example.com", "a3.example.com"]}]
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api
from ansible_collections.mesosphere.cluster.plugins.module_utils import _marathon as mt

# Marathon's task states that no longer hold a place on an agent (tasks.raml).
GONE = frozenset(("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED",
                  "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"))


def on_hosts(tasks: list[dict[str, Any]], hosts: set[str]) -> list[dict[str, Any]]:
    return [t for t in tasks if str(t.get("host", "")).lower() in hosts and t.get("state") not in GONE]


def placed_elsewhere(app: dict[str, Any], tasks: list[dict[str, Any]], hosts: set[str]) -> tuple[bool, str]:
    """Whether the app runs all its instances away from the hosts, and what it runs now."""
    wanted = int(app.get("instances") or 0)
    running = [t for t in tasks if t.get("state") == "TASK_RUNNING" and str(t.get("host", "")).lower() not in hosts]
    if app.get("healthChecks"):
        running = [t for t in running if mt.summarize_task(t)["healthy"]]
    left = on_hosts(tasks, hosts)
    done = len(running) >= wanted and not left
    return done, "%s runs %d of %d instances %selsewhere%s" % (
        app.get("id"), len(running), wanted, "healthy " if app.get("healthChecks") else "",
        ", and still %d on the agents" % len(left) if left else "")


def main() -> None:
    argument_spec = _api.marathon_argument_spec()
    argument_spec.update(
        hosts=dict(type="list", elements="str", required=True),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=2.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    hosts = {str(h).strip().lower() for h in module.params["hosts"] if str(h).strip()}
    if not hosts:
        module.fail_json(msg="hosts names no agent: give the host names of the agents to drain.")
    client = _api.client_from_params(module.params, "marathon")
    result: dict[str, Any] = dict(changed=False, moved=[], apps=[])
    try:
        tasks = (client.get_json("/v2/tasks") or {}).get("tasks", [])
        there = on_hosts(tasks, hosts)
        result["moved"] = [dict(app=t.get("appId"), id=t.get("id"), host=t.get("host")) for t in there]
        app_ids = sorted({str(t.get("appId")) for t in there})
        result["changed"] = bool(there)
        if module.check_mode or not there:
            result["apps"] = [dict(id=a) for a in app_ids]
            module.exit_json(**result)
        for app_id in app_ids:
            for host in sorted({str(t.get("host")) for t in there if t.get("appId") == app_id}):
                client.request("DELETE", mt.app_path(app_id, "/tasks"), query={"host": host, "scale": "false"},
                               expect=(200, 404))
        apps = []
        for app_id in app_ids:
            app = mt.get_app(client, app_id)
            if app is None:  # removed meanwhile: nothing to wait for
                continue

            def check(app_id: str = app_id) -> tuple[bool, str]:
                current = mt.get_app(client, app_id) or {"id": app_id, "instances": 0}
                return placed_elsewhere(current, mt.get_tasks(client, app_id), hosts)

            _api.wait_until(check, module.params["wait_timeout"], module.params["poll_interval"],
                            what="%s to run its instances on other agents" % app_id)
            apps.append(dict(id=app_id, instances=app.get("instances"),
                             hosts=sorted({str(t.get("host")) for t in mt.get_tasks(client, app_id)
                                           if t.get("state") not in GONE})))
        result["apps"] = apps
    except _api.WaitTimeout as exc:
        module.fail_json(msg="%s Now %s. Is there room for it on the other agents (resources, ports, "
                             "constraints), and are these agents in a maintenance window, so that Marathon "
                             "does not start it on them again?" % (exc, exc.last), **result)
    except _api.ApiError as exc:
        module.fail_json(msg="Could not move the Marathon tasks off %s: %s" % (", ".join(sorted(hosts)), exc),
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
