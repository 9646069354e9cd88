#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_state_restore
short_description: Write the ZooKeeper trees of a backup archive back, as they were
version_added: "0.2.0"
description:
  - Puts the persistent znodes that M(mesosphere.cluster.cluster_backup) saved under each of
    O(paths) back into ZooKeeper, data and all, replacing the tree there. That is Marathon's and
    Chronos' full state (apps with their versions, instances, deployments, the framework id; jobs),
    restored as Marathon's backup and restore documentation restores it, while no Marathon runs.
  - The archive is checked first (every checksum, as M(mesosphere.cluster.cluster_backup_info)
    does), and every path is checked before any is written; nothing changes when one is refused.
  - Refuses to replace a tree that holds ephemeral znodes (a leader election's candidates), since a
    daemon that uses it still runs, and would write over the restored state or lose its own. Stop
    Marathon (or Chronos) on every master first; playbooks/restore.yml with
    C(restore_mode=full) does, when a check-mode run of this module said a tree differs. In check
    mode such a tree is reported in RV(in_use), not refused.
  - A tree already equal to the archived one is left alone, so a second run changes nothing.
  - The restored znodes get the ACL the tree's top znode had (the one the zookeeper role set),
    or an open ACL when there was none.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Reads the archive and the trees and reports which would be replaced.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  archive:
    description: The archive, on the host that runs the module.
    type: path
    required: true
  paths:
    description:
      - The trees to write back, each a ZooKeeper path the archive holds (for example V(/marathon)
        and V(/chronos/state)).
    type: list
    elements: str
    required: true
  zookeeper_hosts:
    description: The ensemble, V(host:port,...) or a list.
    type: raw
    required: true
  zookeeper_timeout:
    description: Seconds to wait for the session and each request.
    type: float
    default: 5.0
  auth_username:
    description: Digest user to authenticate as (the owner of the trees, or the super user).
    type: str
  auth_password:
    description: Its password.
    type: str
  ignore_paths:
    description:
      - ZooKeeper paths whose znodes (at or under them) are left out when a tree is compared with
        the archived one, such as what Marathon keeps of its running tasks (its instances), which
        it reconciles with Mesos and so rewrites after every restore. A tree that differs only
        there counts as equal; a tree that is restored gets them back as archived.
    type: list
    elements: str
    default: []
requirements:
  - kazoo
seealso:
  - module: mesosphere.cluster.cluster_backup
  - module: mesosphere.cluster.cluster_backup_info
"""

EXAMPLES = r"""
- name: Write Marathon's and Chronos' state back (both stopped on every master)
  mesosphere.cluster.cluster_state_restore:
    archive: /var/backups/mesosphere-cluster/mesosphere-cluster-20261204T031500Z.tar.gz
    paths: [/marathon, /chronos/state]
    zookeeper_hosts: m1:2181,m2:2181,m3:2181
"""

RETURN = r"""
restored:
  description: The trees written back (in check mode, that would be), with how many znodes each holds.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/marathon", "znodes": 12}]
in_use:
  description: The trees to replace that hold ephemeral znodes (check mode; a real run refuses them).
  returned: always
  type: list
  elements: str
  sample: [/marathon]
unchanged:
  description: The trees already equal to the archived ones.
  returned: always
  type: list
  elements: str
  sample: [/chronos/state]
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mesosphere.cluster.plugins.module_utils import _backup, _kazoo, _zookeeper

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import NoNodeError
    from kazoo.security import OPEN_ACL_UNSAFE
except ImportError:
    KazooClient = None
    NoNodeError = LookupError
    OPEN_ACL_UNSAFE = None


class Refused(Exception):
    """A path that cannot be restored; str() is a sentence."""


def read_tree(client: Any, path: str) -> tuple[list[dict], list[str], Any]:
    """(persistent znodes in dump_tree's form, ephemeral znode paths, the top znode's ACL or None)."""
    ephemeral: list[str] = []

    def get(node: str) -> tuple[bytes | None, int]:
        try:
            data, stat = client.get(node)
        except NoNodeError:
            raise LookupError(node) from None
        if stat.ephemeralOwner:
            ephemeral.append(node)
        return data, stat.ephemeralOwner

    def children(node: str) -> list[str]:
        try:
            return client.get_children(node)
        except NoNodeError:
            raise LookupError(node) from None

    nodes = _backup.dump_tree(path, get, children)
    try:
        acl, _stat = client.get_acls(path)
    except NoNodeError:
        acl = None
    return nodes, ephemeral, acl


def restore(client: Any, path: str, archived: list[dict], acl: Any) -> None:
    if client.exists(path):
        client.delete(path, recursive=True)
    for node, data in _backup.restore_order(archived):
        client.create(node, data, acl=acl or OPEN_ACL_UNSAFE, makepath=True)


def run(module: AnsibleModule) -> dict[str, Any]:
    p = module.params
    _manifest, parts = _backup.read_archive(p["archive"])
    wanted = {}
    held = sorted(part.get("path") for name, part in parts.items() if name.startswith("zookeeper/"))
    for path in p["paths"]:
        part = parts.get(_backup.zookeeper_part(path))
        if not part:
            raise Refused("The archive %s holds no ZooKeeper tree for %s (it holds %s)."
                          % (p["archive"], path, ", ".join(held) or "none"))
        wanted[path] = part.get("znodes") or []
    target = _zookeeper.parse_hosts(p["zookeeper_hosts"])
    client, where = _kazoo.open_session(KazooClient, target, p["zookeeper_timeout"],
                                        p["auth_username"], p["auth_password"])
    restored: list[dict] = []
    unchanged: list[str] = []
    in_use: list[str] = []
    try:
        plans = []
        for path, archived in wanted.items():
            current, ephemeral, acl = read_tree(client, path)
            if not _backup.tree_differs(archived, current, p["ignore_paths"]):
                unchanged.append(path)
                continue
            if ephemeral:
                in_use.append(path)
                if not module.check_mode:
                    raise Refused(
                        "%s holds ephemeral znodes (%s): a daemon that uses it still runs and would write over "
                        "the restored state. Stop it on every master first (restore.yml with restore_mode=full "
                        "does); nothing was restored." % (path, ", ".join(sorted(ephemeral)[:3])))
            plans.append((path, archived, acl))
        for path, archived, acl in plans:
            if not module.check_mode:
                restore(client, path, archived, acl)
            restored.append(dict(path=path, znodes=len(archived)))
    except _kazoo.KazooException as exc:
        raise _kazoo.SessionError(
            "Could not restore the ZooKeeper trees at %s: %s (%s)." % (where, type(exc).__name__, exc)) from None
    finally:
        _kazoo.close_session(client)
    return dict(changed=bool(restored), restored=restored, unchanged=unchanged, in_use=in_use)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            archive=dict(type="path", required=True),
            paths=dict(type="list", elements="str", required=True),
            zookeeper_hosts=dict(type="raw", required=True),
            zookeeper_timeout=dict(type="float", default=5.0),
            auth_username=dict(type="str"),
            auth_password=dict(type="str", no_log=True),
            ignore_paths=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    if KazooClient is None:
        module.fail_json(msg=missing_required_lib(_kazoo.MISSING) + _kazoo.MISSING_HINT,
                         exception=_kazoo.KAZOO_IMPORT_ERROR)
    # fail_json is called outside the except block: the errors are sentences, not tracebacks.
    error = None
    result: dict[str, Any] = {}
    try:
        result = run(module)
    except (_backup.ArchiveError, Refused, _kazoo.SessionError) as exc:
        error = str(exc)
    except _zookeeper.HostSpecError as exc:
        error = "Cannot read zookeeper_hosts: %s." % exc
    if error:
        module.fail_json(msg=error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
