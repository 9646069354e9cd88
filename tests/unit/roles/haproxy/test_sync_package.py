"""The sync program as the hosts get it: a package with the collection's version, runnable
with `python3 -m`, needing nothing beyond Python's standard library."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import marathon_haproxy_sync
from haproxy_sync_helpers import PACKAGE_DIR, ROOT


def galaxy_version():
    text = (ROOT / "galaxy.yml").read_text()
    return re.search(r"^version:\s*['\"]?([^'\"\s]+)", text, re.M).group(1)


def run_module(*args, cwd=None):
    """As the role's entry script runs it: PYTHONPATH names the package's folder, nothing else."""
    return subprocess.run(
        [sys.executable, "-m", "marathon_haproxy_sync", *args],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PACKAGE_DIR)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_version_is_the_collections():
    assert marathon_haproxy_sync.__version__ == galaxy_version()


def test_version_option_prints_it(tmp_path):
    proc = run_module("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"haproxy-marathon-sync {galaxy_version()}"


def test_check_config_refuses_a_bad_file_with_a_sentence(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"marathon_urls": ["ftp://x"]}')
    proc = run_module("--check-config", "--config", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert "marathon_urls: 'ftp://x' is not an http(s) URL" in proc.stderr


def test_every_module_uses_the_standard_library_only():
    modules = sorted(p.stem for p in (PACKAGE_DIR / "marathon_haproxy_sync").glob("*.py") if p.stem != "__main__")
    code = (
        "import sys, importlib; sys.path.insert(0, sys.argv[1]); before = set(sys.modules)\n"
        "for m in sys.argv[2:]: importlib.import_module('marathon_haproxy_sync.' + m)\n"
        "print('\\n'.join(sorted({n.split('.')[0] for n in set(sys.modules) - before})))"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code, str(PACKAGE_DIR), *modules],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    outside = sorted(loaded - set(sys.stdlib_module_names) - {"marathon_haproxy_sync"})
    assert "marathon_haproxy_sync" in loaded and len(modules) >= 8
    assert outside == []


def test_a_taken_metrics_port_is_a_sentence_not_a_traceback(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {
                    "marathon_urls": ["http://127.0.0.1:1"],
                    "status_file": str(tmp_path / "status.json"),
                    "dynamic_config": str(tmp_path / "marathon.cfg"),
                    "metrics_port": port,
                }
            )
        )
        proc = run_module("--config", str(config), cwd=tmp_path)
    assert proc.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
