"""The version rules of upgrade.yml (module_utils/_versions.py), each with the upstream note it
comes from; a rule that stopped refusing what it refuses fails here."""

from __future__ import annotations

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils._versions import (
    matches_pin,
    parse_version,
    upgrade_problems,
    upstream,
)


@pytest.mark.parametrize("text, parsed", [("1.11.0", (1, 11, 0)), ("3.8.0-11", (3, 8, 0)), ("v1.10", (1, 10, 0)),
                                          ("1.11.24-1+standin.2026", (1, 11, 24)), ("", None), ("none", None)])
def test_parse_version(text, parsed):
    assert parse_version(text) == parsed


def test_upstream_drops_the_debian_revision_and_epoch():
    assert upstream("1.11.0-1+standin.20261206") == "1.11.0"
    assert upstream("1:3.8.0-11") == "3.8.0"
    assert upstream("3.0.2") == "3.0.2"


def test_pins():
    assert matches_pin("1.11.0-1+standin.1", "1.11.0*") and matches_pin("1.11.24-1", "1.11.*")
    assert not matches_pin("1.10.0-1", "1.11.0*")


def test_an_upgrade_within_the_rules_has_no_problem():
    assert upgrade_problems("mesos", {"m1": "1.10.0", "m2": "1.10.0", "m3": "1.11.0"}, "1.11.0") == []
    assert upgrade_problems("marathon", {"m1": "1.10.26"}, "1.11.24") == []
    assert upgrade_problems("chronos", {"m1": "3.0.1"}, "3.0.2") == []
    assert upgrade_problems("zookeeper", {"z1": "3.8.0"}, "3.8.0") == []


def test_mesos_may_skip_a_release():
    # versioning.md: from a stable release N directly to M
    assert upgrade_problems("mesos", {"m1": "1.9.0"}, "1.11.0") == []


def test_a_downgrade_is_refused_naming_the_node():
    problems = upgrade_problems("mesos", {"m1": "1.10.0", "m2": "1.11.0"}, "1.10.0")
    assert problems == ["Mesos runs 1.11.0 on m2, newer than the target 1.10.0: upgrade.yml does not downgrade "
                        "(state only moves forward; restore a backup of the older cluster instead)."]


def test_marathon_may_not_skip_a_release():
    # upgrade/index.md: "It is recommended not to skip Marathon releases"
    problems = upgrade_problems("marathon", {"m1": "1.9.73"}, "1.11.24")
    assert len(problems) == 1 and "upgrade to 1.10 first" in problems[0] and "on m1" in problems[0]


def test_another_major_version_is_refused():
    assert "another major version" in upgrade_problems("mesos", {"m1": "1.11.0"}, "2.0.0")[0]


def test_zookeeper_needs_3_4_6_before_3_5():
    assert "3.4.6 or later first" in upgrade_problems("zookeeper", {"z1": "3.4.5"}, "3.5.9")[0]
    assert upgrade_problems("zookeeper", {"z1": "3.4.14"}, "3.5.9") == []


def test_a_node_that_does_not_run_it_is_not_refused_and_a_bad_target_is():
    assert upgrade_problems("chronos", {"m1": None, "m2": "3.0.1"}, "3.0.2") == []
    assert upgrade_problems("chronos", {"m1": "3.0.1"}, "(none)") == [
        "Chronos: the target version '(none)' is not a version."]
