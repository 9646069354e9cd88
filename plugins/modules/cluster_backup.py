#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_backup
short_description: Back up the state of a Mesos, Marathon and Chronos cluster into one archive
version_added: "0.2.0"
description:
  - Reads the cluster's state and writes it, on the host that runs the module, as one archive
    C(mesosphere-cluster-YYYYMMDDTHHMMSSZ.tar.gz) in O(dest), mode C(0600) in a C(0700) folder,
    since app and job definitions may hold secrets.
  - "The archive holds a C(manifest.json) (the version of every component, what each part holds,
    its size and SHA-256) and these parts: every Marathon app definition (without the fields
    Marathon fills in) and the groups they live in; every Chronos job definition (without its
    run counters, parents first); the Mesos maintenance windows and the machines that are down;
    and, for each of O(zookeeper_paths), every persistent znode under it, read through the
    ZooKeeper API."
  - The definitions are what M(mesosphere.cluster.marathon_app), M(mesosphere.cluster.chronos_job)
    and M(mesosphere.cluster.mesos_maintenance) re-apply; M(mesosphere.cluster.cluster_backup_info)
    reads an archive back and checks it.
  - Ephemeral znodes (the leader elections) are left out, as Marathon's own backup leaves out
    its leader latch. Znodes are read one by one while the cluster runs, so a tree is consistent
    per znode, not as a snapshot of the whole ensemble.
  - Then keeps the O(keep) newest archives of O(dest) and removes the older ones.
  - Nothing is written when any part cannot be read.
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - mesosphere.cluster.mesos
  - mesosphere.cluster.marathon
  - mesosphere.cluster.chronos
  - mesosphere.cluster.connection
attributes:
  check_mode:
    support: full
    description: Reads everything and reports the archive it would write and those it would remove; writes nothing.
  diff_mode:
    support: none
    description: An archive is not shown as a diff.
requirements:
  - kazoo >= 2.8 on the host that runs the module, when O(zookeeper_paths) is set
