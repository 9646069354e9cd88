"""Private helpers shared by the Marathon and Chronos stand-ins (scheduler side).

Everything a Mesos *framework* needs and a master or agent does not:

* Scallop-style command-line parsing (``--name value``, ``--name=value``,
  ``--[disable_]flag`` toggles, ``PREFIX_NAME`` environment variables);
* a Curator-compatible leader latch on ZooKeeper;
* finding the leading Mesos master from a ``--master`` value and talking to it
  with the stand-in scheduler contract (SUBSCRIBE / ACCEPT / KILL);
* a small JSON HTTP server base with routing, basic auth, leader proxying and
  server-sent events.

Runtime dependencies: the Python standard library and kazoo only.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoAuthError, NodeExistsError, NoNodeError
from kazoo.security import CREATOR_ALL_ACL

LOG = logging.getLogger("mesosphere_standins")


# --------------------------------------------------------------------------
# small utilities


def now_iso() -> str:
    """UTC timestamp the way Marathon and Chronos print them: 2015-09-30T09:09:17.614Z."""
    t = datetime.datetime.now(datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime.datetime:
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    d = datetime.datetime.fromisoformat(value)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.UTC)
    return d


def setup_logging(name: str, level: str = "info") -> None:
    levels = {
        "off": logging.CRITICAL + 10, "fatal": logging.CRITICAL, "error": logging.ERROR,
        "warn": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG,
        "trace": logging.DEBUG, "all": logging.DEBUG,
    }
    logging.basicConfig(
        level=levels.get(str(level).lower(), logging.INFO),
        format=f"%(asctime)s {name}[{os.getpid()}] %(levelname)s %(message)s",
        stream=sys.stderr,
    )


def default_hostname() -> str:
    return socket.gethostname()


def parse_zk_url(url: str):
    """Parse ``zk://[user:pass@]h1:p1,h2:p2/path``.

    Returns ``(hosts, path, auth)`` where auth is ``"user:pass"`` or None.
    Raises ValueError when the value is not such a URL.
    """
    m = re.match(r"^zk://(?:([^@/]+)@)?([^/]+)(/.*)$", url or "")
    if not m:
        raise ValueError(url)
    auth, hosts, path = m.group(1), m.group(2), m.group(3).rstrip("/") or "/"
    # Marathon allows user:pass@ in front of every host; keep only the hosts.
    cleaned = []
    for h in hosts.split(","):
        if "@" in h:
            a, h = h.rsplit("@", 1)
            auth = auth or a
        if not re.match(r"^[^:\s]+:\d+$", h):
            raise ValueError(url)
        cleaned.append(h)
    return ",".join(cleaned), path, auth


def without_password(url: str) -> str:
    """A zk:// URL as the logs show it: ``zk://user:********@hosts/path`` (secrets never reach a log)."""
    return re.sub(r"(?<=[/,])([^:@/,]+):[^@/]*@", r"\1:********@", url or "")


def make_zk_client(hosts: str, auth: str | None, session_timeout_s: float,
                   connect_timeout_s: float, creator_only: bool = False) -> KazooClient:
    """A started session, authenticated with ``auth`` ("user:password") when given.

    ``creator_only``: with credentials, the znodes this session creates may be read and changed
    by their creator only (Marathon: command-line-flags.md, --zk, "when authentication is enabled
    the default ACL will be changed and all subsequent reads must be done using the same auth").
    """
    auth_data = [("digest", auth)] if auth else None
    client = KazooClient(hosts=hosts, timeout=session_timeout_s, auth_data=auth_data,
                         default_acl=CREATOR_ALL_ACL if auth and creator_only else None,
                         connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1})
    client.start(timeout=connect_timeout_s)
    return client


# --------------------------------------------------------------------------
# command-line flags (Scallop conventions: Marathon and Chronos both use Scallop)


class FlagError(Exception):
    pass


class Flag:
    """One flag. kind: str, int, float, toggle (--x/--disable_x), switch (--x only)."""

    def __init__(self, name, kind="str", default=None, choices=None, short=None,
                 required=False):
        self.name, self.kind, self.default = name, kind, default
        self.choices, self.short, self.required = choices, short, required


