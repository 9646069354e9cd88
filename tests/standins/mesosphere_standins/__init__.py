"""Test stand-ins for Apache Mesos (master, agent), Marathon and Chronos.

These programs imitate the upstream programs on the surfaces the
``mesosphere.cluster`` collection touches: command-line flags and
environment variables, the ZooKeeper layout and leader election, and the
HTTP APIs. They are test infrastructure only and are not part of the
collection tarball. See ``tests/standins/README.md`` for what is covered.

Runtime dependencies: the Python standard library and kazoo.
"""

__version__ = "0.1.0"
