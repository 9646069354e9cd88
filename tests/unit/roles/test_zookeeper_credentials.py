"""One place for each ZooKeeper credential: the preflights of the daemon roles, run for real.

The inventory states `mesosphere_zookeeper_credentials` once (group `all`), as an operator
would; the zookeeper role's ACLs and the mesos_master, mesos_slave, marathon and chronos roles
read it. Each role's preflight (the `*_preflight` tag, which reads only) must pass with it, and
must refuse, with a sentence and without printing a password, a daemon whose credentials
ZooKeeper would refuse.
"""

from __future__ import annotations

import pytest

ROLES = ["mesos_master", "mesos_slave", "marathon", "chronos"]
CREDENTIALS = {
    "mesos": {"username": "mesos", "password": "mesos-Secret-1"},
    "marathon": {"username": "marathon", "password": "marathon-Secret-2"},
    "chronos": {"username": "chronos", "password": "chronos-Secret-3"},
}
ZOOKEEPER_AUTH = {"zookeeper_auth_enabled": True, "zookeeper_super_password": "super-Secret-4"}


@pytest.mark.parametrize("role", ROLES)
def test_the_one_place_satisfies_every_role(preflight, role):
    rc, out = preflight(role, dict(ZOOKEEPER_AUTH, mesosphere_zookeeper_credentials=CREDENTIALS,
                                   zookeeper_acl_world_readable=False))
    assert rc == 0, out


@pytest.mark.parametrize("role, variable, path", [
    ("mesos_master", "mesos_master_zookeeper_password", "/mesos"),
    ("mesos_slave", "mesos_slave_zookeeper_password", None),  # agents only read /mesos, world readable here
    ("marathon", "marathon_zookeeper_password", "/marathon"),
    ("chronos", "chronos_zookeeper_password", "/chronos/state"),
])
def test_a_password_that_differs_from_the_acl_owner_is_refused(preflight, role, variable, path):
    rc, out = preflight(role, dict(ZOOKEEPER_AUTH, mesosphere_zookeeper_credentials=CREDENTIALS),
                        extra={variable: "another-Secret"})
    if path is None:
        assert rc == 0, out
        return
    assert rc != 0
    assert f"with another password, but {path} belongs to" in out
    assert "ZooKeeper would refuse its writes (NoAuth)" in out
    assert "mesosphere_zookeeper_credentials" in out


def test_an_acl_list_of_the_ensemble_that_names_another_owner_is_refused(preflight):
    acls = [{"path": "/marathon", "username": "someone", "password": "someone-Secret"}]
    rc, out = preflight("marathon", dict(mesosphere_zookeeper_credentials=CREDENTIALS),
                        zookeeper_vars=dict(ZOOKEEPER_AUTH, zookeeper_acl_znodes=acls))
    assert rc != 0
    assert "Marathon (marathon_zookeeper_username and _password) connects to ZooKeeper as " \
           "'marathon', but /marathon belongs to 'someone'" in out


def test_reading_mesos_without_world_read_needs_a_reader(preflight):
    acls = [{"path": "/mesos", "username": "mesos", "password": "mesos-Secret-1"},
            {"path": "/chronos", "username": "chronos", "password": "chronos-Secret-3"}]
    rc, out = preflight("chronos", dict(mesosphere_zookeeper_credentials=CREDENTIALS),
                        zookeeper_vars=dict(ZOOKEEPER_AUTH, zookeeper_acl_znodes=acls,
                                            zookeeper_acl_world_readable=False))
    assert rc != 0
    assert "/mesos is not world readable" in out and "nor one of its readers (none)" in out


def test_without_zookeeper_authentication_nothing_is_compared(preflight):
    rc, out = preflight("marathon", {"mesosphere_zookeeper_credentials": CREDENTIALS},
                        extra={"marathon_zookeeper_password": "another-Secret"})
    assert rc == 0, out


def test_a_password_the_url_cannot_carry_is_refused_before_any_host_changes(preflight):
    credentials = dict(CREDENTIALS, mesos={"username": "mesos", "password": "mesos@Secret"})
    rc, out = preflight("mesos_master", {"mesosphere_zookeeper_credentials": credentials})
    assert rc != 0
    assert "the ZooKeeper password of 'mesos' contains '@', which a zk:// URL cannot carry" in out


@pytest.mark.parametrize("role", ["marathon", "chronos"])
def test_a_framework_principal_the_masters_do_not_know_is_refused(preflight, role):
    masters = [{"principal": role, "secret": "framework-Secret"}]
    good = {f"{role}_mesos_authentication_principal": role, f"{role}_mesos_authentication_secret": "framework-Secret"}
    rc, out = preflight(role, {"mesos_master_credentials": masters}, extra=good)
    assert rc == 0, out
    rc, out = preflight(role, {"mesos_master_credentials": masters},
                        extra=dict(good, **{f"{role}_mesos_authentication_secret": "other-Secret"}))
    assert rc != 0
    assert "must be one of the masters' mesos_master_credentials" in out
