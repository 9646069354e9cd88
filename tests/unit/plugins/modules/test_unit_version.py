"""unit_version: the release a unit's running process was started from, read from its command line."""

from __future__ import annotations

import pytest

from ansible_collections.mesosphere.cluster.plugins.modules import unit_version


@pytest.mark.parametrize("cmdline, program, version", [
    (["/usr/bin/python3", "/usr/lib/mesosphere-standins/chronos/3.0.2/standin.py", "mesosphere_standins.chronos",
      "--http_credentials=u:p"], "chronos", "3.0.2"),
    (["java", "-cp", "/usr/share/marathon/lib/marathon-1.11.24.jar", "mesosphere.marathon.Main"], "marathon",
     "1.11.24"),
    (["java", "-jar", "/opt/chronos-3.0.1-SNAPSHOT.jar"], "chronos", "3.0.1"),
    (["/usr/bin/python3", "-m", "mesosphere_standins.chronos"], "chronos", None),
    (["/usr/lib/mesosphere-standins/marathon/1.11.24/standin.py"], "chronos", None),
    (["/usr/lib/notchronos-9.9.9/x"], "chronos", None),
])
def test_the_release_comes_from_a_path_named_after_the_program(cmdline, program, version):
    assert unit_version.release_in(cmdline, program) == version


def test_the_command_line_is_read_from_proc(tmp_path):
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cmdline").write_bytes(b"/usr/bin/python3\0/usr/lib/x/chronos/3.0.1/standin.py\0--flag\0")
    assert unit_version.read_cmdline(42, str(tmp_path)) == ["/usr/bin/python3", "/usr/lib/x/chronos/3.0.1/standin.py",
                                                            "--flag"]
    assert unit_version.read_cmdline(43, str(tmp_path)) == []
