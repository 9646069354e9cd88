"""The execution environment definition gives ansible-builder a complete build context.

No base image can be pulled on the test machines, so the image itself is not built here. What is
checked is everything up to the image build: `ansible-builder create` accepts
execution-environment.yml, the context carries the collection's tarball and installs it from
there, the Python requirements and the ansible-core version are pinned, and ansible-builder's
introspection finds the collection's own Python requirements (meta/execution-environment.yml),
which is how any other execution environment that includes this collection gets kazoo.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(args, cwd, env=None):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("ee")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", work, ROOT], cwd=work, env=env)
    shutil.copy(ROOT / "execution-environment.yml", work)
    run([BIN / "ansible-builder", "create", "-f", work / "execution-environment.yml", "-c", work / "context"],
        cwd=work, env=env)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    return {"work": work, "context": work / "context", "version": version, "env": env}


def containerfile(context):
    for name in ("Containerfile", "Dockerfile"):
        if (context / name).is_file():
            return (context / name).read_text()
    raise AssertionError(f"ansible-builder wrote no Containerfile into {context}")


def test_context_carries_the_collection_tarball_and_installs_it(built):
    tarball = built["context"] / "_build" / "collections" / f"mesosphere-cluster-{built['version']}.tar.gz"
    assert tarball.is_file(), sorted(str(p) for p in built["context"].rglob("*"))
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("mesosphere", "cluster", built["version"])
    requirements = yaml.safe_load((built["context"] / "_build" / "requirements.yml").read_text())
    installed = [c["name"] for c in requirements["collections"] if c.get("type") == "file"]
    assert installed == ["/tmp/mesosphere-cluster/mesosphere-cluster.tar.gz"]
    text = containerfile(built["context"])
    copy_step = text.index("COPY _build/collections/ /tmp/mesosphere-cluster/")
    rename_step = text.index("mv /tmp/mesosphere-cluster/mesosphere-cluster-*.tar.gz "
                             "/tmp/mesosphere-cluster/mesosphere-cluster.tar.gz")
    assert copy_step < rename_step < text.index("ansible-galaxy collection install")


def test_context_pins_ansible_core_and_the_python_requirements(built):
    text = containerfile(built["context"])
    pins = (ROOT / "requirements-dev.txt").read_text().splitlines()
    core = [line for line in pins if line.startswith("ansible-core==")]
    assert core and core[0] in text, "the image's ansible-core differs from the one CI tests"
    assert "kazoo==2.11.0" in (built["context"] / "_build" / "requirements.txt").read_text().split()


def test_introspection_finds_the_collections_python_requirements(built, tmp_path):
    tarball = next(built["work"].glob("mesosphere-cluster-*.tar.gz"))
    run([BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", tmp_path, tarball], cwd=tmp_path,
        env=built["env"])
    out = run([BIN / "ansible-builder", "introspect", "--sanitize", tmp_path], cwd=tmp_path, env=built["env"])
    kazoo = [line for line in out.splitlines() if "kazoo" in line]
    assert kazoo and "mesosphere.cluster" in kazoo[0], out
