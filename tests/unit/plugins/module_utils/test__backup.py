import base64
import io
import json
import os
import stat
import tarfile
from datetime import UTC, datetime

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _backup, _chronos, _marathon

NOW = datetime(2026, 12, 4, 3, 15, 0, tzinfo=UTC)


def write(tmp_path, parts=None, versions=None, name=None):
    parts = parts if parts is not None else {"marathon/apps.json": ("apps", 1, _backup.encode([{"id": "/a"}]))}
    manifest = _backup.build_manifest(NOW, versions or {"mesos": "1.11.0"}, parts)
    return _backup.write_archive(str(tmp_path / "b"), name or _backup.archive_name(NOW), manifest,
                                 _backup.contents(parts))


# --- names and retention


def test_archive_names_sort_by_time_and_only_they_are_counted(tmp_path):
    assert _backup.archive_name(NOW) == "mesosphere-cluster-20261204T031500Z.tar.gz"
    for name in ("mesosphere-cluster-20261204T031500Z.tar.gz", "mesosphere-cluster-20251231T235959Z.tar.gz",
                 "mesosphere-cluster-20261204T031500Z.tar.gz.part", "notes.txt",
                 ".mesosphere-cluster-20261205T000000Z.tar.gz.tmp"):
        (tmp_path / name).write_text("x")
    assert [os.path.basename(a) for a in _backup.archives_in(str(tmp_path))] == [
        "mesosphere-cluster-20251231T235959Z.tar.gz", "mesosphere-cluster-20261204T031500Z.tar.gz"]
    assert _backup.archives_in(str(tmp_path / "missing")) == []


@pytest.mark.parametrize("count, keep, pruned", [(0, 3, 0), (3, 3, 0), (5, 3, 2), (7, 5, 2), (1, 1, 0)])
def test_retention_keeps_the_newest(count, keep, pruned):
    archives = ["a%02d" % i for i in range(count)]
    gone = _backup.to_prune(archives, keep)
    assert gone == archives[:pruned]
    assert len(archives) - len(gone) == min(count, keep)


def test_retention_refuses_to_keep_nothing():
    with pytest.raises(ValueError):
        _backup.to_prune(["a"], 0)


# --- export of definitions


def test_apps_lose_what_marathon_computes_and_keep_what_the_user_gave():
    app = {"id": "/web/front", "cmd": "serve", "instances": 2, "env": {"A": "1"}, "version": "2026-01-01",
           "versionInfo": {"lastConfigChangeAt": "x"}, "tasksRunning": 2, "tasks": [{}], "deployments": [],
           "portDefinitions": [{"port": 10001, "name": "http"}]}
    out = _backup.export_apps([app, {"id": "/a", "cmd": "x"}], _marathon.SERVER_FIELDS)
    assert [a["id"] for a in out] == ["/a", "/web/front"]
    assert out[1] == {"id": "/web/front", "cmd": "serve", "instances": 2, "env": {"A": "1"},
                      "portDefinitions": [{"port": 10001, "name": "http"}]}


def test_groups_are_every_folder_an_app_lives_in_outermost_first():
    apps = [{"id": "/a/b/c/app"}, {"id": "/solo"}, {"id": "/a/x"}]
    assert _backup.groups_of(apps) == ["/a", "/a/b", "/a/b/c"]


def test_jobs_come_parents_first_each_with_one_way_to_run():
    jobs = [
        {"name": "report", "parents": ["load", "extract"], "schedule": "", "command": "r", "successCount": 3},
        {"name": "load", "parents": ["extract"], "command": "l", "scheduleTimeZone": ""},
        {"name": "extract", "schedule": "R/2026-01-01T00:00:00Z/P1D", "parents": [], "command": "e",
         "lastSuccess": "2026-01-02", "errorCount": 1},
        {"name": "orphan", "parents": ["gone"], "command": "o"},
    ]
    out = _backup.export_jobs(jobs, _chronos.SERVER_FIELDS)
    assert [j["name"] for j in out] == ["extract", "load", "report", "orphan"]
    assert out[0] == {"name": "extract", "schedule": "R/2026-01-01T00:00:00Z/P1D", "command": "e"}
    assert out[2] == {"name": "report", "parents": ["load", "extract"], "command": "r"}


def test_maintenance_windows_in_seconds_and_down_machines():
    schedule = {"windows": [{"machine_ids": [{"hostname": "a1", "ip": "10.0.0.1"}, {"hostname": "a2"}],
                             "unavailability": {"start": {"nanoseconds": 1796000000 * 10**9},
                                                "duration": {"nanoseconds": 3600 * 10**9}}}]}
    status = {"down_machines": [{"hostname": "a2"}], "draining_machines": []}
    assert _backup.export_maintenance(schedule, status) == {
        "windows": [{"machines": [{"hostname": "a1", "ip": "10.0.0.1"}, {"hostname": "a2"}],
                     "start": 1796000000, "duration": 3600}],
        "down": [{"hostname": "a2"}]}
    assert _backup.export_maintenance({}, {}) == {"windows": [], "down": []}


# --- ZooKeeper trees


