#!/usr/bin/python
# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_config
short_description: Bring a service's packages, files and units on a host to the wanted state, in one task
version_added: "0.2.0"
description:
  - One task for what a role otherwise spreads over many, each a round trip per host. It handles
    packages, alternatives, directories, files, file sets, removed paths, the systemd units and
    whether each daemon runs an older configuration than the one on disk.
  - "In this order: O(packages) (installed with their O(hold_units) masked for the runtime, so that
    no maintainer script starts a daemon before it is configured; a mask that an interrupted run
    left is lifted first), O(directories), O(file_sets), O(files), O(alternatives), O(absent);
    C(systemctl daemon-reload) when a unit file changed; O(units); O(pending); O(list)."
  - Each part is read first and only what differs is written; a host already right is not
    touched, and the task reports no change. Files are written to a temporary file in their
    folder, validated when asked, and renamed into place, so no service reads half a file.
  - Runs on the managed host with the Python standard library, C(dpkg-query), C(apt-get),
    C(update-alternatives) and C(systemctl).
author:
  - mesosphere.cluster contributors (@mesosphere)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description:
      - Reports what would be installed, written, removed, enabled and started, and which units a
        real run would find pending, changing nothing. Users, groups and files that a package
        still to install would bring are reported as changes, not refused.
  diff_mode:
    support: full
    description: Shows each file and file set before and after; the content of secret files is masked.
  platform:
    platforms: debian
