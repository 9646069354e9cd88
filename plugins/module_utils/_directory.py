# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private engine of the flag_directory and directory_files modules.

This is private to the mesosphere.cluster collection; it may change without notice.

Makes a directory hold exactly the wanted files (name to bytes), each with its mode, owner and
group: it reads each file first and writes only those that differ, through a temporary file in
the directory renamed into place (a service never reads half a file), and removes every other
entry except those it is told to keep. Standard library only.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import stat
import tempfile
from typing import Any

SECRET_MODE = 0o600
MASK = "********"
# Entries larger than this are not read for the diff.
DIFF_LIMIT = 64 * 1024


class DirectoryError(Exception):
    """A failure with a sentence for a person."""


def check_name(name: str, noun: str) -> None:
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise DirectoryError(
            "invalid %s name %r: a %s name becomes a file name, so it may not be empty, '.' or '..', "
            "nor contain '/'." % (noun, name, noun)
        )


def render_flag(name: str, value: Any) -> bytes:
    """The bytes of a flag file: the value and a newline (booleans as true and false)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        kind = "null" if value is None else type(value).__name__
        raise DirectoryError(
            "flag %r has a %s value; give its text (a string, number or boolean), for example with to_json."
            % (name, kind)
        )
    return (text + "\n").encode("utf-8")


def parse_mode(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-7]{1,4}", value):
        return int(value, 8)
    raise DirectoryError("mode must be an octal number like '0644', got %r." % (value,))


def resolve_user(name: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise DirectoryError("owner %r is not a user on this host." % name) from None


def resolve_group(name: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise DirectoryError("group %r is not a group on this host." % name) from None


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _kind(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    return "special file"


class Entry:
    """What one name in the directory is now: its stat and, for a regular file, its bytes."""

    def __init__(self, path: str, read_limit: int | None = None) -> None:
        self.st = os.lstat(path)
        self.data: bytes | None = None
        self.regular = stat.S_ISREG(self.st.st_mode)
        if self.regular and (read_limit is None or self.st.st_size <= read_limit):
            with open(path, "rb") as handle:
                self.data = handle.read()

    def matches(self, data: bytes, mode: int, uid: int, gid: int) -> bool:
        return (
            self.regular
            and self.data == data
            and stat.S_IMODE(self.st.st_mode) == mode
            and self.st.st_uid == uid
            and self.st.st_gid == gid
        )

    def view(self, secret: bool) -> dict[str, str]:
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


class Directory:
    """A directory made to hold exactly `wanted` ({name: bytes}), leaving the names in `keep`.

    `noun` names an entry in messages ("flag", "file"); `create` makes a missing directory
    (mode 0755, the same owner) instead of refusing it; `prune=False` leaves every other entry.
    """

    def __init__(
        self,
        path: str,
        wanted: dict[str, bytes],
        *,
        noun: str,
        mode: Any = "0644",
        owner: str = "root",
        group: str = "root",
        secret: set[str] | None = None,
        keep: set[str] | None = None,
        prune: bool = True,
        create: bool = False,
        check_mode: bool = False,
        diff: bool = False,
    ) -> None:
        self.path = path
        self.noun = noun
        self.mode = parse_mode(mode)
        self.uid = resolve_user(owner)
        self.gid = resolve_group(group)
        self.secret = secret or set()
        self.keep = keep or set()
        self.prune = prune
        self.create = create
        self.check_mode = check_mode
        self.diff = diff
        for name in wanted:
            check_name(name, noun)
        self.wanted = dict(sorted(wanted.items()))

    def _where(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _listing(self) -> tuple[list[str], bool]:
        """The directory's names, and whether it must be created."""
        try:
            if not stat.S_ISDIR(os.stat(self.path).st_mode):
                raise DirectoryError("%s is not a directory." % self.path)
            return sorted(os.listdir(self.path)), False
        except FileNotFoundError:
            if self.create:
                return [], True
            if self.check_mode:
                return [], False  # a task before this one would create it
            raise DirectoryError(
                "the %s directory %s does not exist; create it first (ansible.builtin.file with "
                "state=directory)." % (self.noun, self.path)
            ) from None
        except OSError as exc:
            raise DirectoryError(
                "Could not read the %s directory %s: %s." % (self.noun, self.path, exc.strerror)
            ) from None

    def _make(self) -> None:
        try:
            os.makedirs(self.path, mode=0o755)
            os.chown(self.path, self.uid, self.gid)
            os.chmod(self.path, 0o755)
        except OSError as exc:
            raise DirectoryError("Could not create the directory %s: %s." % (self.path, exc.strerror)) from None

    def _read(self, name: str, limit: int | None = None) -> Entry | None:
        try:
            return Entry(self._where(name), limit)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DirectoryError("Could not read %s: %s." % (self._where(name), exc.strerror)) from None

    def _write(self, name: str, data: bytes, mode: int, current: Entry | None) -> None:
        target = self._where(name)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".%s-" % self.noun)
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
            raise DirectoryError(
                "Could not write the %s %s to %s: %s." % (self.noun, name, target, exc.strerror)
            ) from None
        finally:
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)

    def _remove(self, name: str) -> None:
        target = self._where(name)
        try:
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise DirectoryError(
                "Could not remove %s, which is not a wanted %s: %s." % (target, self.noun, exc.strerror)
            ) from None

    def _after(self, name: str, data: bytes, mode: int) -> dict[str, str]:
        return dict(
            content=data.decode("utf-8", errors="replace") if name not in self.secret else MASK,
            mode="%04o" % mode,
            owner="%s:%s" % (_user_name(self.uid), _group_name(self.gid)),
        )

    def run(self) -> dict[str, Any]:
        listing, missing = self._listing()
        if missing and not self.check_mode:
            self._make()
        present = set(listing)
        written: list[str] = []
        removed: list[str] = []
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}

        for name, data in self.wanted.items():
            mode = SECRET_MODE if name in self.secret else self.mode
            # A file longer than the wanted one (plus room for the diff) differs without reading all of it.
            current = self._read(name, max(len(data), DIFF_LIMIT)) if name in present else None
            secret = name in self.secret
            if current is not None and self.diff:
                before[name] = current.view(secret)
            if self.diff:
                after[name] = self._after(name, data, mode)
            if current is not None and current.matches(data, mode, self.uid, self.gid):
                continue
            written.append(name)
            if self.diff and secret and current is not None and current.data != data:
                after[name]["content"] = MASK + " (changed)"
            if not self.check_mode:
                self._write(name, data, mode, current)

        for name in listing:
            if name in self.wanted or name in self.keep or not self.prune:
                continue
            removed.append(name)
            if self.diff:
                current = self._read(name, DIFF_LIMIT)
                if current is not None:
                    before[name] = current.view(False)
            if not self.check_mode:
                self._remove(name)

        result: dict[str, Any] = dict(
            changed=bool(written or removed or missing), path=self.path, written=written, removed=removed
        )
        if self.diff:
            result["diff"] = dict(before=before, after=after, before_header=self.path, after_header=self.path)
        return result
