"""Loading the collection's filters stays cheap.

Ansible finds a filter named mesosphere.cluster.X by importing every file of plugins/filter, and
it does so again in the worker process of each task that uses one (the role checks, the
host_config arguments). A filter file that imported the modules' HTTP client (module_utils/_api,
ansible.module_utils.urls) cost about 0.06 s per host and task on the lab, a second of a no-op
site.yml; the filters' helpers live in modules that import nothing of the kind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FILTERS = sorted(p.stem for p in (Path(__file__).resolve().parents[4] / "plugins" / "filter").glob("*.py"))
HEAVY = ("ansible.module_utils.urls", "http.client", "kazoo",
         "ansible_collections.mesosphere.cluster.plugins.module_utils._api")


def test_every_filter_file_loads_without_an_http_client():
    assert "mesos" in FILTERS and "zookeeper" in FILTERS
    script = (
        "import importlib, json, sys\n"
        f"for name in {FILTERS!r}:\n"
        "    importlib.import_module('ansible_collections.mesosphere.cluster.plugins.filter.' + name)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
