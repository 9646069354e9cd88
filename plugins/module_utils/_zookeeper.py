# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private ZooKeeper helpers shared by the zookeeper_* modules.

This is private to the mesosphere.cluster collection; it may change without notice.

Two halves:

* four-letter words (``srvr``, ``mntr``, ``ruok``) over a plain TCP socket, with parsers for
  their answers and a summary of an ensemble. Managed hosts need nothing but Python for these;
* the pieces of a kazoo session that the znode module needs: host strings, digest ids and ACL
  conversions. kazoo itself is imported by the module, so that a missing kazoo is reported there.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import time

DEFAULT_PORT = 2181

# The largest answer read from one four-letter word. mntr of 3.8 is about 20 KiB; anything
# far beyond that is not a ZooKeeper server.
MAX_ANSWER = 1024 * 1024

# Modes in which a server answers clients as part of an ensemble (or alone).
SERVING_MODES = ("leader", "follower", "observer", "standalone")
VOTING_MODES = ("leader", "follower")

PERMISSIONS = {"read": 1, "write": 2, "create": 4, "delete": 8, "admin": 16}
ALL_PERMISSIONS = 31


def zookeeper_argument_spec():
    """Connection options shared by every zookeeper_* module (doc fragment: zookeeper)."""
    return dict(
        hosts=dict(type="raw", required=True),
        timeout=dict(type="float", default=5.0),
    )


# --------------------------------------------------------------------------------------------
# Host lists


class HostSpecError(ValueError):
    """The hosts option cannot be understood; str() says what to fix."""


class Target:
    """Where to connect: members as (host, port), an optional chroot and credentials."""

    def __init__(self, members, chroot="", username=None, password=None):
        self.members = members
        self.chroot = chroot
        self.username = username
        self.password = password

    @property
    def addresses(self):
        return [format_address(host, port) for host, port in self.members]

    def connection_string(self):
        """'h1:p1,h2:p2[/chroot]', the form kazoo takes."""
        return ",".join(self.addresses) + self.chroot


def format_address(host, port):
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def _split_member(text, default_port):
    text = text.strip()
    if not text:
        raise HostSpecError("a ZooKeeper member in the hosts list is empty")
    port = default_port
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise HostSpecError("unbalanced brackets in ZooKeeper member %r" % text)
        if rest:
            if not rest.startswith(":"):
                raise HostSpecError("unexpected text after the address in ZooKeeper member %r" % text)
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        # a name, an IPv4 address, or a bare IPv6 address (several colons, no port)
        host = text
    if not host:
        raise HostSpecError("ZooKeeper member %r has no host name" % text)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise HostSpecError("the port of ZooKeeper member %r is not a number" % text) from None
    if not 0 < port < 65536:
        raise HostSpecError("the port of ZooKeeper member %r is out of range 1-65535" % text)
    return host, port


def parse_hosts(spec, default_port=DEFAULT_PORT):
    """Read 'h1:p,h2', ['h1:p', 'h2'] or 'zk://[user:pass@]h1:p,h2/chroot' into a Target.

    Members are kept in the order given, without duplicates.
    """
    if isinstance(spec, (list, tuple)):
        items = []
        for item in spec:
            if not isinstance(item, str):
                raise HostSpecError("each entry of hosts must be a string like host:2181, got %r" % (item,))
            items.extend(item.split(","))
        spec = ",".join(items)
    if not isinstance(spec, str):
        raise HostSpecError("hosts must be a string or a list of strings, got %s" % type(spec).__name__)
    text = spec.strip()
    username = password = None
    chroot = ""
    if text.lower().startswith("zk://"):
        text = text[5:]
        if "@" in text.split("/", 1)[0]:
            cred, text = text.split("@", 1)
            # as written, as Mesos and Marathon read them (the digest is made from these bytes)
            username, sep, password = cred.partition(":")
            if not sep or not username:
                raise HostSpecError("the credentials of a zk:// URL must look like user:password@")
    if "/" in text:
        text, path = text.split("/", 1)
        path = "/" + path
        if path != "/":
            if path.endswith("/") or "//" in path:
                raise HostSpecError("the chroot %r of the hosts option is not a valid ZooKeeper path" % path)
            chroot = path
    members = []
    for part in text.split(","):
        if not part.strip():
            continue
        member = _split_member(part, default_port)
        if member not in members:
            members.append(member)
    if not members:
        raise HostSpecError("no ZooKeeper member given in hosts (expected host:port entries)")
    return Target(members, chroot, username, password)


# --------------------------------------------------------------------------------------------
# Four-letter words


class FourLetterWordError(Exception):
    """A four-letter word got no usable answer. ``reachable`` tells whether TCP connected."""

    reachable = False


class MemberUnreachable(FourLetterWordError):
    """Refused, unresolvable or otherwise not connectable."""


class MemberTimeout(FourLetterWordError):
    """No connection, or no complete answer, within the timeout."""


