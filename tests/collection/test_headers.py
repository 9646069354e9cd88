"""Every file of the collection's plugins, every Python file its roles ship, and the project's own
Ansible plugins open with the one copyright and license header."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADER = [
    "# Copyright (c) mesosphere.cluster contributors",
    "# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)",
]
FILES = sorted(
    p for p in [*(ROOT / "plugins").rglob("*"), *(ROOT / "roles").rglob("*.py"),
                *(ROOT / "tests" / "callback_plugins").glob("*.py")]
    if p.suffix in (".py", ".yml", ".yaml") and "__pycache__" not in p.parts
    and not (p.name == "__init__.py" and not p.read_text().strip()))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_plugin_file_opens_with_the_header(path):
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]
    assert lines[:2] == HEADER, f"{path.relative_to(ROOT)} does not open with the collection's header"
