# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors service_argument_spec("mesos") in plugins/module_utils/_api.py.
    DOCUMENTATION = r"""
options:
  mesos_endpoints:
    description:
      - Base URLs of the Mesos master instances, for example V(http://m1.example.com:5050).
      - Any instance will do; the module asks them in order who leads with
        C(GET /master/redirect) (the answer is read, not followed) and sends its requests to the leader.
      - When an instance cannot be reached the next one is tried.
      - A value without a scheme gets V(http://).
    type: list
    elements: str
    required: true
  mesos_username:
    description:
      - User name for HTTP basic authentication against Mesos master.
    type: str
  mesos_password:
    description:
      - Password for HTTP basic authentication against Mesos master.
      - Never logged nor returned.
    type: str
notes:
  - Set the connection options once for every module of the group with
    C(module_defaults) and C(group/mesosphere.cluster.mesos).
"""
