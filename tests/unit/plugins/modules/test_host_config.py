"""host_config against real temporary files and a scripted host (dpkg, apt-get, systemctl,
update-alternatives): what one call installs, writes, starts and reports, that a second call on
a host already right touches nothing, check mode, and bad input that changes nothing."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import time

import pytest
from ansible.module_utils import basic
from directory_snapshot import snapshot

from ansible_collections.mesosphere.cluster.plugins.module_utils import _host_config
from ansible_collections.mesosphere.cluster.plugins.modules import host_config, host_reset

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


class FakeHost:
    """The commands host_config runs, answered from a small model of the host; `calls` records them."""

    def __init__(self, runtime_dir):
        self.runtime_dir = runtime_dir
        self.installed = {"zookeeper"}
        self.versions = {}  # package -> (installed, candidate) for apt-cache policy
        self.config_left = set()  # removed, with their configuration left (dpkg's "rc")
        self.available = {"zookeeper", "zookeeperd", "haproxy"}
        # unit -> {active, enabled, exists, started (seconds ago)}
        self.units = {}
        self.alternatives = {}
        self.calls = []
        self.masked_during_install = []

    def unit(self, name, active=True, enabled=True, started_ago=100.0):
        self.units[name] = dict(active=active, enabled=enabled, started=time.monotonic() - started_ago)

    def __call__(self, argv, environ_update=None, **kwargs):
        self.calls.append(list(argv))
        tool = os.path.basename(argv[0])
        if tool == "dpkg-query":
            names = argv[3:]
            if "Abbrev" in argv[2]:
                out = "".join("%s %s \n" % (n, "ii" if n in self.installed else "rc") for n in names
                              if n in self.installed or n in self.config_left)
                return (0 if all(n in self.installed for n in names) else 1), out, ""
            out = "".join("%s installed\n" % n for n in names if n in self.installed)
            return (0 if all(n in self.installed for n in names) else 1), out, ""
        if tool == "apt-get":
            if argv[1] == "update":
                return 0, "", ""
            if argv[1] == "purge":
                gone = [a for a in argv[2:] if not a.startswith("-") and "::" not in a]
                self.installed.difference_update(gone)
                self.config_left.difference_update(gone)
                return 0, "", ""
            wanted = [a.split("=")[0] for a in argv[2:] if not a.startswith("-") and "::" not in a]
            for a in argv[2:]:
                if "=" in a and not a.startswith("-") and "::" not in a:
                    name, version = a.split("=", 1)
                    self.versions[name] = (version, self.versions[name][1])
            unknown = [n for n in wanted if n not in self.available]
            if unknown:
                return 100, "", "E: Unable to locate package %s\n" % unknown[0]
            self.masked_during_install = sorted(os.listdir(self.runtime_dir))
            self.installed.update(wanted)
            return 0, "", ""
        if tool == "systemctl":
            return self._systemctl(argv[1:])
        if tool == "apt-cache":
            out = "".join("%s:\n  Installed: %s\n  Candidate: %s\n  Version table:\n" % (n, *self.versions[n])
                          for n in argv[2:] if n in self.versions)
            return 0, out, ""
        if tool == "update-alternatives":
            if argv[1] == "--query":
                current = self.alternatives.get(argv[2])
                return (0, "Name: %s\nValue: %s\n" % (argv[2], current), "") if current else (2, "", "no alternatives")
            if argv[1] == "--install" and not os.path.exists(argv[4]):
                return 2, "", "update-alternatives: error: alternative path %s doesn't exist\n" % argv[4]
            if argv[1] == "--set":
                self.alternatives[argv[2]] = argv[3]
            return 0, "", ""
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    def _systemctl(self, args):
        verb = args[0]
        if verb in ("mask", "unmask"):
            for unit in args[3:]:
                link = os.path.join(self.runtime_dir, unit)
                if verb == "mask":
                    os.symlink("/dev/null", link)
                elif os.path.islink(link):
                    os.unlink(link)
            return 0, "", ""
        if verb == "daemon-reload":
            return 0, "", ""
        if verb in ("is-failed", "reset-failed"):
            unit = args[-1].removesuffix(".service")
            failed = self.units.get(unit, {}).get("failed", False)
            if verb == "reset-failed":
                self.units.pop(unit, None)
            return (0 if failed else 1), "", ""
        unit = args[1].removesuffix(".service")
        state = self.units.get(unit)
        if verb == "show":
            if state is None:
                return 0, "ActiveState=inactive\nLoadState=not-found\nUnitFileState=\n", ""
            started = int(state["started"] * 1e6) if state["started"] else 0
            active = "active" if state["active"] else "inactive"
            enabled = "enabled" if state["enabled"] else "disabled"
            return 0, ("ActiveState=%s\nLoadState=loaded\nUnitFileState=%s\nExecMainStartTimestampMonotonic=%d\n"
                       "ActiveEnterTimestampMonotonic=%d\n" % (active, enabled, started, started)), ""
        if verb == "is-enabled":
            if state is None:
                return 1, "", "Failed to get unit file state for %s: No such file or directory\n" % args[1]
            return (0, "enabled\n", "") if state["enabled"] else (1, "disabled\n", "")
        if verb in ("enable", "disable"):
            state["enabled"] = verb == "enable"
            return 0, "", ""
        if verb == "start":
            if state.get("fails"):
                return 1, "", "Job for %s.service failed.\n" % unit
            state.update(active=True, started=time.monotonic())
            return 0, "", ""
        if verb == "stop":
            state["active"] = False
            return 0, "", ""
        if verb == "kill" and "--kill-who=all" in args:
            # systemd's `kill` of a unit without a process left: "Unit ... not loaded"
            unit = args[-1].removesuffix(".service")
            state = self.units.get(unit)
            if state is None or not state.get("leftover"):
                return 1, "", "Failed to kill unit %s.service: Unit %s.service not loaded.\n" % (unit, unit)
            state["leftover"] = False
            return 0, "", ""
        raise AssertionError("unexpected systemctl %s" % args)

    def commands(self, tool):
        return [c[1:] for c in self.calls if os.path.basename(c[0]) == tool]


@pytest.fixture
def host(monkeypatch, tmp_path):
    runtime = tmp_path / "run-systemd"
    runtime.mkdir()
    fake = FakeHost(str(runtime))
    monkeypatch.setattr(_host_config, "RUNTIME_UNITS", str(runtime))
    monkeypatch.setattr(_host_config, "APT_LISTS", str(tmp_path / "no-lists"))
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda module, argv, **kw: fake(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    return fake


def files_args(root, **extra):
    conf = root / "conf"
    args = dict(
        directories=[dict(path=str(conf), owner=OWNER, group=GROUP), dict(path=str(root / "data"), mode="0750",
                                                                          owner=OWNER, group=GROUP)],
        files=[
            dict(path=str(conf / "zoo.cfg"), content="tickTime=2000\n", owner=OWNER, group=GROUP),
            dict(path=str(conf / "secret"), content="s3cret\n", mode="0600", secret=True, owner=OWNER, group=GROUP),
        ],
        file_sets=[dict(path=str(root / "flags"), files={"quorum": "2\n", "port": "5050\n"}, owner=OWNER,
                        group=GROUP)],
    )
    args.update(extra)
    return args


def test_first_call_writes_everything_and_a_second_touches_nothing(run_module, host, tmp_path):
    args = files_args(tmp_path)
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert result["changed"] is True
    conf = tmp_path / "conf"
    assert (conf / "zoo.cfg").read_text() == "tickTime=2000\n"
    assert stat.S_IMODE((conf / "secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o750
    assert sorted(p.name for p in (tmp_path / "flags").iterdir()) == ["port", "quorum"]
    assert str(conf / "zoo.cfg") in result["updated_paths"]
    before = snapshot(tmp_path)
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert (result["changed"], result["updated_paths"]) == (False, [])
    assert snapshot(tmp_path) == before


def test_only_what_differs_is_written(run_module, host, tmp_path):
    args = files_args(tmp_path)
    run_module(host_config.main, args)
    inode = (tmp_path / "conf" / "secret").stat().st_ino
    os.chmod(tmp_path / "conf" / "zoo.cfg", 0o666)
    (tmp_path / "flags" / "stale").write_text("x\n")
    args["files"][0]["content"] = "tickTime=3000\n"
    result, failed = run_module(host_config.main, args, diff=True)
    assert not failed, result
    assert result["updated_paths"] == [str(tmp_path / "flags" / "stale"), str(tmp_path / "conf" / "zoo.cfg")]
    assert (tmp_path / "conf" / "secret").stat().st_ino == inode
    assert stat.S_IMODE((tmp_path / "conf" / "zoo.cfg").stat().st_mode) == 0o644
    assert not (tmp_path / "flags" / "stale").exists()
    file_diff = next(d for d in result["diff"] if d["after_header"] == str(tmp_path / "conf" / "zoo.cfg"))
    assert (file_diff["before"], file_diff["after"]) == ("tickTime=2000\n", "tickTime=3000\n")


def test_a_secret_is_masked_in_the_diff(run_module, host, tmp_path):
    args = files_args(tmp_path)
    run_module(host_config.main, args)
    args["files"][1]["content"] = "n3w-s3cret\n"
    result, failed = run_module(host_config.main, args, diff=True)
    assert not failed
    assert "s3cret" not in repr(result)
    assert result["diff"][0]["after"] == "********\n"


def test_check_mode_reports_and_changes_nothing(run_module, host, tmp_path):
    host.unit("zookeeper", active=False, enabled=False)
    args = files_args(tmp_path, packages=["zookeeper", "zookeeperd"],
                      units=[dict(name="zookeeper", enabled=True, state="started")])
    result, failed = run_module(host_config.main, args, check_mode=True)
    assert not failed, result
    assert result["changed"] is True and result["check_mode"] is True
    assert result["installed"] == ["zookeeperd"]
    assert result["units"]["zookeeper.service"] == dict(active=True, enabled=True, changed=True)
    assert list(tmp_path.iterdir()) == [tmp_path / "run-systemd"]
    assert host.commands("apt-get") == [] and "zookeeperd" not in host.installed
    assert [c[0] for c in host.commands("systemctl")] == ["show", "is-enabled"]


def test_check_mode_counts_the_files_it_would_change_as_a_pending_restart(run_module, host, tmp_path):
    args = files_args(tmp_path)
    run_module(host_config.main, args)
    host.unit("zookeeper", started_ago=0.0)  # started after the files: nothing pending
    args["pending"] = [dict(unit="zookeeper", paths=[str(tmp_path / "conf"), str(tmp_path / "flags")])]
    result, _failed = run_module(host_config.main, args, check_mode=True)
    assert result["pending"]["zookeeper.service"]["restart_pending"] is False
    args["file_sets"][0]["files"]["quorum"] = "3\n"
    result, _failed = run_module(host_config.main, args, check_mode=True)
    state = result["pending"]["zookeeper.service"]
    assert state["restart_pending"] is True
    assert state["changed_paths"] == [str(tmp_path / "flags" / "quorum")]
    result, _failed = run_module(host_config.main, args)  # for real: the file is newer than the start
    assert result["pending"]["zookeeper.service"]["restart_pending"] is True


def test_a_missing_package_installs_with_its_units_masked_and_a_left_mask_is_lifted(run_module, host, tmp_path):
    os.symlink("/dev/null", os.path.join(host.runtime_dir, "mesos-slave.service"))  # an interrupted run's
    args = dict(packages=["zookeeper", "zookeeperd"], hold_units=["zookeeper", "mesos-slave"])
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert result["installed"] == ["zookeeperd"]
    assert result["lifted"] == ["mesos-slave.service"]
    assert host.masked_during_install == ["mesos-slave.service", "zookeeper.service"]
    assert os.listdir(host.runtime_dir) == []
    assert host.commands("apt-get")[0][0] == "update"  # no package lists yet
    result, failed = run_module(host_config.main, args)
    assert (result["changed"], result["installed"], host.commands("apt-get")[-1][0]) == (False, [], "install")
    assert len(host.commands("apt-get")) == 2


def test_a_package_apt_cannot_find_fails_with_its_name_and_lifts_the_masks(run_module, host):
    result, failed = run_module(host_config.main, dict(packages=["mesos"], hold_units=["mesos-master"]))
    assert failed
    assert "Installing mesos failed" in result["msg"] and "Unable to locate package mesos" in result["msg"]
    assert os.listdir(host.runtime_dir) == []


def test_units_are_enabled_and_started_once_and_pending_reads_after_the_start(run_module, host, tmp_path):
    host.unit("marathon", active=False, enabled=False)
    host.unit("mesos-slave", active=True, enabled=True)
    conf = tmp_path / "marathon"
    conf.write_text("x\n")
    args = dict(units=[dict(name="marathon", enabled=True, state="started"),
                       dict(name="mesos-slave", enabled=False, state="stopped")],
                pending=[dict(unit="marathon", paths=[str(conf)])])
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert result["units"]["marathon.service"] == dict(active=True, enabled=True, changed=True)
    assert result["units"]["mesos-slave.service"] == dict(active=False, enabled=False, changed=True)
    assert result["pending"]["marathon.service"]["restart_pending"] is False  # just started
    assert ["start", "marathon.service"] in host.commands("systemctl")
    result, failed = run_module(host_config.main, args)
    assert result["changed"] is False
    assert {c[0] for c in host.commands("systemctl")[-5:]} <= {"show", "is-enabled"}


def test_a_unit_that_does_not_start_names_its_journal(run_module, host):
    host.unit("chronos", active=False)
    host.units["chronos"]["fails"] = True
    result, failed = run_module(host_config.main, dict(units=[dict(name="chronos", state="started")]))
    assert failed
    assert result["msg"].startswith("chronos.service did not start")
    assert "journalctl -u chronos.service" in result["msg"]


def test_a_changed_unit_file_reloads_systemd(run_module, host, tmp_path, monkeypatch):
    units = tmp_path / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    monkeypatch.setattr(_host_config, "UNIT_DIRS", (str(units) + "/",))
    args = dict(files=[dict(path=str(units / "zookeeper.service"), content="[Service]\n", owner=OWNER, group=GROUP)])
    result, _failed = run_module(host_config.main, args)
    assert result["daemon_reloaded"] is True and ["daemon-reload"] in host.commands("systemctl")
    result, _failed = run_module(host_config.main, args)
    assert result["daemon_reloaded"] is False


def test_alternatives_copy_from_create_only_absent_and_listing(run_module, host, tmp_path):
    example = tmp_path / "log4j.example"
    example.write_text("log4j.rootLogger=INFO\n")
    (tmp_path / "dynamic.cfg").write_text("# written by the sync program\n")
    (tmp_path / "old.pem").write_text("x")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "b.pem").write_text("x")
    (certs / "a.pem").write_text("x")
    args = dict(
        alternatives=[dict(name="zookeeper-conf", link="/etc/zookeeper/conf", path=str(tmp_path), priority=60)],
        files=[dict(path=str(tmp_path / "log4j.properties"), copy_from=str(example), owner=OWNER, group=GROUP),
               dict(path=str(tmp_path / "dynamic.cfg"), content="# empty\n", create_only=True, owner=OWNER,
                    group=GROUP)],
        absent=[str(tmp_path / "old.pem"), str(tmp_path / "never-was")],
        list=[str(certs), str(tmp_path / "none")],
    )
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert host.alternatives == {"zookeeper-conf": str(tmp_path)}
    assert (tmp_path / "log4j.properties").read_text() == "log4j.rootLogger=INFO\n"
    assert (tmp_path / "dynamic.cfg").read_text() == "# written by the sync program\n"
    assert not (tmp_path / "old.pem").exists()
    assert result["listing"] == {str(certs): ["a.pem", "b.pem"], str(tmp_path / "none"): []}
    result, _failed = run_module(host_config.main, args)
    assert result["changed"] is False


def test_a_refused_validation_keeps_the_old_file(run_module, host, tmp_path):
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("good\n")
    args = dict(files=[dict(path=str(cfg), content="bad\n", validate="grep -q good %s", owner=OWNER, group=GROUP)])
    result, failed = run_module(host_config.main, args)
    assert failed
    assert result["msg"].startswith("The new %s was refused by `grep -q good %%s` (exit 1)" % cfg)
    assert cfg.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    args["files"][0]["content"] = "good too\n"
    result, failed = run_module(host_config.main, args)
    assert not failed and cfg.read_text() == "good too\n"


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda a: a["files"][0].update(mode="rw-r--r--"), "mode must be an octal number"),
        (lambda a: a["files"][0].update(validate="haproxy -c"), "must contain %s"),
        (lambda a: a["file_sets"][0]["files"].update({"../x": "y"}), "invalid file name '../x'"),
        (lambda a: a["file_sets"][0]["files"].update({"n": 3}), "has no text content"),
        (lambda a: a["directories"].append(dict(path="relative/dir")), "relative/dir is not an absolute path"),
    ],
)
def test_bad_input_fails_with_a_sentence_and_changes_nothing(run_module, host, tmp_path, change, says):
    args = files_args(tmp_path)
    change(args)
    result, failed = run_module(host_config.main, args)
    assert failed
    assert says in result["msg"]
    assert list(tmp_path.iterdir()) == [tmp_path / "run-systemd"]
    assert host.calls == []


def test_an_unknown_owner_is_refused_for_real_and_reported_in_check_mode_before_an_install(run_module, host, tmp_path):
    args = dict(packages=["zookeeperd"],
                directories=[dict(path=str(tmp_path / "data"), owner="no-such-user-here", group=GROUP)])
    result, failed = run_module(host_config.main, dict(args, packages=[]))
    assert failed and "owner 'no-such-user-here' is not a user on this host." in result["msg"]
    result, failed = run_module(host_config.main, args, check_mode=True)
    assert not failed and result["updated_paths"] == [str(tmp_path / "data")]


def test_a_flag_set_writes_flag_files_and_never_returns_a_secret_flag(run_module, host, tmp_path):
    url = "zk://mesos:pa55word@zk1:2181/mesos"
    args = dict(file_sets=[dict(path=str(tmp_path / "flags"), flags={"zk": url, "quorum": 2, "hostname_lookup": False},
                                secret=["zk"], owner=OWNER, group=GROUP)])
    result, failed = run_module(host_config.main, args, diff=True)
    assert not failed, result
    flags = tmp_path / "flags"
    written = {p.name: p.read_text() for p in flags.iterdir()}
    assert written == {"zk": url + "\n", "quorum": "2\n", "hostname_lookup": "false\n"}
    assert stat.S_IMODE((flags / "zk").stat().st_mode) == 0o600
    assert "pa55word" not in repr(result)
    args["file_sets"][0]["flags"]["quorum"] = None
    result, failed = run_module(host_config.main, args)
    assert failed and "flag 'quorum' has a null value" in result["msg"]


def test_an_alternative_may_point_at_a_directory_made_in_the_same_call(run_module, host, tmp_path):
    conf = tmp_path / "conf.mesosphere"
    args = dict(directories=[dict(path=str(conf), owner=OWNER, group=GROUP)],
                alternatives=[dict(name="zookeeper-conf", link="/etc/zookeeper/conf", path=str(conf))])
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert host.alternatives == {"zookeeper-conf": str(conf)}


# host_reset: the same host, taken apart


def test_reset_stops_purges_removes_and_a_second_reset_changes_nothing(run_module, host, tmp_path):
    host.unit("zookeeper", active=True, enabled=True)
    host.installed.add("zookeeperd")
    host.config_left.add("haproxy")
    os.symlink("/dev/null", os.path.join(host.runtime_dir, "zookeeper.service"))
    data = tmp_path / "data"
    (data / "version-2").mkdir(parents=True)
    args = dict(units=["zookeeper", "chronos"], packages=["zookeeper", "zookeeperd", "haproxy", "mesos"],
                absent=[str(data), str(tmp_path / "never-was")])
    result, failed = run_module(host_reset.main, args, check_mode=True)
    assert not failed, result
    assert (result["stopped"], result["purged"]) == (["zookeeper.service"], ["zookeeper", "zookeeperd", "haproxy"])
    assert data.exists() and host.units["zookeeper"]["active"]
    result, failed = run_module(host_reset.main, args)
    assert not failed, result
    assert result["stopped"] == ["zookeeper.service"] and result["disabled"] == ["zookeeper.service"]
    assert result["purged"] == ["zookeeper", "zookeeperd", "haproxy"]
    assert result["removed"] == [str(data), os.path.join(host.runtime_dir, "zookeeper.service")]
    assert not data.exists() and host.installed == set()
    order = [c[1] for c in host.calls if os.path.basename(c[0]) in ("systemctl", "apt-get")
             and c[1] in ("stop", "purge", "daemon-reload")]
    assert order == ["stop", "purge", "daemon-reload"]
    del host.units["zookeeper"]  # its package, and so its unit, is gone
    result, failed = run_module(host_reset.main, args)
    assert not failed and result["changed"] is False


def test_reset_kills_what_a_stopped_unit_left_running(run_module, host):
    """mesos-slave's unit stops the agent only (KillMode=process): its executors outlive it, and
    a reset must not leave them holding their ports; an earlier reset's leftovers too."""
    host.unit("mesos-slave", active=True, enabled=True)
    host.units["mesos-slave"]["leftover"] = True
    result, failed = run_module(host_reset.main, dict(units=["mesos-slave"]), check_mode=True)
    assert not failed and host.units["mesos-slave"]["leftover"]
    result, failed = run_module(host_reset.main, dict(units=["mesos-slave"]))
    assert not failed and result["stopped"] == ["mesos-slave.service"], result
    assert not host.units["mesos-slave"]["leftover"]
    verbs = [c[0] for c in host.commands("systemctl") if c[0] in ("stop", "kill")]
    assert verbs == ["stop", "kill"]
    # stopped already (an interrupted reset), processes left: the next reset kills them
    host.units["mesos-slave"]["leftover"] = True
    result, failed = run_module(host_reset.main, dict(units=["mesos-slave"]))
    assert not failed and not host.units["mesos-slave"]["leftover"]


