# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: mesos
version_added: 0.1.0
author:
  - mesosphere.cluster contributors (@mesosphere)
short_description: The masters and agents of a running Mesos cluster
description:
  - Reads the agents (slaves) and the masters of a running Mesos cluster from any of its masters,
    so that plays can target "every agent with attribute C(rack=r1)", "every draining agent" or
    "the current leader" without a static inventory.
  - The leading master is found as the collection's modules find it (C(GET /master/redirect) asked of
    each endpoint in turn); the agents, their attributes, resources and status come from the leader's
    C(/master/slaves), the maintenance state from C(/master/maintenance/status). One master that
    answers is enough; masters that are down are listed as unreachable.
  - Each agent is a host named after its C(hostname). Each master is a host named after the host
    part of its endpoint URL; give each master by a distinct name.
  - Machines that are down for maintenance have no agent any more; they are listed with
    C(mesos_status=down) so that plays can find the machines to work on.
  - "The inventory source is a YAML file whose name ends in C(.mesos.yml) or C(.mesos.yaml), with
    C(plugin: mesosphere.cluster.mesos)."
  - "Host variables: every host gets C(mesos_leader) (V(host:port) of the leading master) and C(mesos_cluster).
    Agents get C(mesos_agent_id), C(mesos_agent_ip), C(mesos_agent_port), C(mesos_agent_pid),
    C(mesos_agent_version), C(mesos_attributes) (a dict), C(mesos_resources) and C(mesos_used_resources)
    (dicts, for example C(cpus), C(mem), C(disk), C(ports)) and C(mesos_status): V(active), V(deactivated),
    V(draining) (scheduled for maintenance), V(down) (in maintenance) or V(recovered) (known from the
    registry after a master failover, not re-registered yet).
    Masters get C(mesos_master_endpoint), C(mesos_master_reachable), C(mesos_master_leader) (bool),
    C(mesos_master_status) (V(leader), V(standby) or V(unreachable)), C(mesos_master_version) and
    C(mesos_master_error)."
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
  - mesosphere.cluster.connection
