# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors zookeeper_argument_spec() in plugins/module_utils/_zookeeper.py.
    DOCUMENTATION = r"""
options:
  hosts:
    description:
      - The members of the ensemble.
      - A list of V(host:port) strings, one comma-separated string, or a URL like
        V(zk://zk1:2181,zk2:2181,zk3:2181/mesos).
      - A member without a port uses port V(2181). IPv6 addresses are written in brackets when
        they carry a port, like V([fd00::1]:2181).
    type: raw
    required: true
  timeout:
    description:
      - Seconds to wait for each member (connection and answer together).
    type: float
    default: 5
"""
