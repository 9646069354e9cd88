"""The snapshot the directory modules' tests compare before and after a run."""

from __future__ import annotations

import os
import stat


def snapshot(directory):
    """Everything about the directory a write or a removal would change: names, types, modes,
    owners, inodes, modification times and contents, so "nothing changed" means no file was
    even rewritten."""
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    content = handle.read()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            found[os.path.relpath(path, directory)] = (
                stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                st.st_ino, st.st_mtime_ns, content,
            )
    return found
