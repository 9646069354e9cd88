"""cluster_state_restore against a fake kazoo tree and real archives: a tree that differs is
replaced by the archived one (data, order, ACL), an equal one is left alone, a tree a running
daemon still uses (ephemeral znodes) or a path the archive does not hold is refused before any
path is written, and check mode writes nothing."""

from __future__ import annotations

import base64
from collections import namedtuple
from datetime import UTC, datetime

import pytest
from kazoo.exceptions import NoNodeError

from ansible_collections.mesosphere.cluster.plugins.module_utils import _backup
from ansible_collections.mesosphere.cluster.plugins.modules import cluster_state_restore

Stat = namedtuple("Stat", "ephemeralOwner")
OWNER_ACL = ["digest:marathon:x=all"]


class FakeKazoo:
    """A znode tree: path -> [data, ephemeral owner, acl]; records every write."""

    def __init__(self, tree):
        self.tree = {path: list(node) for path, node in tree.items()}
        self.writes = []

    def __call__(self, **kwargs):
        return self

    def start(self, timeout=None):
        pass

    def stop(self):
        pass

    def close(self):
        pass

    def add_auth(self, scheme, credential):
        pass

    def get(self, path):
        if path not in self.tree:
            raise NoNodeError(path)
        data, owner, _acl = self.tree[path]
        return data, Stat(owner)

    def get_children(self, path):
        if path not in self.tree:
            raise NoNodeError(path)
        prefix = path.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.tree if p.startswith(prefix)})

    def get_acls(self, path):
        if path not in self.tree:
            raise NoNodeError(path)
        return self.tree[path][2], None

    def exists(self, path):
        return path in self.tree

    def delete(self, path, recursive=False):
        self.writes.append(("delete", path))
        for p in [p for p in self.tree if p == path or p.startswith(path.rstrip("/") + "/")]:
            del self.tree[p]

    def create(self, path, value=b"", acl=None, makepath=False):
        self.writes.append(("create", path))
        parent = path.rsplit("/", 1)[0] or "/"
        assert makepath or parent in self.tree, "parent of %s missing" % path
        self.tree[path] = [value, 0, acl]


def archive_of(tmp_path, trees):
    """An archive holding the given trees ({zk path: {znode path: data}})."""
    parts = {}
    for path, nodes in trees.items():
        znodes = [dict(path=p, data=base64.b64encode(d).decode()) for p, d in nodes.items()]
        parts[_backup.zookeeper_part(path)] = ("tree", len(znodes), _backup.encode(dict(path=path, znodes=znodes)))
    manifest = _backup.build_manifest(datetime(2026, 12, 4, 3, 15, tzinfo=UTC), {}, parts)
    return _backup.write_archive(str(tmp_path), "mesosphere-cluster-20261204T031500Z.tar.gz", manifest,
                                 _backup.contents(parts))


ARCHIVED = {"/marathon": b"", "/marathon/state": b"", "/marathon/state/apps": b"",
            "/marathon/state/apps/web": b'{"id": "/web", "version": "2026-12-04T03:00:00Z"}',
            "/marathon/state/framework-id": b"fw-1"}


@pytest.fixture
def zk(monkeypatch):
    def make(tree):
        fake = FakeKazoo(tree)
        monkeypatch.setattr(cluster_state_restore, "KazooClient", fake)
        return fake
    return make


def run(run_module, archive, paths=("/marathon",), check_mode=False):
    return run_module(cluster_state_restore.main, dict(archive=archive, paths=list(paths),
                                                       zookeeper_hosts="zk1:2181"), check_mode=check_mode)


def test_a_tree_that_differs_is_replaced_by_the_archived_one_with_its_acl(run_module, zk, tmp_path):
    archive = archive_of(tmp_path, {"/marathon": ARCHIVED})
    fake = zk({"/": [b"", 0, []], "/marathon": [b"", 0, OWNER_ACL], "/marathon/state": [b"", 0, OWNER_ACL],
               "/marathon/state/apps": [b"", 0, OWNER_ACL], "/marathon/state/stale": [b"x", 0, OWNER_ACL]})
    result, failed = run(run_module, archive, check_mode=True)
    assert not failed, result
    assert result["restored"] == [{"path": "/marathon", "znodes": 5}] and fake.writes == []
    result, failed = run(run_module, archive)
    assert not failed, result
    assert result["changed"] is True
    assert {p: n[0] for p, n in fake.tree.items() if p.startswith("/marathon")} == ARCHIVED
    assert all(fake.tree[p][2] == OWNER_ACL for p in ARCHIVED)
    created = [p for verb, p in fake.writes if verb == "create"]
    assert created.index("/marathon/state") < created.index("/marathon/state/apps/web")
    fake.writes.clear()
    result, failed = run(run_module, archive)
    assert (result["changed"], result["unchanged"], fake.writes) == (False, ["/marathon"], [])


