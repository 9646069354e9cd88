"""A Marathon deployment that cannot finish locks its app: marathon_app waits for the lock and
then names the deployment, or cancels it with force=true. Also: the action group lets
module_defaults set the connection once."""

import json
import os
import subprocess
import sys

import pytest
from integration_helpers import ROOT, http_json

APP = "/itest/stuck"


@pytest.fixture
def cleanup_stuck(endpoints):
    yield
    http_json(endpoints["marathon"][0] + "/v2/apps" + APP + "?force=true", method="DELETE")


def test_locked_app(standin_cluster, endpoints, ansible_module, cleanup_stuck):
    base = dict(marathon_endpoints=endpoints["marathon"], id=APP, poll_interval=0.5)
    # no agent offers 64 CPUs, so this deployment never finishes
    stuck = {"cmd": "sleep 600", "instances": 1, "cpus": 64, "mem": 16}
    created = ansible_module("marathon_app", dict(base, definition=stuck, wait=False))
    assert not created.get("failed"), created.get("msg")
    assert created["changed"] is True and created["deployment_id"]
    deployment = created["deployment_id"]

    locked = ansible_module("marathon_app", dict(base, definition=dict(stuck, mem=32), wait_timeout=3))
    assert locked["failed"] is True
    assert locked["msg"] == ("Could not create or update Marathon app %s: %s is locked by deployment(s) %s, still "
                             "running after 3s; set force=true to cancel them." % (APP, APP, deployment))
    status, body = http_json(endpoints["marathon"][0] + "/v2/apps" + APP)
    assert body["app"]["mem"] == 16  # nothing written

    forced = ansible_module("marathon_app", dict(base, definition=dict(stuck, mem=32), force=True, wait=False))
    assert not forced.get("failed"), forced.get("msg")
    assert forced["changed"] is True and forced["deployment_id"] != deployment
    status, body = http_json(endpoints["marathon"][0] + "/v2/apps" + APP)
    assert body["app"]["mem"] == 32
    status, deployments = http_json(endpoints["marathon"][0] + "/v2/deployments")
    assert deployment not in [d["id"] for d in deployments]  # the stuck one was cancelled

    gone = ansible_module("marathon_app", dict(base, state="absent", force=True, wait_timeout=60))
    assert not gone.get("failed"), gone.get("msg")
    assert http_json(endpoints["marathon"][0] + "/v2/apps" + APP)[0] == 404


def test_module_defaults_group(standin_cluster, endpoints, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/mesosphere.cluster.marathon": {"marathon_endpoints": endpoints["marathon"]},
                            "group/mesosphere.cluster.mesos": {"mesos_endpoints": endpoints["mesos"]},
                            "group/mesosphere.cluster.chronos": {"chronos_endpoints": endpoints["chronos"]}},
        "tasks": [
            {"name": "marathon", "mesosphere.cluster.marathon_app_info": {"tasks": False}, "register": "mt"},
            {"name": "mesos", "mesosphere.cluster.mesos_info": {"zookeeper": False}, "register": "ms"},
            {"name": "chronos", "mesosphere.cluster.chronos_job_info": {}, "register": "ch"},
            {"ansible.builtin.assert": {"that": ["mt.leader is match('http://127.0.0.1:')",
                                                 "ms.leader is match('127.0.0.1:')",
                                                 "ch.leader is match('http://127.0.0.1:')"]}},
        ]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")),
                           "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           str(playbook)], capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
