#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_ha_check
short_description: Assert that a Mesos, Marathon and Chronos cluster is highly available
version_added: 0.1.0
description:
  - Checks in one call, and reports each check with what was observed and what was expected.
  - C(zookeeper_quorum) - a majority of the ZooKeeper members serve, with exactly one leader
    (four-letter word C(srvr) on each member); when O(zookeeper_hosts) is given.
  - C(mesos_master_count) - every master in O(mesos_endpoints) answers, and they are
    O(expected_masters).
  - C(mesos_single_leader) - exactly one master says it is elected (C(master/elected)).
  - C(mesos_leader_agreement) - every master names that same master as leader
    (C(/master/redirect)).
  - C(mesos_quorum_flag) - every master runs with the same C(--quorum), a strict majority of
    O(expected_masters).
  - C(mesos_registrar_log) - the leader's replicated log has recovered and its ensemble
    (C(registrar/log/ensemble_size)) counts O(expected_masters) masters.
  - C(mesos_agents_active) - at least O(expected_agents) agents are active on the leader.
  - C(marathon_reachable), C(marathon_leader_agreement), C(marathon_framework_active) - every
    Marathon instance answers and names the same leader, and Marathon is an active framework
    on the leading master; when O(marathon_endpoints) is given. The same three for Chronos
    when O(chronos_endpoints) is given.
  - Fails, when a check fails, with one sentence naming each failed check. With
    O(wait_timeout) it looks again until every check passes or the time is up, for example
    after a leader was killed and the others are electing a new one.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.mesos
  - mesosphere.cluster.marathon
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
  marathon_endpoints:
    description:
      - Base URLs of every Marathon instance, for example V(http://m1.example.com:8080).
      - Each one is asked on its own who leads (C(GET /v2/leader)).
      - Without it, the Marathon checks are left out.
    type: list
    elements: str
    required: false
  chronos_endpoints:
    description:
      - Base URLs of every Chronos instance, for example V(http://m1.example.com:4400).
      - Each one is asked on its own who leads (C(GET /leader)).
      - Without it, the Chronos checks are left out.
    type: list
    elements: str
    required: false
  zookeeper_hosts:
    description:
      - The ZooKeeper members as V(host:port,host:port), a list, or a V(zk://) URL (its path is
        ignored).
      - Without it, the ZooKeeper check is left out.
    type: raw
  zookeeper_timeout:
    description:
      - Seconds to wait for each ZooKeeper member's answer.
    type: float
    default: 5
  expected_masters:
    description:
      - How many Mesos masters the cluster has. Defaults to the number of O(mesos_endpoints).
    type: int
  expected_agents:
    description:
      - How many agents must at least be active.
    type: int
    default: 1
  marathon_framework_name:
    description:
      - The name Marathon registers with on the Mesos master.
    type: str
    default: marathon
  chronos_framework_name:
    description:
      - The name Chronos registers with on the Mesos master.
    type: str
    default: chronos
  wait_timeout:
    description:
      - Seconds to keep looking again until every check passes. V(0) looks once.
    type: int
    default: 0
  poll_interval:
    description:
      - Seconds between two looks.
    type: float
    default: 3
notes:
  - The check needs only HTTP access to the masters, Marathons and Chronos instances and TCP
    access to the ZooKeeper client port; ZooKeeper must allow C(srvr) (it does by default).
  - It can be given the connection options of every service group with C(module_defaults).
seealso:
  - module: mesosphere.cluster.mesos_info
  - module: mesosphere.cluster.zookeeper_info
"""

EXAMPLES = r"""
- name: Assert the cluster is highly available, allowing two minutes to settle
  mesosphere.cluster.cluster_ha_check:
    zookeeper_hosts: m1.example.com:2181,m2.example.com:2181,m3.example.com:2181
    mesos_endpoints: [http://m1.example.com:5050, http://m2.example.com:5050, http://m3.example.com:5050]
    marathon_endpoints: [http://m1.example.com:8080, http://m2.example.com:8080, http://m3.example.com:8080]
    chronos_endpoints: [http://m1.example.com:4400, http://m2.example.com:4400, http://m3.example.com:4400]
    expected_agents: 2
    wait_timeout: 120
  register: ha

- name: Report without failing the play
  mesosphere.cluster.cluster_ha_check:
    mesos_endpoints: "{{ groups['mesos_masters'] | map('regex_replace', '^(.*)$', 'http://\\1:5050') | list }}"
  register: ha
  failed_when: false

- name: Print the failed checks
  ansible.builtin.debug:
    msg: "{{ ha.checks | rejectattr('ok') | list }}"
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: true
checks:
  description: Every check, in the order run.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      type: str
      sample: mesos_quorum_flag
    ok:
      description: Whether it passed.
      type: bool
      sample: false
    observed:
      description: What was seen.
      type: str
      sample: quorum 1 on http://m1:5050, http://m2:5050, http://m3:5050
    expected:
      description: What was expected.
      type: str
      sample: the same quorum on every master, a strict majority of 3 (2 or 3)
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: [mesos_quorum_flag]
attempts:
  description: How many times the checks ran.
  returned: always
  type: int
  sample: 1
mesos_leader:
  description: The leading master (C(host:port)) when the masters agree.
  returned: always
  type: str
  sample: m2.example.com:5050
marathon_leader:
  description: The leading Marathon (C(host:port)) when every instance names the same one.
  returned: always
  type: str
  sample: m1.example.com:8080
chronos_leader:
  description: The leading Chronos (C(host:port)) when every instance names the same one.
  returned: always
  type: str
  sample: m3.example.com:4400
zookeeper:
  description: The ZooKeeper summary (members serving, leader, quorum), when asked.
  returned: when O(zookeeper_hosts) is given
  type: dict
  sample: {"size": 3, "serving": 3, "leader": "m1.example.com:2181", "quorum": true}
"""

import contextlib

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _mesos, _zookeeper


def check(name, ok, observed, expected):
    return dict(name=name, ok=bool(ok), observed=observed, expected=expected)


def _int(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


class HaCheck:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.mesos = _api.client_from_params(self.p, "mesos")
        self.marathon = _api.client_from_params(self.p, "marathon")
        self.chronos = _api.client_from_params(self.p, "chronos")
        self.expected_masters = self.p["expected_masters"] or len(self.mesos.endpoints)
        self.zk_members = None
        if self.p["zookeeper_hosts"]:
            try:
                self.zk_members = _zookeeper.parse_hosts(self.p["zookeeper_hosts"]).members
            except _zookeeper.HostSpecError as exc:
                module.fail_json(msg="Could not read zookeeper_hosts: %s." % exc)

    def run_once(self):
        checks = []
        facts = dict(mesos_leader=None, marathon_leader=None, chronos_leader=None)
        if self.zk_members is not None:
            checks.append(self.zookeeper_check(facts))
        checks.extend(self.mesos_checks(facts))
        for service, client in (("marathon", self.marathon), ("chronos", self.chronos)):
            if client is not None:
                checks.extend(self.framework_checks(service, client, facts))
        return checks, facts

    def zookeeper_check(self, facts):
        members = [_zookeeper.probe_member(h, p, self.p["zookeeper_timeout"]) for h, p in self.zk_members]
        summary = _zookeeper.summarize(members)
        facts["zookeeper"] = summary
        observed = "%d of %d members serving, leader %s" % (
            summary["voting_serving"], summary["size"], ", ".join(summary["leaders"]) or "none")
        if summary["unreachable"]:
            observed += " (unreachable: %s)" % ", ".join(summary["unreachable"])
        return check("zookeeper_quorum", summary["quorum"], observed,
                     "at least %d of %d members serving, exactly one leader" % (summary["majority"], summary["size"]))

    def mesos_checks(self, facts):
        self.mesos.reset()
        masters = [_mesos.probe_master(self.mesos, e) for e in self.mesos.endpoints]
        facts["masters"] = masters
        reachable = [m for m in masters if m["reachable"]]
        down = [m["endpoint"] for m in masters if not m["reachable"]]
        n = self.expected_masters
        checks = []
        observed = "%d of %d masters answering" % (len(reachable), len(masters))
        if down:
            observed += " (not answering: %s)" % ", ".join(down)
        checks.append(check("mesos_master_count", not down and len(masters) == n, observed,
                            "%d masters, all answering" % n))

        elected = [m["endpoint"] for m in reachable if m["elected"]]
        checks.append(check("mesos_single_leader", len(elected) == 1,
                            "%d elected%s" % (len(elected), " (%s)" % ", ".join(elected) if elected else ""),
                            "exactly 1 elected master"))

        # The leader's state, read through the masters' redirect: who the named leader says it is.
        state = None
        try:
            state = _mesos.cluster_state(self.mesos)
        except _api.ApiError as exc:
            facts["state_error"] = str(exc)

        named = dict((m["endpoint"], m["leader"]) for m in reachable)
        distinct = set(named.values())
        leader = distinct.pop() if len(distinct) == 1 and None not in distinct else None
        elected_hp = [_mesos.host_port(e) for e in elected]
        # The named leader must be the elected master. Names differ when masters advertise an
        # address other than the one in mesos_endpoints; then the named leader's own state says
        # whether it considers itself the leader.
        named_leads = bool(state) and state.get("self_pid") is not None and \
            state.get("self_pid") == state["leader"].get("pid")
        agree = leader is not None and (
            not elected_hp or len(elected) != 1 or named_leads or self._same_master(leader, elected[0], masters))
        facts["mesos_leader"] = leader
        checks.append(check(
            "mesos_leader_agreement", bool(reachable) and agree,
            ", ".join("%s names %s" % (e, who or "no leader") for e, who in sorted(named.items()))
            or "no master answered",
            "every master names the elected master"))

        quorums = dict((m["endpoint"], _int(m["flags"].get("quorum"))) for m in reachable)
        values = set(quorums.values())
        q = values.pop() if len(values) == 1 else None
        quorum_ok = bool(quorums) and q is not None and n // 2 < q <= n
        checks.append(check(
            "mesos_quorum_flag", quorum_ok,
            ", ".join("quorum %s on %s" % ("unset" if v is None else v, e) for e, v in sorted(quorums.items()))
            or "no master answered",
            "the same quorum on every master, a strict majority of %d (%s)" % (
                n, " or ".join(str(i) for i in range(n // 2 + 1, n + 1)))))

        lead_metrics = next((m["metrics"] for m in reachable if m["elected"]), None)
        if lead_metrics is None:
            checks.append(check("mesos_registrar_log", False, "no elected master to ask",
                                "log recovered, ensemble of %d" % n))
        else:
            size = _int(lead_metrics.get("registrar/log/ensemble_size"))
            recovered = lead_metrics.get("registrar/log/recovered")
            checks.append(check(
                "mesos_registrar_log", size == n and bool(recovered),
                "log %s, ensemble of %s" % (
                    "recovered" if recovered else "not recovered", "unknown size" if size is None else size),
                "log recovered, ensemble of %d" % n))
        active = [a["hostname"] for a in (state or {}).get("agents", []) if a["active"]]
        facts["agents_active"] = active
        checks.append(check(
            "mesos_agents_active", state is not None and len(active) >= self.p["expected_agents"],
            ("%d active (%s)" % (len(active), ", ".join(active) or "none")) if state is not None
            else "could not read the leader's state: %s" % facts.get("state_error"),
            "at least %d active" % self.p["expected_agents"]))
        facts["frameworks"] = (state or {}).get("frameworks", [])
        facts["state_read"] = state is not None
        return checks

    @staticmethod
    def _same_master(leader_hp, elected_endpoint, masters):
        # The leader is named by its advertised host:port, which may differ from the URL we use.
        if leader_hp == _mesos.host_port(elected_endpoint):
            return True
        for m in masters:
            if m["endpoint"] == elected_endpoint:
                flags = m["flags"]
                port = str(flags.get("advertise_port") or flags.get("port") or "")
                names = [flags.get("hostname"), flags.get("advertise_ip"), flags.get("ip")]
                return any(leader_hp == "%s:%s" % (h, port) for h in names if h)
        return False

    def framework_checks(self, service, client, facts):
        client.reset()
        label = client.label
        seen = {}
        errors = {}
        for endpoint in client.endpoints:
            try:
                seen[endpoint] = _mesos.host_port(client.leader_seen_by(endpoint))
            except _api.ApiError as exc:
                errors[endpoint] = str(exc)
        checks = [check(
            "%s_reachable" % service, not errors,
            "%d of %d answering%s" % (len(client.endpoints) - len(errors), len(client.endpoints),
                                      " (%s)" % "; ".join(errors.values()) if errors else ""),
            "every %s instance answering" % label)]
        distinct = set(seen.values())
        leader = distinct.pop() if len(distinct) == 1 and None not in distinct else None
        facts["%s_leader" % service] = leader
        checks.append(check(
            "%s_leader_agreement" % service, leader is not None and not errors,
            ", ".join("%s names %s" % (e, who or "no leader") for e, who in sorted(seen.items())) or "none answered",
            "every %s instance naming the same leader" % label))
        name = self.p["%s_framework_name" % service]
        frameworks = [f for f in facts.get("frameworks", []) if f["name"] == name]
        if not facts.get("state_read"):
            observed = "could not read the leading master's frameworks"
        elif not frameworks:
            observed = "no framework named %s" % name
        else:
            observed = ", ".join("%s %s" % (f["id"], "active" if f["active"] else "inactive") for f in frameworks)
        checks.append(check("%s_framework_active" % service, any(f["active"] for f in frameworks), observed,
                            "framework %s active on the leading master" % name))
        return checks

    def run(self):
        attempts = [0]
        last = {}

        def once():
            attempts[0] += 1
            checks, facts = self.run_once()
            last["checks"], last["facts"] = checks, facts
            return all(c["ok"] for c in checks), None

        # On timeout the last report below says what did not hold.
        with contextlib.suppress(_api.WaitTimeout):
            _api.wait_until(once, self.p["wait_timeout"], self.p["poll_interval"], what="the cluster")
        checks, facts = last["checks"], last["facts"]
        failed = [c for c in checks if not c["ok"]]
        result = dict(changed=False, ok=not failed, checks=checks, failed_checks=[c["name"] for c in failed],
                      attempts=attempts[0], mesos_leader=facts.get("mesos_leader"),
                      marathon_leader=facts.get("marathon_leader"), chronos_leader=facts.get("chronos_leader"))
        if "zookeeper" in facts:
            result["zookeeper"] = facts["zookeeper"]
        if failed:
            waited = ""
            if self.p["wait_timeout"]:
                waited = " after %d attempts in %ss" % (attempts[0], self.p["wait_timeout"])
            msg = "The cluster is not highly available%s: %s." % (waited, "; ".join(
                "%s failed (observed %s; expected %s)" % (c["name"], c["observed"], c["expected"]) for c in failed))
            self.module.fail_json(msg=msg, **result)
        self.module.exit_json(**result)


def main():
    argument_spec = _api.service_argument_spec("mesos")
    argument_spec.update(_api.service_argument_spec("marathon", required=False))
    argument_spec.update(_api.service_argument_spec("chronos", required=False))
    argument_spec.update(
        zookeeper_hosts=dict(type="raw"),
        zookeeper_timeout=dict(type="float", default=5.0),
        expected_masters=dict(type="int"),
        expected_agents=dict(type="int", default=1),
        marathon_framework_name=dict(type="str", default="marathon"),
        chronos_framework_name=dict(type="str", default="chronos"),
        wait_timeout=dict(type="int", default=0),
        poll_interval=dict(type="float", default=3.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    HaCheck(module).run()


if __name__ == "__main__":
    main()
