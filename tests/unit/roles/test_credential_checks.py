"""The credential checks of each role's preflight, run for real: a malformed credential stops the
role before it touches a host, with a sentence naming the variable, and never prints the secret.

The checks sit in each role's one checks task (a secret decides only whether a check holds, and
no sentence names a value), so the refusals below also prove that a failed check shows no secret.
"""

from __future__ import annotations

import pytest

SECRET = "wrong-Secret"


@pytest.mark.parametrize("role, extra, says", [
    # the role's argument specification refuses an entry without its secret first
    ("mesos_master", {"mesos_master_credentials": [{"principal": "marathon"}]},
     "missing required arguments: secret found in mesos_master_credentials"),
    ("mesos_master", {"mesos_master_credentials": [{"principal": "a", "secret": SECRET},
                                                   {"principal": "a", "secret": SECRET}]},
     "with distinct principals"),
    ("mesos_master", {"mesos_master_authenticate_frameworks": True},
     "must not be empty when any mesos_master_authenticate_* option is on"),
    ("mesos_slave", {"mesos_slave_credential": {"principal": "agent"}},
     "mesos_slave_credential needs both a principal and a secret"),
    ("marathon", {"marathon_http_credentials": SECRET},
     "marathon_http_credentials must be user:password"),
    ("marathon", {"marathon_mesos_authentication_secret": SECRET},
     "marathon_mesos_authentication_principal and _secret go together"),
    ("chronos", {"chronos_http_credentials": ":" + SECRET},
     "chronos_http_credentials must be user:password"),
    ("chronos", {"chronos_mesos_authentication_principal": "chronos"},
     "chronos_mesos_authentication_principal and _secret go together"),
    ("haproxy", {"haproxy_stats_password": SECRET},
     "haproxy_stats_username and haproxy_stats_password go together"),
    ("haproxy", {"haproxy_stats_username": "ad:min", "haproxy_stats_password": SECRET},
     "the user name cannot contain ':'"),
])
def test_a_malformed_credential_is_refused_with_a_sentence(preflight, role, extra, says):
    rc, out = preflight(role, {}, extra=extra)
    assert rc != 0, out
    assert says in out, out
    # the fixture has checked that no "Secret" shows


@pytest.mark.parametrize("role, extra", [
    ("mesos_master", {"mesos_master_credentials": [{"principal": "marathon", "secret": SECRET}],
                      "mesos_master_authenticate_frameworks": True}),
    ("mesos_slave", {"mesos_slave_credential": {"principal": "agent", "secret": SECRET}}),
    ("marathon", {"marathon_http_credentials": "admin:" + SECRET}),
    ("chronos", {"chronos_http_credentials": "admin:" + SECRET}),
    ("haproxy", {"haproxy_stats_username": "admin", "haproxy_stats_password": SECRET}),
])
def test_a_well_formed_credential_passes(preflight, role, extra):
    rc, out = preflight(role, {}, extra=extra)
    assert rc == 0, out
