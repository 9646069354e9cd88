"""zookeeper_info and zookeeper_znode through Ansible against a real three-server ensemble.

The ensemble is this file's own (members are stopped here, which would disturb the shared
one). What the modules report is checked against the servers read directly: `srvr` through the
harness for modes, a kazoo session of the test's own for znodes, so check mode and idempotence
are proven on the server, not taken from the module's word.
"""

import pytest
from harness import ZooKeeperEnsemble
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.security import make_acl, make_digest_acl

from ansible_collections.mesosphere.cluster.plugins.module_utils._zookeeper import digest_id

pytest.importorskip("kazoo")


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    zk = ZooKeeperEnsemble(3, tmp_path_factory.mktemp("zk-modules"))
    yield zk
    zk.close()


@pytest.fixture
def server(ensemble):
    """A kazoo session of the test's own, to read what the modules did."""
    client = KazooClient(hosts=ensemble.hosts, timeout=10)
    client.start(timeout=30)
    yield client
    client.stop()
    client.close()


def modes(ensemble):
    return {"127.0.0.1:%d" % port: ensemble.mode(i) for i, port in enumerate(ensemble.client_ports)}


def test_info_matches_srvr(ansible_module, ensemble):
    result = ansible_module("zookeeper_info", {"hosts": ensemble.hosts, "ruok": True, "mntr": True})
    assert not result.get("failed"), result
    direct = modes(ensemble)
    assert {m["address"]: m["mode"] for m in result["members"]} == direct
    assert list(direct.values()).count("leader") == 1
    assert result["ensemble"]["quorum"] is True
    assert result["ensemble"]["leader"] == [a for a, m in direct.items() if m == "leader"][0]
    for member in result["members"]:
        assert member["ruok"] is True
        assert member["mntr"]["zk_server_state"] == member["mode"]
        assert member["version"].startswith("3.")
        assert member["zxid"].startswith("0x")


def test_info_with_members_down(ansible_module, ensemble):
    leader = [i for i in range(3) if ensemble.mode(i) == "leader"][0]
    follower = [i for i in range(3) if i != leader][0]
    ensemble.stop(follower)
    try:
        result = ansible_module("zookeeper_info", {"hosts": ensemble.hosts, "timeout": 2})
        assert not result.get("failed"), result
        down = "127.0.0.1:%d" % ensemble.client_ports[follower]
        assert result["ensemble"]["unreachable"] == [down]
        assert result["ensemble"]["quorum"] is True
        assert result["ensemble"]["voting_serving"] == 2
        second = [i for i in range(3) if i not in (leader, follower)][0]
        ensemble.stop(second)
        result = ansible_module("zookeeper_info", {"hosts": ensemble.hosts, "timeout": 2})
        # The leader gives up within syncLimit ticks; until then it may still say leader.
        for _ in range(20):
            if not result["ensemble"]["quorum"]:
                break
            result = ansible_module("zookeeper_info", {"hosts": ensemble.hosts, "timeout": 2})
        assert not result.get("failed"), result
        assert result["ensemble"]["quorum"] is False
        assert result["ensemble"]["reachable"] == 1
    finally:
        for i in range(3):
            ensemble.start(i, wait=False)
        ensemble.wait_ready()


def test_znode_check_apply_idempotent(ansible_module, ensemble, server):
    args = {"hosts": ensemble.hosts, "path": "/it/a/b", "data": "one", "recursive": True}
    result = ansible_module("zookeeper_znode", args, check=True, diff=True)
    assert result["changed"] is True and result["diff"]["after"]["data"] == "one"
    assert server.exists("/it") is None, "check mode wrote to the server"

    result = ansible_module("zookeeper_znode", args)
    assert result["changed"] is True
    assert server.get("/it/a/b")[0] == b"one"

    for check in (True, False):
        result = ansible_module("zookeeper_znode", args, check=check)
        assert result["changed"] is False, result
    version = server.get("/it/a/b")[1].version

    changed = dict(args, data="two")
    result = ansible_module("zookeeper_znode", changed, check=True, diff=True)
    assert result["changed"] is True and result["diff"]["before"]["data"] == "one"
    assert server.get("/it/a/b")[0] == b"one"
    result = ansible_module("zookeeper_znode", changed)
    assert server.get("/it/a/b")[0] == b"two"
    assert server.get("/it/a/b")[1].version == version + 1


