"""The collection as users get it: build the tarball, install it, and use it.

Runs `ansible-galaxy collection build`, checks what the tarball leaves out, installs it into a
temporary collections path (no Galaxy needed: it has no dependencies) and runs `ansible-doc`
on every plugin and `--syntax-check` on `mesosphere.cluster.site`, from a folder outside the
checkout so nothing resolves through the checkout's own ansible.cfg.
"""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LEFT_OUT = ("tests/", "molecule/", ".cache/", ".lab/", ".venv/", ".collections/", ".ci/", ".config/")


def run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("collection")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(work / "collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", work, ROOT], cwd=work, env=env)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    tarball = work / f"mesosphere-cluster-{version}.tar.gz"
    assert tarball.is_file()
    run([BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", work / "collections", tarball],
        cwd=work, env=env)
    return {"tarball": tarball, "env": env, "cwd": work,
            "path": work / "collections" / "ansible_collections" / "mesosphere" / "cluster"}


def test_tarball_leaves_out_test_infrastructure(installed):
    with tarfile.open(installed["tarball"]) as tar:
        names = tar.getnames()
    assert "galaxy.yml" not in names  # built collections carry MANIFEST.json instead
    assert "MANIFEST.json" in names
    assert any(n.startswith("plugins/") or n == "plugins" for n in names)
    leaked = [n for n in names if n.startswith(LEFT_OUT) or "__pycache__" in n]
    assert not leaked, f"the tarball carries test or local files: {leaked[:10]}"


def test_tarball_carries_roles_and_playbooks(installed):
    source_roles = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    installed_roles = sorted(p.name for p in (installed["path"] / "roles").iterdir()) if source_roles else []
    assert installed_roles == source_roles
    assert (installed["path"] / "playbooks" / "site.yml").is_file()


@pytest.mark.parametrize("plugin_type", ["module", "filter", "inventory"])
def test_ansible_doc_renders_every_plugin(installed, plugin_type):
    listed = json.loads(run([BIN / "ansible-doc", "-t", plugin_type, "--list", "--json", "mesosphere.cluster"],
                            cwd=installed["cwd"], env=installed["env"]))
    if plugin_type in ("module", "inventory"):
        folder = "modules" if plugin_type == "module" else plugin_type
        expected = sorted(f"mesosphere.cluster.{p.stem}" for p in (ROOT / "plugins" / folder).glob("*.py")
                          if p.stem != "__init__")
        assert sorted(listed) == expected
    for name in sorted(listed):
        text = run([BIN / "ansible-doc", "-t", plugin_type, name], cwd=installed["cwd"], env=installed["env"])
        assert name.split(".")[-1] in text


def test_site_playbook_resolves_by_fqcn(installed):
    inventory = installed["cwd"] / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {
        "masters": {"hosts": {"m1": None, "m2": None, "m3": None}},
        "slaves": {"hosts": {"s1": None}}}}}))
    run([BIN / "ansible-playbook", "-i", inventory, "--syntax-check", "mesosphere.cluster.site"],
        cwd=installed["cwd"], env=installed["env"])
