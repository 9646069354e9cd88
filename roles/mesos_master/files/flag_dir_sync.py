# Makes a flag directory (one file per flag, the file's content is the flag's value) hold
# exactly the given flags, in one step instead of one task per flag.
# Reads JSON on stdin: {"dir": PATH, "flags": {NAME: CONTENT}, "modes": {NAME: "0600"},
# "default_mode": "0644", "check": BOOL}. Writes only files whose content or mode differ,
# removes every other entry of the directory, and prints {"written": [...], "removed": [...]}.
# With "check" it changes nothing and reports what it would do.
import json
import os
import shutil
import stat
import sys
import tempfile

request = json.load(sys.stdin)
directory = request["dir"]
flags = request["flags"]
modes = request.get("modes", {})
default_mode = int(request.get("default_mode", "0644"), 8)
check = bool(request.get("check"))
written, removed = [], []

for name, content in sorted(flags.items()):
    if "/" in name or name in ("", ".", ".."):
        sys.exit(f"invalid flag name {name!r}")
    path = os.path.join(directory, name)
    data = content.encode("utf-8")
    mode = int(modes.get(name, ""), 8) if modes.get(name) else default_mode
    try:
        st = os.lstat(path)
        with open(path, "rb") as handle:
            same = stat.S_ISREG(st.st_mode) and handle.read() == data and stat.S_IMODE(st.st_mode) == mode
        same = same and st.st_uid == 0 and st.st_gid == 0
    except FileNotFoundError:
        same = False
    if same:
        continue
    written.append(name)
    if check:
        continue
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".flag-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.chown(tmp, 0, 0)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

for name in sorted(os.listdir(directory)):
    if name in flags:
        continue
    removed.append(name)
    if check:
        continue
    path = os.path.join(directory, name)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)

print(json.dumps({"written": written, "removed": removed}))
