# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""`python3 -m marathon_haproxy_sync`: the daemon's command line."""

import sys

from .daemon import main

sys.exit(main())
