from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mesosphere.cluster.plugins.filter import zookeeper as f


def test_filters_are_registered():
    assert set(f.FilterModule().filters()) == {"zk_hosts", "zk_url", "marathon_zk_url", "chronos_zk_hosts",
                                               "zookeeper_acls", "zookeeper_acl_owner", "zookeeper_access_problems"}


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


def test_zk_url_credentials_are_written_as_they_are():
    # Mesos, Marathon and the ZooKeeper digest read them undecoded: an encoded password would not
    # be the one the ACL was made from
    url = f.zk_url(["m1"], "/mesos", username="u", password="p+ss:w=rd!%41")
    assert url == "zk://u:p+ss:w=rd!%41@m1:2181/mesos"


@pytest.mark.parametrize("password, named", [("p@ss", "'@'"), ("a/b", "'/'"), ("a,b", "','"), ("a b", "a blank")])
def test_zk_url_refuses_a_password_the_url_cannot_carry_without_echoing_it(password, named):
    with pytest.raises(AnsibleFilterError, match="cannot carry") as err:
        f.zk_url(["m1"], username="mesos", password=f"topsecret{password}")
    assert named in str(err.value)
    assert "topsecret" not in str(err.value)


@pytest.mark.parametrize("username", ["me:sos", "me@sos", "me/sos"])
def test_zk_url_refuses_a_username_the_url_cannot_carry(username):
    with pytest.raises(AnsibleFilterError, match="username"):
        f.zk_url(["m1"], username=username, password="secret")


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


def test_zookeeper_acls_from_the_services_credentials():
    acls = f.zookeeper_acls({"mesos": {"username": "m", "password": "pm"},
                             "marathon": {"username": "ma", "password": "pa"}})
    assert acls == [
        {"path": "/mesos", "username": "m", "password": "pm", "readers": ["ma", "chronos"]},
        {"path": "/marathon", "username": "ma", "password": "pa"},
        {"path": "/chronos", "username": "chronos", "password": ""},
    ]
    assert [a["username"] for a in f.zookeeper_acls(None)] == ["mesos", "marathon", "chronos"]


@pytest.mark.parametrize("credentials, says", [
    (["mesos"], "must map mesos, marathon and chronos"),
    ({"mesos": {}, "kafka": {}}, "names 'kafka'"),
    ({"mesos": "secret"}, "mesosphere_zookeeper_credentials.mesos must be"),
])
def test_zookeeper_acls_refuses_what_is_not_a_credential_per_service(credentials, says):
    with pytest.raises(AnsibleFilterError, match=says):
        f.zookeeper_acls(credentials)


def test_zookeeper_acl_owner_is_the_nearest_entry():
    acls = [{"path": "/chronos", "username": "c"}, {"path": "/chronos/state", "username": "s"},
            {"path": "/mesos", "username": "m"}]
    assert f.zookeeper_acl_owner(acls, "/chronos/state")["username"] == "s"
    assert f.zookeeper_acl_owner(acls, "/chronos/other")["username"] == "c"
    assert f.zookeeper_acl_owner(acls, "/mesos")["username"] == "m"
    assert f.zookeeper_acl_owner(acls, "/mesosx") == {}
    assert f.zookeeper_acl_owner([], "/mesos") == {}


CREDENTIALS = {"mesos": {"username": "mesos", "password": "pm"},
               "marathon": {"username": "marathon", "password": "pa"},
               "chronos": {"username": "chronos", "password": "pc"}}
MEMBER = {"zookeeper_auth_enabled": True, "zookeeper_acl_world_readable": False,
          "mesosphere_zookeeper_credentials": CREDENTIALS}
MARATHON_NEEDS = {"/marathon": "all", "/mesos": "read"}


def test_access_problems_none_with_the_credentials_of_the_one_place():
    assert f.zookeeper_access_problems(MEMBER, MARATHON_NEEDS, "marathon", "pa") == []
    assert f.zookeeper_access_problems(MEMBER, {"/chronos/state": "all", "/mesos": "read"}, "chronos", "pc") == []
    assert f.zookeeper_access_problems(MEMBER, {"/mesos": "all"}, "mesos", "pm") == []


def test_access_problems_none_without_authentication():
    assert f.zookeeper_access_problems(dict(MEMBER, zookeeper_auth_enabled=False), MARATHON_NEEDS) == []
    assert f.zookeeper_access_problems({}, MARATHON_NEEDS) == []


@pytest.mark.parametrize("username, password, says", [
    (None, None, "without credentials, but /marathon belongs to 'marathon'"),
    ("marathon", "wrong-secret-1", "as 'marathon' with another password, but /marathon belongs to 'marathon'"),
    ("mesos", "pm", "as 'mesos', but /marathon belongs to 'marathon'"),
])
def test_access_problems_name_a_daemon_that_is_not_the_owner(username, password, says):
    problems = f.zookeeper_access_problems(MEMBER, MARATHON_NEEDS, username, password, who="marathon_zookeeper_*")
    assert problems and problems[0].startswith("marathon_zookeeper_* connects to ZooKeeper " + says)
    assert problems[0].endswith("ZooKeeper would refuse its writes (NoAuth).")
    assert not any("wrong-secret" in p for p in problems)


def test_access_problems_reading_mesos_needs_world_read_or_a_reader():
    member = dict(MEMBER, zookeeper_acl_znodes=[
        {"path": "/mesos", "username": "mesos", "password": "pm"},
        {"path": "/marathon", "username": "marathon", "password": "pa"}])
    problems = f.zookeeper_access_problems(member, MARATHON_NEEDS, "marathon", "pa")
    assert problems == [
        "the daemon connects to ZooKeeper as 'marathon', but /mesos is not world readable "
        "(zookeeper_acl_world_readable) and that user is neither its owner 'mesos' nor one of its readers (none) "
        "with that user's password: it could not read /mesos."]
    readable = dict(member, zookeeper_acl_world_readable=True)
    assert f.zookeeper_access_problems(readable, MARATHON_NEEDS, "marathon", "pa") == []


def test_access_problems_read_the_members_own_list():
    member = dict(MEMBER, zookeeper_acl_znodes=[{"path": "/marathon", "username": "other", "password": "po"}])
    assert "belongs to 'other'" in f.zookeeper_access_problems(member, MARATHON_NEEDS, "marathon", "pa")[0]
