from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mesosphere.cluster.plugins.filter import zookeeper as f


def test_filters_are_registered():
    assert set(f.FilterModule().filters()) == {"zk_hosts", "zk_url", "marathon_zk_url", "chronos_zk_hosts"}


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (["zk1", "zk2", "zk3"], "zk1:2181,zk2:2181,zk3:2181"),
        (["zk1:2182", "zk2"], "zk1:2182,zk2:2181"),
        (["10.0.0.1", "10.0.0.1"], "10.0.0.1:2181"),
        (["fd00::1", "[fd00::2]:2190", "[fd00::3]"], "[fd00::1]:2181,[fd00::2]:2190,[fd00::3]:2181"),
        ([{"host": "a", "port": 3000}, {"address": "b"}], "a:3000,b:2181"),
        ("zk1, zk2:2000", "zk1:2181,zk2:2000"),
        (("c", "b", "a"), "c:2181,b:2181,a:2181"),
    ],
)
def test_zk_hosts(hosts, expected):
    assert f.zk_hosts(hosts) == expected
    assert f.chronos_zk_hosts(hosts) == expected


def test_zk_hosts_port_override():
    assert f.zk_hosts(["a", "b:1"], port=2281) == "a:2281,b:1"


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ([], "no ZooKeeper hosts"),
        ("", "no ZooKeeper hosts"),
        (["a:x"], "not a number"),
        (["a:0"], "out of range"),
        (["a:70000"], "out of range"),
        ([" "], "empty"),
        (["[fd00::1"], "unbalanced"),
        (["[fd00::1]x"], "unexpected text"),
        ([{"port": 1}], "needs 'host'"),
        ({"a": 1}, "expects a list"),
        (5, "expects a list"),
    ],
)
def test_zk_hosts_refuses(hosts, message):
    with pytest.raises(AnsibleFilterError, match=message):
        f.zk_hosts(hosts)


def test_zk_url_default_path():
    assert f.zk_url(["m1", "m2", "m3"]) == "zk://m1:2181,m2:2181,m3:2181/mesos"


def test_zk_url_marathon_default_path():
    assert f.marathon_zk_url(["m1", "m2"]) == "zk://m1:2181,m2:2181/marathon"
    assert f.marathon_zk_url(["m1"], "/prod/marathon") == "zk://m1:2181/prod/marathon"


def test_zk_url_credentials_are_encoded():
    url = f.zk_url(["m1"], "/mesos", username="u", password="p@ss:w/rd")
    assert url == "zk://u:p%40ss%3Aw%2Frd@m1:2181/mesos"


@pytest.mark.parametrize("path", ["mesos", "/", "/mesos/", "//mesos", "", None])
def test_zk_url_refuses_bad_path(path):
    with pytest.raises(AnsibleFilterError, match="must be absolute"):
        f.zk_url(["m1"], path)


def test_zk_url_refuses_half_credentials_without_echoing_them():
    with pytest.raises(AnsibleFilterError, match="both a username and a password") as err:
        f.zk_url(["m1"], password="topsecret")
    assert "topsecret" not in str(err.value)


def test_filters_resolve_by_fqcn_from_the_checkout(tmp_path):
    """The filters are found as mesosphere.cluster.* by ansible itself (ansible.cfg of the checkout)."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[4]
    ansible = shutil.which("ansible", path=str(Path(sys.executable).parent)) or shutil.which("ansible")
    if ansible is None:
        pytest.fail("the ansible command is not installed beside this Python")
    expr = "{{ ['a', 'b'] | mesosphere.cluster.zk_url }} {{ 'a,b:1' | mesosphere.cluster.chronos_zk_hosts }}"
    env = dict(
        os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path), ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1"
    )
    run = subprocess.run(
        [ansible, "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug", "-a", f'msg="{expr}"'],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
        == "zk://a:2181,b:2181/mesos a:2181,b:1"
    )
