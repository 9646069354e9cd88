#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: flag_directory
short_description: Make a directory hold exactly the given flags, one file per flag
version_added: "0.1.0"
description:
  - The Mesos and Chronos packages read their flags from a directory with one file per flag,
    named after the flag and holding its value (C(/usr/bin/mesos-init-wrapper) turns
    C(/etc/mesos-master/quorum) into C(--quorum=2); a Chronos file C(?name) is a bare boolean flag).
  - This module makes such a directory hold exactly O(flags). It writes one file per flag, with the
    value and a newline, and removes every other entry of the directory, so no stale flag survives.
  - It reads each file first and writes only those whose content, mode, owner or group differ.
    Each write goes to a temporary file in the directory, which is renamed into place, so a service
    never reads a half-written flag.
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
    description:
      - Shows every entry of the directory before and every flag after, with its content, mode and owner.
      - The content of O(secret_flags), and of existing files that only their owner may read, is masked.
  platform:
    platforms: posix
options:
  path:
    description:
      - The flag directory, like V(/etc/mesos-master). It must exist (in check mode a missing
        directory counts as empty).
      - Every entry in it that is not a flag of O(flags) is removed, subdirectories included.
    type: path
    required: true
  flags:
    description:
      - Flag name to value. Each flag becomes the file O(path)/NAME holding the value followed by a newline.
      - A string is written as it is, a boolean as V(true) or V(false), a number as written.
        A value that is null, a list or a dictionary is refused (render it to the text the service
        expects, for example with C(to_json)).
      - A name becomes a file name, so it may not be empty, V(.) or V(..), nor contain C(/).
    type: dict
    required: true
  secret_flags:
    description:
      - Names of flags whose values are secret (a ZooKeeper URL with a password, HTTP credentials).
        Their files get mode C(0600) and their values are masked in the result and the diff.
      - A name that is not in O(flags) is ignored.
      - The values are still part of the module's arguments; set C(no_log) on the task to keep them
        out of the controller's output and the managed host's log.
    type: list
    elements: str
    default: []
  mode:
    description:
      - Mode of the flag files other than O(secret_flags), as an octal string like V('0644') (quote
        it, or YAML may read it as a decimal number) or as a number.
    type: raw
    default: "0644"
  owner:
    description: User that owns the flag files, by name or numeric id.
    type: str
    default: root
  group:
    description: Group of the flag files, by name or numeric id.
    type: str
    default: root
notes:
  - Flag files hold only the value, so they carry no "managed by Ansible" header.
  - Temporary files are named C(.flag-*); one left behind by an interrupted run is removed by the next.
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the Mesos master's flags, removing any other file in /etc/mesos-master
  mesosphere.cluster.flag_directory:
    path: /etc/mesos-master
    flags:
      zk: "zk://mesos:{{ vault_zk_password }}@zk1:2181,zk2:2181,zk3:2181/mesos"
      quorum: 2
      work_dir: /var/lib/mesos
      authenticate_agents: false
    secret_flags: [zk]
  no_log: true
  register: master_flags
  notify: Restart mesos-master

- name: Chronos reads a file ?NAME as a bare boolean flag
  mesosphere.cluster.flag_directory:
    path: /etc/chronos/conf
    flags:
      http_port: 4400
      "?mesos_checkpoint": ""
"""

RETURN = r"""
path:
  description: The flag directory, as given.
  returned: always
  type: str
  sample: /etc/mesos-master
written:
  description: Names of the flags written (in check mode, that would be written), sorted.
  returned: always
  type: list
  elements: str
  sample: [quorum, zk]
removed:
  description: Names of the other entries removed from the directory (in check mode, that would be removed), sorted.
  returned: always
  type: list
  elements: str
  sample: [ip]
diff:
  description:
    - Entry name to its content, mode and owner (C(user:group)) before, and flag name to the same
      after. An entry that is not a regular file shows its C(type) instead of a content.
  returned: when diff mode is on
  type: dict
  sample:
    before: {"quorum": {"content": "1\n", "mode": "0644", "owner": "root:root"}}
    after: {"quorum": {"content": "2\n", "mode": "0644", "owner": "root:root"}}
    before_header: /etc/mesos-master
    after_header: /etc/mesos-master
"""

import grp
import os
import pwd
import re
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

SECRET_MODE = 0o600
MASK = "********"
# Entries larger than this are not read for the diff: a flag is a line, not a file to show.
DIFF_LIMIT = 64 * 1024


class FlagError(Exception):
    """A failure with a sentence for a person."""


def render(name, value):
    """The bytes of the flag file, as the roles rendered them before this module existed."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        kind = "null" if value is None else type(value).__name__
        raise FlagError(
            "flag %r has a %s value; give its text (a string, number or boolean), for example with to_json."
            % (name, kind)
        )
    return (text + "\n").encode("utf-8")


def check_name(name):
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise FlagError(
            "invalid flag name %r: a flag name becomes a file name, so it may not be empty, '.' or '..', "
            "nor contain '/'." % name
        )


def parse_mode(value):
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-7]{1,4}", value):
        return int(value, 8)
    raise FlagError("mode must be an octal number like '0644', got %r." % (value,))


def resolve_user(name):
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise FlagError("owner %r is not a user on this host." % name) from None


def resolve_group(name):
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise FlagError("group %r is not a group on this host." % name) from None


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _kind(st):
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    return "special file"


