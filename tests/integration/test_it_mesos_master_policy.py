"""roles/mesos_master/tasks/policy.yml against a stand-in master that requires HTTP credentials:
the role policy is applied once, through the modules, with the role's credentials; check mode
changes nothing and a second run changes nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from private_cluster import PrivateCluster

ROOT = Path(__file__).resolve().parents[2]
PLAY = """
- hosts: masters
  gather_facts: false
  tasks:
    - name: The role's policy tasks, as the role includes them after its service tasks
      ansible.builtin.include_role:
        name: mesosphere.cluster.mesos_master
        tasks_from: policy.yml
"""


@pytest.fixture
def master(zk_ensemble, tmp_path):
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": "s3cret"}]}))
    cluster = PrivateCluster(zk_ensemble, tmp_path, auth=("ops", "s3cret"),
                             master_args=[f"--credentials={creds}", "--authenticate_http_readwrite"])
    cluster.agent("p1", 4, "[32300-32309]")
    yield cluster
    cluster.close()


def play(tmp_path, cluster, policy, check=False):
    port = cluster.master.port
    hostvars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "mesos_master_ip": "127.0.0.1", "mesos_master_port": port}
    (tmp_path / "inventory.json").write_text(json.dumps({"masters": {"hosts": {"m1": hostvars, "m2": hostvars}}}))
    (tmp_path / "play.yml").write_text(PLAY)
    extra = {"mesos_master_role_policy": policy, "mesos_master_authenticate_http_readwrite": True,
             "mesos_master_credentials": [{"principal": "ops", "secret": "s3cret"}], "mesos_master_wait_timeout": 30}
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "inventory.json"),
           str(tmp_path / "play.yml"), "-e", json.dumps(extra)] + (["--check"] if check else [])
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "s3cret" not in out
    return {host: int(n) for host, n in re.findall(r"^(m\d)\s+: ok=\d+\s+changed=(\d+)", out, re.M)}, out


def weights(cluster):
    return {w["role"]: w["weight"] for w in cluster.get("/master/weights")[1]}


def quota(cluster):
    status = cluster.get("/master/quota")[1] or {}
    return {c["role"]: c for info in status.get("infos", []) for c in info.get("configs", [])}


def test_policy_applied_once_with_credentials_and_idempotent(master, tmp_path):
    policy = {"prod": {"weight": 3, "guarantees": {"cpus": 2}}, "batch": {"limits": {"cpus": 1}}}
    changed, _out = play(tmp_path, master, policy, check=True)
    assert changed == {"m1": 1, "m2": 0}  # run once, on the first master
    assert weights(master) == {} and quota(master) == {}
    changed, out = play(tmp_path, master, policy)
    assert changed == {"m1": 1, "m2": 0}, out
    assert weights(master) == {"prod": 3.0}
    assert quota(master) == {"prod": {"role": "prod", "guarantees": {"cpus": {"value": 2.0}}},
                             "batch": {"role": "batch", "limits": {"cpus": {"value": 1.0}}}}
    changed, out = play(tmp_path, master, policy)
    assert changed == {"m1": 0, "m2": 0}, out
    # a role's weight left out of the policy goes back to 1
    changed, out = play(tmp_path, master, {"prod": {"guarantees": {"cpus": 2}}, "batch": {"limits": {"cpus": 1}}})
    assert changed["m1"] == 1 and weights(master) == {}
