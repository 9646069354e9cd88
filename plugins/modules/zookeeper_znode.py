#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: zookeeper_znode
short_description: Create, update or delete a ZooKeeper znode, its data and its ACL
version_added: "0.1.0"
description:
  - Makes sure a znode exists with the given data and ACL, or does not exist.
  - Reads the znode first and writes only what differs; in check mode it only reads.
  - Talks to the ensemble with the kazoo client library, which must be installed on the host
    that runs the module (Debian package C(python3-kazoo), or C(pip install kazoo)).
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.zookeeper
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  action_group:
    support: full
    membership: [mesosphere.cluster.zookeeper]
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
requirements:
  - kazoo >= 2.8
options:
  path:
    description:
      - Absolute path of the znode, like V(/mesos). With a chroot in O(hosts) it is relative to
        the chroot.
    type: str
    required: true
  state:
    description:
      - V(present) creates the znode if needed and sets O(data) and O(acl) when given.
      - V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  data:
    description:
      - Text to store in the znode, encoded as UTF-8.
      - When not given, a new znode is created empty and the data of an existing one is left alone.
    type: str
  acl:
    description:
      - The complete ACL of the znode; it replaces the current ACL when they differ.
      - When not given, a new znode gets C(world:anyone) with all permissions and the ACL of
        an existing one is left alone.
      - ZooKeeper ACLs apply to one znode, not to its children.
    type: list
    elements: dict
    suboptions:
      scheme:
        description: The ACL scheme.
        type: str
        choices: [world, digest, ip]
        required: true
      id:
        description:
          - For V(world), V(anyone) (the default).
          - For V(digest), V(user:base64-sha1-digest); or leave it out and give O(acl[].username)
            and O(acl[].password).
          - For V(ip), an address or a network such as V(10.0.0.0/8).
        type: str
      username:
        description: User of a V(digest) entry; the module computes the digest id.
        type: str
      password:
        description: Password of a V(digest) entry. Never logged.
        type: str
      permissions:
        description: What the id may do.
        type: list
        elements: str
        choices: [read, write, create, delete, admin, all]
        default: [all]
  recursive:
    description:
      - With O(state=present), create missing parent znodes (empty, with C(world:anyone) and all
        permissions).
      - With O(state=absent), delete the znode together with its children. Without it, a znode
        that has children is not deleted and the module fails.
    type: bool
    default: false
  acl_recursive:
    description:
      - With O(acl), protect every descendant of the znode as well. A ZooKeeper ACL applies to one
        znode only, so protecting a path that already has children (a running service's state)
        needs this.
      - A descendant gets O(acl) when someone other than the users O(acl) gives all permissions to
        may change it (write, create, delete or admin). One that only differs in who may read it
        is left as it is, since services create their znodes with their own ACLs (Mesos makes its
        leader znodes world readable, Marathon with credentials gives them to their creator only),
        and rewriting those at every run would never end. Descendants that vanish meanwhile
        (ephemeral znodes) are skipped.
    type: bool
    default: false
    version_added: "0.2.0"
  auth_username:
    description:
      - User to authenticate as with the C(digest) scheme before anything is read or written.
      - The super user configured on the servers may change any znode.
    type: str
  auth_password:
    description:
      - Password of O(auth_username). Never logged.
    type: str
notes:
  - Digest authentication sends the password to the server in clear text; use it on a trusted
    network.
  - The version of the znode is checked on every write, so a concurrent change makes the module
    fail rather than overwrite it.
  - ZooKeeper 3.8 hides the digest of C(digest) ACL entries from sessions without admin
    permission on the znode. Such a session compares only users and permissions, and warns;
    authenticate as the owner or the super user to have passwords compared too.
seealso:
  - module: mesosphere.cluster.zookeeper_info
"""

EXAMPLES = r"""
- name: Create /mesos, writable only by the mesos user, readable by everyone
  mesosphere.cluster.zookeeper_znode:
    hosts: zk1:2181,zk2:2181,zk3:2181
    path: /mesos
    auth_username: super
    auth_password: "{{ zookeeper_super_password }}"
    acl:
      - scheme: digest
        username: mesos
        password: "{{ mesos_zk_password }}"
        permissions: [all]
      - scheme: world
        permissions: [read]

- name: Store a value, creating the parents
  mesosphere.cluster.zookeeper_znode:
    hosts: zk://zk1:2181,zk2:2181/apps
    path: /settings/mode
    data: blue
    recursive: true

- name: Delete a tree
  mesosphere.cluster.zookeeper_znode:
    hosts: zk1:2181
    path: /old
    state: absent
    recursive: true
"""

RETURN = r"""
path:
  description: The znode path, as given.
  returned: always
  type: str
  sample: /mesos
exists:
  description: Whether the znode exists after the run (in check mode, whether it would).
  returned: always
  type: bool
  sample: true
data:
  description: The data of the znode as text (undecodable bytes replaced), or null when it does not exist.
  returned: always
  type: str
  sample: blue
acl:
  description: The ACL of the znode, or an empty list when it does not exist.
  returned: always
  type: list
  elements: dict
  sample: [{"scheme": "world", "id": "anyone", "permissions": ["read"]}]
stat:
  description: Version counters of the znode before any change, or null when it did not exist.
  returned: always
  type: dict
  sample: {"version": 2, "aversion": 1, "num_children": 0, "ephemeral": false}
acl_changed_descendants:
  description: With O(acl_recursive), how many descendants got (or, in check mode, would get) the ACL.
  returned: when O(acl_recursive) is set
  type: int
  sample: 12
  version_added: "0.2.0"
diff:
  description: Before and after, with the data and ACL of the znode.
  returned: when diff mode is on
  type: dict
  sample: {"before": {}, "after": {"path": "/a", "data": "x", "acl": []}}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mesosphere.cluster.plugins.module_utils._kazoo import SessionError, close_session, open_session
from ansible_collections.mesosphere.cluster.plugins.module_utils._zookeeper import (
    HostSpecError,
    acl_entry_to_key,
    acl_key_to_dict,
    parse_hosts,
    zookeeper_argument_spec,
)

KAZOO_IMPORT_ERROR = None
try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import (
        BadVersionError,
        KazooException,
        NoAuthError,
        NodeExistsError,
        NoNodeError,
        NotEmptyError,
    )
    from kazoo.handlers.threading import KazooTimeoutError
    from kazoo.security import ACL, Id
except ImportError:
    KAZOO_IMPORT_ERROR = traceback.format_exc()
    KazooClient = None


class ZnodeError(Exception):
    """A failure with a sentence for a person."""


def _acl_keys(acls):
    return sorted((a.id.scheme, a.id.id, a.perms) for a in acls)


def _masked(key):
    # ZooKeeper 3.8 shows digest ids as 'user:x' to clients without ADMIN on the znode.
    return key[0] == "digest" and key[1].endswith(":x")


def _same_acl(wanted, current, module):
    if wanted == current:
        return True
    if not any(_masked(k) for k in current):
        return False

    def by_user(keys):
        return sorted((s, i.split(":", 1)[0] if s == "digest" else i, p) for s, i, p in keys)

    if by_user(wanted) != by_user(current):
        return False
    module.warn(
        "ZooKeeper hides the digests of the ACL of %s from this session, so only the users and permissions "
        "were compared; authenticate as a user with admin permission on it to compare passwords too."
        % module.params["path"]
    )
    return True


def _only_owners_write(current, wanted):
    """Whether only those whom `wanted` gives every permission may change a znode of ACL `current`.

    Read permission (1) is not looked at. Digest ids hidden as 'user:x' compare by user.
    """
    owners = set((s, i) for s, i, p in wanted if p == 31)
    owner_users = set((s, i.split(":", 1)[0]) for s, i in owners if s == "digest")
    for scheme, ident, perms in current:
        if not perms & ~1:
            continue
        if (scheme, ident) in owners:
            continue
        if _masked((scheme, ident, perms)) and (scheme, ident.split(":", 1)[0]) in owner_users:
            continue
        return False
    return True


def _to_kazoo(keys):
    return [ACL(perms, Id(scheme, ident)) for scheme, ident, perms in keys]


def _view(path, data, acl_keys):
    return dict(path=path, data=data, acl=[acl_key_to_dict(k) for k in acl_keys])


def _text(raw):
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")


class Znode:
    def __init__(self, module, client, where):
        self.module = module
        self.client = client
        self.where = where
        self.path = module.params["path"]

    def _call(self, what, func, *args, missing_ok=False, znode=None, **kwargs):
        """func(*args, **kwargs), its errors as sentences naming `znode` (default: the module's path)."""
        path = znode or self.path
        try:
            return func(*args, **kwargs)
        except NoNodeError:
            if missing_ok:
                raise
            raise ZnodeError(
                "cannot %s %s at %s: its parent znode does not exist; set recursive=true to create it."
                % (what, path, self.where)
            ) from None
        except NodeExistsError:
            raise ZnodeError(
                "%s was created by someone else while this module was creating it (at %s); run again."
                % (path, self.where)
            ) from None
        except NoAuthError:
            raise ZnodeError(
                "ZooKeeper at %s refused to %s %s: not authorized (NoAuth). Authenticate with "
                "auth_username/auth_password as a user the znode's ACL allows, or as the super user."
                % (self.where, what, path)
            ) from None
        except BadVersionError:
            raise ZnodeError(
                "%s was changed by someone else while this module was changing it (%s at %s); run again."
                % (path, what, self.where)
            ) from None
        except NotEmptyError:
            raise ZnodeError(
                "%s has children, so it was not deleted; set recursive=true to delete them too." % path
            ) from None
        except KazooTimeoutError:
            raise ZnodeError(
                "ZooKeeper at %s did not answer in time to %s %s." % (self.where, what, path)
            ) from None
        except KazooException as exc:
            raise ZnodeError(
                "ZooKeeper at %s failed to %s %s: %s" % (self.where, what, path, type(exc).__name__)
            ) from None

    def read(self):
        """(data bytes, acl keys, stat) or None when the znode does not exist."""
        try:
            data, stat = self._call("read", self.client.get, self.path, missing_ok=True)
            acls, _acl_stat = self._call("read the ACL of", self.client.get_acls, self.path, missing_ok=True)
        except NoNodeError:
            return None
        return data, _acl_keys(acls), stat

    def run(self):
        params = self.module.params
        wanted_acl = None
        if params["acl"] is not None:
            try:
                wanted_acl = sorted(acl_entry_to_key(entry) for entry in params["acl"])
            except ValueError as exc:
                raise ZnodeError("Invalid acl entry for %s: %s." % (self.path, exc)) from None
            if not wanted_acl and params["state"] == "present":
                raise ZnodeError("acl for %s is empty: give at least one entry, or leave acl out." % self.path)
        wanted_data = None if params["data"] is None else params["data"].encode("utf-8")

        current = self.read()
        result = dict(changed=False, path=self.path)
        if current is None:
            before = {}
            result["stat"] = None
        else:
            data, acl_keys, stat = current
            before = _view(self.path, _text(data), acl_keys)
            result["stat"] = dict(
                version=stat.version,
                aversion=stat.aversion,
                num_children=stat.numChildren,
                ephemeral=bool(stat.ephemeralOwner),
            )

        if params["state"] == "absent":
            after = {}
            if current is not None:
                result["changed"] = True
                if not self.module.check_mode:
                    self._call(
                        "delete",
                        self.client.delete,
                        self.path,
                        version=-1 if params["recursive"] else current[2].version,
                        recursive=params["recursive"],
                    )
            result.update(exists=False, data=None, acl=[])
        elif current is None:
            acl_keys = wanted_acl or [("world", "anyone", 31)]
            data = wanted_data or b""
            result["changed"] = True
            if not self.module.check_mode:
                self._call(
                    "create",
                    self.client.create,
                    self.path,
                    data,
                    acl=_to_kazoo(acl_keys),
                    makepath=params["recursive"],
                )
            after = _view(self.path, _text(data), acl_keys)
            result.update(exists=True, data=_text(data), acl=after["acl"])
        else:
            data, acl_keys, stat = current
            if wanted_data is not None and wanted_data != data:
                result["changed"] = True
                if not self.module.check_mode:
                    self._call("write", self.client.set, self.path, wanted_data, version=stat.version)
                data = wanted_data
            if wanted_acl is not None and not _same_acl(wanted_acl, acl_keys, self.module):
                result["changed"] = True
                if not self.module.check_mode:
                    self._call(
                        "set the ACL of", self.client.set_acls, self.path, _to_kazoo(wanted_acl), version=stat.aversion
                    )
                acl_keys = wanted_acl
            after = _view(self.path, _text(data), acl_keys)
            result.update(exists=True, data=_text(data), acl=after["acl"])

        if params["acl_recursive"] and wanted_acl is not None and params["state"] == "present":
            changed = self.set_descendants_acl(wanted_acl) if current is not None else 0
            result["acl_changed_descendants"] = changed
            result["changed"] = result["changed"] or changed > 0

        if self.module._diff:
            result["diff"] = dict(before=before, after=after)
        return result

    def set_descendants_acl(self, wanted_acl):
        """Set wanted_acl on every descendant of the znode; returns how many differed."""
        changed = 0
        pending = [self.path]
        while pending:
            parent = pending.pop()
            try:
                children = self._call("list the children of", self.client.get_children, parent, missing_ok=True,
                                      znode=parent)
            except NoNodeError:
                continue
            for child in sorted(children):
                path = parent.rstrip("/") + "/" + child
                try:
                    acls, stat = self._call("read the ACL of", self.client.get_acls, path, missing_ok=True, znode=path)
                except NoNodeError:
                    continue
                pending.append(path)
                if _only_owners_write(_acl_keys(acls), wanted_acl):
                    continue
                if not self.module.check_mode:
                    try:
                        self._call("set the ACL of", self.client.set_acls, path, _to_kazoo(wanted_acl),
                                   version=stat.aversion, missing_ok=True, znode=path)
                    except NoNodeError:
                        continue
                changed += 1
        return changed


def connect(module, target):
    username = module.params["auth_username"]
    password = module.params["auth_password"] if username else None
    try:
        return open_session(KazooClient, target, module.params["timeout"], username, password)
    except SessionError as exc:
        raise ZnodeError(str(exc)) from None


def disconnect(client):
    close_session(client)


def argument_spec():
    spec = zookeeper_argument_spec()
    spec.update(
        path=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        data=dict(type="str"),
        acl=dict(
            type="list",
            elements="dict",
            options=dict(
                scheme=dict(type="str", required=True, choices=["world", "digest", "ip"]),
                id=dict(type="str"),
                username=dict(type="str"),
                password=dict(type="str", no_log=True),
                permissions=dict(
                    type="list",
                    elements="str",
                    default=["all"],
                    choices=["read", "write", "create", "delete", "admin", "all"],
                ),
            ),
        ),
        recursive=dict(type="bool", default=False),
        acl_recursive=dict(type="bool", default=False),
        auth_username=dict(type="str"),
        auth_password=dict(type="str", no_log=True),
    )
    return spec


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_together=[("auth_username", "auth_password")],
    )
    if KazooClient is None:
        module.fail_json(
            msg=missing_required_lib("kazoo") + " On Debian and Ubuntu it is the package python3-kazoo.",
            exception=KAZOO_IMPORT_ERROR,
        )

    path = module.params["path"]
    if not path.startswith("/") or (path != "/" and path.endswith("/")) or "//" in path:
        module.fail_json(msg="path must be an absolute ZooKeeper path like /mesos, got %r" % path)
    if path == "/" and module.params["state"] == "absent":
        module.fail_json(msg="the root znode / cannot be deleted")
    if module.params["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, got %s" % module.params["timeout"])
    error = None
    try:
        target = parse_hosts(module.params["hosts"])
    except HostSpecError as exc:
        error = "Cannot read the hosts option: %s." % exc
    if error:
        module.fail_json(msg=error)
    if target.password:
        module.no_log_values.add(target.password)

    # fail_json is called outside the except blocks: the errors are sentences, not tracebacks.
    result = None
    try:
        client, where = connect(module, target)
    except ZnodeError as exc:
        error = str(exc)
    if error:
        module.fail_json(msg=error)
    try:
        result = Znode(module, client, where).run()
    except ZnodeError as exc:
        error = str(exc)
    finally:
        disconnect(client)
    if error:
        module.fail_json(msg=error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