options:
  marathon_endpoints:
    description:
      - Base URLs of the Marathon instances, for example V(http://m1.example.com:8080).
      - Without it, the archive holds no Marathon part.
    type: list
    elements: str
    required: false
  chronos_endpoints:
    description:
      - Base URLs of the Chronos instances, for example V(http://m1.example.com:4400).
      - Without it, the archive holds no Chronos part.
    type: list
    elements: str
    required: false
  dest:
    description:
      - Folder of the archives on the host that runs the module; made (mode C(0700)) when missing.
    type: path
    required: true
  keep:
    description:
      - How many archives O(dest) keeps, the newest; older ones are removed after the new one is
        written. Only files named like this module's archives are counted or removed.
    type: int
    default: 5
  zookeeper_hosts:
    description:
      - The ZooKeeper members (V(host:port) list, comma-separated string or V(zk://) URL, whose
        credentials authenticate the session). Their version goes into the manifest.
      - Needed for O(zookeeper_paths).
    type: raw
  zookeeper_timeout:
    description: Seconds to wait for ZooKeeper.
    type: float
    default: 5
  auth_username:
    description:
      - Digest user to read the ZooKeeper trees as, when their ACLs are not world readable (the
        super user reads them all). Needs O(auth_password).
    type: str
    version_added: "0.2.0"
  auth_password:
    description: Its password.
    type: str
    version_added: "0.2.0"
  zookeeper_paths:
    description:
      - The paths whose trees are saved, like V(/mesos), V(/marathon) and V(/chronos/state).
    type: list
    elements: str
    default: []
  chronos_version:
    description:
      - The version of Chronos, for the manifest. Chronos reports its version on no endpoint,
        so the caller says it (the playbook reads the installed package).
    type: str
seealso:
  - module: mesosphere.cluster.cluster_backup_info
  - name: Marathon backup and restore
    description: What Marathon's own backup holds and leaves out.
    link: https://mesosphere.github.io/marathon/docs/backup-restore.html
"""

EXAMPLES = r"""
- name: Back up the cluster, keeping the last seven archives
  mesosphere.cluster.cluster_backup:
    dest: /var/backups/mesosphere-cluster
    keep: 7
    mesos_endpoints: [http://m1:5050, http://m2:5050, http://m3:5050]
    marathon_endpoints: [http://m1:8080, http://m2:8080, http://m3:8080]
    chronos_endpoints: [http://m1:4400, http://m2:4400, http://m3:4400]
    zookeeper_hosts: m1:2181,m2:2181,m3:2181
    zookeeper_paths: [/mesos, /marathon, /chronos/state]
    chronos_version: 3.0.2
  register: backup
"""

RETURN = r"""
archive:
  description: Path of the archive written (that would be written, in check mode).
  returned: always
  type: str
  sample: /var/backups/mesosphere-cluster/mesosphere-cluster-20261204T031500Z.tar.gz
manifest:
  description: The archive's manifest.
  returned: always
  type: dict
  sample:
    format: 1
    created: "2026-12-04T03:15:00Z"
    versions: {zookeeper: 3.8.0, mesos: 1.11.0, marathon: 1.11.24, chronos: 3.0.2}
    parts:
      marathon/apps.json: {holds: "Marathon app definitions", count: 2, bytes: 1830, sha256: "9f2c..."}
removed:
  description: The older archives removed to keep O(keep) (that would be removed, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/var/backups/mesosphere-cluster/mesosphere-cluster-20261128T031500Z.tar.gz]
"""

import os
import time
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mesosphere.cluster.plugins.module_utils import (
    _api,
    _backup,
    _chronos,
    _kazoo,
    _marathon,
    _mesos,
    _zookeeper,
)

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import NoNodeError
except ImportError:
    KazooClient = None
    NoNodeError = LookupError


def read_trees(params, paths):
    """The parts of the ZooKeeper trees: {part name: (holds, items, bytes)}."""
    target = _zookeeper.parse_hosts(params["zookeeper_hosts"])
    client, where = _kazoo.open_session(KazooClient, target, params["zookeeper_timeout"],
                                        params["auth_username"], params["auth_password"])

    def get(path):
        try:
            data, stat = client.get(path)
        except NoNodeError:
            raise LookupError(path) from None
        return data, stat.ephemeralOwner

    def children(path):
        try:
            return client.get_children(path)
        except NoNodeError:
            raise LookupError(path) from None

    parts = {}
    try:
        for path in paths:
            nodes = _backup.dump_tree(path, get, children)
            parts[_backup.zookeeper_part(path)] = (
                "persistent znodes under %s (data in base64)" % path, len(nodes),
                _backup.encode(dict(path=path, znodes=nodes)))
    except _kazoo.KazooException as exc:
        raise _kazoo.SessionError(
            "Could not read the ZooKeeper trees at %s: %s." % (where, type(exc).__name__)) from None
    finally:
        _kazoo.close_session(client)
    return parts


def main():
    argument_spec = _backup.argument_spec()
    argument_spec.update(
        dest=dict(type="path", required=True),
        keep=dict(type="int", default=5),
        zookeeper_paths=dict(type="list", elements="str", default=[]),
        auth_username=dict(type="str"),
        auth_password=dict(type="str", no_log=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=[("auth_username", "auth_password")])
    p = module.params
    if p["zookeeper_paths"] and not p["zookeeper_hosts"]:
        module.fail_json(msg="zookeeper_paths needs zookeeper_hosts: the members to read the trees from.")
    if p["keep"] < 1:
        module.fail_json(msg="keep must be at least 1 (the archive just written), got %d." % p["keep"])
    bad = [path for path in p["zookeeper_paths"] if not path.startswith("/") or path.endswith("/") and path != "/"]
    if bad:
        module.fail_json(msg="zookeeper_paths must be absolute ZooKeeper paths like /marathon, got %s."
                         % ", ".join(bad))
    if p["zookeeper_paths"] and KazooClient is None:
        module.fail_json(msg=_kazoo_missing(), exception=_kazoo.KAZOO_IMPORT_ERROR)

    mesos = _api.client_from_params(p, "mesos")
    marathon = _api.client_from_params(p, "marathon")
    chronos = _api.client_from_params(p, "chronos")
    parts = {}
    error = None
    try:
        versions = _backup.running_versions(p, mesos, marathon)
        state = _mesos.maintenance(mesos)
        window = _backup.export_maintenance(state["schedule"], state["status"])
        parts[_backup.PART_MAINTENANCE] = ("Mesos maintenance windows and down machines",
                                           len(window["windows"]), _backup.encode(window))
        if marathon is not None:
            apps = _backup.export_apps((marathon.get_json("/v2/apps") or {}).get("apps") or [],
                                       _marathon.SERVER_FIELDS)
            parts[_backup.PART_APPS] = ("Marathon app definitions", len(apps), _backup.encode(apps))
            groups = _backup.groups_of(apps)
            parts[_backup.PART_GROUPS] = ("Marathon groups the apps live in", len(groups), _backup.encode(groups))
        if chronos is not None:
            jobs = _backup.export_jobs(_chronos.list_jobs(chronos), _chronos.SERVER_FIELDS)
            parts[_backup.PART_JOBS] = ("Chronos job definitions, parents first", len(jobs), _backup.encode(jobs))
        if p["zookeeper_paths"]:
            parts.update(read_trees(p, p["zookeeper_paths"]))
    except _api.ApiError as exc:
        error = "Could not read the cluster's state for the backup; nothing was written: %s" % exc
    except (_kazoo.SessionError, _zookeeper.HostSpecError) as exc:
        error = "Could not read ZooKeeper for the backup; nothing was written: %s" % exc
    if error:
        module.fail_json(msg=error)

    now = datetime.now(UTC)
    name = _backup.archive_name(now)
    if os.path.exists(os.path.join(p["dest"], name)) and not module.check_mode:
        # Two backups in one second: the names sort by time, so the second waits for the next.
        time.sleep(1.05 - now.microsecond / 1e6)
        now = datetime.now(UTC)
        name = _backup.archive_name(now)
    manifest = _backup.build_manifest(now, versions, parts)
    archive = os.path.join(p["dest"], name)
    existing = [a for a in _backup.archives_in(p["dest"]) if a != archive]
    removed = _backup.to_prune(existing + [archive], p["keep"])
    if not module.check_mode:
        try:
            _backup.write_archive(p["dest"], name, manifest, _backup.contents(parts))
            for old in removed:
                os.unlink(old)
        except OSError as exc:
            module.fail_json(msg="Could not write the archive %s: %s." % (archive, exc.strerror or exc))
    module.exit_json(changed=True, archive=archive, manifest=manifest, removed=removed)


def _kazoo_missing():
    return missing_required_lib(_kazoo.MISSING) + _kazoo.MISSING_HINT


if __name__ == "__main__":
    main()