def parse_flags(flags: list, argv: list, env: dict | None = None,
                env_prefix: str | None = None, env_aliases: dict | None = None) -> dict:
    """Parse argv (and env) against the flag table; raise FlagError like Scallop would.

    Environment: ``PREFIX_NAME=value``; for toggles an empty value turns the
    flag on and ``PREFIX_DISABLE_NAME=`` turns it off (command-line-flags.md).
    A flag given both ways is refused, as the Marathon docs say it must not be.
    """
    by_name = {f.name: f for f in flags}
    by_short = {f.short: f for f in flags if f.short}
    values: dict = {}
    seen_cli: set = set()

    def convert(flag, raw):
        if flag.kind == "int":
            try:
                return int(raw)
            except (TypeError, ValueError):
                raise FlagError(f"Bad arguments for option '{flag.name}': '{raw}'") from None
        if flag.kind == "float":
            try:
                return float(raw)
            except (TypeError, ValueError):
                raise FlagError(f"Bad arguments for option '{flag.name}': '{raw}'") from None
        if flag.choices and raw not in flag.choices:
            raise FlagError(
                f"Option '{flag.name}' has invalid value '{raw}' (expected one of: "
                + ", ".join(flag.choices) + ")")
        return raw

    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a.startswith("--"):
            body = a[2:]
            name, eq, inline = body.partition("=")
            flag = by_name.get(name)
            negated = False
            base = by_name.get(name[len("disable_"):]) if name.startswith("disable_") else None
            if flag is None and base is not None and base.kind == "toggle":
                flag, negated = base, True
            if flag is None:
                raise FlagError(f"Unknown option '{name}'")
            if flag.name in seen_cli:
                raise FlagError(f"Option '{flag.name}' was given more than once")
            seen_cli.add(flag.name)
            if flag.kind in ("toggle", "switch"):
                if eq:
                    raise FlagError(f"Option '{flag.name}' does not take a value")
                values[flag.name] = not negated
                continue
            if eq:
                raw = inline
            else:
                if i >= len(args) or (args[i].startswith("--") and len(args[i]) > 2):
                    raise FlagError(f"Bad arguments for option '{flag.name}': no value")
                raw = args[i]
                i += 1
            values[flag.name] = convert(flag, raw)
        elif a.startswith("-") and len(a) == 2 and a[1] in by_short:
            flag = by_short[a[1]]
            seen_cli.add(flag.name)
            if flag.kind in ("toggle", "switch"):
                values[flag.name] = True
                continue
            if i >= len(args):
                raise FlagError(f"Bad arguments for option '{flag.name}': no value")
            values[flag.name] = convert(flag, args[i])
            i += 1
        else:
            raise FlagError(f"Excess arguments provided: '{a}'" if not a.startswith("-")
                            else f"Unknown option '{a.lstrip('-')}'")

    if env_prefix:
        env = os.environ if env is None else env
        for flag in flags:
            key = env_prefix + flag.name.upper()
            dkey = env_prefix + "DISABLE_" + flag.name.upper()
            present = key in env or (flag.kind == "toggle" and dkey in env)
            if not present:
                continue
            if flag.name in seen_cli:
                raise FlagError(
                    f"Option '{flag.name}' is given both as the environment variable {key} "
                    "and on the command line")
            if flag.kind == "toggle":
                values[flag.name] = key in env
            elif flag.kind == "switch":
                values[flag.name] = True
            else:
                values[flag.name] = convert(flag, env[key])
    if env_aliases:
        env = os.environ if env is None else env
        for var, name in env_aliases.items():
            if var in env and name not in values:
                values[name] = convert(by_name[name], env[var])

    for flag in flags:
        if flag.name not in values:
            if flag.required:
                raise FlagError(f"Required option '{flag.name}' not found")
            values[flag.name] = flag.default if flag.kind not in ("toggle", "switch") \
                else bool(flag.default)
    return values


# --------------------------------------------------------------------------
# leader election: Curator LeaderLatch layout


