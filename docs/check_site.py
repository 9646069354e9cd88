# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Check the built site (docs/_build/html) against the sources, after `scripts/docs` built it.

Every module and plugin has a page listing each of its options (as ansible-doc reports them,
doc fragments included) and its examples; every role and every playbook is documented.
Prints what is missing and exits 1, or exits 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "docs" / "_build" / "html"
PLUGIN_TYPES = ("module", "filter", "inventory")


def anchor(fqcn_page, option):
    return 'id="%s-parameter-%s"' % (fqcn_page, option.replace("_", "-"))


def main():
    missing = []
    for plugin_type in PLUGIN_TYPES:
        listed = json.loads(subprocess.run(["ansible-doc", "-t", plugin_type, "--list", "--json", "mesosphere.cluster"],
                                           capture_output=True, text=True, check=True).stdout or "{}")
        if not listed:
            continue
        docs = json.loads(subprocess.run(["ansible-doc", "-t", plugin_type, "--json", *sorted(listed)],
                                         capture_output=True, text=True, check=True).stdout)
        for fqcn, doc in docs.items():
            name = fqcn.rsplit(".", 1)[1]
            page = HTML / f"{name}_{plugin_type}.html"
            if not page.is_file():
                missing.append(f"{fqcn}: no page {page.name}")
                continue
            text = page.read_text()
            prefix = f"ansible-collections-mesosphere-cluster-{name.replace('_', '-')}-{plugin_type}"
            if plugin_type == "filter":
                prefix = prefix.replace("-parameter-", "-")
            for option in (doc.get("doc") or {}).get("options") or {}:
                if plugin_type != "filter" and anchor(prefix, option) not in text:
                    missing.append(f"{fqcn}: option {option} is not on {page.name}")
            if doc.get("examples") and "Examples" not in text:
                missing.append(f"{fqcn}: {page.name} has no examples")
    for role in sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml")):
        if not (HTML / f"{role}_role.html").is_file():
            missing.append(f"role {role}: no page {role}_role.html")
    playbooks_page = (HTML / "docsite" / "playbooks.html").read_text()
    for playbook in sorted(ROOT.glob("playbooks/*.yml")):
        if f"mesosphere.cluster.{playbook.stem}" not in playbooks_page:
            missing.append(f"playbook {playbook.stem}: not described in docs/docsite/rst/playbooks.rst")
    for problem in missing:
        print("docs:", problem)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
