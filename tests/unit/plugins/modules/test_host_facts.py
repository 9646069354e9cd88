"""host_facts: the facts the roles read, under setup's names, from the host's own files."""

from __future__ import annotations

import os

from ansible.module_utils import basic

from ansible_collections.mesosphere.cluster.plugins.modules import host_facts

BOOKWORM = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
"""


def test_a_debian_host_reads_as_setup_reports_it():
    facts = host_facts.distribution_facts(host_facts.parse_os_release(BOOKWORM), "12.11")
    assert facts == dict(os_family="Debian", distribution="Debian", distribution_version="12.11",
                         distribution_major_version="12", distribution_release="bookworm")


def test_a_family_comes_from_id_like_and_an_unknown_system_from_its_id():
    ubuntu = host_facts.parse_os_release('ID=ubuntu\nID_LIKE=debian\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
                                         "VERSION_CODENAME=noble\n")
    assert host_facts.distribution_facts(ubuntu, "trixie/sid")["os_family"] == "Debian"
    assert host_facts.distribution_facts(ubuntu, "trixie/sid")["distribution_version"] == "24.04"
    rocky = host_facts.parse_os_release('ID="rocky"\nID_LIKE="rhel centos fedora"\nNAME="Rocky Linux"\n')
    assert host_facts.distribution_facts(rocky, None)["os_family"] == "RedHat"
    assert host_facts.distribution_facts({}, None) == {}


def test_local_facts_read_json_and_run_executables_and_say_what_they_cannot_read(tmp_path):
    (tmp_path / "mesos_master.fact").write_text('{"masters": ["m1", "m2", "m3"], "quorum": 2}\n')
    (tmp_path / "broken.fact").write_text("{not json")
    script = tmp_path / "dynamic.fact"
    script.write_text('#!/bin/sh\necho \'{"answer": 42}\'\n')
    os.chmod(script, 0o755)
    (tmp_path / "notes.txt").write_text("not a fact")

    class Module:
        def run_command(self, argv):
            import subprocess
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            return done.returncode, done.stdout, done.stderr

    facts = host_facts.local_facts(Module(), str(tmp_path))
    assert facts["mesos_master"] == {"masters": ["m1", "m2", "m3"], "quorum": 2}
    assert facts["dynamic"] == {"answer": 42}
    assert facts["broken"].startswith("error reading %s" % (tmp_path / "broken.fact"))
    assert set(facts) == {"mesos_master", "dynamic", "broken"}
    assert host_facts.local_facts(Module(), str(tmp_path / "none")) == {}


def test_the_module_returns_them_prefixed_as_setup_does(run_module, monkeypatch, tmp_path):
    answers = {
        ("-4", "route", "show", "default"): "default via 172.25.0.1 dev eth0\n",
        ("-4", "-o", "addr", "show", "dev", "eth0"): "2: eth0 inet 172.25.0.2/16 scope global eth0\n",
    }
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/sbin/" + name)
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: (0, answers.get(tuple(argv[1:]), ""), ""))
    result, failed = run_module(host_facts.main, dict(fact_path=str(tmp_path)))
    assert not failed and result["changed"] is False
    facts = result["ansible_facts"]
    assert facts["ansible_default_ipv4"] == {"address": "172.25.0.2", "interface": "eth0"}
    assert facts["ansible_local"] == {}
    assert "ansible_hostname" in facts and "ansible_os_family" in facts