class LeaderLatch:
    """Curator LeaderLatch on ``path``: ephemeral sequential ``_c_<uuid>-latch-NNNNNNNNNN``
    nodes whose data is the participant id (``host:port``); the lowest sequence leads."""

    def __init__(self, zk: KazooClient, path: str, participant_id: str,
                 on_elected=None):
        self.zk, self.path, self.participant_id = zk, path, participant_id
        self.on_elected = on_elected
        self.node = None
        self.is_leader = False
        self._lock = threading.Lock()
        self._closed = False

    @staticmethod
    def _seq(name: str) -> int:
        m = re.search(r"(\d{10})$", name)
        return int(m.group(1)) if m else 1 << 62

    def start(self):
        self.zk.ensure_path(self.path)
        created = self.zk.create(f"{self.path}/_c_{uuid.uuid4()}-latch-",
                                 self.participant_id.encode(), ephemeral=True, sequence=True)
        self.node = created.rsplit("/", 1)[1]
        self.zk.ChildrenWatch(self.path, self._children_changed)

    def _children_changed(self, children):
        if self._closed:
            return False
        latches = sorted((c for c in children if "latch-" in c), key=self._seq)
        elected = bool(latches) and latches[0] == self.node
        with self._lock:
            became = elected and not self.is_leader
            self.is_leader = elected
        if became and self.on_elected:
            threading.Thread(target=self.on_elected, name="elected", daemon=True).start()
        return True

    def leader_id(self):
        """Participant id of the current leader, or None."""
        try:
            children = self.zk.get_children(self.path)
        except NoNodeError:
            return None
        for c in sorted((c for c in children if "latch-" in c), key=self._seq):
            try:
                data, _ = self.zk.get(f"{self.path}/{c}")
                return data.decode()
            except NoNodeError:
                continue
        return None

    def close(self):
        self._closed = True
        if self.node:
            with contextlib.suppress(Exception):  # best effort on shutdown
                self.zk.delete(f"{self.path}/{self.node}")


STOPPING = threading.Event()  # set while the process shuts down on purpose


def exit_on_session_loss(zk: KazooClient, code_for_state) -> None:
    """Exit the process when the ZooKeeper session is lost (systemd restarts it),
    as Marathon does (exit-codes.md: 101/103). ``code_for_state()`` gives the code."""

    def listener(state):
        if state == KazooState.LOST and not STOPPING.is_set():
            code = code_for_state()
            LOG.error("ZooKeeper session lost; exiting with %s", code)
            logging.shutdown()
            os._exit(code)

    zk.add_listener(listener)


def exit_cleanly_on_sigterm(zk: KazooClient) -> None:
    """On SIGTERM (systemctl stop/restart) close the ZooKeeper session first, so the
    ephemeral latch node goes at once and another instance takes over without waiting for
    the session timeout."""

    def handler(signum, frame):
        LOG.info("SIGTERM: closing the ZooKeeper session and exiting")
        STOPPING.set()
        with contextlib.suppress(Exception):
            zk.stop()
            zk.close()
        logging.shutdown()
        os._exit(0)

    signal.signal(signal.SIGTERM, handler)


def exit_on_no_auth(func, code: int):
    """Run ``func``; when ZooKeeper refuses it for want of credentials (NoAuth: the znode's
    ACL does not let this session read or write), log it and exit with ``code``, as the
    upstream programs do, rather than run on without their state."""
    try:
        return func()
    except NoAuthError:
        LOG.error("ZooKeeper refused access (NoAuth): the --zk credentials do not match the ACL of "
                  "the znodes this program needs; exiting with %s", code)
        logging.shutdown()
        os._exit(code)


def read_framework_credential(principal: str | None, secret: str | None,
                              secret_file: str | None) -> tuple[str, str] | None:
    """The credential a framework authenticates with (``--mesos_authentication_principal`` and
    the secret, or the secret file read as it is: Chronos' authentication.md warns that a
    trailing newline becomes part of the secret)."""
    if not principal:
        return None
    if secret_file:
        try:
            with open(secret_file, encoding="utf-8") as handle:
                secret = handle.read()
        except OSError as exc:
            raise FlagError(f"Cannot read 'mesos_authentication_secret_file' {secret_file}: "
                            f"{exc.strerror}") from None
    return principal, secret or ""