options:
  repository_files:
    description:
      - The files of the apt repository the O(packages) come from (its source list, version pins,
        signing key), as O(files) takes them, written before anything else (with their folders).
        When one of them changed, the package lists are refreshed (C(apt-get update)) before any
        package is installed.
    type: list
    elements: dict
    default: []
    version_added: "0.2.0"
    suboptions:
      path:
        description: The file. Its folder must exist (list it in O(directories)).
        type: path
        required: true
      content:
        description:
          - The text (UTF-8), written as it is, no newline added. Render a template on the
            controller with C(lookup('ansible.builtin.template', ...)).
          - One of O(repository_files[].content) and O(repository_files[].copy_from), unless
            O(repository_files[].state=absent).
        type: str
      copy_from:
        description: A file on the host whose bytes the file must hold (a package's example, say).
        type: path
      owner:
        description: User, by name or id.
        type: str
        default: root
      group:
        description: Group, by name or id.
        type: str
        default: root
      mode:
        description: Mode, as an octal string like V('0644').
        type: raw
        default: "0644"
      secret:
        description:
          - The content is secret; the diff shows it masked. Set C(no_log) on the task as well,
            since the content travels in the task's arguments.
        type: bool
        default: false
      create_only:
        description: Write the file only when it does not exist; an existing one, whatever it holds, is left alone.
        type: bool
        default: false
      state:
        description:
          - V(absent) removes the file instead (a credential that is no longer wanted); its
            content is then not needed.
        type: str
        choices: [present, absent]
        default: present
      validate:
        description:
          - A command run on the new content before it replaces the file, with C(%s) for the
            temporary file's path. A refusal fails the task and leaves the old file in place.
        type: str
  packages:
    description:
      - Debian packages that must be installed. Missing ones are installed with C(apt-get install)
        (after C(apt-get update) when the package lists are missing or older than
        O(cache_valid_time)). Installed ones are left as they are, whatever their version.
    type: list
    elements: str
    default: []
  upgrade:
    description:
      - Also install a newer version of the O(packages) already installed, when apt's candidate (the
        version the repository offers under its pins, C(apt-cache policy)) differs from the one
        installed; downgrades too, since the pins say which version the cluster runs.
      - Daemons are not restarted here; the units of O(hold_units) are masked while the packages
        install, so that no maintainer script restarts them either. RV(upgraded) says what changed;
        restarting the daemons, one member at a time, is the caller's (playbooks/upgrade.yml).
    type: bool
    default: false
    version_added: "0.2.0"
  hold_units:
    description:
      - Units that the O(packages) would start when installed. They are masked for the runtime
        (C(/run/systemd/system)) while the packages install, and unmasked afterwards; a mask that
        an interrupted run left behind is lifted first, even when nothing is to install.
    type: list
    elements: str
    default: []
  update_cache:
    description: Whether to run C(apt-get update) before installing, when the lists are stale.
    type: bool
    default: true
  cache_valid_time:
    description: Seconds for which package lists count as fresh.
    type: int
    default: 3600
  alternatives:
    description:
      - Alternatives (C(update-alternatives)) that must point at a path. One that points
        elsewhere is installed with its priority and set.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The alternative's name, like V(zookeeper-conf).
        type: str
        required: true
      link:
        description: The generic link, like V(/etc/zookeeper/conf).
        type: path
        required: true
      path:
        description: What it must point at.
        type: path
        required: true
      priority:
        description: Its priority.
        type: int
        default: 50
  directories:
    description: Directories that must exist with this owner, group and mode (missing parents are created).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      owner:
        description: User, by name or id.
        type: str
        default: root
      group:
        description: Group, by name or id.
        type: str
        default: root
      mode:
        description: Mode, as an octal string like V('0755').
        type: raw
        default: "0755"
  files:
    description: Files that must hold exactly a content, with this owner, group and mode; written in the order given.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file. Its folder must exist (list it in O(directories)).
        type: path
        required: true
      content:
        description:
          - The text (UTF-8), written as it is, no newline added. Render a template on the
            controller with C(lookup('ansible.builtin.template', ...)).
          - One of O(files[].content) and O(files[].copy_from), unless O(files[].state=absent).
        type: str
      copy_from:
        description: A file on the host whose bytes the file must hold (a package's example, say).
        type: path
      owner:
        description: User, by name or id.
        type: str
        default: root
      group:
        description: Group, by name or id.
        type: str
        default: root
      mode:
        description: Mode, as an octal string like V('0644').
        type: raw
        default: "0644"
      secret:
        description:
          - The content is secret; the diff shows it masked. Set C(no_log) on the task as well,
            since the content travels in the task's arguments.
        type: bool
        default: false
      create_only:
        description: Write the file only when it does not exist; an existing one, whatever it holds, is left alone.
        type: bool
        default: false
      state:
        description:
          - V(absent) removes the file instead (a credential that is no longer wanted); its
            content is then not needed.
        type: str
        choices: [present, absent]
        default: present
      validate:
        description:
          - A command run on the new content before it replaces the file, with C(%s) for the
            temporary file's path. A refusal fails the task and leaves the old file in place.
        type: str
  file_sets:
    description:
      - Directories that must hold exactly the given files; every other entry is removed (but
        those in O(file_sets[].keep)). Written as M(mesosphere.cluster.directory_files) does.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory; a missing one is created.
        type: path
        required: true
      files:
        description: File name to content (UTF-8, as it is).
        type: dict
      flags:
        description:
          - Flag name to value, each written as its own file holding the value and a newline
            (booleans as V(true) and V(false)), as M(mesosphere.cluster.flag_directory) writes a
            Mesos or Chronos flag directory. The values of O(file_sets[].secret) flags are masked
            in everything the task returns.
        type: dict
      keep:
        description: Names left alone although not in O(file_sets[].files).
        type: list
        elements: str
        default: []
      prune:
        description:
          - Whether every other entry goes. V(false) writes the given files and leaves the rest
            (files the caller removes itself once it is safe).
        type: bool
        default: true
      secret:
        description: Names whose content is secret (mode C(0600), masked in the diff).
        type: list
        elements: str
        default: []
      owner:
        description: User of the files, by name or id.
        type: str
        default: root
      group:
        description: Group of the files, by name or id.
        type: str
        default: root
      mode:
        description: Mode of the files.
        type: raw
        default: "0644"
  absent:
    description: Files, links and directories (with everything in them) that must not exist.
    type: list
    elements: path
    default: []
  units:
    description:
      - systemd units to enable or disable, and to start or stop. A unit that runs already is not
        restarted here; O(pending) says whether it should be.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The unit; C(.service) is added when it has no type suffix.
        type: str
        required: true
      enabled:
        description: Whether it starts at boot; left as it is when not given.
        type: bool
      state:
        description: Whether it runs; left as it is when not given.
        type: str
        choices: [started, stopped]
  pending:
    description:
      - Units to check, after everything above, for a running process older than the files it
        reads, as M(mesosphere.cluster.pending_restart) does. In check mode a unit whose files this
        task would change counts as pending too.
    type: list
    elements: dict
    default: []
    suboptions:
      unit:
        description: The unit.
        type: str
        required: true
      name:
        description:
          - The key of this check in RV(pending); by default the unit with its type suffix. Give
            one when a unit is checked twice (a restart for some files, a reload for others).
        type: str
      paths:
        description: The files and directories it reads.
        type: list
        elements: path
        required: true
      process:
        description: Whose start counts (see M(mesosphere.cluster.pending_restart)).
        type: str
        choices: [main, newest_child]
        default: main
  list:
    description: Directories whose entries to return in RV(listing).
    type: list
    elements: path
    default: []
notes:
  - Package versions are not managed here; installed packages are left as they are.
seealso:
  - module: mesosphere.cluster.pending_restart
  - module: mesosphere.cluster.directory_files
  - module: mesosphere.cluster.flag_directory
"""

EXAMPLES = r"""
- name: ZooKeeper's packages, configuration and unit, in one task
  mesosphere.cluster.host_config:
    packages: [zookeeper, zookeeperd]
    hold_units: [zookeeper]
    alternatives:
      - {name: zookeeper-conf, link: /etc/zookeeper/conf, path: /etc/zookeeper/conf.mesosphere, priority: 60}
    directories:
      - {path: /etc/zookeeper/conf.mesosphere}
      - {path: /var/lib/zookeeper, owner: zookeeper, group: zookeeper, mode: "0750"}
    files:
      - path: /etc/zookeeper/conf.mesosphere/zoo.cfg
        content: "{{ lookup('ansible.builtin.template', 'zoo.cfg.j2') }}"
        group: zookeeper
      - path: /etc/zookeeper/conf.mesosphere/log4j.properties
        copy_from: /etc/zookeeper/conf_example/log4j.properties
      - path: /etc/systemd/system/zookeeper.service
        content: "{{ lookup('ansible.builtin.template', 'zookeeper.service.j2') }}"
    units:
      - {name: zookeeper, enabled: true, state: started}
    pending:
      - {unit: zookeeper, paths: [/etc/zookeeper/conf.mesosphere, /etc/systemd/system/zookeeper.service]}
  register: zookeeper_host

- name: Restart where the daemon runs an older configuration
  ansible.builtin.systemd_service:
    name: zookeeper
    state: restarted
  when: zookeeper_host.pending['zookeeper.service'].restart_pending
"""

RETURN = r"""
updated_paths:
  description: Paths written, created or removed (in check mode, that would be), in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/zookeeper/conf.mesosphere/zoo.cfg]
