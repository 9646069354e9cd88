#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_backup_info
short_description: Read and check a backup archive of the cluster
version_added: "0.2.0"
description:
  - Reads an archive that M(mesosphere.cluster.cluster_backup) wrote, on the host that runs the
    module, and checks it before anything uses it. It fails, with a sentence naming the archive and
    what is wrong, when the archive cannot be read (a flipped byte breaks the compression), when a
    part is missing, unlisted or does not match its SHA-256 in the manifest, or, with
    O(mesos_endpoints), when the running cluster cannot take its state.
  - "The rule for the running cluster, for each component whose version both the archive and the
    cluster know: the same major version, and the running version no older than the archived one
    (state only moves forward: Marathon migrates a restored state to its own version, and nothing
    migrates it back)."
  - Returns the definitions in the order they are re-applied, ready for
    M(mesosphere.cluster.marathon_app), M(mesosphere.cluster.chronos_job) and
    M(mesosphere.cluster.mesos_maintenance).
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
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
options:
  archive:
    description: Path of the archive on the host that runs the module.
    type: path
    required: true
  mesos_endpoints:
    description:
      - Base URLs of the Mesos masters of the cluster the archive is for. With them, the versions
        the running services report are checked against the manifest's; without them, only the
        archive itself is checked.
    type: list
    elements: str
    required: false
  marathon_endpoints:
    description:
      - Base URLs of the Marathon instances; with O(mesos_endpoints), their version is checked too.
    type: list
    elements: str
    required: false
  chronos_endpoints:
    description:
      - Not asked (Chronos reports its version on no endpoint; see O(chronos_version)).
    type: list
    elements: str
    required: false
  zookeeper_hosts:
    description: The ZooKeeper members, whose version is checked too.
    type: raw
  zookeeper_timeout:
    description: Seconds to wait for each ZooKeeper member.
    type: float
    default: 5
  chronos_version:
    description: The running Chronos version (Chronos reports it on no endpoint), checked too when set.
    type: str
seealso:
  - module: mesosphere.cluster.cluster_backup
"""

EXAMPLES = r"""
- name: Check the archive against the running cluster before restoring it
  mesosphere.cluster.cluster_backup_info:
    archive: /var/backups/mesosphere-cluster/mesosphere-cluster-20261204T031500Z.tar.gz
    mesos_endpoints: [http://m1:5050, http://m2:5050, http://m3:5050]
    marathon_endpoints: [http://m1:8080, http://m2:8080, http://m3:8080]
    zookeeper_hosts: m1:2181,m2:2181,m3:2181
  register: archive

- name: Re-apply its apps
  mesosphere.cluster.marathon_app:
    marathon_endpoints: [http://m1:8080, http://m2:8080, http://m3:8080]
    definition: "{{ item }}"
  loop: "{{ archive.apps }}"
  loop_control:
    label: "{{ item.id }}"
"""

RETURN = r"""
manifest:
  description: The archive's manifest (format, creation time, versions, parts with their checksums).
  returned: always
  type: dict
  sample: {"format": 1, "created": "2026-12-04T03:15:00Z", "versions": {"mesos": "1.11.0"}, "parts": {}}
running_versions:
  description: What the running services report, with O(mesos_endpoints).
  returned: always
  type: dict
  sample: {"zookeeper": "3.8.0", "mesos": "1.11.0", "marathon": "1.11.24", "chronos": null}
apps:
  description: The Marathon app definitions, by id.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "/web/frontend", "cmd": "python3 -m http.server $PORT0", "instances": 2}]
groups:
  description: The Marathon groups the apps live in, outermost first.
  returned: always
  type: list
  elements: str
  sample: [/web]
jobs:
  description: The Chronos job definitions, each parent before the jobs that depend on it.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "extract", "command": "true", "schedule": "R/2026-12-04T00:00:00Z/PT1H"}]
maintenance:
  description: The Mesos maintenance windows (machines, start and duration in seconds) and the down machines.
  returned: always
  type: dict
  sample:
    windows: [{"machines": [{"hostname": "a1", "ip": "10.0.0.21"}], "start": 1796000000, "duration": 3600}]
    down: []
zookeeper:
  description: For each ZooKeeper tree in the archive, its path and how many znodes it holds.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/marathon", "znodes": 12}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api, _backup, _zookeeper


def main():
    argument_spec = _backup.argument_spec(mesos_required=False)
    argument_spec.update(archive=dict(type="path", required=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    error = None
    try:
        manifest, parts = _backup.read_archive(p["archive"])
    except _backup.ArchiveError as exc:
        error = str(exc)
    if error:
        module.fail_json(msg=error)

    running = dict((c, None) for c in _backup.COMPONENTS)
    mesos = _api.client_from_params(p, "mesos")
    if mesos is not None:
        try:
            running = _backup.running_versions(p, mesos, _api.client_from_params(p, "marathon"))
        except _api.ApiError as exc:
            error = "Could not read the running versions to check the archive %s against: %s" % (p["archive"], exc)
        except _zookeeper.HostSpecError as exc:
            error = "Cannot read zookeeper_hosts: %s." % exc
        if error:
            module.fail_json(msg=error)
        problems = _backup.compatibility_errors(manifest.get("versions") or {}, running)
        if problems:
            module.fail_json(
                msg="The archive %s does not fit the running cluster: %s." % (p["archive"], "; ".join(problems)),
                manifest=manifest, running_versions=running)

    trees = [dict(path=part.get("path"), znodes=len(part.get("znodes") or []))
             for name, part in sorted(parts.items()) if name.startswith("zookeeper/")]
    module.exit_json(
        changed=False,
        manifest=manifest,
        running_versions=running,
        apps=parts.get(_backup.PART_APPS) or [],
        groups=parts.get(_backup.PART_GROUPS) or [],
        jobs=parts.get(_backup.PART_JOBS) or [],
        maintenance=parts.get(_backup.PART_MAINTENANCE) or dict(windows=[], down=[]),
        zookeeper=trees,
    )


if __name__ == "__main__":
    main()