class Entry:
    """What one name in the directory is now: its stat and, for a regular file, its bytes."""

    def __init__(self, path, read_limit=None):
        self.st = os.lstat(path)
        self.data = None
        self.regular = stat.S_ISREG(self.st.st_mode)
        if self.regular and (read_limit is None or self.st.st_size <= read_limit):
            with open(path, "rb") as handle:
                self.data = handle.read()

    def matches(self, data, mode, uid, gid):
        return (
            self.regular
            and self.data == data
            and stat.S_IMODE(self.st.st_mode) == mode
            and self.st.st_uid == uid
            and self.st.st_gid == gid
        )

    def view(self, secret):
        """The entry for the diff; secret content (or content only the owner may read) is masked."""
        owner = "%s:%s" % (_user_name(self.st.st_uid), _group_name(self.st.st_gid))
        mode = "%04o" % stat.S_IMODE(self.st.st_mode)
        if not self.regular:
            return dict(type=_kind(self.st), mode=mode, owner=owner)
        if secret or not self.st.st_mode & (stat.S_IRGRP | stat.S_IROTH):
            content = MASK
        elif self.data is None:
            content = "(%d bytes, not shown)" % self.st.st_size
        else:
            content = self.data.decode("utf-8", errors="replace")
        return dict(content=content, mode=mode, owner=owner)


class FlagDirectory:
    def __init__(self, module):
        params = module.params
        self.module = module
        self.path = params["path"]
        self.check_mode = module.check_mode
        self.secret = set(params["secret_flags"])
        self.mode = parse_mode(params["mode"])
        self.owner, self.group = params["owner"], params["group"]
        self.uid = resolve_user(self.owner)
        self.gid = resolve_group(self.group)
        self.wanted = {}
        for name, value in sorted(params["flags"].items()):
            check_name(name)
            self.wanted[name] = render(name, value)
            text = self.wanted[name].decode("utf-8")[:-1]
            if name in self.secret and text:
                module.no_log_values.add(text)

    def _where(self, name):
        return os.path.join(self.path, name)

    def _listing(self):
        try:
            if not stat.S_ISDIR(os.stat(self.path).st_mode):
                raise FlagError("%s is not a directory." % self.path)
            return sorted(os.listdir(self.path))
        except FileNotFoundError:
            if self.check_mode:
                return []  # a task before this one would create it
            raise FlagError(
                "the flag directory %s does not exist; create it first (ansible.builtin.file with "
                "state=directory)." % self.path
            ) from None
        except OSError as exc:
            raise FlagError("Could not read the flag directory %s: %s." % (self.path, exc.strerror)) from None

    def _read(self, name, limit=None):
        try:
            return Entry(self._where(name), limit)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise FlagError("Could not read %s: %s." % (self._where(name), exc.strerror)) from None

    def _write(self, name, data, mode, current):
        target = self._where(name)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".flag-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chown(tmp, self.uid, self.gid)
            os.chmod(tmp, mode)
            if current is not None and stat.S_ISDIR(current.st.st_mode):
                shutil.rmtree(target)
            os.replace(tmp, target)
            tmp = None
        except OSError as exc:
            raise FlagError("Could not write the flag %s to %s: %s." % (name, target, exc.strerror)) from None
        finally:
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)

    def _remove(self, name):
        target = self._where(name)
        try:
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise FlagError("Could not remove %s, which is not a wanted flag: %s." % (target, exc.strerror)) from None

    def _after(self, name, data, mode):
        content = data.decode("utf-8")
        return dict(
            content=content if name not in self.secret else MASK,
            mode="%04o" % mode,
            owner="%s:%s" % (_user_name(self.uid), _group_name(self.gid)),
        )

    def run(self):
        listing = self._listing()
        present = set(listing)
        written, removed, before, after = [], [], {}, {}
        diff = self.module._diff

        for name, data in self.wanted.items():
            mode = SECRET_MODE if name in self.secret else self.mode
            # A file longer than the flag (plus room for the diff) differs without reading all of it.
            current = self._read(name, max(len(data), DIFF_LIMIT)) if name in present else None
            secret = name in self.secret
            if current is not None and diff:
                before[name] = current.view(secret)
            if diff:
                after[name] = self._after(name, data, mode)
            if current is not None and current.matches(data, mode, self.uid, self.gid):
                continue
            written.append(name)
            if diff and secret and current is not None and current.data != data:
                after[name]["content"] = MASK + " (changed)"
            if not self.check_mode:
                self._write(name, data, mode, current)

        for name in listing:
            if name in self.wanted:
                continue
            removed.append(name)
            if diff:
                current = self._read(name, DIFF_LIMIT)
                if current is not None:
                    before[name] = current.view(False)
            if not self.check_mode:
                self._remove(name)

        result = dict(changed=bool(written or removed), path=self.path, written=written, removed=removed)
        if diff:
            result["diff"] = dict(before=before, after=after, before_header=self.path, after_header=self.path)
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            flags=dict(type="dict", required=True),
            secret_flags=dict(type="list", elements="str", default=[], no_log=False),
            mode=dict(type="raw", default="0644"),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
        ),
        supports_check_mode=True,
    )
    # fail_json is called outside the except blocks: the errors are sentences, not tracebacks.
    error = None
    result = None
    try:
        result = FlagDirectory(module).run()
    except FlagError as exc:
        error = str(exc)
    if error:
        module.fail_json(msg=error, path=module.params["path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
