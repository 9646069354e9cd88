"""zookeeper_znode against a fake kazoo client.

The fake keeps a znode tree in memory with ZooKeeper's rules that matter here: versions,
parents, children, ACL checks per permission (with the super user bypassing them) and digest
identities from add_auth. Every write is recorded, so "no write in check mode" and "no write
when nothing changed" are checked, not hoped.
"""

from __future__ import annotations

from collections import namedtuple

import pytest
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionLoss,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import ACL, Id

from ansible_collections.mesosphere.cluster.plugins.module_utils._zookeeper import digest_id
from ansible_collections.mesosphere.cluster.plugins.modules import zookeeper_znode

Stat = namedtuple("Stat", "version aversion numChildren ephemeralOwner")
OPEN = [ACL(31, Id("world", "anyone"))]
READ, WRITE, CREATE, DELETE, ADMIN = 1, 2, 4, 8, 16
SUPER = digest_id("super", "supersecret")


class Node:
    def __init__(self, data=b"", acl=None):
        self.data = data
        self.acl = list(acl or OPEN)
        self.version = 0
        self.aversion = 0


class FakeKazoo:
    """One instance per test; the module's KazooClient(...) returns it."""

    def __init__(self):
        self.tree = {"/": Node()}
        self.writes = []
        self.ids = [("world", "anyone")]
        self.start_error = None
        self.auth_error = None
        self.op_error = None
        self.started = False
        self.stopped = False
        self.closed = False
        self.init_kwargs = None
        self.auths = []

    # construction, as the module does it
    def __call__(self, **kwargs):
        self.init_kwargs = kwargs
        return self

    def start(self, timeout=None):
        if self.start_error:
            raise self.start_error  # pylint: disable=raising-bad-type  # set to an exception by the test
        self.started = True

    def stop(self):
        self.stopped = True

    def close(self):
        self.closed = True

    def add_auth(self, scheme, credential):
        self.auths.append((scheme, credential))
        if self.auth_error:
            raise self.auth_error  # pylint: disable=raising-bad-type  # set to an exception by the test
        user, _sep, password = credential.partition(":")
        self.ids.append(("digest", digest_id(user, password)))

    # helpers
    def put(self, path, data=b"", acl=None):
        parent = path.rsplit("/", 1)[0] or "/"
        assert parent in self.tree, "create the parent first"
        self.tree[path] = Node(data, acl)

    def _children(self, path):
        prefix = path.rstrip("/") + "/"
        return [p for p in self.tree if p.startswith(prefix) and "/" not in p[len(prefix):]]

    def _check(self, path, perm):
        if ("digest", SUPER) in self.ids:
            return
        for acl in self.tree[path].acl:
            if acl.perms & perm and (acl.id.scheme, acl.id.id) in self.ids:
                return
        raise NoAuthError()

    def _node(self, path):
        if self.op_error:
            raise self.op_error  # pylint: disable=raising-bad-type  # set to an exception by the test
        if path not in self.tree:
            raise NoNodeError()
        return self.tree[path]

    def _stat(self, path):
        node = self.tree[path]
        return Stat(node.version, node.aversion, len(self._children(path)), 0)

    # the kazoo calls the module makes
    def get(self, path):
        node = self._node(path)
        self._check(path, READ)
        return node.data, self._stat(path)

    def get_acls(self, path):
        node = self._node(path)
        self._check(path, READ | ADMIN)
        try:
            self._check(path, ADMIN)
            acls = list(node.acl)
        except NoAuthError:
            # as ZooKeeper 3.8 does: digests hidden from sessions without ADMIN on the znode
            acls = [ACL(a.perms, Id(a.id.scheme, a.id.id.split(":")[0] + ":x")) if a.id.scheme == "digest" else a
                    for a in node.acl]
        return acls, self._stat(path)

    def create(self, path, value=b"", acl=None, makepath=False):
        if self.op_error:
            raise self.op_error  # pylint: disable=raising-bad-type  # set to an exception by the test
        self.writes.append(("create", path, value, [(a.id.scheme, a.id.id, a.perms) for a in acl or OPEN], makepath))
        if path in self.tree:
            raise NodeExistsError()
        parent = path.rsplit("/", 1)[0] or "/"
        if parent not in self.tree:
            if not makepath:
                raise NoNodeError()
            self.create(parent, b"", None, True)
            self.writes.pop()
        self._check(parent, CREATE)
        self.tree[path] = Node(value, acl)

    def set(self, path, value, version=-1):
        node = self._node(path)
        self.writes.append(("set", path, value, version))
        self._check(path, WRITE)
        if version not in (-1, node.version):
            raise BadVersionError()
        node.data = value
        node.version += 1

    def set_acls(self, path, acls, version=-1):
        node = self._node(path)
        self.writes.append(("set_acls", path, [(a.id.scheme, a.id.id, a.perms) for a in acls], version))
        self._check(path, ADMIN)
        if version not in (-1, node.aversion):
            raise BadVersionError()
        node.acl = list(acls)
        node.aversion += 1

    def delete(self, path, version=-1, recursive=False):
        node = self._node(path)
        self.writes.append(("delete", path, version, recursive))
        parent = path.rsplit("/", 1)[0] or "/"
        self._check(parent, DELETE)
        children = [p for p in self.tree if p.startswith(path + "/")]
        if children and not recursive:
            raise NotEmptyError()
        if version not in (-1, node.version):
            raise BadVersionError()
        for p in children + [path]:
            del self.tree[p]