# --------------------------------------------------------------------------
# the Mesos master, seen from a framework


class MesosMaster:
    """Finds the leading master from a ``--master`` value (zk://..., host:port,
    http://host:port) and speaks the stand-in scheduler contract to it."""

    def __init__(self, master: str, session_timeout_s: float = 10.0,
                 connect_timeout_s: float = 10.0, http_timeout_s: float = 5.0,
                 credential: tuple[str, str] | None = None):
        self.master = master
        self.http_timeout = http_timeout_s
        # authentication.md: the framework authenticates with a principal and secret; the
        # stand-in protocol carries them as Basic authentication on every call.
        self.credential = credential
        self._zk = None
        self._zk_path = None
        self._leader = None  # "ip:port"
        self._lock = threading.Lock()
        if master.startswith("zk://"):
            hosts, path, auth = parse_zk_url(master)
            self._zk = make_zk_client(hosts, auth, session_timeout_s, connect_timeout_s)
            self._zk_path = path
            self._zk.ensure_path(path)
            self._zk.ChildrenWatch(path, self._children_changed)
        else:
            m = re.match(r"^(?:https?://)?([^/]+?)/?$", master)
            self._leader = m.group(1) if m else master

    def _children_changed(self, children):
        infos = sorted(c for c in children if c.startswith("json.info_"))
        leader = None
        for c in infos:
            try:
                data, _ = self._zk.get(f"{self._zk_path}/{c}")
                info = json.loads(data.decode())
                addr = info.get("address") or {}
                ip = addr.get("ip") or info.get("hostname")
                port = addr.get("port") or info.get("port")
                leader = f"{ip}:{port}"
                break
            except (NoNodeError, ValueError):
                continue
        with self._lock:
            if leader != self._leader:
                LOG.info("leading Mesos master is now %s", leader)
            self._leader = leader
        return True

    def leader(self):
        with self._lock:
            return self._leader

    def close(self):
        if self._zk:
            try:
                self._zk.stop()
                self._zk.close()
            except Exception:  # noqa: BLE001
                pass

    def _request(self, method, path, body=None):
        """One HTTP request to the leader; follows up to 3 redirects (307 from standbys)."""
        target = self.leader()
        if not target:
            raise ConnectionError("no leading Mesos master known")
        data = json.dumps(body).encode() if body is not None else None
        for _ in range(4):
            host, _, port = target.rpartition(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=self.http_timeout)
            try:
                headers = {"Content-Type": "application/json", "Accept": "application/json"}
                if self.credential:
                    user, secret = self.credential
                    headers["Authorization"] = "Basic " + base64.b64encode(
                        f"{user}:{secret}".encode()).decode("ascii")
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                if resp.status in (301, 302, 307) and resp.getheader("Location"):
                    loc = urllib.parse.urlsplit(resp.getheader("Location"), scheme="http")
                    target = loc.netloc
                    continue
                return resp.status, raw
            finally:
                conn.close()
        raise ConnectionError("too many redirects from the Mesos master")

    def get_json(self, path):
        status, raw = self._request("GET", path)
        if status != 200:
            raise ConnectionError(f"GET {path} on the Mesos master answered {status}")
        return json.loads(raw.decode() or "{}")

    def call(self, body):
        """POST /api/v1/scheduler; returns (status, parsed-or-text)."""
        status, raw = self._request("POST", "/api/v1/scheduler", body)
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def subscribe(self, info: dict, framework_id: str | None, principal: str | None) -> tuple[str | None, float]:
        """SUBSCRIBE with ``info`` (a FrameworkInfo without its id and principal), as ``framework_id``
        when the framework has one and as ``principal`` when it authenticates.

        Returns (the framework id the master gave, the heartbeat interval in seconds). Raises
        FrameworkRemoved when the master says the framework was removed (torn down, or past its
        failover timeout: scheduler-http-api.md), ConnectionError on any other refusal.
        """
        info = dict(info)
        if principal:
            info["principal"] = principal
        if framework_id:
            info["id"] = {"value": framework_id}
        status, body = self.call({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
        if status != 200 or not isinstance(body, dict):
            text = json.dumps(body) if not isinstance(body, str) else body
            if status in (400, 403) and re.search(r"removed|torn|completed", text or "", re.I):
                raise FrameworkRemoved(text)
            raise ConnectionError(f"SUBSCRIBE answered {status}: {text}")
        sub = body.get("subscribed") or {}
        return (sub.get("framework_id") or {}).get("value"), float(sub.get("heartbeat_interval_seconds") or 15)


class FrameworkRemoved(ConnectionError):
    """The master refused a SUBSCRIBE because the framework was removed (a ConnectionError to
    those that only retry)."""


def scalar(resources, name, default=0.0):
    """Read a scalar out of a Mesos resources value: a dict {"cpus": 1.0, ...} or a list."""
    if isinstance(resources, dict):
        v = resources.get(name, default)
        try:
            return float(v)
        except (TypeError, ValueError):
            return default
    for r in resources or []:
        if r.get("name") == name and "scalar" in r:
            return float(r["scalar"].get("value", 0))
    return default


def parse_ranges(value):
    """'[31000-31005, 31010-31010]' or a RANGES resource list -> list of (begin, end)."""
    if value is None:
        return []
    if isinstance(value, list):
        out = []
        for r in value:
            if r.get("name") == "ports":
                for rg in r.get("ranges", {}).get("range", []):
                    out.append((int(rg["begin"]), int(rg["end"])))
        return out
    if isinstance(value, dict):
        return parse_ranges(value.get("ports"))
    return [(int(a), int(b)) for a, b in re.findall(r"(\d+)\s*-\s*(\d+)", str(value))]


def scalar_resource(name, value):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def ports_resource(ports):
    return {"name": "ports", "type": "RANGES",
            "ranges": {"range": [{"begin": p, "end": p} for p in ports]}}


# --------------------------------------------------------------------------
# HTTP server base


HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "content-length", "host"}


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, method: str, body: bytes):
        self.handler = handler
        self.method = method
        split = urllib.parse.urlsplit(handler.path)
        self.path = urllib.parse.unquote(split.path)
        self.raw_path = handler.path
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.headers = handler.headers
        self.body = body
        self.client_ip = handler.client_address[0]

    def arg(self, name, default=None):
        v = self.query.get(name)
        return v[-1] if v else default

    def bool_arg(self, name, default=False):
        v = self.arg(name)
        if v is None:
            return default
        return v.lower() in ("true", "1", "yes", "")


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else str(body).encode()
        self.headers = dict(headers or {})
        if content_type:
            self.headers.setdefault("Content-Type", content_type)


