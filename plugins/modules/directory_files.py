#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: directory_files
short_description: Make a directory hold exactly the given files, in one task
version_added: "0.2.0"
description:
  - Writes every file of O(files) into O(path) with the content given, and removes every other
    entry of the directory except those named in O(keep), so no stale file survives (a module
    the package no longer has, say).
  - One task for the whole directory, where a loop of M(ansible.builtin.copy) costs a round trip
    per file and host. It reads each file first and writes only those whose content, mode, owner
    or group differ, through a temporary file renamed into place.
  - Runs on the managed host with the Python standard library only.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Reads the directory and reports what would be written and removed; changes nothing.
  diff_mode:
    support: full
    description: Shows every entry of the directory before and every file after, with its content, mode and owner.
  platform:
    platforms: posix
options:
  path:
    description:
      - The directory. A missing one is created with its missing parents (mode C(0755); the
        directory itself owned by O(owner) and O(group)).
      - Every entry in it that is neither in O(files) nor in O(keep) is removed, subdirectories included.
    type: path
    required: true
  files:
    description:
      - File name to content. Each becomes the file O(path)/NAME holding exactly the content
        (UTF-8), with no newline added; read files from the controller with
        C(lookup('ansible.builtin.file', ..., rstrip=false)) to keep their last newline.
      - A name may not be empty, V(.) or V(..), nor contain C(/).
    type: dict
    required: true
  keep:
    description: Names of entries left alone although not in O(files), like V(__pycache__).
    type: list
    elements: str
    default: []
  mode:
    description: Mode of the files, as an octal string like V('0644') (quote it) or as a number.
    type: raw
    default: "0644"
  owner:
    description: User that owns the files, by name or numeric id.
    type: str
    default: root
  group:
    description: Group of the files, by name or numeric id.
    type: str
    default: root
notes:
  - Temporary files are named C(.file-*); one left behind by an interrupted run is removed by the next.
  - The contents travel as the module's arguments, so this suits a package of source files, not
    large binaries.
seealso:
  - module: mesosphere.cluster.flag_directory
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Install a Python package's modules, and only those
  mesosphere.cluster.directory_files:
    path: /usr/lib/haproxy-marathon-sync/marathon_haproxy_sync
    # Python adds __pycache__ next to the modules while the program runs.
    keep: [__pycache__]
    files: "{{ dict(names | zip(query('ansible.builtin.file', *sources, rstrip=false))) }}"
  vars:
    names: [__init__.py, __main__.py, daemon.py]
    sources: "{{ names | map('regex_replace', '^', 'marathon_haproxy_sync/') }}"
"""

RETURN = r"""
path:
  description: The directory, as given.
  returned: always
  type: str
  sample: /usr/lib/haproxy-marathon-sync/marathon_haproxy_sync
written:
  description: Names of the files written (in check mode, that would be written), sorted.
  returned: always
  type: list
  elements: str
  sample: [daemon.py]
removed:
  description: Names of the other entries removed (in check mode, that would be removed), sorted.
  returned: always
  type: list
  elements: str
  sample: [old_module.py]
diff:
  description: Entry name to its content, mode and owner (C(user:group)) before, and file name to the same after.
  returned: when diff mode is on
  type: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils._directory import Directory, DirectoryError


def run(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    wanted = {}
    for name, content in params["files"].items():
        if not isinstance(content, str):
            kind = "null" if content is None else type(content).__name__
            raise DirectoryError("file %r has a %s content; give its text." % (name, kind))
        wanted[name] = content.encode("utf-8")
    return Directory(
        params["path"],
        wanted,
        noun="file",
        mode=params["mode"],
        owner=params["owner"],
        group=params["group"],
        keep=set(params["keep"]),
        create=True,
        check_mode=module.check_mode,
        diff=module._diff,
    ).run()


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="dict", required=True),
            keep=dict(type="list", elements="str", default=[]),
            mode=dict(type="raw", default="0644"),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
        ),
        supports_check_mode=True,
    )
    # fail_json is called outside the except blocks: the errors are sentences, not tracebacks.
    error = None
    result: dict[str, Any] = {}
    try:
        result = run(module)
    except DirectoryError as exc:
        error = str(exc)
    if error:
        module.fail_json(msg=error, path=module.params["path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
