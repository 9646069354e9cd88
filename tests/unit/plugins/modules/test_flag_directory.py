"""flag_directory against a real temporary directory.

Every test compares a snapshot of the directory (names, bytes, modes, owners, inodes and
modification times) before and after, so "nothing changed" means no file was even rewritten.
The files are owned by the user running the tests, so they run without root; the one test that
changes ownership needs root and is skipped otherwise.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat

import pytest
from ansible.module_utils.testing import patch_module_args
from directory_snapshot import snapshot

from ansible_collections.mesosphere.cluster.plugins.module_utils import _directory
from ansible_collections.mesosphere.cluster.plugins.modules import flag_directory

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
SECRET = "zk://mesos:s3cr3t-Pa55@zk1:2181,zk2:2181/mesos"
OLD_SECRET = "zk://mesos:0ld-Pa55@zk1:2181/mesos"


def contents(directory):
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def put(directory, name, data, mode=0o644):
    path = directory / name
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def run(run_module, directory, flags, check_mode=False, diff=False, **args):
    merged = dict(path=str(directory), flags=flags, owner=OWNER, group=GROUP)
    merged.update(args)
    return run_module(flag_directory.main, merged, check_mode=check_mode, diff=diff)


def run_for_output(capsys, args, diff=False):
    """Run the module with its real exit_json and return what it prints, as Ansible would read it."""
    args = dict(args, owner=OWNER, group=GROUP)
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit):
        flag_directory.main()
    return capsys.readouterr().out


FLAGS = {"quorum": 2, "cluster": "mesosphere", "authenticate_agents": False, "zk_session_timeout": "10secs"}


def test_writes_each_flag_with_its_value_and_a_newline(tmp_path, run_module):
    result, failed = run(run_module, tmp_path, dict(FLAGS, authenticate_frameworks=True, ratio=0.5))
    assert not failed, result
    assert result["changed"] is True
    assert result["written"] == ["authenticate_agents", "authenticate_frameworks", "cluster", "quorum",
                                 "ratio", "zk_session_timeout"]
    assert result["removed"] == []
    # The bytes the roles wrote before the module existed: booleans in lower case, a final newline.
    assert contents(tmp_path) == {
        "authenticate_agents": b"false\n",
        "authenticate_frameworks": b"true\n",
        "cluster": b"mesosphere\n",
        "quorum": b"2\n",
        "ratio": b"0.5\n",
        "zk_session_timeout": b"10secs\n",
    }
    for name in os.listdir(tmp_path):
        assert mode_of(tmp_path / name) == 0o644
        assert (tmp_path / name).stat().st_uid == os.getuid()


def test_chronos_boolean_flag_file(tmp_path, run_module):
    result, failed = run(run_module, tmp_path, {"?disable_after_failures": "", "http_port": "4400"})
    assert not failed, result
    assert contents(tmp_path) == {"?disable_after_failures": b"\n", "http_port": b"4400\n"}


def test_second_run_changes_nothing(tmp_path, run_module):
    run(run_module, tmp_path, FLAGS, secret_flags=["zk"])
    before = snapshot(tmp_path)
    result, failed = run(run_module, tmp_path, FLAGS, secret_flags=["zk"])
    assert not failed, result
    assert (result["changed"], result["written"], result["removed"]) == (False, [], [])
    assert snapshot(tmp_path) == before  # same inodes and mtimes: nothing was rewritten


def test_writes_only_the_flags_that_differ(tmp_path, run_module):
    run(run_module, tmp_path, FLAGS)
    before = snapshot(tmp_path)
    result, failed = run(run_module, tmp_path, dict(FLAGS, quorum=3))
    assert not failed, result
    assert (result["changed"], result["written"], result["removed"]) == (True, ["quorum"], [])
    after = snapshot(tmp_path)
    assert after["quorum"][-1] == b"3\n"
    assert {k: v for k, v in after.items() if k != "quorum"} == {k: v for k, v in before.items() if k != "quorum"}


def test_removes_every_other_entry(tmp_path, run_module):
    flags = tmp_path / "flags"
    flags.mkdir()
    outside = put(tmp_path, "outside", b"keep me\n")
    put(flags, "quorum", b"1\n")  # the package's default
    put(flags, "ip", b"10.0.0.1\n")
    (flags / "subdir").mkdir()
    put(flags / "subdir", "inner", b"x\n")
    os.symlink(outside, flags / "link")
    put(flags, ".flag-abc123", b"left by an interrupted run\n")
    result, failed = run(run_module, flags, {"quorum": "2"})
    assert not failed, result
    assert result["written"] == ["quorum"]
    assert result["removed"] == [".flag-abc123", "ip", "link", "subdir"]
    assert contents(flags) == {"quorum": b"2\n"}
    assert outside.read_bytes() == b"keep me\n"  # a symlink is removed, not what it points to


def test_empty_flags_empties_the_directory(tmp_path, run_module):
    put(tmp_path, "quorum", b"1\n")
    result, failed = run(run_module, tmp_path, {})
    assert not failed, result
    assert (result["changed"], result["removed"]) == (True, ["quorum"])
    assert os.listdir(tmp_path) == []


def test_rewrites_a_flag_whose_mode_differs(tmp_path, run_module):
    put(tmp_path, "quorum", b"2\n", mode=0o600)
    inode = os.lstat(tmp_path / "quorum").st_ino
    result, failed = run(run_module, tmp_path, {"quorum": 2})
    assert not failed, result
    assert (result["changed"], result["written"]) == (True, ["quorum"])
    assert mode_of(tmp_path / "quorum") == 0o644
    assert (tmp_path / "quorum").read_bytes() == b"2\n"
    assert os.lstat(tmp_path / "quorum").st_ino != inode  # replaced by rename, not edited in place


@pytest.mark.parametrize("mode", ["0640", "640", 0o640])
def test_mode_option(tmp_path, run_module, mode):
    result, failed = run(run_module, tmp_path, {"quorum": 2}, mode=mode)
    assert not failed, result
    assert mode_of(tmp_path / "quorum") == 0o640
    result, failed = run(run_module, tmp_path, {"quorum": 2}, mode=mode)
    assert result["changed"] is False


@pytest.mark.parametrize("mode", ["u=rw,go=r", "0844", "", 0o10000, True])
def test_invalid_mode_fails(tmp_path, run_module, mode):
    result, failed = run(run_module, tmp_path, {"quorum": 2}, mode=mode)
    assert failed
    assert "mode must be an octal number like '0644'" in result["msg"]
    assert os.listdir(tmp_path) == []


def test_replaces_a_symlink_or_directory_that_has_a_flag_name(tmp_path, run_module):
    target = put(tmp_path, "elsewhere", b"2\n")
    os.symlink(target, tmp_path / "quorum")
    (tmp_path / "work_dir").mkdir()
    put(tmp_path / "work_dir", "inner", b"x\n")
    result, failed = run(run_module, tmp_path, {"quorum": "2", "work_dir": "/var/lib/mesos"})
    assert not failed, result
    assert result["written"] == ["quorum", "work_dir"]
    assert result["removed"] == ["elsewhere"]
    assert not os.path.islink(tmp_path / "quorum")
    assert contents(tmp_path) == {"quorum": b"2\n", "work_dir": b"/var/lib/mesos\n"}


def test_check_mode_reports_and_changes_nothing(tmp_path, run_module):
    put(tmp_path, "quorum", b"1\n")
    put(tmp_path, "cluster", b"mesosphere\n", mode=0o600)
    put(tmp_path, "stale", b"x\n")
    (tmp_path / "subdir").mkdir()
    before = snapshot(tmp_path)
    result, failed = run(run_module, tmp_path, FLAGS, check_mode=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["written"] == ["authenticate_agents", "cluster", "quorum", "zk_session_timeout"]
    assert result["removed"] == ["stale", "subdir"]
    assert snapshot(tmp_path) == before

    # Applying it then writes and removes exactly what check mode announced.
    applied, failed = run(run_module, tmp_path, FLAGS)
    assert (applied["written"], applied["removed"]) == (result["written"], result["removed"])
    check_again, failed = run(run_module, tmp_path, FLAGS, check_mode=True)
    assert (check_again["changed"], check_again["written"], check_again["removed"]) == (False, [], [])


def test_check_mode_with_a_missing_directory(tmp_path, run_module):
    missing = tmp_path / "etc-mesos-master"
    result, failed = run(run_module, missing, {"quorum": 2}, check_mode=True)
    assert not failed, result
    assert (result["changed"], result["written"], result["removed"]) == (True, ["quorum"], [])
    assert not missing.exists()


def test_missing_directory_fails_outside_check_mode(tmp_path, run_module):
    missing = tmp_path / "etc-mesos-master"
    result, failed = run(run_module, missing, {"quorum": 2})
    assert failed
    assert result["msg"] == (
        "the flag directory %s does not exist; create it first (ansible.builtin.file with state=directory)."
        % missing
    )


def test_path_that_is_a_file_fails(tmp_path, run_module):
    path = put(tmp_path, "not-a-dir", b"")
    result, failed = run(run_module, path, {"quorum": 2})
    assert failed
    assert result["msg"] == "%s is not a directory." % path


def test_diff_shows_each_flag_before_and_after(tmp_path, run_module):
    put(tmp_path, "quorum", b"1\n")
    put(tmp_path, "cluster", b"mesosphere\n")
    put(tmp_path, "stale", b"x\n")
    result, failed = run(run_module, tmp_path, {"quorum": 2, "cluster": "mesosphere", "port": 5050}, diff=True)
    assert not failed, result
    owner = "%s:%s" % (OWNER, GROUP)
    assert result["diff"] == {
        "before": {
            "cluster": {"content": "mesosphere\n", "mode": "0644", "owner": owner},
            "quorum": {"content": "1\n", "mode": "0644", "owner": owner},
            "stale": {"content": "x\n", "mode": "0644", "owner": owner},
        },
        "after": {
            "cluster": {"content": "mesosphere\n", "mode": "0644", "owner": owner},
            "port": {"content": "5050\n", "mode": "0644", "owner": owner},
            "quorum": {"content": "2\n", "mode": "0644", "owner": owner},
        },
        "before_header": str(tmp_path),
        "after_header": str(tmp_path),
    }


def test_diff_in_check_mode_shows_a_mode_change_and_non_files(tmp_path, run_module):
    put(tmp_path, "quorum", b"2\n", mode=0o664)
    (tmp_path / "subdir").mkdir(mode=0o755)
    result, failed = run(run_module, tmp_path, {"quorum": 2}, check_mode=True, diff=True)
    assert not failed, result
    assert result["diff"]["before"]["quorum"]["mode"] == "0664"
    assert result["diff"]["after"]["quorum"]["mode"] == "0644"
    assert result["diff"]["before"]["subdir"]["type"] == "directory"
    assert "content" not in result["diff"]["before"]["subdir"]


def test_secret_flag_is_written_0600(tmp_path, run_module):
    result, failed = run(run_module, tmp_path, {"zk": SECRET, "quorum": 2}, secret_flags=["zk", "not_a_flag"])
    assert not failed, result
    assert mode_of(tmp_path / "zk") == 0o600
    assert mode_of(tmp_path / "quorum") == 0o644
    assert (tmp_path / "zk").read_bytes() == (SECRET + "\n").encode()


def test_secret_flag_that_is_no_longer_secret_gets_the_default_mode(tmp_path, run_module):
    run(run_module, tmp_path, {"zk": SECRET}, secret_flags=["zk"])
    result, failed = run(run_module, tmp_path, {"zk": SECRET})
    assert (result["changed"], result["written"]) == (True, ["zk"])
    assert mode_of(tmp_path / "zk") == 0o644


def test_secret_values_never_appear_in_the_output(tmp_path, capsys):
    put(tmp_path, "zk", (OLD_SECRET + "\n").encode(), mode=0o600)
    # The old value of a file only its owner may read is masked too, even when it is not wanted any more.
    put(tmp_path, "http_credentials", b"admin:0ld-Pa55\n", mode=0o600)
    out = run_for_output(capsys, dict(path=str(tmp_path), flags={"zk": SECRET, "quorum": 2}, secret_flags=["zk"]),
                         diff=True)
    assert SECRET not in out
    assert "s3cr3t-Pa55" not in out
    assert "0ld-Pa55" not in out
    result = json.loads(out)
    assert result["changed"] is True
    assert result["written"] == ["quorum", "zk"]
    assert result["removed"] == ["http_credentials"]
    assert result["diff"]["before"]["zk"]["content"] == "********"
    assert result["diff"]["after"]["zk"] == {"content": "******** (changed)", "mode": "0600",
                                             "owner": "%s:%s" % (OWNER, GROUP)}
    assert result["diff"]["before"]["http_credentials"]["content"] == "********"
    assert result["diff"]["after"]["quorum"]["content"] == "2\n"
    # The file itself holds the real value.
    assert (tmp_path / "zk").read_bytes() == (SECRET + "\n").encode()


def test_unchanged_secret_is_masked_without_saying_changed(tmp_path, run_module):
    put(tmp_path, "zk", (SECRET + "\n").encode(), mode=0o600)
    result, failed = run(run_module, tmp_path, {"zk": SECRET}, secret_flags=["zk"], diff=True)
    assert not failed, result
    assert result["changed"] is False
    assert result["diff"]["before"]["zk"]["content"] == result["diff"]["after"]["zk"]["content"] == "********"


@pytest.mark.parametrize("name", ["a/b", "", ".", "..", "../zk"])
def test_invalid_flag_name_fails_before_writing(tmp_path, run_module, name):
    put(tmp_path, "stale", b"x\n")
    before = snapshot(tmp_path)
    result, failed = run(run_module, tmp_path, {"quorum": 2, name: "x"})
    assert failed
    assert result["msg"].startswith("invalid flag name %r: " % name)
    assert "may not be empty, '.' or '..', nor contain '/'" in result["msg"]
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("value", "kind"), [(None, "null"), (["a", "b"], "list"), ({"a": 1}, "dict")])
def test_value_without_a_text_form_fails_naming_the_flag(tmp_path, run_module, value, kind):
    result, failed = run(run_module, tmp_path, {"quorum": 2, "resources": value})
    assert failed
    assert result["msg"].startswith("flag 'resources' has a %s value" % kind)
    assert os.listdir(tmp_path) == []


def test_unknown_owner_fails(tmp_path, run_module):
    result, failed = run(run_module, tmp_path, {"quorum": 2}, owner="no-such-user-here")
    assert failed
    assert result["msg"] == "owner 'no-such-user-here' is not a user on this host."


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_rewrites_a_flag_whose_owner_differs(tmp_path, run_module):
    path = put(tmp_path, "quorum", b"2\n")
    os.chown(path, 1, 1)
    result, failed = run(run_module, tmp_path, {"quorum": 2}, owner="root", group="root")
    assert not failed, result
    assert result["written"] == ["quorum"]
    assert (path.stat().st_uid, path.stat().st_gid) == (0, 0)


def test_failed_write_leaves_no_temporary_file(tmp_path, run_module, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_directory.os, "replace", refuse)
    result, failed = run(run_module, tmp_path, {"quorum": 2})
    assert failed
    assert result["msg"] == "Could not write the flag quorum to %s: Permission denied." % (tmp_path / "quorum")
    assert os.listdir(tmp_path) == []
