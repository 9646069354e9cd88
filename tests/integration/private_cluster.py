"""A private stand-in Mesos cluster for integration tests that change cluster-wide state (roles,
quota, reservations) or kill agents: one master, agents sized per test, optionally one Marathon,
on the session ZooKeeper under znode paths of its own."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
import uuid
from pathlib import Path

from harness import StandinProcess, free_port
from integration_helpers import http_json, start_mesos_master

_paths = itertools.count(1)


class PrivateCluster:
    def __init__(self, zk, tmpdir: Path, master_args: list[str] | None = None, auth: tuple[str, str] | None = None):
        self.zk = zk
        self.tmpdir = tmpdir
        tag = f"{next(_paths)}-{uuid.uuid4().hex[:6]}"
        self.mesos_zk = zk.url(f"/mesos-roles-{tag}")
        self.marathon_zk = zk.url(f"/marathon-roles-{tag}")
        self.procs: list[StandinProcess] = []
        self.agents: dict[str, StandinProcess] = {}
        self.auth = auth
        self.master = start_mesos_master(self.mesos_zk, tmpdir / "master" / "work", quorum=1,
                                         extra_args=master_args)
        self.procs.append(self.master)
        self.master.wait_http("/master/health", timeout=30)
        self.endpoint = self.master.url("").rstrip("/")
        assert self.wait(lambda: self.get("/master/state")[0] == 200, 30), self.master.log_tail()
        self.marathon = None

    def get(self, path):
        if not self.auth:
            return http_json(self.endpoint + path)
        import base64
        import json
        import urllib.request

        token = base64.b64encode(("%s:%s" % self.auth).encode()).decode()
        req = urllib.request.Request(self.endpoint + path, headers={"Authorization": "Basic " + token})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")

    @staticmethod
    def wait(predicate, timeout, interval=0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                value = predicate()
                if value:
                    return value
            time.sleep(interval)
        return None

    def agent(self, name, cpus, ports):
        port = free_port()
        workdir = self.tmpdir / name / "work"
        workdir.mkdir(parents=True)
        proc = StandinProcess("mesos_agent", [
            "--ip=127.0.0.1", f"--port={port}", f"--hostname={name}", f"--master={self.mesos_zk}",
            f"--work_dir={workdir}", "--zk_session_timeout=3secs", "--recovery_timeout=5secs",
            f"--resources=cpus:{cpus};mem:1024;disk:100;ports:{ports}"], None, port=port,
            log_path=workdir.parent / "agent.log")
        self.procs.append(proc)
        self.agents[name] = proc
        proc.wait_http("/health", timeout=30)
        assert self.wait(lambda: self.agent_id(name), 30), proc.log_tail()
        return proc

    def agent_id(self, name):
        return next((s["id"] for s in self.get("/master/slaves")[1]["slaves"] if s["hostname"] == name), None)

    def kill_agent(self, name):
        """The machine dies: the agent and every task it started."""
        self.agents[name].kill()
        folder = str((self.tmpdir / name).resolve())
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/cwd").startswith(folder):
                        os.kill(int(pid), signal.SIGKILL)

    def start_marathon(self):
        port = free_port()
        self.marathon = StandinProcess("marathon", [
            f"--master={self.mesos_zk}", f"--zk={self.marathon_zk}", "--hostname=127.0.0.1",
            "--http_address=127.0.0.1", f"--http_port={port}", "--zk_session_timeout=3000",
            # one instance per app and offer: the allocator decides after every launch
            "--max_instances_per_offer=1"], {"STANDIN_TICK_SECONDS": "0.5"}, port=port,
            log_path=self.tmpdir / "marathon.log")
        self.procs.append(self.marathon)
        self.marathon.wait_http("/ping", timeout=30, statuses=(200,))
        return self.marathon.url("").rstrip("/")

    def tasks(self, role=None, state="TASK_RUNNING"):
        tasks = self.get("/master/tasks?limit=1000")[1]["tasks"]
        return [t for t in tasks if (role is None or t["role"] == role) and (state is None or t["state"] == state)]

    def close(self):
        if self.marathon is not None:
            with contextlib.suppress(Exception):
                http_json(self.marathon.url("/v2/apps/prod/web"), method="DELETE")
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.kill()
        for name in self.agents:
            with contextlib.suppress(Exception):
                self.kill_agent(name)
