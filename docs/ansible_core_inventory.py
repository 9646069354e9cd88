# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Write a Sphinx object inventory (objects.inv) of ansible-core's documentation, offline.

The generated pages refer to Ansible's own documentation (common return values, configuration
settings and their environment variables, ansible.builtin plugins). Sphinx resolves such
references through intersphinx, which downloads objects.inv from docs.ansible.com; the machines
that build these docs cannot reach it. This writes the same entries from the installed
ansible-core instead, so that the references become links to docs.ansible.com and the build
needs no network.

Usage: python ansible_core_inventory.py OUTPUT
"""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import ansible
import yaml

LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "playbooks_intro": ("playbook_guide/playbooks_intro.html", "Ansible playbooks"),
    "module_defaults": ("playbook_guide/playbooks_module_defaults.html", "Module defaults"),
    "action_plugins": ("plugins/action.html", "Action plugins"),
}
PLUGIN_TYPES = ("module", "become", "cache", "callback", "connection", "filter", "inventory", "lookup", "test", "vars")


def builtin_plugins():
    for plugin_type in PLUGIN_TYPES:
        listed = subprocess.run(["ansible-doc", "-t", plugin_type, "--list", "--json", "ansible.builtin"],
                                capture_output=True, text=True, check=True)
        for fqcn in yaml.safe_load(listed.stdout) or {}:
            yield plugin_type, fqcn.rsplit(".", 1)[1]


def environment_variables():
    base = yaml.safe_load((Path(ansible.__file__).parent / "config" / "base.yml").read_text())
    for setting in base.values():
        for env in (setting or {}).get("env") or []:
            if not env["name"].startswith("_"):
                yield env["name"]


def main(output):
    lines = []
    for label, (uri, title) in LABELS.items():
        lines.append(f"{label} std:label -1 {uri} {title}")
    for plugin_type, name in builtin_plugins():
        label = f"ansible_collections.ansible.builtin.{name}_{plugin_type}"
        lines.append(f"{label} std:label -1 collections/ansible/builtin/{name}_{plugin_type}.html "
                     f"ansible.builtin.{name} {plugin_type}")
    for name in sorted(set(environment_variables())):
        lines.append(f"{name} std:envvar 1 reference_appendices/config.html#envvar-$ -")
    header = ("# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
              "# The remainder of this file is compressed using zlib.\n")
    Path(output).write_bytes(header.encode() + zlib.compress(("\n".join(lines) + "\n").encode()))


if __name__ == "__main__":
    main(sys.argv[1])