class NotWhitelisted(FourLetterWordError):
    """The server refuses the command: it is missing from 4lw.commands.whitelist."""

    reachable = True


class NotServing(FourLetterWordError):
    """The server runs but is not serving clients (no quorum, or electing a leader)."""

    reachable = True


class MalformedAnswer(FourLetterWordError):
    """The answer is not what a ZooKeeper server sends."""

    reachable = True


NOT_SERVING_TEXT = "not currently serving requests"
NOT_WHITELISTED_TEXT = "is not executed because it is not in the whitelist"


def _open(address, timeout):
    """The one network call of this file (tests replace it)."""
    return socket.create_connection(address, timeout)


def send_four_letter_word(host, port, command, timeout, connect=None):
    """Send one four-letter word and return the whole answer as text.

    The server answers and closes the connection, so the answer ends at EOF. ``timeout``
    bounds the connection and the whole answer together.
    """
    where = format_address(host, port)
    deadline = time.monotonic() + timeout
    try:
        sock = (connect or _open)((host, port), timeout)
    # socket.timeout, not TimeoutError: before Python 3.10 they differ, and targets may be older.
    except socket.timeout:  # noqa: UP041
        raise MemberTimeout("no TCP connection to %s within %ss" % (where, timeout)) from None
    except ConnectionRefusedError:
        raise MemberUnreachable("connection to %s refused (ZooKeeper not running there?)" % where) from None
    except socket.gaierror as exc:
        raise MemberUnreachable("cannot resolve %s: %s" % (host, exc.strerror or exc)) from None
    except OSError as exc:
        raise MemberUnreachable("cannot connect to %s: %s" % (where, exc.strerror or exc)) from None
    chunks = []
    size = 0
    try:
        sock.sendall(command.encode("ascii"))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()  # noqa: UP041
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_ANSWER:
                err = MalformedAnswer("%s answered %s with more than %d bytes" % (where, command, MAX_ANSWER))
                raise err
    except socket.timeout:  # noqa: UP041
        err = MemberTimeout("%s accepted the connection but sent no complete answer to %s within %ss"
                            % (where, command, timeout))
        err.reachable = True
        raise err from None
    except (ConnectionResetError, BrokenPipeError) as exc:
        # A server that has not finished starting resets the connection.
        err = MemberUnreachable("%s closed the connection during %s: %s" % (where, command, exc.strerror or exc))
        err.reachable = True
        raise err from None
    except OSError as exc:
        err = MemberUnreachable("error talking to %s during %s: %s" % (where, command, exc.strerror or exc))
        err.reachable = True
        raise err from None
    finally:
        sock.close()
    text = b"".join(chunks).decode("utf-8", errors="replace")
    if NOT_WHITELISTED_TEXT in text:
        raise NotWhitelisted("%s does not allow %s: add it to 4lw.commands.whitelist" % (where, command))
    if NOT_SERVING_TEXT in text:
        raise NotServing("%s is running but not serving requests (no quorum, or electing a leader)" % where)
    return text


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _number(value):
    value = value.strip()
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_srvr(text):
    """Read the answer of ``srvr`` (or ``stat``) into a dict.

    Raises MalformedAnswer when the lines that every server sends (version and mode) are missing.
    """
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    version = fields.get("zookeeper version")
    mode = fields.get("mode")
    if not version or not mode:
        snippet = text.strip().splitlines()[0][:80] if text.strip() else "an empty answer"
        raise MalformedAnswer("not a srvr answer (no version or mode line): %r" % snippet)
    result = dict(
        version=version.split(",")[0].strip(),
        mode=mode.lower(),
        zxid=None,
        epoch=None,
        latency=None,
        received=_int(fields.get("received")),
        sent=_int(fields.get("sent")),
        connections=_int(fields.get("connections")),
        outstanding=_int(fields.get("outstanding")),
        node_count=_int(fields.get("node count")),
    )
    zxid = fields.get("zxid")
    if zxid:
        try:
            value = int(zxid, 16)
        except ValueError:
            raise MalformedAnswer("the zxid %r of a srvr answer is not hexadecimal" % zxid) from None
        result["zxid"] = "0x%x" % value
        result["epoch"] = value >> 32
    latency = fields.get("latency min/avg/max")
    if latency:
        parts = latency.split("/")
        if len(parts) != 3:
            raise MalformedAnswer("the latency %r of a srvr answer is not min/avg/max" % latency)
        try:
            result["latency"] = dict(min=float(parts[0]), avg=float(parts[1]), max=float(parts[2]))
        except ValueError:
            raise MalformedAnswer("the latency %r of a srvr answer is not numeric" % latency) from None
    return result


def parse_mntr(text):
    """Read the answer of ``mntr`` (``key<TAB>value`` lines) into a dict of numbers and strings."""
    values = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("\t")
        if not sep or not key.startswith("zk_"):
            raise MalformedAnswer("not a mntr line: %r" % line[:80])
        values[key.strip()] = value.strip() if key == "zk_version" else _number(value)
    if "zk_server_state" not in values:
        raise MalformedAnswer("the mntr answer has no zk_server_state")
    return values