@pytest.fixture
def kazoo(monkeypatch):
    fake = FakeKazoo()
    monkeypatch.setattr(zookeeper_znode, "KazooClient", fake)
    return fake


def run(run_module, check_mode=False, diff=False, **args):
    args.setdefault("hosts", "zk1:2181,zk2:2181,zk3:2181")
    return run_module(zookeeper_znode.main, args, check_mode=check_mode, diff=diff)


# --------------------------------------------------------------------------------------------
# create


def test_create_with_data(run_module, kazoo):
    result, failed = run(run_module, path="/mesos", data="hello", diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert kazoo.writes == [("create", "/mesos", b"hello", [("world", "anyone", 31)], False)]
    assert kazoo.tree["/mesos"].data == b"hello"
    assert result["exists"] is True and result["data"] == "hello"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"] == {
        "path": "/mesos", "data": "hello", "acl": [{"scheme": "world", "id": "anyone", "permissions": ["all"]}]}
    assert kazoo.init_kwargs["hosts"] == "zk1:2181,zk2:2181,zk3:2181"
    assert kazoo.stopped and kazoo.closed


def test_create_in_check_mode_writes_nothing(run_module, kazoo):
    result, failed = run(run_module, path="/mesos", data="hello", check_mode=True, diff=True)
    assert not failed
    assert result["changed"] is True
    assert kazoo.writes == []
    assert "/mesos" not in kazoo.tree
    assert result["diff"]["after"]["data"] == "hello"


def test_create_is_idempotent(run_module, kazoo):
    run(run_module, path="/mesos", data="hello")
    kazoo.writes.clear()
    result, failed = run(run_module, path="/mesos", data="hello")
    assert not failed
    assert result["changed"] is False
    assert kazoo.writes == []
    assert result["stat"] == {"version": 0, "aversion": 0, "num_children": 0, "ephemeral": False}


def test_missing_parent_needs_recursive(run_module, kazoo):
    result, failed = run(run_module, path="/a/b/c")
    assert failed
    assert "parent znode does not exist; set recursive=true" in result["msg"]
    assert "/a/b/c" in result["msg"]


def test_recursive_create(run_module, kazoo):
    result, failed = run(run_module, path="/a/b/c", data="x", recursive=True)
    assert not failed
    assert kazoo.writes == [("create", "/a/b/c", b"x", [("world", "anyone", 31)], True)]
    assert {"/a", "/a/b", "/a/b/c"} <= set(kazoo.tree)


def test_chroot_from_url(run_module, kazoo):
    run(run_module, hosts="zk://zk1,zk2/apps", path="/x")
    assert kazoo.init_kwargs["hosts"] == "zk1:2181,zk2:2181/apps"