def test_reset_removes_a_shared_folder_with_its_last_file_only(run_module, host, tmp_path):
    """Two roles keep a local fact in one folder: each reset removes its own, the folder (and its
    parent) goes with the last one; check mode counts the fact it would remove."""
    facts = tmp_path / "ansible" / "facts.d"
    facts.mkdir(parents=True)
    (facts / "zookeeper.fact").write_text("{}\n")
    (facts / "mesos_master.fact").write_text("{}\n")
    shared = [str(facts), str(facts.parent)]
    result, failed = run_module(host_reset.main, dict(absent=[str(facts / "zookeeper.fact")], absent_if_empty=shared))
    assert not failed and result["removed"] == [str(facts / "zookeeper.fact")], result
    assert facts.is_dir()
    args = dict(absent=[str(facts / "mesos_master.fact")], absent_if_empty=shared)
    result, failed = run_module(host_reset.main, args, check_mode=True)
    assert not failed and result["removed"] == [str(facts / "mesos_master.fact"), str(facts), str(facts.parent)]
    assert (facts / "mesos_master.fact").exists()
    result, failed = run_module(host_reset.main, args)
    assert not failed and result["removed"] == [str(facts / "mesos_master.fact"), str(facts), str(facts.parent)]
    assert not facts.parent.exists()
    result, failed = run_module(host_reset.main, args)
    assert not failed and result["changed"] is False