class StreamResponse:
    """Marks a handler that writes the socket itself (server-sent events)."""

    def __init__(self, writer, headers=None):
        self.writer, self.headers = writer, dict(headers or {})


def json_response(status, obj, headers=None):
    body = b"" if obj is None else json.dumps(obj).encode()
    h = {"Content-Type": "application/json; charset=utf-8"} if obj is not None else {}
    h.update(headers or {})
    return Response(status, body, h)


def message(status, text, **extra):
    body = {"message": text}
    body.update(extra)
    return json_response(status, body)


def proxy(req: Request, base: str, extra_headers: dict, connect_timeout: float,
          read_timeout: float) -> Response:
    """Forward ``req`` to ``base`` (``host:port``) and return its answer unchanged."""
    host, _, port = base.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=connect_timeout)
    try:
        conn.connect()
        conn.sock.settimeout(read_timeout)
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_BY_HOP}
        headers.update(extra_headers)
        conn.request(req.method, req.raw_path, body=req.body or None, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
        return Response(resp.status, body, out)
    finally:
        conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def version_string(self):
        return "Jetty(9.4.z)"

    def log_message(self, fmt, *args):  # route access logs through logging
        LOG.debug("%s %s", self.client_address[0], fmt % args)

    def _run(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self, method, body)
        try:
            resp = self.server.app.dispatch(req)
        except Exception as exc:  # noqa: BLE001 - a stand-in must answer, not die
            LOG.exception("error handling %s %s", method, self.path)
            resp = message(500, f"{type(exc).__name__}: {exc}")
        if isinstance(resp, StreamResponse):
            self.send_response(200)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
                resp.writer(self.wfile)
            return
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self):
        self._run("GET")

    def do_POST(self):
        self._run("POST")

    def do_PUT(self):
        self._run("PUT")

    def do_PATCH(self):
        self._run("PATCH")

    def do_DELETE(self):
        self._run("DELETE")

    def do_HEAD(self):
        self._run("HEAD")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_http(app, address: str, port: int) -> ThreadingHTTPServer:
    """Start serving ``app.dispatch(Request) -> Response`` in a background thread."""
    server = _Server((address, port), _Handler)
    server.app = app
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


