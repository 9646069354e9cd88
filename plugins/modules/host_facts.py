#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_facts
short_description: Gather the few facts the collection's roles read, quickly
version_added: "0.2.0"
description:
  - Sets the facts the roles of mesosphere.cluster read, under the names M(ansible.builtin.setup)
    gives them, from the host's own files in one small module. It stands in for C(setup) in
    C(site.yml), because a run that changes nothing is dominated by round trips, and C(setup) costs
    one of the longest, importing every fact collector to return three of them.
  - The facts are C(os_family), C(distribution), C(distribution_version),
    C(distribution_major_version), C(distribution_release) (from C(/etc/os-release) and, on Debian,
    C(/etc/debian_version)), C(default_ipv4) (C(address) and C(interface) of the default IPv4
    route, from C(ip)), C(hostname), C(nodename), C(fqdn), C(domain), and C(local) (the local facts
    of O(fact_path), as C(setup) reads them; C(ansible_local) in playbooks).
  - Facts that it cannot read are left out, so that a role's own fact gathering (its preflight
    runs C(setup) when C(os_family) is missing) fills them in.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  fact_path:
    description:
      - The folder of local facts. Each C(*.fact) file is read as JSON (or, when it is executable,
        run and its output read as JSON); one that cannot be read gives its error as its value.
    type: path
    default: /etc/ansible/facts.d
notes:
  - Other facts are not gathered; a playbook that needs more runs M(ansible.builtin.setup) too
    (C(site.yml) does with C(site_setup_subset)).
seealso:
  - module: ansible.builtin.setup
"""

EXAMPLES = r"""
- name: Gather the facts the roles need
  mesosphere.cluster.host_facts:

- name: Show them
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts['distribution'] }} {{ ansible_facts['distribution_release'] }},
      {{ ansible_facts['default_ipv4']['address'] }}
"""

RETURN = r"""
ansible_facts:
  description:
    - The facts, as M(ansible.builtin.setup) names them (C(ansible_os_family) and so on; a
      playbook reads C(ansible_facts['os_family'])).
  returned: always
  type: dict
  sample:
    ansible_os_family: Debian
    ansible_distribution: Debian
    ansible_distribution_version: "12.8"
    ansible_distribution_major_version: "12"
    ansible_distribution_release: bookworm
    ansible_default_ipv4: {address: 172.25.0.2, interface: eth0}
    ansible_hostname: master1
    ansible_local: {mesos_master: {masters: [master1, master2, master3], quorum: 2}}
"""

import json
import os
import shlex
import socket
from typing import Any

from ansible.module_utils.basic import AnsibleModule

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
# ID (or an ID_LIKE) of /etc/os-release to the family setup reports.
FAMILIES = {"debian": "Debian", "ubuntu": "Debian", "rhel": "RedHat", "fedora": "RedHat", "centos": "RedHat",
            "suse": "Suse", "opensuse": "Suse", "arch": "Archlinux", "alpine": "Alpine"}
NAMES = {"debian": "Debian", "ubuntu": "Ubuntu", "centos": "CentOS", "rhel": "RedHat", "fedora": "Fedora"}


def parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            try:
                parts = shlex.split(value)
            except ValueError:
                parts = [value.strip()]
            values[key.strip()] = parts[0] if parts else ""
    return values


def distribution_facts(os_release: dict[str, str], debian_version: str | None) -> dict[str, str]:
    ident = os_release.get("ID", "").lower()
    if not ident:
        return {}
    like = [ident] + os_release.get("ID_LIKE", "").lower().split()
    family = next((FAMILIES[i] for i in like if i in FAMILIES), ident.capitalize())
    version = os_release.get("VERSION_ID", "")
    if ident == "debian" and debian_version and debian_version[:1].isdigit():
        version = debian_version
    facts = dict(os_family=family, distribution=NAMES.get(ident, os_release.get("NAME", ident).split()[0]),
                 distribution_version=version, distribution_major_version=version.split(".")[0])
    if os_release.get("VERSION_CODENAME"):
        facts["distribution_release"] = os_release["VERSION_CODENAME"]
    return facts


def default_ipv4(module: AnsibleModule) -> dict[str, str]:
    ip = module.get_bin_path("ip")
    if not ip:
        return {}
    rc, out, _err = module.run_command([ip, "-4", "route", "show", "default"])
    words = out.split() if rc == 0 else []
    if "dev" not in words or words.index("dev") + 1 >= len(words):
        return {}
    interface = words[words.index("dev") + 1]
    rc, out, _err = module.run_command([ip, "-4", "-o", "addr", "show", "dev", interface])
    for line in out.splitlines() if rc == 0 else []:
        fields = line.split()
        if "inet" in fields and fields.index("inet") + 1 < len(fields):
            return dict(address=fields[fields.index("inet") + 1].split("/")[0], interface=interface)
    return {}


def local_facts(module: AnsibleModule, path: str) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if not os.path.isdir(path):
        return facts
    for name in sorted(os.listdir(path)):
        if not name.endswith(".fact"):
            continue
        full = os.path.join(path, name)
        key = name[: -len(".fact")]
        try:
            if os.access(full, os.X_OK):
                rc, text, err = module.run_command([full])
                if rc != 0:
                    facts[key] = "error running %s: %s" % (full, (err or text).strip())
                    continue
            else:
                with open(full, encoding="utf-8") as handle:
                    text = handle.read()
            facts[key] = json.loads(text)
        except (OSError, ValueError) as exc:
            facts[key] = "error reading %s: %s" % (full, exc)
    return facts


def main() -> None:
    module = AnsibleModule(argument_spec=dict(fact_path=dict(type="path", default="/etc/ansible/facts.d")),
                           supports_check_mode=True)
    facts: dict[str, Any] = {}
    for path in OS_RELEASE:
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                os_release = parse_os_release(handle.read())
            debian_version = None
            if os.path.exists("/etc/debian_version"):
                with open("/etc/debian_version", encoding="utf-8", errors="replace") as handle:
                    debian_version = handle.read().strip()
            facts.update(distribution_facts(os_release, debian_version))
            break
    ipv4 = default_ipv4(module)
    if ipv4:
        facts["default_ipv4"] = ipv4
    fqdn = socket.getfqdn()
    facts.update(hostname=socket.gethostname().split(".")[0], nodename=socket.gethostname(), fqdn=fqdn,
                 domain=fqdn.partition(".")[2])
    facts["local"] = local_facts(module, module.params["fact_path"])
    # prefixed as setup does, so that they are also the variables ansible_os_family, ansible_local...
    module.exit_json(changed=False, ansible_facts={"ansible_" + key: value for key, value in facts.items()})


if __name__ == "__main__":
    main()
