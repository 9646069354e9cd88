"""cluster_backup and cluster_backup_info against the stand-ins: a backup of apps (one in a
group), a job with a dependent job and a maintenance window, re-applied through marathon_app,
chronos_job and mesos_maintenance after they were deleted, field by field the same; retention;
a corrupted archive and one from another version refused with a sentence."""

import io
import json
import os
import stat
import tarfile

import pytest
from integration_helpers import http_json

GROUP_APP = "/itbackup/web"
SOLO_APP = "/itbackup-solo"
APPS = {
    GROUP_APP: {"cmd": "python3 -m http.server $PORT0 --bind 127.0.0.1", "instances": 1, "cpus": 0.1, "mem": 32,
                "portDefinitions": [{"port": 0}], "labels": {"tier": "front"}, "env": {"GREETING": "hello"}},
    SOLO_APP: {"cmd": "sleep 3600", "instances": 1, "cpus": 0.1, "mem": 16},
}
PARENT, CHILD = "itbackup-extract", "itbackup-load"
MACHINE = {"hostname": "backup-m.invalid", "ip": "10.255.1.1"}
WINDOW_START = 1924992000  # 2031-01-01T00:00:00Z
ZK_PATHS = ["/marathon", "/chronos/state"]


def apps_now(endpoints):
    status, body = http_json(endpoints["marathon"][0] + "/v2/apps")
    assert status == 200
    return {a["id"]: a for a in body["apps"] if a["id"] in APPS}


def jobs_now(endpoints):
    status, jobs = http_json(endpoints["chronos"][0] + "/v1/scheduler/jobs")
    assert status == 200
    return {j["name"]: j for j in jobs if j["name"] in (PARENT, CHILD)}


def windows_now(standin_cluster):
    leader = standin_cluster.leading_master(timeout=10).url("").rstrip("/")
    status, body = http_json(leader + "/master/maintenance/schedule")
    assert status == 200
    return [w for w in (body or {}).get("windows", []) if MACHINE in w["machine_ids"]]


def delete_everything(endpoints, ansible_module):
    for app in APPS:
        http_json(endpoints["marathon"][0] + "/v2/apps" + app + "?force=true", method="DELETE")
    for name in (CHILD, PARENT):
        http_json(endpoints["chronos"][0] + "/v1/scheduler/job/" + name, method="DELETE")
    ansible_module("mesos_maintenance", dict(mesos_endpoints=endpoints["mesos"], machines=[MACHINE], state="up"))


@pytest.fixture
def cleanup(endpoints, ansible_module):
    yield
    delete_everything(endpoints, ansible_module)


