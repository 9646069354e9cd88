"""Contract tests of the stand-ins: make the package, the harness and the fixtures importable."""

import sys
from pathlib import Path

STANDINS = Path(__file__).resolve().parent.parent
if str(STANDINS) not in sys.path:
    sys.path.insert(0, str(STANDINS))

from fixtures import standin_cluster, standin_tmpdir, zk_ensemble  # noqa: E402,F401