def probe_member(host, port, timeout, mntr=False, ruok=False, send=None):
    """Ask one member what it is. Never raises for a member's state: it is reported as data."""
    send = send or send_four_letter_word
    member = dict(
        host=host,
        port=port,
        address=format_address(host, port),
        reachable=False,
        serving=False,
        mode=None,
        zxid=None,
        epoch=None,
        latency=None,
        received=None,
        sent=None,
        connections=None,
        outstanding=None,
        node_count=None,
        version=None,
        error=None,
    )
    if ruok:
        member["ruok"] = None
    if mntr:
        member["mntr"] = None
    try:
        member.update(parse_srvr(send(host, port, "srvr", timeout)))
        member["reachable"] = True
        member["serving"] = member["mode"] in SERVING_MODES
        if not member["serving"]:
            member["error"] = "unexpected mode %r" % member["mode"]
    except FourLetterWordError as exc:
        member["reachable"] = exc.reachable
        member["error"] = str(exc)
        if not exc.reachable:
            # the other words would fail the same way
            return member
    extra_errors = []
    if ruok:
        try:
            member["ruok"] = send(host, port, "ruok", timeout).strip() == "imok"
        except FourLetterWordError as exc:
            extra_errors.append("ruok: %s" % exc)
    if mntr:
        try:
            member["mntr"] = parse_mntr(send(host, port, "mntr", timeout))
        except FourLetterWordError as exc:
            extra_errors.append("mntr: %s" % exc)
    if extra_errors and member["error"] is None:
        member["error"] = "; ".join(extra_errors)
    return member


def summarize(members):
    """Ensemble summary of probed members.

    Quorum holds when exactly one member leads and leader plus followers are a majority of the
    members given, or when a single member runs standalone.
    """
    size = len(members)
    majority = size // 2 + 1
    leaders = [m["address"] for m in members if m["mode"] == "leader"]
    followers = [m["address"] for m in members if m["mode"] == "follower"]
    observers = [m["address"] for m in members if m["mode"] == "observer"]
    standalone = [m["address"] for m in members if m["mode"] == "standalone"]
    voting = len(leaders) + len(followers)
    quorum = True if size == 1 and standalone else len(leaders) == 1 and voting >= majority
    return dict(
        size=size,
        majority=majority,
        serving=sum(1 for m in members if m["serving"]),
        voting_serving=voting,
        reachable=sum(1 for m in members if m["reachable"]),
        leader=leaders[0] if len(leaders) == 1 else None,
        leaders=leaders,
        followers=followers,
        observers=observers,
        standalone=standalone,
        unreachable=[m["address"] for m in members if not m["reachable"]],
        quorum=quorum,
    )


# --------------------------------------------------------------------------------------------
# Digest ids and ACLs


def digest_id(username, password):
    """The id of the digest scheme: 'user:' + base64(sha1('user:password'))."""
    raw = ("%s:%s" % (username, password)).encode("utf-8")
    return "%s:%s" % (username, base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii"))


def permissions_to_int(names):
    value = 0
    for name in names:
        if name == "all":
            value |= ALL_PERMISSIONS
        else:
            value |= PERMISSIONS[name]
    return value


def permissions_to_names(value):
    if value & ALL_PERMISSIONS == ALL_PERMISSIONS:
        return ["all"]
    return [name for name, bit in PERMISSIONS.items() if value & bit]


def acl_entry_to_key(entry):
    """Normalize one ACL option entry to (scheme, id, perms). Raises ValueError with a sentence."""
    scheme = entry["scheme"]
    if scheme == "world":
        ident = entry.get("id") or "anyone"
        if ident != "anyone":
            raise ValueError("the world scheme only has the id 'anyone', got %r" % ident)
    elif scheme == "digest":
        if entry.get("username"):
            if entry.get("password") is None or entry.get("id"):
                raise ValueError("a digest ACL entry takes either id (user:digest) or username and password")
            ident = digest_id(entry["username"], entry["password"])
        else:
            ident = entry.get("id")
            if not ident or ":" not in ident:
                raise ValueError("a digest ACL entry needs username and password, or id in the form user:digest")
    elif scheme == "ip":
        ident = entry.get("id")
        if not ident:
            raise ValueError("an ip ACL entry needs id: an address or a network like 10.0.0.0/8")
    else:
        raise ValueError("unsupported ACL scheme %r" % scheme)
    names = entry.get("permissions")
    perms = permissions_to_int(["all"] if names is None else names)
    if perms == 0:
        raise ValueError("an ACL entry needs at least one permission")
    return (scheme, ident, perms)


def acl_key_to_dict(key):
    scheme, ident, perms = key
    return dict(scheme=scheme, id=ident, permissions=permissions_to_names(perms))