def test_existing_data_left_alone_without_data_option(run_module, kazoo):
    kazoo.put("/mesos", b"keep")
    result, _calls = run(run_module, path="/mesos")
    assert result["changed"] is False
    assert result["data"] == "keep"
    assert kazoo.writes == []


# --------------------------------------------------------------------------------------------
# update


def test_update_data_uses_the_version(run_module, kazoo):
    kazoo.put("/mesos", b"old")
    kazoo.tree["/mesos"].version = 4
    result, failed = run(run_module, path="/mesos", data="new", diff=True)
    assert not failed
    assert kazoo.writes == [("set", "/mesos", b"new", 4)]
    assert result["diff"]["before"]["data"] == "old"
    assert result["diff"]["after"]["data"] == "new"


def test_update_in_check_mode_writes_nothing(run_module, kazoo):
    kazoo.put("/mesos", b"old")
    result, _calls = run(run_module, path="/mesos", data="new", check_mode=True)
    assert result["changed"] is True
    assert kazoo.writes == []
    assert kazoo.tree["/mesos"].data == b"old"


def test_concurrent_change_is_reported(run_module, kazoo, monkeypatch):
    kazoo.put("/mesos", b"old")
    real_set = kazoo.set

    def set_after_someone_else(path, value, version=-1):
        kazoo.tree[path].version += 1
        return real_set(path, value, version)

    monkeypatch.setattr(kazoo, "set", set_after_someone_else)
    result, failed = run(run_module, path="/mesos", data="new")
    assert failed
    assert "changed by someone else" in result["msg"]


def test_binary_data_is_shown_replaced(run_module, kazoo):
    kazoo.put("/bin", b"\xff\xfe")
    result, _calls = run(run_module, path="/bin")
    assert result["data"] == "\ufffd\ufffd"


ACL_OPTION = [
    {"scheme": "digest", "username": "mesos", "password": "mesospass", "permissions": ["all"]},
    {"scheme": "world", "permissions": ["read"]},
]
ACL_KEYS = sorted([("digest", digest_id("mesos", "mesospass"), 31), ("world", "anyone", 1)])


def test_set_acl(run_module, kazoo):
    kazoo.put("/mesos")
    result, failed = run(run_module, path="/mesos", acl=ACL_OPTION, diff=True)
    assert not failed
    assert kazoo.writes == [("set_acls", "/mesos", ACL_KEYS, 0)]
    assert {"scheme": "world", "id": "anyone", "permissions": ["read"]} in result["acl"]
    assert result["diff"]["before"]["acl"] == [{"scheme": "world", "id": "anyone", "permissions": ["all"]}]
    # passwords never come back
    assert "mesospass" not in repr(result)


def test_acl_order_does_not_matter(run_module, kazoo):
    kazoo.put("/mesos", acl=[ACL(p, Id(s, i)) for s, i, p in reversed(ACL_KEYS)])
    result, _calls = run(run_module, path="/mesos", acl=ACL_OPTION)
    assert result["changed"] is False
    assert kazoo.writes == []


def test_acl_in_check_mode_writes_nothing(run_module, kazoo):
    kazoo.put("/mesos")
    result, _calls = run(run_module, path="/mesos", acl=ACL_OPTION, check_mode=True)
    assert result["changed"] is True
    assert kazoo.writes == []


def test_create_with_acl(run_module, kazoo):
    result, failed = run(run_module, path="/mesos", acl=ACL_OPTION + [{"scheme": "ip", "id": "10.0.0.0/8"}])
    assert not failed
    assert kazoo.writes[0][3] == sorted(ACL_KEYS + [("ip", "10.0.0.0/8", 31)])


@pytest.mark.parametrize(("acl", "message"), [
    ([{"scheme": "digest", "username": "u"}], "Invalid acl entry for /mesos"),
    ([{"scheme": "world", "id": "bob"}], "only has the id 'anyone'"),
    ([{"scheme": "ip"}], "needs id"),
    ([{"scheme": "world", "permissions": []}], "at least one permission"),
    ([], "acl for /mesos is empty"),
])
def test_bad_acl_is_refused_before_any_write(run_module, kazoo, acl, message):
    result, failed = run(run_module, path="/mesos", acl=acl)
    assert failed
    assert message in result["msg"]
    assert kazoo.writes == []