class Router:
    """(method, regex) -> function(req, *groups)."""

    def __init__(self):
        self.routes = []

    def add(self, methods, pattern, func):
        self.routes.append((set(methods.split()), re.compile("^" + pattern + "$"), func))

    def match(self, req: Request):
        allowed = False
        for methods, rx, func in self.routes:
            m = rx.match(req.path)
            if m:
                if req.method in methods or (req.method == "HEAD" and "GET" in methods):
                    return func, m.groups()
                allowed = True
        return (None, "method") if allowed else (None, None)


def check_basic_auth(req: Request, credentials: str | None, realm: str):
    """None when allowed, else a 401 Response (``--http_credentials user:pass``)."""
    if not credentials:
        return None
    header = req.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            if base64.b64decode(header[6:]).decode() == credentials:
                return None
        except ValueError:
            pass
    return Response(401, b"", {"WWW-Authenticate": f'Basic realm="{realm}"'})


class EventBus:
    """Fan-out of JSON events to server-sent-event subscribers."""

    def __init__(self):
        self._subs = []
        self._lock = threading.Lock()

    def publish(self, event: dict):
        with self._lock:
            subs = list(self._subs)
        for filt, q in subs:
            if not filt or event.get("eventType") in filt:
                q.append(event)
                q.notify()

    def subscribe(self, event_types):
        q = _Queue()
        with self._lock:
            self._subs.append((set(event_types or ()), q))
        return q

    def unsubscribe(self, q):
        with self._lock:
            self._subs = [(f, s) for f, s in self._subs if s is not q]

    def close_all(self):
        with self._lock:
            subs, self._subs = list(self._subs), []
        for _, q in subs:
            q.close()


class _Queue:
    def __init__(self):
        self._items = []
        self._cond = threading.Condition()
        self.closed = False

    def append(self, item):
        with self._cond:
            self._items.append(item)

    def notify(self):
        with self._cond:
            self._cond.notify_all()

    def close(self):
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def get_all(self, timeout):
        with self._cond:
            if not self._items and not self.closed:
                self._cond.wait(timeout)
            items, self._items = self._items, []
            return items


def retry_forever(what: str, func, stop: threading.Event, delay: float = 0.5):
    """Run func until it returns without raising or stop is set."""
    while not stop.is_set():
        try:
            return func()
        except Exception as exc:  # noqa: BLE001
            LOG.warning("%s failed: %s", what, exc)
            stop.wait(delay)
    return None


def ensure_node(zk: KazooClient, path: str, data: bytes):
    try:
        zk.create(path, data, makepath=True)
    except NodeExistsError:
        zk.set(path, data)


_last_warning = {"text": None, "at": 0.0}


def warn_rarely(log, text: str, every: float = 30.0) -> None:
    """Log a repeated warning once, then at most every ``every`` seconds."""
    now = time.monotonic()
    if text != _last_warning["text"] or now - _last_warning["at"] >= every:
        log.warning("%s", text)
        _last_warning.update(text=text, at=now)


def time_ms() -> int:
    return int(time.time() * 1000)
