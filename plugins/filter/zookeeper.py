# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters that build ZooKeeper connection strings from the inventory.

Every role of the collection takes its ZooKeeper addresses from these filters, so the
ensemble is described once (the ``zookeeper`` group) and nobody types a zk:// URL.
Documentation: the YAML files of the same names beside this file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

DEFAULT_PORT = 2181


def _split_host_port(item: Any, port: Any) -> tuple[str, int]:
    """Return (host, port) for 'host', 'host:port', '[v6]:port', 'v6' or a mapping."""
    if isinstance(item, Mapping):
        host = item.get("host") or item.get("address")
        if not host:
            raise AnsibleFilterError(f"a ZooKeeper host given as a mapping needs 'host': {dict(item)!r}")
        return _split_host_port(to_text(host), item.get("port", port))
    text = to_text(item).strip()
    if not text:
        raise AnsibleFilterError("a ZooKeeper host is empty")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise AnsibleFilterError(f"unbalanced brackets in ZooKeeper host {text!r}")
        if rest:
            if not rest.startswith(":"):
                raise AnsibleFilterError(f"unexpected text after the address in {text!r}")
            port = rest[1:]
        return host, _port(port, text)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, _port(port, text)
    # no colon: a name or IPv4 address; several colons: a bare IPv6 address
    return text, _port(port, text)


def _port(value: Any, where: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"the port of ZooKeeper host {where!r} is not a number: {value!r}") from None
    if not 0 < port < 65536:
        raise AnsibleFilterError(f"the port of ZooKeeper host {where!r} is out of range: {port}")
    return port


def _format(host: str, port: int) -> str:
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def zk_hosts(hosts: Any, port: Any = DEFAULT_PORT) -> str:
    """'h1:2181,h2:2181' from a list of hosts (or a comma-separated string)."""
    if isinstance(hosts, (str, bytes)):
        hosts = [h for h in to_text(hosts).split(",") if h.strip()]
    if isinstance(hosts, Mapping) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError(f"zk_hosts expects a list of hosts, got {type(hosts).__name__}")
    seen: list[str] = []
    for item in hosts:
        entry = _format(*_split_host_port(item, port))
        if entry not in seen:
            seen.append(entry)
    if not seen:
        raise AnsibleFilterError("no ZooKeeper hosts given: is the zookeeper group of the inventory empty?")
    return ",".join(seen)


def zk_url(hosts: Any, path: str | None = "/mesos", port: Any = DEFAULT_PORT, username: str | None = None,
           password: str | None = None) -> str:
    """'zk://[user:pass@]h1:2181,h2:2181/path' from a list of hosts."""
    path = to_text(path or "").strip()
    if not path.startswith("/") or path == "/" or path.endswith("/") or "//" in path:
        raise AnsibleFilterError(f"the ZooKeeper path must be absolute, like /mesos, got {path!r}")
    auth = ""
    if username or password:
        auth = zk_credentials(username, password) + "@"
    return f"zk://{auth}{zk_hosts(hosts, port)}{path}"


# Mesos, Marathon and the ZooKeeper digest all take the credentials of a zk:// URL as they are
# written: nothing decodes a percent-encoded password, and a password encoded in the URL would
# no longer be the one the digest ACL was made from. So they are written raw, and what would
# break the URL (an '@' or '/' ends the credentials or the hosts, a ',' splits the hosts,
# blanks end a flag) is refused.
_URL_BREAKERS = frozenset("@/,") | frozenset(" \t\r\n")


def zk_credentials(username: str | None, password: str | None) -> str:
    """'user:password' for a zk:// URL; refuses what the URL cannot carry, never echoing it."""
    if not (username and password):
        raise AnsibleFilterError("ZooKeeper credentials need both a username and a password")
    username, password = to_text(username), to_text(password)
    if ":" in username or _URL_BREAKERS & set(username):
        raise AnsibleFilterError(
            f"the ZooKeeper username {username!r} contains ':', '@', '/', ',' or a blank, "
            "which a zk:// URL cannot carry")
    bad = sorted(_URL_BREAKERS & set(password))
    if bad:
        names = ", ".join("a blank" if c.isspace() else repr(c) for c in bad)
        raise AnsibleFilterError(
            f"the ZooKeeper password of {username!r} contains {names}, which a zk:// URL cannot carry "
            "(Mesos and Marathon do not decode percent-encoding, so the digest would not match): choose "
            "another password")
    return f"{username}:{password}"


def marathon_zk_url(hosts: Any, path: str = "/marathon", port: Any = DEFAULT_PORT, username: str | None = None,
                    password: str | None = None) -> str:
    """Marathon's --zk: the same URL form, with Marathon's own default path."""
    return zk_url(hosts, path=path, port=port, username=username, password=password)


def chronos_zk_hosts(hosts: Any, port: Any = DEFAULT_PORT) -> str:
    """Chronos's --zk_hosts: a plain host:port list, never a zk:// URL."""
    return zk_hosts(hosts, port=port)


# The paths each service owns by default (the roles' *_zookeeper_path defaults), and who else
# must read them: Marathon and Chronos find the leading Mesos master under /mesos.
_SERVICE_PATHS = (("mesos", "/mesos", ("marathon", "chronos")), ("marathon", "/marathon", ()),
                  ("chronos", "/chronos", ()))


