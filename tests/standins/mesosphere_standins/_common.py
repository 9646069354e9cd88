"""Helpers shared by every stand-in program.

* flag parsing in the two styles the upstream programs use (Mesos' stout
  ``--name=value`` / ``--no-name`` with ``MESOS_*`` variables, and the
  Scallop style of Marathon/Chronos with ``--name value``);
* ZooKeeper URL parsing (``zk://[user:pass@]h1:p1,h2:p2/path`` and
  ``file:///path``, see mesos/docs/configuration/master.md, flag ``--zk``);
* a small HTTP routing layer on :class:`http.server.ThreadingHTTPServer`
  with JSON helpers, streaming responses and HTTP basic authentication;
* a tiny HTTP client (no redirects followed unless asked);
* finding the leading Mesos master in ZooKeeper (children ``json.info_*``
  of the ``--zk`` path, lowest sequence leads; reference NOTES.md and
  README.md note 5).

Only the standard library and kazoo are used.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOG = logging.getLogger("mesosphere_standins")


# ---------------------------------------------------------------------------
# Logging and program entry
# ---------------------------------------------------------------------------


def setup_logging(program: str, level: str = "INFO") -> logging.Logger:
    """Log to stderr (journald picks it up when run under systemd)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s {program}[%(process)d] %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    # kazoo is chatty at INFO on every reconnect attempt.
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    return logging.getLogger(program)


class FlagError(Exception):
    """A refused command line: the program prints the message and exits non-zero."""


class StartupError(Exception):
    """A failure after the flags were accepted (e.g. agent recovery): message, exit 1."""


class ExitRequest(Exception):
    """Raised to leave ``main`` with a given exit code (for --help/--version)."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message


def run_main(body: Callable[[list[str]], int | None], argv: list[str] | None, program: str) -> int:
    """Run ``body(argv)``; turn FlagError into a message on stderr and exit code 1."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        rc = body(list(argv))
    except FlagError as exc:
        sys.stderr.write(f"{program}: {exc}\n")
        sys.stderr.write(f"See '{program} --help' for the list of flags.\n")
        sys.stderr.flush()
        return 1
    except StartupError as exc:
        sys.stderr.write(f"{program}: {exc}\n")
        sys.stderr.flush()
        return 1
    except ExitRequest as exc:
        if exc.message:
            stream = sys.stdout if exc.code == 0 else sys.stderr
            stream.write(exc.message.rstrip("\n") + "\n")
            stream.flush()
        return exc.code
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


# ---------------------------------------------------------------------------
# Values: durations, byte sizes, booleans
# ---------------------------------------------------------------------------

# Mesos (stout) Duration units; mesos/docs/configuration/*.md use e.g. "10secs", "75secs", "1mins".
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "secs": 1.0,
    "mins": 60.0,
    "hrs": 3600.0,
    "days": 86400.0,
    "weeks": 604800.0,
}
_DURATION_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ns|us|ms|secs|mins|hrs|days|weeks)\s*$")

_BYTES_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_BYTES_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*(B|KB|MB|GB|TB)\s*$")


