"""Shared pytest setup: import the collection by its FQCN from a checkout.

`.collections/ansible_collections/mesosphere/cluster` points back at the repository, so tests
import `ansible_collections.mesosphere.cluster.plugins...` exactly as Ansible does once the
collection is installed.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT))