def zookeeper_acls(credentials: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The default zookeeper_acl_znodes, from mesosphere_zookeeper_credentials.

    ``credentials`` maps a service (mesos, marathon, chronos) to ``{username, password}``; a
    service left out gets its own name as username and no password (which the zookeeper role's
    preflight refuses once authentication is on).
    """
    if credentials is None:
        credentials = {}
    if not isinstance(credentials, Mapping):
        raise AnsibleFilterError(
            "mesosphere_zookeeper_credentials must map mesos, marathon and chronos to {username, password}, "
            f"got {type(credentials).__name__}")
    unknown = sorted(set(credentials) - {name for name, _path, _readers in _SERVICE_PATHS})
    if unknown:
        raise AnsibleFilterError(
            f"mesosphere_zookeeper_credentials names {', '.join(map(repr, unknown))}; the services are mesos, "
            "marathon and chronos")

    def user(service: str) -> tuple[str, str]:
        entry = credentials.get(service) or {}
        if not isinstance(entry, Mapping):
            raise AnsibleFilterError(f"mesosphere_zookeeper_credentials.{service} must be {{username, password}}")
        return to_text(entry.get("username") or service), to_text(entry.get("password") or "")

    acls: list[dict[str, Any]] = []
    for service, path, readers in _SERVICE_PATHS:
        username, password = user(service)
        entry: dict[str, Any] = {"path": path, "username": username, "password": password}
        if readers:
            entry["readers"] = [user(reader)[0] for reader in readers]
        acls.append(entry)
    return acls


def zookeeper_acl_owner(acl_znodes: Iterable[Any] | None, path: str) -> dict[str, Any]:
    """The entry of zookeeper_acl_znodes that governs ``path``: its own, or its nearest ancestor's.

    ``{}`` when no entry covers it. A daemon writing under ``path`` must use that owner's credentials.
    """
    path = to_text(path or "").rstrip("/")
    best: dict[str, Any] = {}
    for entry in acl_znodes or []:
        if not isinstance(entry, Mapping):
            continue
        base = to_text(entry.get("path") or "").rstrip("/")
        if base and (path == base or path.startswith(base + "/")) and len(base) > len(to_text(best.get("path", ""))):
            best = dict(entry)
    return best


def zookeeper_access_problems(member: Mapping[str, Any] | None, needs: Mapping[str, str] | None,
                              username: str | None = None, password: str | None = None,
                              who: str = "the daemon") -> list[str]:
    """What keeps a daemon's ZooKeeper credentials from the access it needs, as sentences.

    ``member`` is the host variables of a ZooKeeper member (``hostvars[groups['zookeeper'][0]]``):
    its ``zookeeper_auth_enabled``, ``zookeeper_acl_world_readable`` and ``zookeeper_acl_znodes``
    (by default from ``mesosphere_zookeeper_credentials``, as the zookeeper role builds it).
    ``needs`` maps a path to ``all`` (the daemon writes under it: it must be the owner) or ``read``.
    ``who`` names the variables in the sentences. The sentences never hold a password.
    """
    member = member or {}
    if not _truthy(member.get("zookeeper_auth_enabled", False)):
        return []
    acls = member.get("zookeeper_acl_znodes")
    if acls is None:
        acls = zookeeper_acls(member.get("mesosphere_zookeeper_credentials") or {})
    world = _truthy(member.get("zookeeper_acl_world_readable", True))
    username, password = to_text(username or ""), to_text(password or "")
    users = {to_text(e.get("username") or ""): to_text(e.get("password") or "") for e in acls if isinstance(e, Mapping)}
    as_user = f"as {username!r}" if username else "without credentials"
    problems: list[str] = []
    for path, access in (needs or {}).items():
        owner = zookeeper_acl_owner(acls, path)
        if not owner:
            continue
        owner_name, owner_password = to_text(owner.get("username") or ""), to_text(owner.get("password") or "")
        is_owner = username == owner_name and password == owner_password
        if access == "all" and not is_owner:
            problems.append(
                f"{who} connects to ZooKeeper {as_user}{' with another password' if username == owner_name else ''}, "
                f"but {path} belongs to {owner_name!r} (zookeeper_acl_znodes, path {owner.get('path')}): "
                "ZooKeeper would refuse its writes (NoAuth).")
        elif access != "all" and not is_owner and not world:
            reader_names = [to_text(r) for r in owner.get("readers") or []]
            if not (username in reader_names and users.get(username) == password and password):
                problems.append(
                    f"{who} connects to ZooKeeper {as_user}, but {owner.get('path')} is not world readable "
                    f"(zookeeper_acl_world_readable) and {'that user is' if username else 'it is'} neither its "
                    f"owner {owner_name!r} nor one of its readers ({', '.join(reader_names) or 'none'}) with that "
                    "user's password: it could not read "
                    f"{path}.")
    return problems


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "zk_hosts": zk_hosts,
            "zk_url": zk_url,
            "marathon_zk_url": marathon_zk_url,
            "chronos_zk_hosts": chronos_zk_hosts,
            "zookeeper_acls": zookeeper_acls,
            "zookeeper_acl_owner": zookeeper_acl_owner,
            "zookeeper_access_problems": zookeeper_access_problems,
        }
