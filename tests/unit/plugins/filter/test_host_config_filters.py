"""service_idle: whether a role can skip its start, rolling restart and wait as a whole."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mesosphere.cluster.plugins.filter.host_config import service_idle


def result(active=True, pending=False, unit="marathon.service"):
    return {"units": {unit: {"active": active}}, "pending": {unit: {"restart_pending": pending}}}


def test_idle_when_every_host_runs_the_unit_with_nothing_pending():
    assert service_idle([result(), result()], "marathon") is True
    assert service_idle([result(), result()], "marathon.service") is True


@pytest.mark.parametrize("other", [result(active=False), result(pending=True), None, {"skipped": True}])
def test_not_idle_when_one_host_does_not_run_it_has_a_restart_pending_or_has_no_result(other):
    assert service_idle([result(), other], "marathon") is False


def test_a_unit_the_results_do_not_name_is_a_mistake_said_so():
    with pytest.raises(AnsibleFilterError, match="name no unit chronos.service"):
        service_idle([result()], "chronos")
