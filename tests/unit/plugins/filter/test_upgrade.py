"""The filters of upgrade.yml: what the repository offers under the pins, and the rules over what runs."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mesosphere.cluster.plugins.filter.upgrade import (
    upgrade_behind,
    upgrade_problems,
    upgrade_targets,
    upstream_version,
)

MADISON = """\
     mesos | 1.11.0-1+standin.20261206 | file:/srv/mesosphere-repo ./ Packages
     mesos | 1.10.0-1+standin.20261206 | file:/srv/mesosphere-repo ./ Packages
  marathon | 1.11.24-1+standin.20261206 | file:/srv/mesosphere-repo ./ Packages
  marathon | 1.10.26-1+standin.20261206 | file:/srv/mesosphere-repo ./ Packages
   chronos | 3.0.2-1+standin.20261206 | file:/srv/mesosphere-repo ./ Packages
   chronos | 3.0.1-1+standin.20261206 | file:/srv/mesosphere-repo ./ Packages
 zookeeper | 3.8.0-11 | http://deb.example/debian bookworm/main amd64 Packages
"""


def test_the_newest_offered_version_that_fits_each_pin():
    pins = {"mesos": "1.11.0*", "marathon": "1.10.*", "chronos": "3.0.*", "zookeeper": "*"}
    assert upgrade_targets(MADISON, pins) == {
        "mesos": "1.11.0-1+standin.20261206",
        "marathon": "1.10.26-1+standin.20261206",
        "chronos": "3.0.2-1+standin.20261206",
        "zookeeper": "3.8.0-11",
    }


def test_a_pin_the_repository_does_not_offer_has_no_target():
    assert upgrade_targets(MADISON, {"marathon": "1.12.*", "kafka": "*"}) == {"marathon": None, "kafka": None}


def test_the_rules_over_every_component():
    running = {"mesos": {"m1": "1.10.0", "a1": "1.10.0"}, "marathon": {"m1": "1.9.73"}}
    problems = upgrade_problems(running, {"mesos": "1.11.0", "marathon": "1.11.24"})
    assert len(problems) == 1 and problems[0].startswith("Marathon runs 1.9.73 on m1")
    assert upgrade_problems(running, {"mesos": "1.11.0"}) == []
    with pytest.raises(AnsibleFilterError):
        upgrade_problems(running, ["mesos"])


def test_upstream_version():
    assert upstream_version("1.11.0-1+standin.20261206") == "1.11.0"


def test_what_runs_other_than_its_target():
    running = {"mesos": {"m1": "1.11.0", "a1": "1.10.0", "a2": None}, "marathon": {"m1": "1.10.26"},
               "zookeeper": {"m1": "3.8.0"}}
    targets = {"mesos": "1.11.0", "marathon": "1.10.26-1+standin.20261206"}
    assert upgrade_behind(running, targets) == ["mesos 1.10.0 on a1 (target 1.11.0)"]
    assert upgrade_behind(running, {"mesos": "1.10.0"}) == ["mesos 1.11.0 on m1 (target 1.10.0)"]
    assert upgrade_behind({}, targets) == []
    with pytest.raises(AnsibleFilterError):
        upgrade_behind(running, None)
