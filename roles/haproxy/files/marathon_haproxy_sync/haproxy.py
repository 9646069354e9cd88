# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""HAProxy: check and install a configuration, reload, and talk to the running worker."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import subprocess
import tempfile

from .config import Config

LOG = logging.getLogger("marathon-haproxy-sync")


class HAProxy:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def current(self) -> str | None:
        try:
            with open(self.cfg.dynamic_config, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write_candidate(self, text: str) -> str:
        directory = os.path.dirname(os.path.abspath(self.cfg.dynamic_config))
        fd, path = tempfile.mkstemp(prefix=".marathon-candidate-", suffix=".cfg", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, 0o644)
        return path

    def check(self, path: str) -> tuple[bool, str]:
        """Run `haproxy -c` on the base configuration plus the candidate. Returns (ok, output)."""
        cmd = [self.cfg.haproxy_bin, "-c"]
        for base in self.cfg.base_configs:
            cmd += ["-f", base]
        cmd += ["-f", path]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"could not run {self.cfg.haproxy_bin}: {exc}"
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()

    def install(self, path: str) -> None:
        os.replace(path, self.cfg.dynamic_config)

    def restore(self, text: str) -> None:
        """Put `text` back as the dynamic configuration (after a reload that did not take)."""
        self.install(self.write_candidate(text))

    def reload(self) -> tuple[bool, str]:
        try:
            proc = subprocess.run(self.cfg.reload_command, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def port_taken(address: str, port: int) -> bool:
    """Whether another program listens on `address:port`, so that HAProxy could not bind it.

    Binds for an instant, as HAProxy would but without SO_REUSEPORT (HAProxy shares a port
    only with itself).
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    host = address.strip("[]") or ("::" if family == socket.AF_INET6 else "0.0.0.0")  # noqa: S104
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


class RuntimeUpdateError(Exception):
    """The runtime API refused a change or could not be reached; the caller reloads instead."""


def split_servers(text: str | None) -> tuple[str, dict[str, dict[str, str]]]:
    """The configuration without its `server` lines, and those lines by backend and name."""
    skeleton: list[str] = []
    servers: dict[str, dict[str, str]] = {}
    backend = None
    for line in (text or "").splitlines():
        words = line.split()
        if line[:1] not in ("", " ", "\t", "#"):
            backend = words[1] if len(words) > 1 and words[0] == "backend" else None
        if backend and len(words) > 2 and words[0] == "server":
            servers.setdefault(backend, {})[words[1]] = " ".join(words)
            continue
        skeleton.append(line)
    return "\n".join(skeleton), servers


def resolve(address: str) -> str:
    """`host:port` or `[v6]:port` from a server line, with the host resolved to an address."""
    host, _colon, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise RuntimeUpdateError(f"cannot resolve {host}: {exc}") from exc
    family, _type, _proto, _name, sockaddr = infos[0]
    return f"[{sockaddr[0]}]:{port}" if family == socket.AF_INET6 else f"{sockaddr[0]}:{port}"


class RuntimeAPI:
    """HAProxy's runtime API on its admin socket: the worker's state; add, drain, delete servers."""

    def __init__(self, path: str, timeout: float = 3.0) -> None:
        self.path = path
        self.timeout = timeout

    def command(self, line: str) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.path)
                sock.sendall(line.encode() + b"\n")
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                chunks = []
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except OSError as exc:
            raise RuntimeUpdateError(f"HAProxy's admin socket {self.path}: {exc}") from exc
        return b"".join(chunks).decode(errors="replace").strip()

    def expect(self, line: str, *answers: str) -> str:
        reply = self.command(line)
        if reply not in answers:
            raise RuntimeUpdateError(f"`{line}` answered {reply[:200]!r}")
        return reply

    def worker_pid(self) -> int | None:
        """The PID of the worker that answers on the socket (the newest one)."""
        for line in self.command("show info").splitlines():
            if line.startswith("Pid:"):
                with contextlib.suppress(ValueError):
                    return int(line.split(":", 1)[1])
        return None

    def frontends(self) -> set[str]:
        """The frontends the answering worker serves."""
        names = set()
        for line in self.command("show stat -1 1 -1").splitlines():
            if line and not line.startswith("#"):
                fields = line.split(",")
                if len(fields) > 1 and fields[1] == "FRONTEND":
                    names.add(fields[0])
        return names

    def add(self, backend: str, server_line: str) -> None:
        words = server_line.split()  # server NAME ADDRESS OPTIONS...
        name, address, options = words[1], resolve(words[2]), words[3:]
        self.expect(f"add server {backend}/{name} {address} {' '.join(options)}".rstrip(), "New server registered.")
        if "check" in options:
            self.expect(f"enable health {backend}/{name}", "")
        self.enable(backend, name)

    def drain(self, backend: str, name: str) -> None:
        """No new traffic; the requests under way finish."""
        self.expect(f"disable server {backend}/{name}", "")

    def enable(self, backend: str, name: str) -> None:
        """Traffic again (a new server starts in maintenance; a drained one comes back)."""
        self.expect(f"enable server {backend}/{name}", "")

    def delete(self, backend: str, name: str) -> bool:
        """True once the server is gone; False while it still has connections."""
        reply = self.command(f"del server {backend}/{name}")
        if reply == "Server deleted." or "No such server" in reply or "No such backend" in reply:
            return True
        LOG.debug("server %s/%s not deleted yet: %s", backend, name, reply[:200])
        return False
