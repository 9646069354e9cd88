"""Marathon and Chronos against a secured cluster: they authenticate with the master using
their principal and secret file (Marathon's framework-authentication.md and
command-line-flags.md, Chronos' authentication.md and configuration.md), and a ZooKeeper
that refuses them (NoAuth, a digest ACL they hold no credential for) stops them, as the
upstream programs stop, rather than letting them run without their state."""

from __future__ import annotations

import json
from types import SimpleNamespace

from fixtures import start_chronos, start_marathon
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from mesosphere_standins._common import http_request, wait_until

SECRET = "fr4mew0rk+=!"


def frameworks(master):
    result = http_request("GET", master.url("/master/frameworks"))
    return {f["name"]: f for f in result.json()["frameworks"]} if result.status == 200 else {}


def secret_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_marathon_and_chronos_authenticate_with_their_principal_and_secret_file(mesos_factory, tmp_path):
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"credentials": [{"principal": "marathon", "secret": SECRET},
                                                 {"principal": "chronos", "secret": SECRET}]}))
    master = mesos_factory.master(extra_args=[f"--credentials={creds}", "--authenticate_frameworks"])
    cluster = SimpleNamespace(mesos_zk=mesos_factory.zk_url, zk=mesos_factory.zk, tmpdir=tmp_path)
    right = secret_file(tmp_path, "marathon.secret", SECRET)
    # Chronos' authentication.md: a trailing newline is part of the secret, so this one is wrong
    newline = secret_file(tmp_path, "newline.secret", SECRET + "\n")
    base = mesos_factory.path
    procs = [
        start_marathon(cluster, "marathon-good", zk_path=f"{base}-marathon-good", extra_args=[
            "--framework_name=marathon-good", "--mesos_authentication", "--mesos_authentication_principal=marathon",
            f"--mesos_authentication_secret_file={right}"]),
        start_marathon(cluster, "marathon-newline", zk_path=f"{base}-marathon-newline", extra_args=[
            "--framework_name=marathon-newline", "--mesos_authentication",
            "--mesos_authentication_principal=marathon", f"--mesos_authentication_secret_file={newline}"]),
        # a principal without --mesos_authentication names the framework but does not authenticate
        start_marathon(cluster, "marathon-unauthenticated", zk_path=f"{base}-marathon-plain", extra_args=[
            "--framework_name=marathon-unauthenticated", "--mesos_authentication_principal=marathon"]),
        start_chronos(cluster, "chronos-good", zk_path=f"{base}-chronos", extra_args=[
            "--mesos_framework_name=chronos-good", "--mesos_authentication_principal=chronos",
            f"--mesos_authentication_secret_file={right}"]),
    ]
    try:
        assert wait_until(lambda: {"marathon-good", "chronos-good"} <= set(frameworks(master)), 30), frameworks(master)
        registered = frameworks(master)
        assert registered["marathon-good"]["principal"] == "marathon"
        assert registered["chronos-good"]["principal"] == "chronos"
        log = master.log_text()
        assert wait_until(lambda: "subscription of framework 'marathon-newline'" in master.log_text(), 15)
        assert wait_until(lambda: "Refusing subscription of framework 'marathon-unauthenticated'"
                          in master.log_text(), 15)
        log = master.log_text()
        assert "with principal 'marathon' failed" in log
        assert set(frameworks(master)) == {"marathon-good", "chronos-good"}
        assert SECRET not in log
    finally:
        for proc in procs:
            proc.kill()


def test_a_zookeeper_acl_without_credentials_stops_marathon_and_chronos(zk_ensemble, tmp_path):
    admin = zk_ensemble.client()
    acl = [make_digest_acl("owner", SECRET, all=True)]
    for path in ("/noauth-marathon", "/noauth-chronos"):
        admin.create(path, b"", acl=acl)
    admin.stop()
    cluster = SimpleNamespace(mesos_zk="127.0.0.1:1", zk=zk_ensemble, tmpdir=tmp_path)
    marathon = start_marathon(cluster, "marathon-noauth", zk_path="/noauth-marathon")
    chronos = start_chronos(cluster, "chronos-noauth", zk_path="/noauth-chronos")
    try:
        assert marathon.wait(30) not in (0, None)
        assert chronos.wait(30) not in (0, None)
        for proc in (marathon, chronos):
            assert "ZooKeeper refused access (NoAuth)" in proc.log_text(), proc.log_tail()
        # the same programs with the credential the ACL names start and serve
        hosts = zk_ensemble.hosts
        with_credential = SimpleNamespace(url=lambda path: f"zk://owner:{SECRET}@{hosts}{path}", hosts=hosts)
        marathon_ok = start_marathon(SimpleNamespace(mesos_zk="127.0.0.1:1", zk=with_credential, tmpdir=tmp_path),
                                     "marathon-auth", zk_path="/noauth-marathon")
        chronos_ok = start_chronos(cluster, "chronos-auth", zk_path="/noauth-chronos",
                                   extra_args=[f"--zk_auth=owner:{SECRET}"])
        try:
            assert wait_until(lambda: http_request("GET", marathon_ok.url("/v2/info")).status == 200, 30)
            assert wait_until(lambda: http_request("GET", chronos_ok.url("/v1/scheduler/jobs")).status == 200, 30)
            # its log names the user, never the password
            assert SECRET not in marathon_ok.log_text() and "zk://owner:********@" in marathon_ok.log_text()
            # Marathon with credentials gives what it creates to its creator only (--zk)
            owner = KazooClient(hosts=hosts, auth_data=[("digest", f"owner:{SECRET}")])
            owner.start(timeout=30)
            try:
                acls, _ = owner.get_acls("/noauth-marathon/state")
            finally:
                owner.stop()
            assert [(a.id.scheme, a.id.id.split(":")[0], a.perms) for a in acls] == [("digest", "owner", 31)]
        finally:
            marathon_ok.kill()
            chronos_ok.kill()
    finally:
        marathon.kill()
        chronos.kill()


def test_a_zookeeper_acl_without_credentials_stops_the_mesos_master(mesos_factory):
    admin = mesos_factory.zk.client()
    admin.create(mesos_factory.path, b"", acl=[make_digest_acl("owner", SECRET, all=True)])
    admin.stop()
    master = mesos_factory.master(wait=False)
    assert master.wait(30) not in (0, None)
    assert "ZooKeeper refused access (NoAuth)" in master.log_text(), master.log_tail()