options:
  plugin:
    description: The name of this plugin; it makes the file an inventory source of this plugin.
    type: str
    required: true
    choices: [mesosphere.cluster.mesos]
  mesos_endpoints:
    description:
      - Base URLs of the Mesos masters, for example V(http://m1.example.com:5050). Any one that answers is enough.
      - List every master to have every master in the inventory, the ones that are down included.
      - A value without a scheme gets V(http://).
    type: list
    elements: str
    required: true
  mesos_username:
    description:
      - User name for HTTP basic authentication against the Mesos masters.
    type: str
    env:
      - name: MESOSPHERE_CLUSTER_MESOS_USERNAME
  mesos_password:
    description:
      - Password for HTTP basic authentication against the Mesos masters.
      - Never written to the inventory or the cache. Prefer the environment variable, or a vaulted value.
    type: str
    env:
      - name: MESOSPHERE_CLUSTER_MESOS_PASSWORD
  include_masters:
    description: Whether the masters are hosts of the inventory too.
    type: bool
    default: true
  include_down_machines:
    description: Whether machines that are down for maintenance (and so have no agent) are hosts.
    type: bool
    default: true
  masters_group:
    description:
      - Group of the masters. The default is the group the collection's playbooks run masters on.
      - An empty string puts the masters in no group of their own.
    type: str
    default: masters
  agents_group:
    description:
      - Group of the agents and of the machines down for maintenance. The default is the group the
        collection's playbooks run agents on.
      - An empty string puts them in no group of their own.
    type: str
    default: slaves
  leader_group:
    description:
      - Group of the leading master (one host, or none while no leader is elected).
      - An empty string makes no such group.
    type: str
    default: mesos_leader
notes:
  - Ansible reports an inventory source it could not read as a warning and carries on with an empty
    inventory. Set C(ANSIBLE_INVENTORY_UNPARSED_FAILED=true) to make that an error in automation.
  - With O(cache=true) the answer of the masters is kept per Ansible's inventory cache settings;
    C(ansible-inventory --flush-cache) reads the cluster again.
seealso:
  - module: mesosphere.cluster.mesos_info
  - module: mesosphere.cluster.mesos_maintenance
"""

EXAMPLES = r"""
# inventory/cluster.mesos.yml: agents grouped by rack and by status, the leader in mesos_leader.
plugin: mesosphere.cluster.mesos
mesos_endpoints:
  - http://m1.example.com:5050
  - http://m2.example.com:5050
  - http://m3.example.com:5050
keyed_groups:
  - key: mesos_attributes.rack
    prefix: rack
  - key: mesos_status
    prefix: status
groups:
  big_agents: mesos_resources.mem | default(0) >= 65536
compose:
  ansible_host: mesos_agent_ip | default(omit)
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-mesos-inventory
cache_timeout: 300

# Then, for example:
#   ansible-inventory -i inventory/cluster.mesos.yml --graph
#   ansible -i inventory/cluster.mesos.yml rack_r1 -m ansible.builtin.ping
#   ansible-playbook -i inventory/cluster.mesos.yml mesosphere.cluster.ha_check   # masters and slaves groups
"""

from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable  # noqa: E402

from ansible_collections.mesosphere.cluster.plugins.module_utils._api import (  # noqa: E402
    ApiClient,
    ApiError,
    normalize_endpoint,
)
from ansible_collections.mesosphere.cluster.plugins.module_utils._mesos import probe_master  # noqa: E402

# Data read from the cluster, kept in the cache as is; the hosts are built from it.
ClusterData = dict[str, Any]


def _machine_key(hostname: str | None, ip: str | None) -> tuple[str, str]:
    # Mesos puts an agent on a maintenance machine when the MachineID (hostname and IP, either
    # may be empty) equals the agent's hostname and IP; hostnames compare case-insensitively.
    return (hostname or "").lower(), ip or ""


def _ip_of_pid(pid: str | None) -> str | None:
    # "slave(1)@10.0.0.5:5051" -> "10.0.0.5"
    if not pid or "@" not in pid:
        return None
    return pid.rsplit("@", 1)[1].rsplit(":", 1)[0]


def _in_machines(hostname: str | None, ip: str | None, machines: list[dict[str, Any]]) -> bool:
    key = _machine_key(hostname, ip)
    return any(_machine_key(m.get("hostname"), m.get("ip")) == key for m in machines)


def _number(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def _protobuf_value(item: dict[str, Any]) -> Any:
    # A Mesos Resource or Attribute message: SCALAR, TEXT, RANGES or SET.
    if "scalar" in item:
        return item["scalar"].get("value")
    if "text" in item:
        return item["text"].get("value")
    if "ranges" in item:
        ranges = item["ranges"].get("range") or []
        return "[%s]" % ", ".join("%s-%s" % (r.get("begin"), r.get("end")) for r in ranges)
    if "set" in item:
        return "{%s}" % ",".join(item["set"].get("item") or [])
    return None


def as_mapping(value: Any) -> dict[str, Any]:
    """Resources or attributes as one mapping, whichever form the master sent.

    Registered agents come as {"cpus": 4.0, "rack": "r1"}; agents recovered from the registry
    after a failover as the agent's info, where Mesos sends lists of Resource or Attribute
    messages and the flags' text form ("cpus:4;mem:1024") also occurs.
    """
    if isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item.get("name"):
                found = _protobuf_value(item)
                if isinstance(found, (int, float)) and isinstance(result.get(item["name"]), (int, float)):
                    found += result[item["name"]]  # the same resource for several roles
                result[item["name"]] = found
    elif isinstance(value, str):
        for part in value.split(";"):
            name, sep, text = part.partition(":")
            if sep and name.strip():
                name = name.split("(", 1)[0].strip()
                found = _number(text.strip())
                if isinstance(found, (int, float)) and isinstance(result.get(name), (int, float)):
                    found += result[name]
                result[name] = found
    return result


def _reason(error: str | None) -> str:
    # "Could not reach any Mesos master endpoint for GET /x (http://h:p/x: [Errno 111] Connection refused)."
    # -> "[Errno 111] Connection refused": the endpoint is named once, by the caller.
    text = (error or "unknown error").rstrip(".")
    if text.endswith(")") and ": " in text and "(" in text:
        return text[text.index("(") + 1:-1].split(": ", 1)[-1]
    return text


def read_cluster(client: ApiClient) -> ClusterData:
    """Everything the inventory is made of, read from the masters (raises ApiError if none answers)."""
    masters = [probe_master(client, endpoint) for endpoint in client.endpoints]
    if not any(m["reachable"] for m in masters):
        reasons = ", ".join("%s (%s)" % (m["endpoint"], _reason(m["error"])) for m in masters) or "no endpoint given"
        raise ApiError("No Mesos master answered: %s." % reasons)
    slaves = client.get_json("/master/slaves") or {}
    maintenance = client.get_json("/master/maintenance/status") or {}
    return {
        "leader": host_port_of(client.find_leader()),
        "masters": masters,
        "slaves": slaves.get("slaves") or [],
        "recovered_slaves": slaves.get("recovered_slaves") or [],
        "draining_machines": [m.get("id") or {} for m in maintenance.get("draining_machines") or []],
        "down_machines": maintenance.get("down_machines") or [],
    }


def host_port_of(url: str | None) -> str | None:
    return urlsplit(url).netloc if url else None


def agent_status(agent: dict[str, Any], draining: list[dict[str, Any]]) -> str:
    if _in_machines(agent.get("hostname"), _ip_of_pid(agent.get("pid")), draining):
        return "draining"
    if not agent.get("active", True) or agent.get("deactivated"):
        return "deactivated"
    return "active"


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "mesosphere.cluster.mesos"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith((".mesos.yml", ".mesos.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        data: ClusterData | None = None
        if use_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if data is None:
            data = self._read()
        if update_cache:
            self._cache[cache_key] = data
        self._populate(data)

    def _client(self) -> ApiClient:
        endpoints = self.get_option("mesos_endpoints") or []
        if not endpoints:
            raise AnsibleParserError("mesos_endpoints is empty: give the URL of at least one Mesos master.")
        return ApiClient(
            "mesos",
            endpoints,
            username=self.get_option("mesos_username"),
            password=self.get_option("mesos_password"),
            validate_certs=self.get_option("validate_certs"),
            ca_path=self.get_option("ca_path"),
            client_cert=self.get_option("client_cert"),
            client_key=self.get_option("client_key"),
            timeout=self.get_option("request_timeout"),
            retries=self.get_option("request_retries"),
        )

    def _read(self) -> ClusterData:
        try:
            return read_cluster(self._client())
        except ApiError as exc:
            raise AnsibleParserError("Could not read the Mesos cluster for the inventory: %s" % exc) from None

    # -- hosts and groups ------------------------------------------------------------------------
    def _group(self, option: str) -> str | None:
        name = self.get_option(option)
        return self.inventory.add_group(name) if name else None

    def _add(self, name: str, group: str | None, variables: dict[str, Any]) -> None:
        self.inventory.add_host(name, group=group)
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)

    def _populate(self, data: ClusterData) -> None:
        leader = data.get("leader")
        common = {"mesos_leader": leader, "mesos_cluster": None}
        for master in data["masters"]:
            if master.get("flags", {}).get("cluster"):
                common["mesos_cluster"] = master["flags"]["cluster"]
                break
        hosts: list[str] = []
        draining = data["draining_machines"]

        agents_group = self._group("agents_group")
        for agent in data["slaves"]:
            name = agent.get("hostname") or agent.get("id")
            self._add(name, agents_group, dict(
                common,
                mesos_agent_id=agent.get("id"),
                mesos_agent_pid=agent.get("pid"),
                mesos_agent_ip=_ip_of_pid(agent.get("pid")),
                mesos_agent_port=agent.get("port"),
                mesos_agent_version=agent.get("version"),
                mesos_attributes=as_mapping(agent.get("attributes")),
                mesos_resources=as_mapping(agent.get("resources")),
                mesos_used_resources=as_mapping(agent.get("used_resources")),
                mesos_registered_time=agent.get("registered_time"),
                mesos_status=agent_status(agent, draining),
            ))
            hosts.append(name)
        for agent in data["recovered_slaves"]:
            name = agent.get("hostname") or agent.get("id")
            if name in hosts:
                continue
            self._add(name, agents_group, dict(
                common,
                mesos_agent_id=agent.get("id"),
                mesos_agent_ip=agent.get("ip"),
                mesos_agent_port=agent.get("port"),
                mesos_attributes=as_mapping(agent.get("attributes")),
                mesos_resources=as_mapping(agent.get("resources")),
                mesos_status="recovered",
            ))
            hosts.append(name)
        if self.get_option("include_down_machines"):
            for machine in data["down_machines"]:
                name = machine.get("hostname") or machine.get("ip")
                if not name or name in hosts:
                    continue
                self._add(name, agents_group, dict(common, mesos_status="down", mesos_agent_ip=machine.get("ip"),
                                                   mesos_attributes={}, mesos_resources={}))
                hosts.append(name)

        if self.get_option("include_masters"):
            masters_group = self._group("masters_group")
            leader_group = self._group("leader_group")
            for master in data["masters"]:
                url = urlsplit(normalize_endpoint(master["endpoint"]))
                name = url.hostname or master["endpoint"]
                elected = bool(master.get("elected"))
                status = ("leader" if elected else "standby") if master.get("reachable") else "unreachable"
                self._add(name, masters_group, dict(
                    common,
                    mesos_master_endpoint=master["endpoint"],
                    mesos_master_reachable=bool(master.get("reachable")),
                    mesos_master_leader=elected,
                    mesos_master_status=status,
                    mesos_master_version=master.get("version"),
                    mesos_master_error=master.get("error"),
                ))
                if elected and leader_group:
                    self.inventory.add_child(leader_group, name)
                if name not in hosts:
                    hosts.append(name)

        strict = self.get_option("strict")
        for name in hosts:
            hostvars = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
