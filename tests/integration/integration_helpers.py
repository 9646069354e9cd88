"""Helpers of the integration tests: run a module through Ansible, read a server directly."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "tests" / "standins"
if str(STANDINS) not in sys.path:
    sys.path.insert(0, str(STANDINS))

from fixtures import start_mesos_master  # noqa: E402,F401  (re-exported for the tests)

ANSIBLE = str(Path(sys.executable).with_name("ansible"))


class AnsibleRun:
    def __init__(self, tmp_path_factory):
        self.home = tmp_path_factory.mktemp("ansible-home")

    def __call__(self, module, args, check=False, diff=False, timeout=300):
        """Run one module on localhost; return its result dict (with 'failed' when it failed)."""
        env = dict(os.environ)
        env.update(
            ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
            ANSIBLE_STDOUT_CALLBACK="json",
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_LOCAL_TEMP=str(self.home / "tmp"),
            ANSIBLE_HOME=str(self.home),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
            ANSIBLE_LOCALHOST_WARNING="False",
        )
        cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable,
               "-m", "mesosphere.cluster.%s" % module, "-a", json.dumps(args)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=timeout)
        try:
            out = json.loads(proc.stdout)
            result = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("ansible gave no JSON result (rc %s):\n%s\n%s" % (proc.returncode, proc.stdout,
                                                                                   proc.stderr)) from None
        assert "Traceback" not in json.dumps(result), result
        return result


def http_json(url, method="GET", timeout=5):
    """Read the server directly (not through the collection), to prove what modules did."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, method=method, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            try:
                return resp.status, (json.loads(body) if body.strip() else None)
            except ValueError:
                return resp.status, body.decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, body.decode("utf-8", "replace")