# --------------------------------------------------------------------------------------------
# delete


def test_delete(run_module, kazoo):
    kazoo.put("/old", b"x")
    kazoo.tree["/old"].version = 2
    result, failed = run(run_module, path="/old", state="absent", diff=True)
    assert not failed
    assert result["changed"] is True
    assert kazoo.writes == [("delete", "/old", 2, False)]
    assert result["diff"]["after"] == {}
    assert result["exists"] is False


def test_delete_missing_is_ok(run_module, kazoo):
    result, failed = run(run_module, path="/nothing", state="absent")
    assert not failed and result["changed"] is False
    assert kazoo.writes == []


def test_delete_in_check_mode(run_module, kazoo):
    kazoo.put("/old")
    result, _calls = run(run_module, path="/old", state="absent", check_mode=True)
    assert result["changed"] is True
    assert kazoo.writes == []
    assert "/old" in kazoo.tree


def test_delete_with_children_needs_recursive(run_module, kazoo):
    kazoo.put("/old")
    kazoo.put("/old/child")
    result, failed = run(run_module, path="/old", state="absent")
    assert failed
    assert "has children" in result["msg"] and "recursive=true" in result["msg"]
    assert "/old/child" in kazoo.tree
    result, failed = run(run_module, path="/old", state="absent", recursive=True)
    assert not failed
    assert "/old" not in kazoo.tree and "/old/child" not in kazoo.tree


@pytest.mark.parametrize(("path", "state", "message"), [
    ("mesos", "present", "must be an absolute ZooKeeper path"),
    ("/mesos/", "present", "must be an absolute ZooKeeper path"),
    ("/a//b", "present", "must be an absolute ZooKeeper path"),
    ("/", "absent", "cannot be deleted"),
])
def test_bad_path(run_module, kazoo, path, state, message):
    result, failed = run(run_module, path=path, state=state)
    assert failed
    assert message in result["msg"]
    assert not kazoo.started


# --------------------------------------------------------------------------------------------
# authentication and errors


def protect(kazoo):
    kazoo.put("/mesos", b"v1", acl=[ACL(p, Id(s, i)) for s, i, p in ACL_KEYS])


def test_hidden_digests_compare_users_only(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, path="/mesos", acl=ACL_OPTION)
    assert not failed, result
    assert result["changed"] is False
    assert kazoo.writes == []
    # what this session sees is reported as the server shows it
    assert {"scheme": "digest", "id": "mesos:x", "permissions": ["all"]} in result["acl"]


def test_hidden_digests_still_see_other_users(run_module, kazoo):
    protect(kazoo)
    other = [dict(ACL_OPTION[0], username="marathon"), ACL_OPTION[1]]
    result, failed = run(run_module, path="/mesos", acl=other)
    assert failed
    assert "refused to set the ACL of /mesos: not authorized" in result["msg"]


def test_owner_sees_real_digests(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, path="/mesos", acl=ACL_OPTION, auth_username="mesos", auth_password="mesospass")
    assert not failed and result["changed"] is False
    assert {"scheme": "digest", "id": digest_id("mesos", "mesospass"), "permissions": ["all"]} in result["acl"]


def test_unauthenticated_write_is_refused(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, path="/mesos", data="v2")
    assert failed
    assert "refused to write /mesos: not authorized (NoAuth)" in result["msg"]
    assert kazoo.tree["/mesos"].data == b"v1"


def test_unauthenticated_create_below_is_refused(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, path="/mesos/x")
    assert failed
    assert "refused to create /mesos/x" in result["msg"]


def test_wrong_password_is_refused(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, path="/mesos", data="v2", auth_username="mesos", auth_password="wrong")
    assert failed
    assert "not authorized" in result["msg"]
    assert "wrong" not in result["msg"]


