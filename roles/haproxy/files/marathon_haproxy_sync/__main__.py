"""`python3 -m marathon_haproxy_sync`: the daemon's command line."""

import sys

from .daemon import main

sys.exit(main())
