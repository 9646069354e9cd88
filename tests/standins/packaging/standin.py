# Runs one program of the stand-ins from this release's copy of the code:
#   python3 /usr/lib/mesosphere-standins/<package>/<version>/standin.py <module> [flags...]
# The release's folder stays in the process's command line, as a real program's versioned jar or
# binary path does: what `ps` shows says which release runs, even after a newer package replaced
# the files on disk.
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
module = sys.argv.pop(1)
runpy.run_module(module, run_name="__main__", alter_sys=True)
