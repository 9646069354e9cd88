"""pending_restart against a faked `systemctl show` and real temporary files.

The unit's start is scripted as a monotonic timestamp some seconds ago; file times are set
with os.utime relative to now, so each test states which side of the start every path is.
"""

from __future__ import annotations

import os
import time

import pytest
from ansible.module_utils import basic

from ansible_collections.mesosphere.cluster.plugins.module_utils import _unit
from ansible_collections.mesosphere.cluster.plugins.modules import pending_restart

STARTED_AGO = 100.0  # the unit was started this many seconds ago


@pytest.fixture
def systemd(monkeypatch):
    """Script what `systemctl show` answers; records every command run."""

    class Systemd:
        def __init__(self):
            self.calls = []
            self.state = "active"
            self.exec_main = int((time.monotonic() - STARTED_AGO) * 1e6)
            self.active_enter = int((time.monotonic() - STARTED_AGO - 5) * 1e6)
            self.rc = 0
            self.stderr = ""

        def run_command(self, args, **kwargs):
            self.calls.append(args)
            out = ("ActiveState=%s\nExecMainStartTimestampMonotonic=%d\nActiveEnterTimestampMonotonic=%d\n"
                   % (self.state, self.exec_main, self.active_enter))
            return self.rc, out if self.rc == 0 else "", self.stderr

    fake = Systemd()
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda module, args, **kw: fake.run_command(args, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    return fake


def age(path, seconds_ago):
    """Set a path's mtime (without following a symlink) to `seconds_ago` before now."""
    when = time.time() - seconds_ago
    os.utime(path, (when, when), follow_symlinks=False)


@pytest.fixture
def conf(tmp_path):
    """A config file, a flag directory with two flags, and a symlink: all older than the start."""
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("tickTime=2000\n")
    flags = tmp_path / "flags"
    flags.mkdir()
    (flags / "quorum").write_text("2\n")
    (flags / "work_dir").write_text("/var/lib/mesos\n")
    target = tmp_path / "real.conf"
    target.write_text("x\n")
    link = tmp_path / "current.conf"
    link.symlink_to(target)
    for path in (cfg, flags / "quorum", flags / "work_dir", flags, target, link):
        age(path, 500)
    return tmp_path


def run(run_module, paths, service="mesos-master"):
    return run_module(pending_restart.main, dict(service=service, paths=[str(p) for p in paths]))


def test_not_pending_when_everything_is_older(run_module, systemd, conf):
    result, failed = run(run_module, [conf / "zoo.cfg", conf / "flags", conf / "current.conf"])
    assert not failed
    assert result["changed"] is False
    assert result["active"] is True
    assert result["restart_pending"] is False
    assert result["changed_paths"] == []
    assert result["missing"] == []
    assert abs(result["started"] - (time.time() - STARTED_AGO)) < 1
    assert systemd.calls == [["/usr/bin/systemctl", "show", "mesos-master.service",
                              "--property=ActiveState,ExecMainStartTimestampMonotonic,"
                              "ActiveEnterTimestampMonotonic"]]


def test_pending_when_a_file_is_newer(run_module, systemd, conf):
    age(conf / "zoo.cfg", 10)
    result, failed = run(run_module, [conf / "zoo.cfg", conf / "flags"], service="zookeeper.service")
    assert not failed
    assert result["restart_pending"] is True
    assert result["changed_paths"] == [str(conf / "zoo.cfg")]
    assert systemd.calls[0][2] == "zookeeper.service"


def test_pending_when_a_directory_entry_is_newer(run_module, systemd, conf):
    age(conf / "flags" / "quorum", 10)
    result = run(run_module, [conf / "flags"])[0]
    assert result["restart_pending"] is True
    assert result["changed_paths"] == [str(conf / "flags" / "quorum")]


def test_pending_when_a_file_was_removed_from_a_directory(run_module, systemd, conf):
    (conf / "flags" / "work_dir").unlink()  # the directory's mtime is now
    result = run(run_module, [conf / "flags"])[0]
    assert result["restart_pending"] is True
    assert result["changed_paths"] == [str(conf / "flags")]


def test_a_symlink_counts_by_itself_not_its_target(run_module, systemd, conf):
    age(conf / "real.conf", 10)
    result = run(run_module, [conf / "current.conf"])[0]
    assert result["restart_pending"] is False
    age(conf / "current.conf", 10)
    result = run(run_module, [conf / "current.conf"])[0]
    assert result["restart_pending"] is True
    assert result["changed_paths"] == [str(conf / "current.conf")]


def test_missing_paths_are_listed_not_failed(run_module, systemd, conf):
    result, failed = run(run_module, [conf / "zoo.cfg", conf / "gone"])
    assert not failed
    assert result["missing"] == [str(conf / "gone")]
    assert result["restart_pending"] is False


def test_inactive_unit_is_not_pending(run_module, systemd, conf):
    systemd.state = "inactive"
    age(conf / "zoo.cfg", 10)
    result = run(run_module, [conf / "zoo.cfg"])[0]
    assert result["active"] is False
    assert result["changed_paths"] == [str(conf / "zoo.cfg")]
    assert result["restart_pending"] is False


def test_unknown_unit_is_inactive_not_a_failure(run_module, systemd, conf):
    systemd.state = "inactive"
    systemd.exec_main = systemd.active_enter = 0
    result, failed = run(run_module, [conf / "zoo.cfg"], service="nope")
    assert not failed
    assert result == dict(changed=False, active=False, started=None, changed_paths=[], missing=[],
                          restart_pending=False, check_mode=False)


def test_falls_back_to_active_enter_when_exec_main_is_zero(run_module, systemd, conf):
    systemd.exec_main = 0
    systemd.active_enter = int((time.monotonic() - 20) * 1e6)
    age(conf / "zoo.cfg", 50)  # before ActiveEnter, so not pending
    result = run(run_module, [conf / "zoo.cfg"])[0]
    assert abs(result["started"] - (time.time() - 20)) < 1
    assert result["restart_pending"] is False
    age(conf / "zoo.cfg", 10)
    result = run(run_module, [conf / "zoo.cfg"])[0]
    assert result["restart_pending"] is True


def test_reloading_counts_as_active(run_module, systemd, conf):
    systemd.state = "reloading"
    age(conf / "zoo.cfg", 10)
    result = run(run_module, [conf / "zoo.cfg"])[0]
    assert result["restart_pending"] is True


def test_systemctl_failing_names_the_unit(run_module, systemd, conf):
    systemd.rc = 1
    systemd.stderr = "Failed to connect to bus: No such file or directory"
    result, failed = run(run_module, [conf / "zoo.cfg"], service="marathon")
    assert failed
    assert "marathon.service" in result["msg"]
    assert "Failed to connect to bus" in result["msg"]


def test_check_mode_reports_the_same(run_module, systemd, conf):
    age(conf / "zoo.cfg", 10)
    result, failed = run_module(pending_restart.main, dict(service="zookeeper", paths=[str(conf / "zoo.cfg")]),
                                check_mode=True)
    assert not failed
    assert result["restart_pending"] is True
    assert result["changed"] is False


def test_reports_check_mode_from_a_play_or_task_too(run_module, systemd, conf):
    # ansible_check_mode is true only with --check; a play with check_mode: true must still
    # make the rolling restart report restarts instead of doing them.
    paths = [str(conf / "zoo.cfg")]
    assert run_module(pending_restart.main, dict(service="zookeeper", paths=paths))[0]["check_mode"] is False
    result, failed = run_module(pending_restart.main, dict(service="zookeeper", paths=paths), check_mode=True)
    assert not failed and result["check_mode"] is True


# process=newest_child: the start of the main process's newest child, from a fake /proc.

TICKS = os.sysconf("SC_CLK_TCK")


def fake_proc(root, main_pid, processes):
    """A /proc with /proc/uptime and, for each (pid, ppid, started seconds ago, name), a stat file."""
    root.mkdir()
    uptime = _unit.since_boot()
    (root / "uptime").write_text("%.2f 12345.67\n" % uptime)
    (root / "self").mkdir()  # not a process directory: ignored
    for pid, ppid, ago, name in processes:
        (root / str(pid)).mkdir()
        fields = ["S", str(ppid)] + ["0"] * 17 + [str(int((uptime - ago) * TICKS))] + ["0"] * 10
        (root / str(pid) / "stat").write_text("%d (%s) %s\n" % (pid, name, " ".join(fields)))
    return root


@pytest.fixture
def master(systemd, monkeypatch, tmp_path):
    """haproxy.service: a master (pid 100, started with the unit) with an old and a new worker."""
    calls = systemd.run_command

    def with_main_pid(args, **kwargs):
        rc, out, err = calls(args, **kwargs)
        return rc, out + "MainPID=%d\n" % systemd.main_pid if rc == 0 else out, err

    systemd.run_command = with_main_pid
    systemd.main_pid = 100
    monkeypatch.setattr(pending_restart, "PROC", str(fake_proc(tmp_path / "proc", 100, [
        (1, 0, 5000, "systemd"),
        (100, 1, STARTED_AGO, "haproxy"),
        (200, 100, 60, "haproxy"),           # an old worker still finishing its connections
        (300, 100, 20, "haproxy (worker)"),  # the worker of the last reload; a name with ") "
        (400, 1, 5, "unrelated"),            # newer, but not a child of the master
        (500, 400, 1, "grandchild"),
    ])))
    return systemd


def run_child(run_module, paths, check_mode=False):
    return run_module(pending_restart.main, dict(service="haproxy", paths=[str(p) for p in paths],
                                                 process="newest_child"), check_mode=check_mode)


def test_newest_child_a_file_changed_before_the_last_reload_is_not_pending(run_module, master, conf):
    age(conf / "zoo.cfg", 50)  # after the master's start, before the newest worker's
    result, failed = run_child(run_module, [conf / "zoo.cfg"])
    assert not failed
    assert abs(result["started"] - (time.time() - 20)) < 0.1
    assert result["restart_pending"] is False
    assert result["changed_paths"] == []
    assert master.calls == [["/usr/bin/systemctl", "show", "haproxy.service",
                             "--property=ActiveState,ExecMainStartTimestampMonotonic,"
                             "ActiveEnterTimestampMonotonic,MainPID"]]
    # the master's start alone would have called it pending
    assert run(run_module, [conf / "zoo.cfg"], service="haproxy")[0]["restart_pending"] is True


def test_newest_child_a_file_changed_after_the_last_reload_is_pending(run_module, master, conf):
    age(conf / "flags" / "quorum", 10)
    result, failed = run_child(run_module, [conf / "zoo.cfg", conf / "flags"], check_mode=True)
    assert not failed
    assert result["restart_pending"] is True
    assert result["changed_paths"] == [str(conf / "flags" / "quorum")]
    assert result["changed"] is False and result["check_mode"] is True


def test_newest_child_without_children_counts_the_main_process(run_module, master, conf):
    master.main_pid = 200  # a process without children
    age(conf / "zoo.cfg", 50)
    result = run_child(run_module, [conf / "zoo.cfg"])[0]
    assert abs(result["started"] - (time.time() - STARTED_AGO)) < 1
    assert result["restart_pending"] is True


def test_newest_child_of_an_inactive_unit(run_module, master, conf):
    master.state = "inactive"
    master.main_pid = 0
    age(conf / "zoo.cfg", 10)
    result, failed = run_child(run_module, [conf / "zoo.cfg"])
    assert not failed
    assert result["active"] is False and result["restart_pending"] is False


def test_newest_child_on_a_real_process(tmp_path):
    # This test's own process with one child started now; /proc is the real one.
    import subprocess
    import sys

    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = _unit.newest_child_start(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert started is not None
    assert before - 0.1 <= started <= time.time() + 0.1


def test_since_boot_without_clock_boottime_reads_proc_uptime(monkeypatch, tmp_path):
    (tmp_path / "uptime").write_text("1234.56 999.00\n")
    monkeypatch.delattr(time, "CLOCK_BOOTTIME", raising=False)
    assert _unit.since_boot(str(tmp_path)) == 1234.56