def parse_duration(text: str) -> float:
    """Parse a stout duration such as ``10secs`` or ``500ms`` into seconds."""
    match = _DURATION_RE.match(str(text))
    if not match:
        raise ValueError(
            f"invalid duration '{text}' (expected a number followed by one of "
            + ", ".join(_DURATION_UNITS)
            + ")"
        )
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Render seconds the way stout prints durations (largest exact unit)."""
    for unit in ("weeks", "days", "hrs", "mins", "secs"):
        size = _DURATION_UNITS[unit]
        if seconds >= size and abs(seconds / size - round(seconds / size)) < 1e-9:
            return f"{int(round(seconds / size))}{unit}"
    if seconds >= 1:
        return f"{seconds:g}secs"
    return f"{seconds * 1000:g}ms"


def parse_bytes(text: str) -> int:
    match = _BYTES_RE.match(str(text))
    if not match:
        raise ValueError(f"invalid byte size '{text}' (expected e.g. 512MB)")
    return int(float(match.group(1)) * _BYTES_UNITS[match.group(2)])


def parse_bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected a boolean (true/false), got '{text}'")


# ---------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------


@dataclass
class Flag:
    """One command-line flag.

    kind: ``string`` | ``bool`` | ``int`` | ``float`` | ``duration`` (seconds)
    | ``bytes`` | ``path``.  ``default`` is given as the upstream documentation
    writes it (a string) or None; it is converted like a given value.
    """

    name: str
    kind: str = "string"
    default: Any = None
    required: bool = False
    help: str = ""
    aliases: tuple[str, ...] = ()

    def convert(self, raw: Any) -> Any:
        if raw is None:
            return None
        if self.kind == "bool":
            return raw if isinstance(raw, bool) else parse_bool(raw)
        if self.kind == "int":
            return int(str(raw).strip())
        if self.kind == "float":
            return float(str(raw).strip())
        if self.kind == "duration":
            return parse_duration(raw)
        if self.kind == "bytes":
            return parse_bytes(raw)
        return str(raw)


class Flags:
    """Parsed flags: attribute access to converted values.

    ``raw`` maps every flag that has a value (given or default) to its
    string form, as Mesos' ``/flags`` endpoint shows them; ``given`` is the
    set of flags set explicitly (command line or environment).
    """

    def __init__(self, specs: dict[str, Flag]):
        self._specs = specs
        self.values: dict[str, Any] = {}
        self.raw: dict[str, str] = {}
        self.given: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(f"no flag named {name!r}") from None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def as_strings(self) -> dict[str, str]:
        return dict(sorted(self.raw.items()))


def _raw_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_flags(
    specs: Iterable[Flag],
    argv: list[str],
    *,
    program: str,
    env: dict[str, str] | None = None,
    env_prefix: str | None = None,
    style: str = "mesos",
    negation_prefix: str | None = None,
    version: str | None = None,
) -> Flags:
    """Parse ``argv`` (and environment variables) against ``specs``.

    style ``mesos`` (stout, mesos/docs/configuration.md): only ``--name=value``;
    ``--name`` alone sets a boolean to true and ``--no-name`` to false; a
    non-boolean without value is refused; ``MESOS_NAME`` environment variables
    are read (the command line wins); unknown flags are refused; a flag given
    twice is refused.

    style ``scallop`` (Marathon, Chronos): ``--name=value`` and ``--name value``;
    booleans ``--name`` and ``--<negation_prefix>name`` (Marathon writes
    ``--disable_<name>``); environment variables ``<PREFIX>NAME``.

    ``--help`` and ``--version`` raise :class:`ExitRequest` with code 0.
    Raises :class:`FlagError` for every refusal.
    """
    by_name: dict[str, Flag] = {}
    for spec in specs:
        by_name[spec.name] = spec
    lookup: dict[str, Flag] = dict(by_name)
    for spec in by_name.values():
        for alias in spec.aliases:
            lookup[alias] = spec
    if negation_prefix is None:
        negation_prefix = "no-" if style == "mesos" else "disable_"
    env = os.environ if env is None else env

    flags = Flags(by_name)
    cli_values: dict[str, Any] = {}

    def set_cli(spec: Flag, value: Any, via: str) -> None:
        if spec.name in cli_values:
            raise FlagError(f"Flag '{via}' was given more than once on the command line")
        try:
            spec.convert(value)
        except ValueError as exc:
            raise FlagError(f"Failed to load flag '{via}': {exc}") from None
        cli_values[spec.name] = value

    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in ("--help", "-h"):
            raise ExitRequest(0, usage(by_name.values(), program))
        if arg == "--version" and "version" not in by_name:
            raise ExitRequest(0, f"{program} {version or 'unknown'}")
        if not arg.startswith("--") or arg == "--":
            raise FlagError(f"Unexpected argument '{arg}' (flags look like --name=value)")
        body = arg[2:]
        name, sep, value = body.partition("=")
        has_value = bool(sep)
        spec = lookup.get(name)
        if spec is None and name.startswith(negation_prefix):
            negated = lookup.get(name[len(negation_prefix):])
            if negated is not None:
                if negated.kind != "bool":
                    raise FlagError(f"Failed to load non-boolean flag '{name[len(negation_prefix):]}' via '{name}'")
                if has_value:
                    raise FlagError(f"Flag '{name}' takes no value")
                set_cli(negated, False, name)
                continue
        if spec is None:
            raise FlagError(f"Failed to load unknown flag '{name}'")
        if spec.kind == "bool":
            set_cli(spec, value if has_value else True, name)
            continue
        if not has_value:
            if style == "scallop" and i < len(argv) and not argv[i].startswith("--"):
                value = argv[i]
                i += 1
            else:
                raise FlagError(f"Failed to load non-boolean flag '{name}': missing value")
        set_cli(spec, value, name)

    for spec in by_name.values():
        raw: Any = None
        source = None
        if spec.name in cli_values:
            raw, source = cli_values[spec.name], "command line"
        elif env_prefix:
            for candidate in (spec.name, *spec.aliases):
                key = env_prefix + candidate.upper()
                if key in env:
                    raw, source = env[key], f"environment variable {key}"
                    break
        if raw is not None:
            try:
                flags.values[spec.name] = spec.convert(raw)
            except ValueError as exc:
                raise FlagError(f"Failed to load flag '{spec.name}' from {source}: {exc}") from None
            flags.raw[spec.name] = _raw_string(raw)
            flags.given.add(spec.name)
        elif spec.default is not None:
            flags.values[spec.name] = spec.convert(spec.default)
            flags.raw[spec.name] = _raw_string(spec.default)
        else:
            flags.values[spec.name] = None
    for spec in by_name.values():
        if spec.required and flags.values.get(spec.name) is None:
            raise FlagError(f"Flag '{spec.name}' is required, but it was not provided")
    return flags


def usage(specs: Iterable[Flag], program: str) -> str:
    lines = [f"Usage: {program} [options]", ""]
    for spec in sorted(specs, key=lambda s: s.name):
        shown = f"--{spec.name}" if spec.kind == "bool" else f"--{spec.name}=VALUE"
        default = f" (default: {_raw_string(spec.default)})" if spec.default is not None else ""
        lines.append(f"  {shown}{default}")
        if spec.help:
            lines.append(f"      {spec.help}")
    return "\n".join(lines)


def flags_from_table(table: Iterable[dict], overrides: dict[str, dict] | None = None) -> list[Flag]:
    """Build Flag objects from rows of tests/standins/data/*.json.

    Each row: ``{"name", "kind", "default", "required", "aliases"}``;
    ``overrides`` may change any field per flag name.
    """
    overrides = overrides or {}
    result = []
    for row in table:
        data = {
            "name": row["name"],
            "kind": row.get("kind", "string"),
            "default": row.get("default"),
            "required": bool(row.get("required", False)),
            "aliases": tuple(row.get("aliases", ())),
            "help": row.get("help", ""),
        }
        data.update(overrides.get(row["name"], {}))
        result.append(Flag(**data))
    return result


def load_data(name: str) -> Any:
    """Load a JSON document from tests/standins/data (bundled with the package)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "data", name), os.path.join(os.path.dirname(here), "data", name)):
        if os.path.exists(candidate):
            with open(candidate, encoding="utf-8") as handle:
                return json.load(handle)
    raise FileNotFoundError(name)


def release(default: str) -> str:
    """The release this copy of the program is: the version its package carries
    (``data/release.json``, written by the packaging), or `default` when it runs from the source
    tree. Reported where the upstream program reports its version, and nowhere else."""
    try:
        version = load_data("release.json").get("version")
    except FileNotFoundError:
        return default
    return str(version) if version else default


def read_value_or_file(value: str) -> str:
    """Flags such as --credentials accept ``file:///path``, ``/path`` or the text itself."""
    if value.startswith("file://"):
        path = value[len("file://"):]
    elif value.startswith("/"):
        path = value
    else:
        return value
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise FlagError(f"Failed to read '{path}': {exc.strerror}") from None


# ---------------------------------------------------------------------------
# ZooKeeper URLs
# ---------------------------------------------------------------------------


@dataclass
class ZkUrl:
    hosts: str  # "h1:p1,h2:p2"
    path: str  # "/mesos"
    username: str | None = None
    password: str | None = None

    @property
    def auth_data(self) -> list[tuple[str, str]] | None:
        if self.username is None:
            return None
        return [("digest", f"{self.username}:{self.password or ''}")]

    def __str__(self) -> str:
        creds = f"{self.username}:{self.password}@" if self.username is not None else ""
        return f"zk://{creds}{self.hosts}{self.path}"


def parse_host_list(text: str) -> list[tuple[str, int]]:
    """Parse ``h1:p1,h2:p2``; raise ValueError on anything else."""
    result = []
    for item in text.split(","):
        item = item.strip()
        host, sep, port = item.rpartition(":")
        if not item or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"invalid ZooKeeper server '{item}' (expected host:port)")
        result.append((host, int(port)))
    return result


def parse_zk_url(text: str, *, allow_file: bool = True) -> ZkUrl:
    """Parse a ZooKeeper URL as Mesos and Marathon accept it.

    ``zk://host1:port1,host2:port2/path``, ``zk://user:pass@hosts/path`` and
    (Mesos, allow_file) ``file:///path/to/file`` whose content is one of those.
    Raises ValueError with a readable message.
    """
    text = str(text).strip()
    if allow_file and text.startswith("file://"):
        path = text[len("file://"):]
        try:
            with open(path, encoding="utf-8") as handle:
                content = handle.read().strip()
        except OSError as exc:
            raise ValueError(f"cannot read ZooKeeper URL file '{path}': {exc.strerror}") from None
        return parse_zk_url(content, allow_file=False)
    if not text.startswith("zk://"):
        raise ValueError(f"expecting 'zk://' at the beginning of the ZooKeeper URL '{text}'")
    rest = text[len("zk://"):]
    username = password = None
    slash = rest.find("/")
    authority, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in authority:
        creds, authority = authority.rsplit("@", 1)
        username, _, password = creds.partition(":")
    parse_host_list(authority)
    if len(path) > 1:
        path = path.rstrip("/")
    if "//" in path:
        raise ValueError(f"invalid ZooKeeper path '{path}'")
    return ZkUrl(authority, path, username, password)


def kazoo_client(hosts: str, timeout: float, auth_data: list | None = None):
    """A KazooClient (imported lazily so flag errors never need kazoo).

    With credentials, new znodes get "world read, creator all" ACLs, as Mesos
    does for an authenticated ``zk://user:pass@...`` URL."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry
    from kazoo.security import CREATOR_ALL_ACL, READ_ACL_UNSAFE

    return KazooClient(
        default_acl=(READ_ACL_UNSAFE + CREATOR_ALL_ACL) if auth_data else None,
        hosts=hosts,
        timeout=timeout,
        auth_data=auth_data,
        connection_retry=KazooRetry(max_tries=-1, delay=0.2, max_delay=1.0),
        command_retry=KazooRetry(max_tries=3, delay=0.2, max_delay=1.0),
    )


# ---------------------------------------------------------------------------
# Mesos leader discovery through ZooKeeper
# ---------------------------------------------------------------------------

MASTER_INFO_PREFIX = "json.info_"  # reference NOTES.md "What a Mesos master writes into ZooKeeper"


def master_info_znodes(zk, path: str) -> list[str]:
    """Children ``json.info_<seq>`` of ``path``, lowest sequence first."""
    try:
        children = zk.get_children(path)
    except Exception:  # NoNodeError, connection loss
        return []
    return sort_master_info_znodes(children)


def sort_master_info_znodes(children: list[str]) -> list[str]:
    """The ``json.info_<seq>`` names among ``children``, lowest sequence first."""
    names = [c for c in children if c.startswith(MASTER_INFO_PREFIX) and c[len(MASTER_INFO_PREFIX):].isdigit()]
    return sorted(names, key=lambda c: int(c[len(MASTER_INFO_PREFIX):]))


def read_leading_master(zk, path: str) -> dict | None:
    """MasterInfo JSON of the leading master (lowest json.info_ sequence), or None."""
    for name in master_info_znodes(zk, path):
        try:
            data, _ = zk.get(f"{path.rstrip('/')}/{name}")
            return json.loads(data.decode("utf-8"))
        except Exception:  # vanished between list and get: try the next one
            continue
    return None


def master_info_url(info: dict) -> str:
    address = info.get("address") or {}
    host = address.get("ip") or address.get("hostname") or info.get("hostname")
    port = address.get("port") or info.get("port")
    return f"http://{host}:{port}"


class MesosLeaderTracker:
    """Follow the leading Mesos master of a ``zk://.../mesos`` URL.

    Runs its own kazoo client and a polling thread (``interval`` seconds).
    ``current()`` returns the leader's MasterInfo dict or None; ``url()``
    returns ``http://ip:port`` or None. ``on_change(info_or_None)`` is called
    from the polling thread whenever the leader's ``id``/address changes.
    """

    def __init__(self, zk_url: ZkUrl, session_timeout: float = 10.0, interval: float = 0.5,
                 on_change: Callable[[dict | None], None] | None = None):
        self.zk_url = zk_url
        self.interval = interval
        self.on_change = on_change
        self._zk = kazoo_client(zk_url.hosts, session_timeout, zk_url.auth_data)
        self._info: dict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mesos-leader-tracker", daemon=True)

    def start(self) -> MesosLeaderTracker:
        self._zk.start_async()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self._zk.stop()
            self._zk.close()
        except Exception:
            pass

    def current(self) -> dict | None:
        return self._info

    def url(self) -> str | None:
        info = self._info
        return master_info_url(info) if info else None

    def _key(self, info: dict | None):
        if not info:
            return None
        return (info.get("id"), master_info_url(info))

    def _run(self) -> None:
        while not self._stop.is_set():
            info = None
            if self._zk.connected:
                info = read_leading_master(self._zk, self.zk_url.path)
            if self._key(info) != self._key(self._info):
                self._info = info
                LOG.info("leading Mesos master is now %s", master_info_url(info) if info else None)
                if self.on_change:
                    try:
                        self.on_change(info)
                    except Exception:
                        LOG.exception("leader change callback failed")
            else:
                self._info = info
            self._stop.wait(self.interval)


# ---------------------------------------------------------------------------
# HTTP server side
# ---------------------------------------------------------------------------


class Request:
    def __init__(self, method: str, target: str, headers, body: bytes, client: tuple):
        self.method = method
        self.target = target
        parsed = urllib.parse.urlsplit(target)
        self.path = urllib.parse.unquote(parsed.path) or "/"
        self.query_string = parsed.query
        self.query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.client = client
        self.params: dict[str, str] = {}
        self.principal: str | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None:
            return default
        return value.strip().lower() in ("", "true", "1", "yes")

    def json(self) -> Any:
        if not self.body:
            raise HttpError(400, "Request body is empty")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError(400, f"Failed to parse body into JSON: {exc}") from None

    def form(self) -> dict[str, str]:
        parsed = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def basic_auth(self) -> tuple[str, str] | None:
        return parse_basic_auth(self.headers.get("Authorization"))


@dataclass
class Response:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    stream: Iterator[bytes] | None = None  # written chunk by chunk, connection closed after

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj, indent=None).encode("utf-8"), dict(headers or {}), "application/json")


def text_response(text: str, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode("utf-8"), dict(headers or {}), content_type)


def empty_response(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, b"", dict(headers or {}), None)


class HttpError(Exception):
    """Raise from a handler to answer ``status`` with a plain-text (or JSON) body."""

    def __init__(self, status: int, message: str = "", json_body: Any = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.json_body = json_body
        self.headers = headers or {}

    def response(self) -> Response:
        if self.json_body is not None:
            return json_response(self.json_body, self.status, self.headers)
        return text_response(self.message, self.status, self.headers)


Handler = Callable[[Request], Response]


class HttpApp:
    """Routes: exact paths or regexes (``{name}`` placeholders match one segment,
    ``{name:path}`` matches the rest). A path that matches with another method
    gets 405, an unknown path 404 (``not_found`` may be replaced)."""

    def __init__(self, name: str = "standin"):
        self.name = name
        self._routes: list[tuple[re.Pattern, tuple[str, ...], Handler]] = []
        self.not_found: Handler = lambda req: text_response("", 404)

    @staticmethod
    def _compile(pattern: str) -> re.Pattern:
        out = ""
        for part in re.split(r"(\{[a-zA-Z_][a-zA-Z0-9_]*(?::path)?\})", pattern):
            if part.startswith("{") and part.endswith("}"):
                inner = part[1:-1]
                if inner.endswith(":path"):
                    out += f"(?P<{inner[:-5]}>.+)"
                else:
                    out += f"(?P<{inner}>[^/]+)"
            else:
                out += re.escape(part)
        return re.compile("^" + out + "$")

    def route(self, methods: str | Iterable[str], *patterns: str):
        if isinstance(methods, str):
            methods = (methods,)
        methods = tuple(m.upper() for m in methods)

        def decorator(func: Handler) -> Handler:
            for pattern in patterns:
                self._routes.append((self._compile(pattern), methods, func))
            return func

        return decorator

    def add(self, methods: str | Iterable[str], pattern: str, func: Handler) -> None:
        self.route(methods, pattern)(func)

    def dispatch(self, request: Request, use_not_found: bool = True) -> Response | None:
        """Route ``request``; with ``use_not_found=False`` an unknown path gives None."""
        allowed: list[str] = []
        for regex, methods, func in self._routes:
            match = regex.match(request.path)
            if not match:
                continue
            method = "GET" if request.method == "HEAD" else request.method
            if method not in methods:
                allowed.extend(methods)
                continue
            request.params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            try:
                return func(request)
            except HttpError as exc:
                return exc.response()
        if allowed:
            wanted = ", ".join(f"'{m}'" for m in sorted(set(allowed)))
            return text_response(
                f"Expecting one of {{ {wanted} }}, but received '{request.method}'",
                405,
                {"Allow": ", ".join(sorted(set(allowed)))},
            )
        if not use_not_found:
            return None
        try:
            return self.not_found(request)
        except HttpError as exc:
            return exc.response()


def _make_handler(app: HttpApp):
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = app.name

        def log_message(self, fmt, *args):  # noqa: N802 - stdlib name
            LOG.debug("%s %s", self.client_address[0], fmt % args)

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            request = Request(self.command, self.path, self.headers, body, self.client_address)
            try:
                response = app.dispatch(request)
            except Exception:  # a bug in a handler: 500, keep serving
                LOG.exception("handler failed for %s %s", self.command, self.path)
                response = text_response("Internal Server Error", 500)
            self._send(response)

        def _send(self, response: Response):
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            for key, value in response.headers.items():
                self.send_header(key, value)
            if response.stream is not None:
                self.send_header("Connection", "close")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.close_connection = True
                try:
                    for chunk in response.stream:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                finally:
                    close = getattr(response.stream, "close", None)
                    if close:
                        close()
                return
            payload = response.payload()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    return _Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler):
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


def serve_http(app: HttpApp, host: str, port: int) -> ThreadingHTTPServer:
    """Bind ``host:port`` (raises OSError if taken) and serve in a daemon thread."""
    server = _Server((host, port), _make_handler(app))
    thread = threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True)
    thread.start()
    return server


# ---------------------------------------------------------------------------
# Basic authentication and credentials
# ---------------------------------------------------------------------------


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except Exception:
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def unauthorized(realm: str, message: str = "") -> Response:
    return text_response(message, 401, {"WWW-Authenticate": f'Basic realm="{realm}"'})


def load_mesos_credentials(value: str) -> dict[str, str]:
    """Mesos ``--credentials`` (mesos/docs/authentication.md, configuration/master.md):
    a path (``file:///path`` or ``/path``) to a JSON document
    ``{"credentials": [{"principal": .., "secret": ..}]}`` or to a text file
    with one ``principal secret`` pair per line. Returns principal -> secret."""
    text = read_value_or_file(value)
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
            return {c["principal"]: c.get("secret", "") for c in doc.get("credentials", [])}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FlagError(f"Failed to parse credentials: {exc}") from None
    result = {}
    for line in stripped.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise FlagError("Failed to parse credentials: each line must be 'principal secret'")
        result[parts[0]] = parts[1]
    return result


def load_agent_credential(value: str) -> tuple[str, str]:
    """Mesos agent ``--credential`` (configuration/agent.md): a path (``file:///path`` or
    ``/path``) to ``{"principal": .., "secret": ..}``, or to a text file with one
    ``principal secret`` line. Returns (principal, secret)."""
    path = value[len("file://"):] if value.startswith("file://") else value
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError as exc:
        raise FlagError(f"Failed to read credential '{path}': {exc.strerror}") from None
    if text.startswith("{"):
        try:
            doc = json.loads(text)
            return str(doc["principal"]), str(doc.get("secret", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise FlagError(f"Failed to parse credential: {exc}") from None
    parts = text.split()
    if len(parts) != 2:
        raise FlagError("Failed to parse credential: expected one 'principal secret' line")
    return parts[0], parts[1]


# ---------------------------------------------------------------------------
# HTTP client side
# ---------------------------------------------------------------------------


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http_request(method: str, url: str, body: Any = None, *, headers: dict[str, str] | None = None,
                 timeout: float = 5.0, auth: tuple[str, str] | None = None) -> HttpResult:
    """One HTTP request, redirects NOT followed. ``body`` dict/list is sent as JSON.
    Raises OSError (ConnectionRefusedError, timeout) when the server is not there."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    hdrs = dict(headers or {})
    payload = None
    if body is not None:
        if isinstance(body, (bytes, str)):
            payload = body.encode("utf-8") if isinstance(body, str) else body
        else:
            payload = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
    if auth:
        hdrs["Authorization"] = basic_auth_header(*auth)
    target = parsed.path or "/"
    if parsed.query:
        target += "?" + parsed.query
    try:
        conn.request(method, target, body=payload, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return HttpResult(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def local_hostname() -> str:
    return socket.gethostname()


def ip_to_int(ip: str) -> int:
    """IPv4 packed in network byte order, read as a little-endian integer
    (MasterInfo.ip; reference NOTES.md: 127.0.0.1 -> 16777343)."""
    try:
        return int.from_bytes(socket.inet_aton(ip), "little")
    except OSError:
        return 0


# ---------------------------------------------------------------------------
# Mesos resources and attributes (mesos/docs/configuration/agent.md
# --resources/--attributes; attributes-resources format "name(role):value;...")
# ---------------------------------------------------------------------------

_RANGES_RE = re.compile(r"^\[\s*([0-9]+\s*-\s*[0-9]+(?:\s*,\s*[0-9]+\s*-\s*[0-9]+)*)?\s*\]$")
_SCALAR_RE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")


def parse_ranges(text: str) -> list[tuple[int, int]]:
    match = _RANGES_RE.match(text.strip())
    if not match:
        raise ValueError(f"invalid ranges '{text}' (expected e.g. [31000-32000])")
    ranges = []
    if match.group(1):
        for part in match.group(1).split(","):
            begin, end = (int(x) for x in part.split("-"))
            if begin > end:
                raise ValueError(f"invalid range {begin}-{end}")
            ranges.append((begin, end))
    return merge_ranges(ranges)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for begin, end in sorted(ranges):
        if result and begin <= result[-1][1] + 1:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((begin, end))
    return result


def subtract_ranges(have: list[tuple[int, int]], take: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result = []
    for begin, end in have:
        pieces = [(begin, end)]
        for tb, te in take:
            nxt = []
            for pb, pe in pieces:
                if te < pb or tb > pe:
                    nxt.append((pb, pe))
                    continue
                if pb < tb:
                    nxt.append((pb, tb - 1))
                if te < pe:
                    nxt.append((te + 1, pe))
            pieces = nxt
        result.extend(pieces)
    return merge_ranges(result)


def ranges_contain(have: list[tuple[int, int]], want: list[tuple[int, int]]) -> bool:
    return not subtract_ranges(want, have)


def format_ranges(ranges: list[tuple[int, int]]) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


class Resources:
    """A bag of Mesos resources: scalars (float), ranges (list of pairs), sets.

    Roles and reservations are parsed (``cpus(role):2``) but merged per name here;
    ``_roles`` keeps an agent's reservations apart.
    """

    def __init__(self, scalars=None, ranges=None, sets=None):
        self.scalars: dict[str, float] = dict(scalars or {})
        self.ranges: dict[str, list[tuple[int, int]]] = {k: list(v) for k, v in (ranges or {}).items()}
        self.sets: dict[str, set[str]] = {k: set(v) for k, v in (sets or {}).items()}

    @classmethod
    def parse(cls, text: str) -> Resources:
        """``cpus:4;mem:2048;ports:[31000-32000];disks:{a,b}`` or a JSON list of Resource objects."""
        text = (text or "").strip()
        if text.startswith("["):
            try:
                return cls.from_protobuf(json.loads(text))
            except json.JSONDecodeError:
                pass  # "[...]" can't start a text resource list anyway
        res = cls()
        for item in filter(None, (part.strip() for part in text.split(";"))):
            name, sep, value = item.partition(":")
            if not sep or not name.strip():
                raise ValueError(f"invalid resource '{item}' (expected name:value)")
            name = re.sub(r"\(.*\)$", "", name.strip())  # drop a role: cpus(role)
            value = value.strip()
            if value.startswith("["):
                res.ranges[name] = merge_ranges(res.ranges.get(name, []) + parse_ranges(value))
            elif value.startswith("{"):
                if not value.endswith("}"):
                    raise ValueError(f"invalid set '{value}'")
                res.sets.setdefault(name, set()).update(x.strip() for x in value[1:-1].split(",") if x.strip())
            elif _SCALAR_RE.match(value):
                if float(value) < 0:
                    raise ValueError(f"negative scalar resource '{item}'")
                res.scalars[name] = res.scalars.get(name, 0.0) + float(value)
            else:
                raise ValueError(f"invalid value '{value}' of resource '{name}'")
        return res

    @classmethod
    def from_protobuf(cls, items: list) -> Resources:
        res = cls()
        for item in items or []:
            name = item["name"]
            kind = str(item.get("type", "SCALAR")).upper()
            if kind == "SCALAR":
                res.scalars[name] = res.scalars.get(name, 0.0) + float(item.get("scalar", {}).get("value", 0))
            elif kind == "RANGES":
                pairs = [(int(r["begin"]), int(r["end"])) for r in item.get("ranges", {}).get("range", [])]
                res.ranges[name] = merge_ranges(res.ranges.get(name, []) + pairs)
            elif kind == "SET":
                res.sets.setdefault(name, set()).update(item.get("set", {}).get("item", []))
            else:
                raise ValueError(f"unknown resource type {kind}")
        return res

    def copy(self) -> Resources:
        return Resources(self.scalars, self.ranges, self.sets)

    def __add__(self, other: Resources) -> Resources:
        res = self.copy()
        for k, v in other.scalars.items():
            res.scalars[k] = round(res.scalars.get(k, 0.0) + v, 6)
        for k, v in other.ranges.items():
            res.ranges[k] = merge_ranges(res.ranges.get(k, []) + v)
        for k, v in other.sets.items():
            res.sets.setdefault(k, set()).update(v)
        return res

    def __sub__(self, other: Resources) -> Resources:
        res = self.copy()
        for k, v in other.scalars.items():
            res.scalars[k] = round(res.scalars.get(k, 0.0) - v, 6)
        for k, v in other.ranges.items():
            res.ranges[k] = subtract_ranges(res.ranges.get(k, []), v)
        for k, v in other.sets.items():
            res.sets[k] = res.sets.get(k, set()) - set(v)
        return res

    def contains(self, other: Resources) -> bool:
        for k, v in other.scalars.items():
            if self.scalars.get(k, 0.0) + 1e-9 < v:
                return False
        for k, v in other.ranges.items():
            if not ranges_contain(self.ranges.get(k, []), v):
                return False
        return all(set(v) <= self.sets.get(k, set()) for k, v in other.sets.items())

    def missing(self, other: Resources) -> list[str]:
        """Names of the resources in ``other`` that do not fit into self."""
        out = []
        for k, v in other.scalars.items():
            if self.scalars.get(k, 0.0) + 1e-9 < v:
                out.append(f"{k}: wanted {v:g}, available {self.scalars.get(k, 0.0):g}")
        for k, v in other.ranges.items():
            if not ranges_contain(self.ranges.get(k, []), v):
                out.append(f"{k}: wanted {format_ranges(v)}, available {format_ranges(self.ranges.get(k, []))}")
        for k, v in other.sets.items():
            if not set(v) <= self.sets.get(k, set()):
                out.append(f"{k}: wanted {sorted(v)}")
        return out

    def model(self) -> dict[str, Any]:
        """The JSON shape of /master/slaves ``resources``: numbers, "[a-b, c-d]", "{x,y}"."""
        out: dict[str, Any] = {}
        for k, v in sorted(self.scalars.items()):
            out[k] = float(v)
        for k, v in sorted(self.ranges.items()):
            out[k] = format_ranges(v)
        for k, v in sorted(self.sets.items()):
            out[k] = "{" + ",".join(sorted(v)) + "}"
        return out

    def protobuf(self, role: str = "*") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for k, v in sorted(self.scalars.items()):
            out.append({"name": k, "type": "SCALAR", "scalar": {"value": float(v)}, "role": role})
        for k, v in sorted(self.ranges.items()):
            out.append({"name": k, "type": "RANGES", "ranges": {"range": [{"begin": b, "end": e} for b, e in v]},
                        "role": role})
        for k, v in sorted(self.sets.items()):
            out.append({"name": k, "type": "SET", "set": {"item": sorted(v)}, "role": role})
        return out

    def text(self) -> str:
        parts = [f"{k}:{v:g}" for k, v in sorted(self.scalars.items())]
        parts += [f"{k}:{format_ranges(v)}" for k, v in sorted(self.ranges.items())]
        parts += [f"{k}:{{{','.join(sorted(v))}}}" for k, v in sorted(self.sets.items())]
        return ";".join(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resources) and self.model() == other.model()

    def empty(self) -> bool:
        return not any(v > 0 for v in self.scalars.values()) and not any(self.ranges.values()) \
            and not any(self.sets.values())


def parse_attributes(text: str) -> list[tuple[str, Any]]:
    """``rack:r1;cores:8;ports:[1-2]`` -> [(name, value)] with scalars as float,
    ranges as "[a-b]" strings and everything else as text."""
    result = []
    for item in filter(None, (part.strip() for part in (text or "").split(";"))):
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"invalid attribute '{item}' (expected name:value)")
        value = value.strip()
        if _SCALAR_RE.match(value):
            result.append((name.strip(), float(value)))
        elif value.startswith("["):
            result.append((name.strip(), format_ranges(parse_ranges(value))))
        else:
            result.append((name.strip(), value))
    return result


def attributes_model(attrs: list) -> dict[str, Any]:
    return {name: value for name, value in attrs}