installed:
  description: Packages installed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [zookeeperd]
upgraded:
  description: Packages installed in another version (with O(upgrade)), each with V(name), V(installed) and V(to).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "mesos", "installed": "1.10.0-1", "to": "1.11.0-1"}]
lifted:
  description: Held units whose runtime mask, left by an interrupted run, was lifted.
  returned: always
  type: list
  elements: str
  sample: []
cache_updated:
  description: Whether the package lists were refreshed because a repository file changed.
  returned: always
  type: bool
daemon_reloaded:
  description: Whether systemd read its units again (a unit file changed).
  returned: always
  type: bool
units:
  description: Each unit of O(units) (with its type suffix) after the task, with V(active), V(enabled) and V(changed).
  returned: always
  type: dict
  sample: {"zookeeper.service": {"active": true, "enabled": true, "changed": false}}
pending:
  description:
    - Each check of O(pending), by its O(pending[].name) or its unit (with its type suffix), with
      V(active), V(started), V(changed_paths), V(missing), V(restart_pending) and V(check_mode), as
      M(mesosphere.cluster.pending_restart) returns them.
  returned: always
  type: dict
  sample: {"zookeeper.service": {"active": true, "restart_pending": false, "changed_paths": []}}
listing:
  description: Each directory of O(list) to its sorted entry names (empty when it does not exist).
  returned: always
  type: dict
  sample: {"/etc/haproxy/certs": ["site.pem"]}
