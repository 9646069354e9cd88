# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters that build ZooKeeper connection strings from the inventory.

Every role of the collection takes its ZooKeeper addresses from these filters, so the
ensemble is described once (the ``zookeeper`` group) and nobody types a zk:// URL.
Documentation: the YAML files of the same names beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

DEFAULT_PORT = 2181


def _split_host_port(item, port):
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


def _port(value, where):
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"the port of ZooKeeper host {where!r} is not a number: {value!r}") from None
    if not 0 < port < 65536:
        raise AnsibleFilterError(f"the port of ZooKeeper host {where!r} is out of range: {port}")
    return port


def _format(host, port):
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def zk_hosts(hosts, port=DEFAULT_PORT):
    """'h1:2181,h2:2181' from a list of hosts (or a comma-separated string)."""
    if isinstance(hosts, (str, bytes)):
        hosts = [h for h in to_text(hosts).split(",") if h.strip()]
    if isinstance(hosts, Mapping) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError(f"zk_hosts expects a list of hosts, got {type(hosts).__name__}")
    seen = []
    for item in hosts:
        entry = _format(*_split_host_port(item, port))
        if entry not in seen:
            seen.append(entry)
    if not seen:
        raise AnsibleFilterError("no ZooKeeper hosts given: is the zookeeper group of the inventory empty?")
    return ",".join(seen)


def zk_url(hosts, path="/mesos", port=DEFAULT_PORT, username=None, password=None):
    """'zk://[user:pass@]h1:2181,h2:2181/path' from a list of hosts."""
    path = to_text(path or "").strip()
    if not path.startswith("/") or path == "/" or path.endswith("/") or "//" in path:
        raise AnsibleFilterError(f"the ZooKeeper path must be absolute, like /mesos, got {path!r}")
    auth = ""
    if username or password:
        if not (username and password):
            raise AnsibleFilterError("ZooKeeper credentials need both a username and a password")
        # quote keeps ':' '@' '/' of a secret from breaking the URL; never echo the secret
        auth = f"{quote(to_text(username), safe='')}:{quote(to_text(password), safe='')}@"
    return f"zk://{auth}{zk_hosts(hosts, port)}{path}"


def marathon_zk_url(hosts, path="/marathon", port=DEFAULT_PORT, username=None, password=None):
    """Marathon's --zk: the same URL form, with Marathon's own default path."""
    return zk_url(hosts, path=path, port=port, username=username, password=password)


def chronos_zk_hosts(hosts, port=DEFAULT_PORT):
    """Chronos's --zk_hosts: a plain host:port list, never a zk:// URL."""
    return zk_hosts(hosts, port=port)


class FilterModule:
    def filters(self):
        return {
            "zk_hosts": zk_hosts,
            "zk_url": zk_url,
            "marathon_zk_url": marathon_zk_url,
            "chronos_zk_hosts": chronos_zk_hosts,
        }
