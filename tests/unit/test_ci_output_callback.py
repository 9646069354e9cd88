"""The CI stdout callback (tests/callback_plugins/ci_output.py) that scripts/test selects: a
retried task must not print "FAILED", so that the first "FAILED" in a CI log is a real failure,
and a task that does fail must still say FAILED."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Succeed on the third attempt
      ansible.builtin.debug:
        msg: trying
      register: tried
      until: tried.attempts | default(0) >= 3
      retries: 5
      delay: 0
    - name: Fail for real
      ansible.builtin.fail:
        msg: a real failure
"""


def test_retries_do_not_read_as_failures_and_failures_still_do(tmp_path):
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(
        os.environ,
        ANSIBLE_CALLBACK_PLUGINS=str(ROOT / "tests" / "callback_plugins"),
        ANSIBLE_STDOUT_CALLBACK="ci_output",
        ANSIBLE_NOCOLOR="1",
    )
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(tmp_path / "play.yml"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("retrying: ")] == [
        "retrying: [localhost]: Succeed on the third attempt (5 retries left)",
        "retrying: [localhost]: Succeed on the third attempt (4 retries left)",
    ], out
    failed = [line for line in lines if "FAILED" in line]
    assert len(failed) == 1 and failed[0].startswith("fatal: [localhost]: FAILED!"), out
    # the play's banner is followed by when it started, so a CI log shows where the time goes
    banner = next(i for i, line in enumerate(lines) if line.startswith("PLAY [localhost]"))
    assert re.fullmatch(r"started \d\d:\d\d:\d\d, \d+ s into this run", lines[banner + 1]), out