check_mode:
  description: Whether the task ran in check mode (from C(--check), the play or the task).
  returned: always
  type: bool
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mesosphere.cluster.plugins.module_utils._host_config import HostConfig, HostConfigError

OWNERSHIP = dict(owner=dict(type="str", default="root"), group=dict(type="str", default="root"))


def file_options() -> dict[str, Any]:
    return dict(
        path=dict(type="path", required=True),
        content=dict(type="str"),
        copy_from=dict(type="path"),
        mode=dict(type="raw", default="0644"),
        secret=dict(type="bool", default=False),
        create_only=dict(type="bool", default=False),
        validate=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        **OWNERSHIP,
    )


def argument_spec() -> dict[str, Any]:
    return dict(
        repository_files=dict(type="list", elements="dict", default=[], options=file_options(),
                              mutually_exclusive=[("content", "copy_from")]),
        packages=dict(type="list", elements="str", default=[]),
        upgrade=dict(type="bool", default=False),
        hold_units=dict(type="list", elements="str", default=[]),
        update_cache=dict(type="bool", default=True),
        cache_valid_time=dict(type="int", default=3600),
        alternatives=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            link=dict(type="path", required=True),
            path=dict(type="path", required=True),
            priority=dict(type="int", default=50),
        )),
        directories=dict(type="list", elements="dict", default=[], options=dict(
            path=dict(type="path", required=True), mode=dict(type="raw", default="0755"), **OWNERSHIP,
        )),
        files=dict(type="list", elements="dict", default=[], options=file_options(),
                   mutually_exclusive=[("content", "copy_from")]),
        file_sets=dict(type="list", elements="dict", default=[], options=dict(
            path=dict(type="path", required=True),
            files=dict(type="dict"),
            flags=dict(type="dict"),
            keep=dict(type="list", elements="str", default=[]),
            prune=dict(type="bool", default=True),
            # names of the secret files, not secrets themselves
            secret=dict(type="list", elements="str", default=[], no_log=False),
            mode=dict(type="raw", default="0644"),
            **OWNERSHIP,
        ), required_one_of=[("files", "flags")]),
        absent=dict(type="list", elements="path", default=[]),
        units=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            enabled=dict(type="bool"),
            state=dict(type="str", choices=["started", "stopped"]),
        )),
        pending=dict(type="list", elements="dict", default=[], options=dict(
            unit=dict(type="str", required=True),
            name=dict(type="str"),
            paths=dict(type="list", elements="path", required=True),
            process=dict(type="str", choices=["main", "newest_child"], default="main"),
        )),
        list=dict(type="list", elements="path", default=[]),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    # the values of secret flags (a zk:// URL with its password) never show in what is returned
    for item in module.params["file_sets"]:
        for name in item["secret"]:
            value = (item.get("flags") or {}).get(name, (item.get("files") or {}).get(name))
            if isinstance(value, str) and value.strip():
                module.no_log_values.add(value.strip())
    # fail_json is called outside the except block: the errors are sentences, not tracebacks.
    error = None
    result: dict[str, Any] = {}
    engine = HostConfig(module.params, module.run_command, module.get_bin_path,
                        check_mode=module.check_mode, diff=module._diff)
    try:
        result = engine.run()
    except HostConfigError as exc:
        error = str(exc)
    if error:
        # what was done before the failure, so that a reader knows what changed
        module.fail_json(msg=error, changed=bool(engine.changed_paths), updated_paths=engine.changed_paths)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