def test_a_tree_a_daemon_still_uses_is_refused_and_nothing_is_written(run_module, zk, tmp_path):
    archive = archive_of(tmp_path, {"/marathon": ARCHIVED, "/chronos/state": {"/chronos/state": b""}})
    fake = zk({"/": [b"", 0, []], "/marathon": [b"", 0, []], "/chronos": [b"", 0, []],
               "/chronos/state": [b"", 0, []], "/chronos/state/candidate": [b"", 0, []],
               "/chronos/state/candidate/_c_1": [b"m1:4400", 77, []]})
    result, failed = run(run_module, archive, paths=("/marathon", "/chronos/state"), check_mode=True)
    assert not failed and result["in_use"] == ["/chronos/state"]  # reported, for the playbook to stop it
    result, failed = run(run_module, archive, paths=("/marathon", "/chronos/state"))
    assert failed
    assert result["msg"].startswith("/chronos/state holds ephemeral znodes (/chronos/state/candidate/_c_1)")
    assert "nothing was restored" in result["msg"] and fake.writes == []


def test_a_path_the_archive_does_not_hold_is_refused_naming_what_it_holds(run_module, zk, tmp_path):
    archive = archive_of(tmp_path, {"/marathon": ARCHIVED})
    fake = zk({"/": [b"", 0, []]})
    result, failed = run(run_module, archive, paths=("/marathon", "/chronos/state"))
    assert failed and "holds no ZooKeeper tree for /chronos/state (it holds /marathon)" in result["msg"]
    assert fake.writes == []


def test_a_corrupted_archive_is_refused(run_module, zk, tmp_path):
    archive = archive_of(tmp_path, {"/marathon": ARCHIVED})
    with open(archive, "rb") as handle:
        raw = bytearray(handle.read())
    raw[len(raw) // 2] ^= 0xFF
    with open(archive, "wb") as handle:
        handle.write(bytes(raw))
    fake = zk({"/": [b"", 0, []]})
    result, failed = run(run_module, archive)
    assert failed and "corrupted" in result["msg"] and fake.writes == []


def test_an_equal_tree_in_use_is_left_alone_without_a_refusal(run_module, zk, tmp_path):
    # the archive holds the election's persistent parent, not its ephemeral candidates
    archived = dict(ARCHIVED, **{"/marathon/leader-curator": b""})
    archive = archive_of(tmp_path, {"/marathon": archived})
    tree = {path: [data, 0, []] for path, data in archived.items()}
    tree.update({"/": [b"", 0, []], "/marathon/leader-curator/_c_1": [b"m1:8080", 5, []]})
    fake = zk(tree)
    result, failed = run(run_module, archive)
    assert not failed and (result["changed"], result["unchanged"], fake.writes) == (False, ["/marathon"], [])


def test_differences_only_in_ignored_paths_leave_a_tree_alone(run_module, zk, tmp_path, monkeypatch):
    archived = dict(ARCHIVED, **{"/marathon/state/instances": b"", "/marathon/state/instances/i1": b'{"task": 1}'})
    archive = archive_of(tmp_path, {"/marathon": archived})
    tree = {path: [data, 0, []] for path, data in ARCHIVED.items()}
    tree.update({"/": [b"", 0, []], "/marathon/state/instances": [b"", 0, []],
                 "/marathon/state/instances/i2": [b'{"task": 2}', 0, []]})  # Marathon replaced a task
    fake = zk(tree)
    args = dict(archive=archive, paths=["/marathon"], zookeeper_hosts="zk1:2181",
                ignore_paths=["/marathon/state/instances"])
    result, failed = run_module(cluster_state_restore.main, args)
    assert not failed and (result["changed"], result["unchanged"], fake.writes) == (False, ["/marathon"], [])
    # the app itself differs: the tree is restored, the instances with it, as archived
    fake.tree["/marathon/state/apps/web"][0] = b'{"id": "/web", "version": "later"}'
    result, failed = run_module(cluster_state_restore.main, args)
    assert not failed and result["changed"] is True
    assert "/marathon/state/instances/i1" in fake.tree and "/marathon/state/instances/i2" not in fake.tree