def test_reset_clears_a_unit_that_ended_failed(run_module, host):
    host.unit("mesos-master", active=False, enabled=False)
    host.units["mesos-master"]["failed"] = True
    result, failed = run_module(host_reset.main, dict(units=["mesos-master"]))
    assert not failed and result["cleared"] == ["mesos-master.service"]


def test_a_file_set_that_does_not_prune_leaves_the_other_entries(run_module, host, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "old.pem").write_text("still named by the apps\n")
    args = dict(file_sets=[dict(path=str(certs), files={"site.pem": "PEM\n"}, secret=["site.pem"], mode="0600",
                                prune=False, owner=OWNER, group=GROUP)])
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert sorted(p.name for p in certs.iterdir()) == ["old.pem", "site.pem"]
    assert stat.S_IMODE((certs / "site.pem").stat().st_mode) == 0o600
    args["file_sets"][0]["prune"] = True
    result, _failed = run_module(host_config.main, args)
    assert result["updated_paths"] == [str(certs / "old.pem")] and not (certs / "old.pem").exists()


def test_a_file_absent_is_removed_and_needs_no_content(run_module, host, tmp_path):
    secret = tmp_path / "mesos-authentication-secret"
    secret.write_text("s3cret")
    args = dict(files=[dict(path=str(secret), state="absent")])
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert result["updated_paths"] == [str(secret)] and not secret.exists()
    assert run_module(host_config.main, args)[0]["changed"] is False


