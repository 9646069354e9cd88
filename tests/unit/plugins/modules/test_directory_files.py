"""directory_files against a real temporary directory: what is written, kept and removed, and
that a second run with the same files rewrites nothing (inodes and modification times stay)."""

from __future__ import annotations

import grp
import os
import pwd
import stat

from directory_snapshot import snapshot

from ansible_collections.mesosphere.cluster.plugins.modules import directory_files

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
FILES = {"__init__.py": '__version__ = "1.0.0"\n', "daemon.py": "def main():\n    pass\n", "empty.py": ""}


def run(run_module, directory, files, check_mode=False, diff=False, **args):
    merged = dict(path=str(directory), files=files, owner=OWNER, group=GROUP)
    merged.update(args)
    return run_module(directory_files.main, merged, check_mode=check_mode, diff=diff)


def test_creates_the_directory_and_writes_the_files_exactly(tmp_path, run_module):
    target = tmp_path / "lib" / "pkg"  # parents created too
    result, failed = run(run_module, target, FILES)
    assert not failed, result
    assert result["changed"] is True
    assert result["written"] == ["__init__.py", "daemon.py", "empty.py"]
    assert {p.name: p.read_text() for p in target.iterdir()} == FILES  # no newline added or lost
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in target.iterdir())


def test_a_second_run_rewrites_nothing_and_keeps_what_it_is_told_to(tmp_path, run_module):
    run(run_module, tmp_path, FILES)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "daemon.cpython-311.pyc").write_bytes(b"\0")
    before = snapshot(tmp_path)
    result, failed = run(run_module, tmp_path, FILES, keep=["__pycache__"])
    assert not failed, result
    assert (result["changed"], result["written"], result["removed"]) == (False, [], [])
    assert snapshot(tmp_path) == before


def test_a_changed_file_is_rewritten_and_stale_entries_are_removed(tmp_path, run_module):
    run(run_module, tmp_path, FILES)
    (tmp_path / "old_module.py").write_text("gone = True\n")
    (tmp_path / "stale").mkdir()
    os.chmod(tmp_path / "empty.py", 0o600)
    changed = dict(FILES, **{"daemon.py": "def main():\n    return 1\n"})
    result, failed = run(run_module, tmp_path, changed, check_mode=True)
    assert not failed, result
    assert (result["written"], result["removed"]) == (["daemon.py", "empty.py"], ["old_module.py", "stale"])
    assert (tmp_path / "old_module.py").exists()  # check mode changed nothing
    assert (tmp_path / "daemon.py").read_text() == FILES["daemon.py"]
    result, failed = run(run_module, tmp_path, changed, diff=True)
    assert not failed, result
    assert (result["written"], result["removed"]) == (["daemon.py", "empty.py"], ["old_module.py", "stale"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["__init__.py", "daemon.py", "empty.py"]
    assert (tmp_path / "daemon.py").read_text() == changed["daemon.py"]
    assert stat.S_IMODE((tmp_path / "empty.py").stat().st_mode) == 0o644
    assert result["diff"]["before"]["daemon.py"]["content"] == FILES["daemon.py"]
    assert result["diff"]["after"]["daemon.py"]["content"] == changed["daemon.py"]


def test_bad_input_fails_with_a_sentence_and_changes_nothing(tmp_path, run_module):
    run(run_module, tmp_path, FILES)
    (tmp_path / "a-file").write_text("")
    before = snapshot(tmp_path)
    result, failed = run(run_module, tmp_path, {"../escape.py": "x = 1\n"})
    assert failed
    assert "invalid file name '../escape.py'" in result["msg"]
    result, failed = run(run_module, tmp_path, {"data.py": None})
    assert failed
    assert result["msg"] == "file 'data.py' has a null content; give its text."
    result, failed = run(run_module, tmp_path, FILES, owner="no-such-user-here")
    assert failed
    assert result["msg"] == "owner 'no-such-user-here' is not a user on this host."
    result, failed = run(run_module, tmp_path / "a-file" / "pkg", FILES)
    assert failed
    assert result["msg"].startswith("Could not read the file directory %s" % (tmp_path / "a-file" / "pkg"))
    assert snapshot(tmp_path) == before