def test_znode_acl_and_auth(ansible_module, ensemble, server):
    acl = [{"scheme": "digest", "username": "mesos", "password": "pw-mesos", "permissions": ["all"]},
           {"scheme": "world", "permissions": ["read"]}]
    result = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-mesos", "acl": acl})
    assert result["changed"] is True, result
    acls, _ = server.get_acls("/it-mesos")
    # ZooKeeper hides digests from sessions without ADMIN on the znode
    assert sorted((a.id.scheme, a.id.id, a.perms) for a in acls) == [("digest", "mesos:x", 31), ("world", "anyone", 1)]
    admin = KazooClient(hosts=ensemble.hosts, timeout=10, auth_data=[("digest", "mesos:pw-mesos")])
    admin.start(timeout=30)
    try:
        acls, _ = admin.get_acls("/it-mesos")
    finally:
        admin.stop()
        admin.close()
    assert sorted((a.id.scheme, a.id.id, a.perms) for a in acls) == sorted(
        [("digest", digest_id("mesos", "pw-mesos"), 31), ("world", "anyone", 1)])
    assert "pw-mesos" not in str(result)

    refused = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-mesos", "data": "x"})
    assert refused["failed"] and "not authorized" in refused["msg"]
    refused = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-mesos/child"})
    assert refused["failed"] and "refused to create /it-mesos/child" in refused["msg"]
    wrong = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-mesos", "data": "x",
                                               "auth_username": "mesos", "auth_password": "nope"})
    assert wrong["failed"] and "not authorized" in wrong["msg"]
    assert server.get("/it-mesos")[0] == b""

    owner = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-mesos", "data": "mine",
                                               "auth_username": "mesos", "auth_password": "pw-mesos"})
    assert owner["changed"] is True, owner
    assert server.get("/it-mesos")[0] == b"mine"

    # the same ACL again is no change, whether the session sees the digests or not
    again = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-mesos", "acl": acl})
    assert again["changed"] is False, again
    assert "hides the digests" in " ".join(again.get("warnings", []))
    again = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-mesos", "acl": acl,
                                               "auth_username": "mesos", "auth_password": "pw-mesos"})
    assert again["changed"] is False, again
    assert not again.get("warnings")
    # kazoo's own digest helper agrees with the module's

    assert make_digest_acl("mesos", "pw-mesos", all=True).id.id == digest_id("mesos", "pw-mesos")


def test_znode_acl_recursive_protects_a_tree_that_already_has_children(ansible_module, ensemble, server):
    # a service's state written before the path was protected: every znode of it is open
    server.ensure_path("/it-tree/state/app-1")
    server.ensure_path("/it-tree/leader")
    # what the services create themselves is kept when only the owner may change it
    owner_only = [make_digest_acl("marathon", "pw-marathon", all=True)]
    server.create("/it-tree/latch", acl=owner_only)
    server.create("/it-tree/info", acl=owner_only + [make_acl("world", "anyone", read=True)])
    acl = [{"scheme": "digest", "username": "marathon", "password": "pw-marathon", "permissions": ["all"]},
           {"scheme": "world", "permissions": ["read"]}]
    # as the owner, who may list and change what it owns (site.yml uses the super user)
    owner = {"auth_username": "marathon", "auth_password": "pw-marathon"}
    args = {"hosts": ensemble.hosts, "path": "/it-tree", "acl": acl, "acl_recursive": True, **owner}

    result = ansible_module("zookeeper_znode", args, check=True)
    assert result["changed"] is True and result["acl_changed_descendants"] == 3, result
    assert [a.id.scheme for a in server.get_acls("/it-tree/state/app-1")[0]] == ["world"]
    assert server.get_acls("/it-tree/state/app-1")[0][0].perms == 31, "check mode changed a descendant"

    result = ansible_module("zookeeper_znode", args)
    assert result["changed"] is True and result["acl_changed_descendants"] == 3, result
    for path in ("/it-tree", "/it-tree/state", "/it-tree/state/app-1", "/it-tree/leader", "/it-tree/info"):
        assert sorted((a.id.scheme, a.id.id, a.perms) for a in server.get_acls(path)[0]) == [
            ("digest", "marathon:x", 31), ("world", "anyone", 1)], path
    marathon = KazooClient(hosts=ensemble.hosts, timeout=10, auth_data=[("digest", "marathon:pw-marathon")])
    marathon.start(timeout=30)
    try:
        assert [(a.id.scheme, a.perms) for a in marathon.get_acls("/it-tree/latch")[0]] == [("digest", 31)]
    finally:
        marathon.stop()
        marathon.close()
    refused = ansible_module("zookeeper_znode", {"hosts": ensemble.hosts, "path": "/it-tree/state/app-1", "data": "x"})
    assert refused["failed"] and "not authorized" in refused["msg"]

    again = ansible_module("zookeeper_znode", args)
    assert again["changed"] is False and again["acl_changed_descendants"] == 0, again
    assert "pw-marathon" not in str(result) + str(again)

    # a session that may not list a descendant is told which one
    refused = ansible_module("zookeeper_znode", dict(args, auth_username="someone", auth_password="x"))
    assert refused["failed"] and "refused to read the ACL of /it-tree/latch" in refused["msg"], refused


def test_znode_delete(ansible_module, ensemble, server):
    server.ensure_path("/it-del/child")
    args = {"hosts": ensemble.hosts, "path": "/it-del", "state": "absent"}
    refused = ansible_module("zookeeper_znode", args)
    assert refused["failed"] and "has children" in refused["msg"]
    result = ansible_module("zookeeper_znode", dict(args, recursive=True), check=True)
    assert result["changed"] is True
    assert server.exists("/it-del/child") is not None
    result = ansible_module("zookeeper_znode", dict(args, recursive=True))
    assert result["changed"] is True
    with pytest.raises(NoNodeError):
        server.get("/it-del")
    result = ansible_module("zookeeper_znode", dict(args, recursive=True))
    assert result["changed"] is False


def test_znode_unreachable(ansible_module):
    result = ansible_module("zookeeper_znode", {"hosts": "127.0.0.1:1", "path": "/x", "timeout": 2})
    assert result["failed"]
    assert "Could not connect to any ZooKeeper member of 127.0.0.1:1 within 2.0s" in result["msg"]