def test_repository_files_go_first_and_a_change_refreshes_the_package_lists(run_module, host, tmp_path):
    keyring = tmp_path / "keyrings"  # a folder the host does not have yet
    repo = [dict(path=str(keyring / "mesosphere.asc"), content="KEY\n", owner=OWNER, group=GROUP),
            dict(path=str(tmp_path / "mesosphere.list"), content="deb file:/srv/repo ./\n", owner=OWNER, group=GROUP)]
    args = dict(repository_files=repo, packages=["zookeeper", "zookeeperd"])
    result, failed = run_module(host_config.main, args)
    assert not failed, result
    assert result["cache_updated"] is True and (keyring / "mesosphere.asc").read_text() == "KEY\n"
    # the lists are refreshed once, before the install, although they were missing
    assert [c[0] for c in host.commands("apt-get")] == ["update", "install"]
    result, failed = run_module(host_config.main, args)
    assert (result["changed"], result["cache_updated"], len(host.commands("apt-get"))) == (False, False, 2)
    repo[1]["content"] = "deb file:/srv/other ./\n"
    result, failed = run_module(host_config.main, args)
    assert result["cache_updated"] is True and [c[0] for c in host.commands("apt-get")][-1] == "update"


def test_upgrade_installs_the_candidate_the_pins_choose_with_the_units_held(run_module, host):
    host.installed.add("mesos")
    host.available.add("mesos")
    host.versions["mesos"] = ("1.10.0-1", "1.11.0-1")
    host.versions["zookeeper"] = ("3.8.0-11", "3.8.0-11")
    args = dict(packages=["mesos", "zookeeper"], upgrade=True, hold_units=["mesos-master"])
    result, failed = run_module(host_config.main, args, check_mode=True)
    assert not failed and result["upgraded"] == [{"name": "mesos", "installed": "1.10.0-1", "to": "1.11.0-1"}]
    assert host.commands("apt-get") == []
    result, failed = run_module(host_config.main, args)
    assert not failed and result["changed"] is True
    install = host.commands("apt-get")[-1]
    assert install[0] == "install" and "mesos=1.11.0-1" in install and "zookeeper" not in install
    assert host.masked_during_install == ["mesos-master.service"] and os.listdir(host.runtime_dir) == []
    result, failed = run_module(host_config.main, args)
    assert (result["changed"], result["upgraded"]) == (False, [])
    # without upgrade, an installed package is left as it is whatever apt offers
    host.versions["mesos"] = ("1.11.0-1", "1.12.0-1")
    assert run_module(host_config.main, dict(packages=["mesos"]))[0]["changed"] is False
