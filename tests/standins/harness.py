"""Test harness: a real ZooKeeper ensemble and stand-in processes on 127.0.0.1.

* :class:`ZooKeeperEnsemble` runs ZooKeeper servers from the Debian
  ``zookeeper`` package (``/usr/share/java/zookeeper.jar``) on free ports.
* :class:`StandinProcess` runs ``python -m mesosphere_standins.<module>``
  with PYTHONPATH pointing at this folder and its output in a log file.
* :func:`free_port` picks an unused TCP port on 127.0.0.1.

Everything binds to 127.0.0.1, lives in a temp dir given by the caller and
is cleaned up by ``close()``/``kill()``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZOOKEEPER_JARS = ("/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar")
ZOOKEEPER_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

_used_ports: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (never the same twice in this process)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in _used_ports:
            _used_ports.add(port)
            return port
    raise RuntimeError("no free port found")


def four_letter_word(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(word.encode("ascii"))
        chunks = []
        while True:
            data = sock.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def zookeeper_available() -> bool:
    return Path(ZOOKEEPER_JARS[0]).exists() and bool(_which("java"))


def _which(program: str) -> str | None:
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / program
        if candidate.exists() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


class ZooKeeperEnsemble:
    """``size`` real ZooKeeper servers on 127.0.0.1 (quorum mode when size > 1).

    ``tick_ms`` is small so that short session timeouts are allowed (ZooKeeper
    clamps a session timeout to [2, 20] ticks).
    """

    def __init__(self, size: int = 3, tmpdir: str | os.PathLike | None = None, *, tick_ms: int = 250,
                 start: bool = True, ready_timeout: float = 60.0):
        import tempfile

        self.size = size
        self.tick_ms = tick_ms
        self._own_tmp = tmpdir is None
        self.tmpdir = Path(tmpdir or tempfile.mkdtemp(prefix="zk-ensemble-"))
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.client_ports = [free_port() for _ in range(size)]
        self.quorum_ports = [(free_port(), free_port()) for _ in range(size)]
        self.procs: list[subprocess.Popen | None] = [None] * size
        self._logs: list = [None] * size
        for i in range(size):
            self._write_config(i)
        if start:
            try:
                for i in range(size):
                    self.start(i, wait=False)
                self.wait_ready(timeout=ready_timeout)
            except Exception:
                self.close()
                raise

    @property
    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def url(self, path: str) -> str:
        return f"zk://{self.hosts}/{path.lstrip('/')}"

    def _server_dir(self, i: int) -> Path:
        return self.tmpdir / f"zk{i + 1}"

    def _write_config(self, i: int) -> None:
        folder = self._server_dir(i)
        (folder / "data").mkdir(parents=True, exist_ok=True)
        lines = [
            f"tickTime={self.tick_ms}",
            "initLimit=20",
            "syncLimit=10",
            f"dataDir={folder / 'data'}",
            f"clientPort={self.client_ports[i]}",
            "clientPortAddress=127.0.0.1",
            "4lw.commands.whitelist=srvr,ruok,stat,mntr,conf",
            "admin.enableServer=false",
            "maxSessionTimeout=60000",
            "autopurge.purgeInterval=0",
        ]
        if self.size > 1:
            (folder / "data" / "myid").write_text(f"{i + 1}\n")
            for j, (quorum, election) in enumerate(self.quorum_ports):
                lines.append(f"server.{j + 1}=127.0.0.1:{quorum}:{election}")
        (folder / "zoo.cfg").write_text("\n".join(lines) + "\n")

    def start(self, i: int, wait: bool = True, timeout: float = 60.0) -> None:
        if self.procs[i] is not None and self.procs[i].poll() is None:
            return
        folder = self._server_dir(i)
        log = open(folder / "server.log", "ab")  # noqa: SIM115 - kept open for the server's lifetime
        self._logs[i] = log
        cmd = [
            "java",
            "-Xmx96m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dzookeeper.admin.enableServer=false",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            ":".join(ZOOKEEPER_JARS),
            ZOOKEEPER_MAIN,
            str(folder / "zoo.cfg"),
        ]
        self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        if wait:
            self.wait_server(i, timeout)

    def stop(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[i]
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        self.procs[i] = None
        if self._logs[i]:
            self._logs[i].close()
            self._logs[i] = None

    def mode(self, i: int) -> str | None:
        """``leader`` / ``follower`` / ``standalone`` or None when not serving."""
        try:
            text = four_letter_word("127.0.0.1", self.client_ports[i], "srvr", timeout=1.0)
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def wait_server(self, i: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[i]
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper server {i + 1} exited: {self.log_tail(i)}")
            if self.mode(i):
                return
            time.sleep(0.2)
        raise TimeoutError(f"ZooKeeper server {i + 1} not serving after {timeout}s: {self.log_tail(i)}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every running server serves (quorum formed)."""
        for i in range(self.size):
            if self.procs[i] is not None:
                self.wait_server(i, timeout)

    def log_tail(self, i: int, lines: int = 30) -> str:
        path = self._server_dir(i) / "server.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def client(self, timeout: float = 10.0):
        """A started KazooClient on the whole ensemble (caller stops it)."""
        from kazoo.client import KazooClient

        zk = KazooClient(hosts=self.hosts, timeout=timeout)
        zk.start(timeout=30)
        return zk

    def close(self) -> None:
        for i in range(self.size):
            self.stop(i)
        if self._own_tmp:
            import shutil

            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class StandinProcess:
    """``python -m mesosphere_standins.<module> <args>`` with PYTHONPATH set.

    Output (stdout+stderr) goes to ``log_path`` (a temp file unless given).
    ``port``: the HTTP port, for :meth:`wait_http`/:meth:`url` (taken from a
    ``--port=``/``--http_port=`` argument when not given).
    """

    def __init__(self, module: str, args: list[str] | None = None, env: dict[str, str] | None = None, *,
                 port: int | None = None, host: str = "127.0.0.1", log_path: str | os.PathLike | None = None,
                 cwd: str | os.PathLike | None = None, start: bool = True):
        import tempfile

        self.module = module
        self.args = [str(a) for a in (args or [])]
        self.host = host
        self.port = port if port is not None else self._port_from_args(self.args)
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix=f"{module}-", suffix=".log")
            os.close(fd)
        self.log_path = Path(log_path)
        self.extra_env = dict(env or {})
        self.cwd = str(cwd) if cwd else None
        self.proc: subprocess.Popen | None = None
        if start:
            self.start()

    @staticmethod
    def _port_from_args(args: list[str]) -> int | None:
        for i, arg in enumerate(args):
            for name in ("--port", "--http_port"):
                value = None
                if arg.startswith(name + "="):
                    value = arg.split("=", 1)[1]
                elif arg == name and i + 1 < len(args):
                    value = args[i + 1]
                if value is not None and value.isdigit():
                    return int(value)
        return None

    def command(self) -> list[str]:
        # STANDIN_PYTHON picks another interpreter, e.g. /usr/bin/python3 with Debian's python3-kazoo
        python = os.environ.get("STANDIN_PYTHON") or sys.executable
        return [python, "-m", f"mesosphere_standins.{self.module}", *self.args]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "MARATHON_", "CHRONOS_"))}
        env["PYTHONPATH"] = str(HERE) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        return env

    def start(self) -> StandinProcess:
        if self.proc is not None and self.proc.poll() is None:
            return self
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed right after Popen
        try:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.environment(), cwd=self.cwd,
                                         start_new_session=True)
        finally:
            log.close()
        return self

    restart = start

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def _signal_group(self, sig: int) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.proc.pid, sig)  # the stand-in and the tasks it started
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill(self, timeout: float = 10.0) -> int | None:
        """SIGKILL the process (and its process group, i.e. tasks an agent started)."""
        self._signal_group(signal.SIGKILL)
        return self.wait(timeout)

    def terminate(self, timeout: float = 10.0) -> int | None:
        if self.alive():
            self.proc.terminate()  # the program itself; it stops its own tasks
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        if self.proc is None:
            return None
        return self.proc.wait(timeout=timeout)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def wait_http(self, path: str = "/", timeout: float = 30.0, *, port: int | None = None,
                  statuses: tuple[int, ...] | None = None) -> int:
        """Wait until ``GET path`` answers (any status, or one of ``statuses``).
        Returns the status; raises TimeoutError (with the log tail) otherwise."""
        import http.client

        port = port or self.port
        if port is None:
            raise ValueError("no port known for this process")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.module} exited with {self.returncode()}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(self.host, port, timeout=2)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                last = status
                if statuses is None or status in statuses:
                    return status
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.module} {path} not ready (last status {last}):\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def run_standin(module: str, args: list[str], env: dict[str, str] | None = None,
                timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run a stand-in to completion (for flag refusal tests)."""
    proc = StandinProcess(module, args, env, start=False)
    return subprocess.run(proc.command(), env=proc.environment(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