def rewrite(archive, target, change):
    """A copy of `archive` at `target` whose manifest `change` edited (checksums left valid)."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read()
            if info.name == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_backup_and_reapply_round_trip(standin_cluster, endpoints, ansible_module, cleanup, tmp_path):
    marathon = dict(marathon_endpoints=endpoints["marathon"])
    chronos = dict(chronos_endpoints=endpoints["chronos"])
    mesos = dict(mesos_endpoints=endpoints["mesos"])
    for app_id, definition in APPS.items():
        made = ansible_module("marathon_app", dict(marathon, id=app_id, definition=definition))
        assert not made.get("failed"), made.get("msg")
    for args in (dict(name=PARENT, command="echo extract", schedule="R/2031-01-01T00:00:00Z/P1D",
                      definition={"owner": "ops@example.com"}),
                 dict(name=CHILD, command="echo load", parents=[PARENT])):
        made = ansible_module("chronos_job", dict(chronos, **args))
        assert not made.get("failed"), made.get("msg")
    made = ansible_module("mesos_maintenance", dict(mesos, machines=[MACHINE], start=str(WINDOW_START),
                                                    duration=7200))
    assert not made.get("failed"), made.get("msg")
    before_apps, before_jobs, before_windows = apps_now(endpoints), jobs_now(endpoints), windows_now(standin_cluster)
    assert len(before_apps) == 2 and len(before_jobs) == 2 and len(before_windows) == 1

    dest = tmp_path / "backups"
    args = dict(marathon, **chronos, **mesos, dest=str(dest), keep=2, zookeeper_hosts=endpoints["zookeeper"],
                zookeeper_paths=ZK_PATHS, chronos_version="3.0.2")
    check = ansible_module("cluster_backup", args, check=True)
    assert not check.get("failed"), check.get("msg")
    assert not dest.exists(), "check mode wrote the backup folder"
    backup = ansible_module("cluster_backup", args)
    assert not backup.get("failed"), backup.get("msg")
    archive = backup["archive"]
    assert os.path.dirname(archive) == str(dest) and os.path.basename(archive).startswith("mesosphere-cluster-")
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600 and stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    manifest = backup["manifest"]
    assert manifest["versions"]["mesos"] == "1.11.0" and manifest["versions"]["marathon"] == "1.11.24"
    assert manifest["versions"]["chronos"] == "3.0.2" and manifest["versions"]["zookeeper"]
    assert {"marathon/apps.json", "marathon/groups.json", "chronos/jobs.json", "mesos/maintenance.json",
            "zookeeper/marathon.json", "zookeeper/chronos_state.json"} == set(manifest["parts"])

    info = ansible_module("cluster_backup_info", dict(mesos, **marathon, archive=archive,
                                                      zookeeper_hosts=endpoints["zookeeper"]))
    assert not info.get("failed"), info.get("msg")
    mine = [a for a in info["apps"] if a["id"] in APPS]
    assert [a["id"] for a in mine] == sorted(APPS) and "/itbackup" in info["groups"]
    names = [j["name"] for j in info["jobs"]]
    assert names.index(PARENT) < names.index(CHILD)
    assert {"machines": [MACHINE], "start": WINDOW_START, "duration": 7200} in info["maintenance"]["windows"]
    trees = {t["path"]: t["znodes"] for t in info["zookeeper"]}
    assert trees["/marathon"] > 1 and trees["/chronos/state"] > 1

    # Everything is gone; the archive's definitions bring it back through the modules.
    delete_everything(endpoints, ansible_module)
    assert apps_now(endpoints) == {} and jobs_now(endpoints) == {} and windows_now(standin_cluster) == []

    def reapply():
        changed = []
        for app in mine:
            r = ansible_module("marathon_app", dict(marathon, definition=app))
            assert not r.get("failed"), r.get("msg")
            changed.append(r["changed"])
        for job in [j for j in info["jobs"] if j["name"] in (PARENT, CHILD)]:
            r = ansible_module("chronos_job", dict(chronos, name=job["name"], definition=job))
            assert not r.get("failed"), r.get("msg")
            changed.append(r["changed"])
        for window in info["maintenance"]["windows"]:
            if window["machines"] == [MACHINE]:
                r = ansible_module("mesos_maintenance", dict(mesos, machines=window["machines"],
                                                             start=str(window["start"]), duration=window["duration"]))
                assert not r.get("failed"), r.get("msg")
                changed.append(r["changed"])
        return changed

    assert reapply() == [True] * 5
    after_apps = apps_now(endpoints)
    for app_id, app in before_apps.items():
        for field, value in app.items():
            if field in ("version", "versionInfo", "tasks", "tasksRunning", "tasksStaged", "tasksHealthy",
                         "tasksUnhealthy", "deployments", "lastTaskFailure"):
                continue
            assert after_apps[app_id].get(field) == value, "%s: %s differs after the restore" % (app_id, field)
    for name, job in before_jobs.items():
        for field in ("command", "owner", "parents", "schedule", "cpus", "mem"):
            assert jobs_now(endpoints)[name].get(field) == job.get(field), "%s: %s differs" % (name, field)
    assert windows_now(standin_cluster) == before_windows
    assert reapply() == [False] * 5, "re-applying the archive a second time changed something"

    # Retention: with keep=2, however many backups there were, the two newest remain.
    for _ in range(2):
        last = ansible_module("cluster_backup", args)
        assert not last.get("failed"), last.get("msg")
    left = sorted(os.listdir(dest))
    assert len(left) == 2 and os.path.basename(last["archive"]) == left[-1], left
    assert archive not in [str(dest / n) for n in left] and archive in backup["archive"]

    # A flipped byte: refused with a sentence naming the archive.
    with open(last["archive"], "rb") as handle:
        raw = bytearray(handle.read())
    raw[len(raw) // 2] ^= 0xFF
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(bytes(raw))
    refused = ansible_module("cluster_backup_info", dict(archive=str(flipped)))
    assert refused.get("failed") and str(flipped) in refused["msg"], refused
    assert "corrupted" in refused["msg"]

    # A part changed after the backup: its checksum no longer matches.
    changed_part = tmp_path / "changed.tar.gz"
    with tarfile.open(last["archive"], "r:gz") as src, tarfile.open(changed_part, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "marathon/apps.json":
                data = data.replace(b"hello", b"HELLO")
            dst.addfile(member, io.BytesIO(data))
    refused = ansible_module("cluster_backup_info", dict(archive=str(changed_part)))
    assert refused.get("failed") and "checksum mismatch in marathon/apps.json" in refused["msg"], refused

    # An archive from a newer Marathon, or another major Mesos: refused against this cluster.
    newer = tmp_path / "newer.tar.gz"
    rewrite(last["archive"], newer, lambda m: m["versions"].update(marathon="1.12.0", mesos="2.0.0"))
    refused = ansible_module("cluster_backup_info", dict(mesos, **marathon, archive=str(newer)))
    assert refused.get("failed"), refused
    assert "Marathon runs 1.11.24, older than the 1.12.0" in refused["msg"]
    assert "Mesos runs 1.11.0 but the archive was taken on 2.0.0" in refused["msg"]
    # ... and accepted when nothing running is asked (only the archive itself is checked).
    assert not ansible_module("cluster_backup_info", dict(archive=str(newer))).get("failed")


def test_backup_of_an_unreachable_cluster_writes_nothing(ansible_module, tmp_path):
    dest = tmp_path / "never"
    result = ansible_module("cluster_backup", dict(mesos_endpoints=["http://127.0.0.1:9"], dest=str(dest),
                                                   request_retries=0))
    assert result.get("failed") and "nothing was written" in result["msg"] and "127.0.0.1:9" in result["msg"]
    assert not dest.exists()