def test_dump_tree_keeps_persistent_znodes_parents_first_and_skips_what_vanishes():
    tree = {"/m": (b"", 0), "/m/state": (b"s", 0), "/m/state/apps": (b"\x00\xff", 0),
            "/m/leader-curator": (b"", 0), "/m/leader-curator/latch-1": (b"me", 4242), "/m/gone": None}
    kids = {"/m": ["state", "leader-curator", "gone"], "/m/state": ["apps"], "/m/state/apps": [],
            "/m/leader-curator": ["latch-1"], "/m/leader-curator/latch-1": []}

    def get(path):
        if tree[path] is None:
            raise LookupError(path)
        return tree[path]

    out = _backup.dump_tree("/m", get, lambda p: kids[p])
    assert [n["path"] for n in out] == ["/m", "/m/gone"][:1] + ["/m/leader-curator", "/m/state", "/m/state/apps"]
    assert base64.b64decode(out[-1]["data"]) == b"\x00\xff"
    assert _backup.zookeeper_part("/chronos/state") == "zookeeper/chronos_state.json"


# --- versions


@pytest.mark.parametrize("archived, running, errors", [
    ({"marathon": "1.11.24"}, {"marathon": "1.11.24"}, []),
    ({"marathon": "1.10.17"}, {"marathon": "1.11.24"}, []),
    ({"marathon": "1.11.24"}, {"marathon": "1.10.17"}, ["Marathon runs 1.10.17, older than the 1.11.24"]),
    ({"mesos": "1.11.0"}, {"mesos": "2.0.0"}, ["Mesos runs 2.0.0 but the archive was taken on 1.11.0"]),
    ({"zookeeper": "3.8.4"}, {"zookeeper": "3.8.0"}, ["ZooKeeper runs 3.8.0, older than the 3.8.4"]),
    ({"chronos": "3.0.2"}, {"chronos": None}, []),
    ({"mesos": None}, {"mesos": "1.11.0"}, []),
    ({"mesos": "1.11.0-2.0.1"}, {"mesos": "1.11.0"}, []),
])
def test_state_only_moves_forward_within_a_major_version(archived, running, errors):
    found = _backup.compatibility_errors(archived, running)
    assert len(found) == len(errors)
    for text, expected in zip(found, errors, strict=True):
        assert text.startswith(expected)


# --- the archive


def test_an_archive_reads_back_what_was_written_private_to_its_owner(tmp_path):
    path = write(tmp_path, versions={"mesos": "1.11.0", "marathon": "1.11.24"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "b").st_mode) == 0o700
    assert os.listdir(tmp_path / "b") == [os.path.basename(path)]
    manifest, parts = _backup.read_archive(path)
    assert manifest["created"] == "2026-12-04T03:15:00Z"
    assert manifest["versions"] == {"zookeeper": None, "mesos": "1.11.0", "marathon": "1.11.24", "chronos": None}
    entry = manifest["parts"]["marathon/apps.json"]
    assert entry["holds"] == "apps" and entry["count"] == 1 and len(entry["sha256"]) == 64
    assert parts == {"marathon/apps.json": [{"id": "/a"}]}


def test_a_flipped_byte_is_refused_with_the_archive_named(tmp_path):
    path = write(tmp_path)
    with open(path, "rb") as handle:
        raw = bytearray(handle.read())
    raw[len(raw) // 2] ^= 0x01
    with open(path, "wb") as handle:
        handle.write(bytes(raw))
    with pytest.raises(_backup.ArchiveError, match="corrupted") as err:
        _backup.read_archive(path)
    assert path in str(err.value)


def repack(path, change):
    with tarfile.open(path, "r:gz") as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    with tarfile.open(path, "w:gz") as dst:
        for info, data in change(members):
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("change, message", [
    (lambda ms: [(m, d.replace(b"/a", b"/b") if m.name.endswith("apps.json") else d) for m, d in ms],
     "checksum mismatch in marathon/apps.json"),
    (lambda ms: [(m, d) for m, d in ms if m.name != "marathon/apps.json"], "missing marathon/apps.json"),
    (lambda ms: ms + [(tarfile.TarInfo("extra.json"), b"{}")], "not in the manifest: extra.json"),
    (lambda ms: [(m, d) for m, d in ms if m.name != "manifest.json"], "has no manifest.json"),
    (lambda ms: [(m, json.dumps(dict(json.loads(d), format=9)).encode() if m.name == "manifest.json" else d)
                 for m, d in ms], "format 9"),
])
def test_a_changed_archive_is_refused(tmp_path, change, message):
    path = write(tmp_path)
    repack(path, change)
    with pytest.raises(_backup.ArchiveError, match=message):
        _backup.read_archive(path)


def test_a_missing_archive_is_named_and_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    with pytest.raises(_backup.ArchiveError, match="does not exist"):
        _backup.read_archive(str(tmp_path / "nope.tar.gz"))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_backup.tarfile.TarFile, "addfile", full_disk)
    with pytest.raises(OSError):
        write(tmp_path)
    assert os.listdir(tmp_path / "b") == []
