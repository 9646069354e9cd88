"""module_program's identity of a packaged program: two builds of the same module, code and
arguments are the same program whatever their build times; other arguments or code are not."""

from __future__ import annotations

import base64
import datetime
import io
import zipfile

from ansible_collections.mesosphere.cluster.plugins.action.module_program import program_identity


def wrapper(params, files, when):
    """A program shaped like Ansible's AnsiballZ wrapper (the lines module_program reads)."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when.timetuple()[:6]), data)
    return ("#!/usr/bin/python\n# some code\nif __name__ == \"__main__\":\n    _ansiballz_main(\n"
            "ansible_module='mesosphere.cluster.cluster_backup',\n"
            "module_fqn='ansible_collections.mesosphere.cluster.plugins.modules.cluster_backup',\n"
            f"date_time={when!r},\n"
            f"params={params!r},\n"
            f"zip_data={base64.b64encode(raw.getvalue()).decode()!r},\n"
            ")\n").encode()


CODE = {"ansible/module_utils/basic.py": b"x = 1\n", "ansible_collections/x/cluster_backup.py": b"main()\n"}
PARAMS = '{"ANSIBLE_MODULE_ARGS": {"dest": "/var/backups", "keep": 2}}'
ONE = datetime.datetime(2026, 12, 6, 12, 1, 52, tzinfo=datetime.UTC)
TWO = datetime.datetime(2026, 12, 7, 3, 15, 0, tzinfo=datetime.UTC)


def test_two_builds_of_the_same_are_the_same_program():
    first, second = wrapper(PARAMS, CODE, ONE), wrapper(PARAMS, CODE, TWO)
    assert first != second
    assert program_identity(first) is not None
    assert program_identity(first) == program_identity(second)


def test_other_arguments_or_other_code_are_another_program():
    base = program_identity(wrapper(PARAMS, CODE, ONE))
    assert program_identity(wrapper(PARAMS.replace('"keep": 2', '"keep": 3'), CODE, ONE)) != base
    assert program_identity(wrapper(PARAMS, dict(CODE, **{"ansible/module_utils/basic.py": b"x = 2\n"}), ONE)) != base


def test_anything_else_is_no_program():
    assert program_identity(b"#!/bin/sh\necho hello\n") is None
    assert program_identity(wrapper(PARAMS, CODE, ONE).replace(b"zip_data='", b"zip_data='!!")) is None
