"""A stand-in for systemd, for running the haproxy role's restart and reload tasks on local hosts.

`FakeSystemd(tmp)` writes a `systemctl` program into tmp/bin (put first on the play's PATH) that
answers `show` from a state file and records `restart` and `reload` instead of doing them; the
role's tasks run unmodified with the real mesosphere.cluster.pending_restart and
ansible.builtin.systemd_service modules. haproxy.service's main process is a real process, a
small master that starts a child "worker" when it starts and on each SIGUSR2, as HAProxy's
master does on `systemctl reload`, so that pending_restart reads the workers' starts from /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

MASTER = r"""
import os, signal, sys, time

def worker(*_):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        time.sleep(600)
        os._exit(0)
    with open(sys.argv[1] + ".tmp", "w") as handle:
        handle.write(str(pid))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])

signal.signal(signal.SIGUSR2, worker)
worker()
while True:
    signal.pause()
"""

SYSTEMCTL = r"""#!{python}
import fcntl, json, os, signal, sys, time

STATE, RECORD, INSIDE, SEEN = {state!r}, {record!r}, {inside!r}, {seen!r}
args = [a for a in sys.argv[1:] if not a.startswith("-")]
props = [a for a in sys.argv[1:] if a.startswith("--property=")]
verb, unit = args[0], args[1].strip("'")

def load():
    with open(STATE) as handle:
        return json.load(handle)

def mono(epoch):
    return int((time.monotonic() - (time.time() - epoch)) * 1e6)

if verb == "show":
    units = load()
    if unit not in units:
        print("Id=%s\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n"
              "ExecMainStartTimestampMonotonic=0\nActiveEnterTimestampMonotonic=0\nMainPID=0" % unit)
        sys.exit(0)
    u = units[unit]
    active = "active" if u["active"] else "inactive"
    print("Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=%s\nUnitFileState=enabled\n"
          "ExecMainStartTimestampMonotonic=%d\nActiveEnterTimestampMonotonic=%d\nMainPID=%d"
          % (unit, active, "running" if u["active"] else "dead", mono(u["started"]), mono(u["started"]),
             u.get("main_pid", 0)))
    sys.exit(0)

if verb in ("restart", "reload"):
    mine = os.path.join(INSIDE, str(os.getpid()))
    open(mine, "w").close()
    with open(SEEN, "a") as handle:
        handle.write("%d\n" % len(os.listdir(INSIDE)))
    time.sleep(0.5)
    with open(SEEN, "a") as handle:
        handle.write("%d\n" % len(os.listdir(INSIDE)))
    os.unlink(mine)
    with open(STATE + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        units = load()
        u = units[unit]
        if verb == "restart":
            u["started"] = time.time()
        with open(STATE + ".tmp", "w") as handle:
            json.dump(units, handle)
        os.replace(STATE + ".tmp", STATE)
        if u.get("main_pid"):  # a restart or a reload: the master starts a new worker
            before = open(u["worker_file"]).read()
            os.kill(u["main_pid"], signal.SIGUSR2)
            for _ in range(200):
                if open(u["worker_file"]).read() != before:
                    break
                time.sleep(0.02)
    with open(RECORD, "a") as handle:
        handle.write("%s %s\n" % (verb, unit))
    sys.exit(0)

if verb in ("daemon-reload",):
    sys.exit(0)
sys.stderr.write("fake systemctl: %s is not faked\n" % " ".join(sys.argv[1:]))
sys.exit(1)
"""


class FakeSystemd:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.state = tmp / "systemd.json"
        self.record = tmp / "systemctl.log"
        self.inside = tmp / "inside"
        self.inside.mkdir()
        self.seen = tmp / "seen"
        self.worker_file = tmp / "worker.pid"
        self.master = subprocess.Popen([sys.executable, "-c", MASTER, str(self.worker_file)],
                                       start_new_session=True)
        for _attempt in range(200):
            if self.worker_file.exists():
                break
            time.sleep(0.02)
        now = time.time()
        self.units = {
            "haproxy.service": {"active": True, "started": now, "main_pid": self.master.pid,
                                "worker_file": str(self.worker_file)},
            "haproxy-marathon-sync.service": {"active": True, "started": now},
        }
        self.state.write_text(json.dumps(self.units))
        systemctl = self.bin / "systemctl"
        systemctl.write_text(SYSTEMCTL.format(python=sys.executable, state=str(self.state), record=str(self.record),
                                              inside=str(self.inside), seen=str(self.seen)))
        systemctl.chmod(0o755)

    @property
    def path(self) -> str:
        return f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"

    def calls(self) -> list[str]:
        return self.record.read_text().splitlines() if self.record.exists() else []

    def concurrency(self) -> list[int]:
        return [int(line) for line in self.seen.read_text().split()] if self.seen.exists() else []

    def close(self) -> None:
        os.killpg(self.master.pid, signal.SIGKILL)  # the master and its workers: one session
        self.master.wait()
