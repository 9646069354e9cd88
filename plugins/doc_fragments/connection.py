# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors connection_argument_spec() in plugins/module_utils/_api.py; shared by the
    # mesos, marathon and chronos fragments' modules.
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Whether to verify the server certificate of V(https://) endpoints.
      - Turn it off only for self-signed certificates on a trusted network.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the certificate authorities that sign the servers' certificates.
    type: path
  client_cert:
    description:
      - PEM file of a client certificate to present to the servers.
      - If it does not contain the key, set O(client_key) too.
    type: path
  client_key:
    description:
      - PEM file of the private key of O(client_cert).
    type: path
  request_timeout:
    description:
      - Seconds to wait for each HTTP answer.
    type: float
    default: 10
  request_retries:
    description:
      - How many times a read (GET) is retried, with exponential backoff, after a 5xx answer
        or when no endpoint could be reached.
      - Writes are never retried; they go to the next endpoint only when the connection to one
        could not be made.
    type: int
    default: 2
"""
