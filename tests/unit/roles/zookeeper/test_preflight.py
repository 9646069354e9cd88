"""The zookeeper role's preflight, run for real by ansible-playbook on local hosts.

Only the preflight tag runs (it reads only), with inventories that are wrong in one way each,
so every refusal is checked for its sentence, and the good inventories for the ids they get.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
PLAYBOOK = """
- name: Preflight only
  hosts: zookeeper
  gather_facts: false
  roles:
    - role: mesosphere.cluster.zookeeper
  post_tasks:
    - name: Show the ids
      ansible.builtin.debug:
        msg: "ID {{ inventory_hostname }}={{ _zookeeper_myid }}"
      tags: [zookeeper_preflight]
    - name: Show the digest
      ansible.builtin.debug:
        msg: "DIGEST {{ _zookeeper_super_digest.stdout | default('') }}"
      run_once: true
      tags: [zookeeper_preflight]
"""


def run(tmp_path, hosts, extra=None, group="zookeeper", limit=None):
    inventory = {
        group: {
            "hosts": {
                name: dict(ansible_connection="local", ansible_python_interpreter=sys.executable, **(hostvars or {}))
                for name, hostvars in hosts.items()
            }
        }
    }
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(tmp_path / "inventory.json"),
        str(tmp_path / "play.yml"),
        "--tags",
        "zookeeper_preflight",
    ]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    if limit:
        cmd += ["--limit", limit]
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_CALLBACK_RESULT_FORMAT="yaml",
    )
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def ids(output):
    return dict(word.split("=", 1) for word in output.split() if word.count("=") == 1 and word.startswith("zk"))


def test_ids_from_position_and_explicit(tmp_path):
    rc, out = run(tmp_path, {"zk1": None, "zk2": {"zookeeper_id": 7}, "zk3": None})
    assert rc == 0, out
    assert "ID zk1=1" in out and "ID zk2=7" in out and "ID zk3=3" in out


def test_even_ensemble_refused(tmp_path):
    rc, out = run(tmp_path, {"zk1": None, "zk2": None, "zk3": None, "zk4": None})
    assert rc != 0
    assert "has 4 hosts" in out and "zookeeper_allow_even_ensemble" in out
    assert "ID zk" not in out


def test_even_ensemble_allowed(tmp_path):
    rc, out = run(tmp_path, {"zk1": None, "zk2": None}, extra={"zookeeper_allow_even_ensemble": True})
    assert rc == 0, out


def test_duplicate_ids_refused(tmp_path):
    rc, out = run(tmp_path, {"zk1": None, "zk2": {"zookeeper_id": 1}, "zk3": None})
    assert rc != 0
    assert "id 1 is used by zk1 and zk2" in out


@pytest.mark.parametrize("bad", [0, 256, "x"])
def test_ids_out_of_range_refused(tmp_path, bad):
    rc, out = run(tmp_path, {"zk1": {"zookeeper_id": bad}, "zk2": None, "zk3": None})
    assert rc != 0
    assert "ids must be whole numbers from 1 to 255, but zk1 has %s" % bad in out


def test_host_outside_the_group_refused(tmp_path):
    inventory_hosts = {"zk1": None, "zk2": None, "zk3": None}
    rc, out = run(tmp_path, inventory_hosts, extra={"zookeeper_group": "other"})
    assert rc != 0
    assert "inventory group 'other' (none found)" in out


def test_auth_needs_passwords(tmp_path):
    rc, out = run(
        tmp_path,
        {"zk1": None},
        extra={
            "zookeeper_auth_enabled": True,
            "zookeeper_super_password": "s3cret",
            "zookeeper_acl_znodes": [
                {"path": "/mesos", "username": "mesos", "password": "m3sos"},
                {"path": "/marathon", "username": "marathon", "password": ""},
            ],
        },
    )
    assert rc != 0
    assert "give every entry of zookeeper_acl_znodes" in out
    assert "Entries to fix: ['/marathon']" in out
    assert "s3cret" not in out and "m3sos" not in out


def test_auth_needs_the_super_password(tmp_path):
    rc, out = run(tmp_path, {"zk1": None}, extra={"zookeeper_auth_enabled": True, "zookeeper_acl_znodes": []})
    assert rc != 0
    assert "zookeeper_super_password is empty" in out


def test_auth_digest(tmp_path):
    rc, out = run(
        tmp_path,
        {"zk1": None},
        extra={"zookeeper_auth_enabled": True, "zookeeper_super_password": "secret", "zookeeper_acl_znodes": []},
    )
    assert rc == 0, out
    # the value ZooKeeper's own DigestAuthenticationProvider prints for super:secret
    assert "DIGEST super:lK75jTNcA+U9vtVEw5vB51mj/w4=" in out
    assert "secret" not in out.replace("superDigest", "").replace("DIGEST super:", "")
