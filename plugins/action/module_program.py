# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Action of the module_program module: a module, packaged with its arguments as Ansible sends it
to a host, written there as a program that systemd (or a person) can run without Ansible."""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import os
import re
import shutil
import tempfile
import zipfile
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

OPTIONS = {"module", "module_args", "dest", "mode"}
# The lines of Ansible's wrapper that say what it runs (the build time beside them differs on
# every build, and so do the times inside the zip).
WRAPPER_FIELD = re.compile(rb"^(ansible_module|params|zip_data)=(.*),$", re.MULTILINE)


def program_identity(data: bytes) -> tuple[Any, ...] | None:
    """What a packaged program runs: its module, its arguments and the SHA-256 of every file of its
    code, so that two builds of the same are the same whatever their build times; None when
    `data` is not such a program."""
    fields = {}
    for match in WRAPPER_FIELD.finditer(data):
        try:
            fields[match.group(1).decode()] = ast.literal_eval(match.group(2).decode())
        except (ValueError, SyntaxError):
            return None
    if set(fields) != {"ansible_module", "params", "zip_data"}:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(fields["zip_data"], validate=True))) as archive:
            files = sorted((name, hashlib.sha256(archive.read(name)).hexdigest()) for name in archive.namelist())
    except (ValueError, zipfile.BadZipFile):
        return None
    return fields["ansible_module"], fields["params"], tuple(files)


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        unknown = sorted(set(args) - OPTIONS)
        if unknown:
            raise AnsibleActionFail(
                "module_program does not take %s; it takes %s." % (", ".join(unknown), ", ".join(sorted(OPTIONS))))
        module = args.get("module")
        dest = args.get("dest")
        if not module or not dest:
            raise AnsibleActionFail("module_program needs module (the module to package) and dest (where to write it).")
        module_args = dict(args.get("module_args") or {})
        # Ansible's own packaging of the module (AnsiballZ): the module, the module_utils it
        # imports and its arguments, in one Python program that runs the module when started.
        built, _module_path = self._configure_module(module, module_args, task_vars)
        if built.module_style != "new":
            raise AnsibleActionFail("module_program packages Python modules only; %s is not one." % module)
        current = self._execute_module("ansible.legacy.slurp", dict(src=dest), task_vars=task_vars)
        if not current.get("failed") and current.get("content"):
            existing = base64.b64decode(current["content"])
            if program_identity(existing) is not None and program_identity(existing) == program_identity(
                    built.b_module_data):
                result.update(changed=False, dest=dest, module=module)
                return result
        if not self._task.check_mode:
            folder = self._execute_module("ansible.legacy.file", dict(path=os.path.dirname(dest), state="directory"),
                                          task_vars=task_vars)
            if folder.get("failed"):
                raise AnsibleActionFail("Could not create the folder of %s: %s" % (dest, folder.get("msg")))
        local_tempdir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            program = os.path.join(local_tempdir, "program")
            with open(to_bytes(program), "wb") as handle:
                handle.write(built.b_module_data)
            new_task = self._task.copy()
            new_task.args = dict(src=program, dest=dest, mode=args.get("mode", "0700"), owner="root", group="root")
            new_task.diff = False  # the program is the module's zipped code: no diff a person reads
            copy_action = self._shared_loader_obj.action_loader.get(
                "ansible.legacy.copy", task=new_task, connection=self._connection, play_context=self._play_context,
                loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
            result.update(copy_action.run(task_vars=task_vars))
        finally:
            shutil.rmtree(local_tempdir, ignore_errors=True)
        result["module"] = module
        result.pop("invocation", None)  # the program holds the module's arguments, secrets among them
        return result