def test_owner_may_write(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, path="/mesos", data="v2", auth_username="mesos", auth_password="mesospass")
    assert not failed
    assert kazoo.auths == [("digest", "mesos:mesospass")]
    assert kazoo.tree["/mesos"].data == b"v2"


def test_super_user_may_change_the_acl(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, path="/mesos", acl=[{"scheme": "world"}],
                         auth_username="super", auth_password="supersecret")
    assert not failed
    assert kazoo.tree["/mesos"].acl == OPEN


def test_credentials_from_the_url(run_module, kazoo):
    protect(kazoo)
    result, failed = run(run_module, hosts="zk://mesos:mesospass@zk1:2181", path="/mesos", data="v3")
    assert not failed
    assert kazoo.auths == [("digest", "mesos:mesospass")]
    assert kazoo.init_kwargs["hosts"] == "zk1:2181"


def test_rejected_authentication(run_module, kazoo):
    kazoo.auth_error = AuthFailedError()
    result, failed = run(run_module, path="/mesos", auth_username="mesos", auth_password="pw")
    assert failed
    assert result["msg"] == (
        "ZooKeeper at zk1:2181,zk2:2181,zk3:2181 rejected the digest credentials of user mesos.")
    assert kazoo.stopped and kazoo.closed


def test_authentication_timeout(run_module, kazoo):
    kazoo.auth_error = KazooTimeoutError()
    result, failed = run(run_module, path="/mesos", auth_username="mesos", auth_password="pw")
    assert failed
    assert "Could not authenticate as mesos" in result["msg"]


def test_auth_options_go_together(run_module, kazoo):
    result, failed = run(run_module, path="/mesos", auth_username="mesos")
    assert failed
    assert "auth_password" in result["msg"]


def test_connection_timeout(run_module, kazoo):
    kazoo.start_error = KazooTimeoutError("Connection time-out")
    result, failed = run(run_module, path="/mesos", timeout=2)
    assert failed
    assert result["msg"] == ("Could not connect to any ZooKeeper member of zk1:2181,zk2:2181,zk3:2181 "
                             "within 2.0s (down, unreachable, or no quorum).")
    assert kazoo.closed


def test_connection_lost_during_an_operation(run_module, kazoo):
    kazoo.op_error = ConnectionLoss()
    result, failed = run(run_module, path="/mesos")
    assert failed
    assert result["msg"] == "ZooKeeper at zk1:2181,zk2:2181,zk3:2181 failed to read /mesos: ConnectionLoss"
    assert kazoo.closed


def test_operation_timeout(run_module, kazoo):
    kazoo.op_error = KazooTimeoutError()
    result, failed = run(run_module, path="/mesos")
    assert failed
    assert "did not answer in time to read /mesos" in result["msg"]


def test_node_created_concurrently(run_module, kazoo, monkeypatch):
    real_create = kazoo.create

    def create_twice(path, value=b"", acl=None, makepath=False):
        kazoo.put(path)
        return real_create(path, value, acl, makepath)

    monkeypatch.setattr(kazoo, "create", create_twice)
    result, failed = run(run_module, path="/race")
    assert failed
    assert "created by someone else" in result["msg"]


def test_bad_hosts(run_module, kazoo):
    result, failed = run(run_module, hosts="zk1:x", path="/mesos")
    assert failed
    assert result["msg"].startswith("Cannot read the hosts option")
    assert not kazoo.started


def test_kazoo_missing(run_module, monkeypatch):
    monkeypatch.setattr(zookeeper_znode, "KazooClient", None)
    monkeypatch.setattr(zookeeper_znode, "KAZOO_IMPORT_ERROR", "Traceback: No module named 'kazoo'")
    result, failed = run(run_module, path="/mesos")
    assert failed
    assert "kazoo" in result["msg"]
    assert "Failed to import the required Python library (kazoo)" in result["msg"]
    assert "python3-kazoo" in result["msg"]
    assert "No module named" in result["exception"]


def test_passwords_are_no_log():
    spec = zookeeper_znode.argument_spec()
    assert spec["auth_password"]["no_log"] is True
    assert spec["acl"]["options"]["password"]["no_log"] is True
