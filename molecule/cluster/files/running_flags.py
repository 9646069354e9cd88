#!/usr/bin/env python3
"""Print, as JSON, the flags the daemons on this master run with now (not what is on disk).

  running_flags.py HOSTNAME

  zookeeper_max_client_cnxns      ZooKeeper's `conf` four-letter word on 127.0.0.1:2181
  mesos_max_completed_frameworks  the master's /master/flags
  marathon_task_launch_timeout    Marathon's /v2/info (marathon_config)
  chronos_failure_retry           the running Chronos process's command line
A daemon that does not answer gives "". Standard library only.
"""

import json
import socket
import subprocess
import sys
import urllib.request


def zookeeper_conf(key):
    try:
        with socket.create_connection(("127.0.0.1", 2181), timeout=3) as sock:
            sock.sendall(b"conf")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return ""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1].strip()
    return ""


def http_json(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return json.load(resp)
    except (OSError, ValueError):
        return {}


def process_flag(unit, flag):
    pid = subprocess.run(["systemctl", "show", "-P", "MainPID", unit], capture_output=True, text=True,
                         check=False).stdout.strip()
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return ""
    for arg in argv:
        if arg.startswith(f"--{flag}="):
            return arg.split("=", 1)[1]
    return ""


def main():
    host = sys.argv[1]
    print(json.dumps({
        "zookeeper_max_client_cnxns": zookeeper_conf("maxClientCnxns"),
        "mesos_max_completed_frameworks": str(
            http_json(f"http://{host}:5050/master/flags").get("flags", {}).get("max_completed_frameworks", "")),
        "marathon_task_launch_timeout": str(
            http_json(f"http://{host}:8080/v2/info").get("marathon_config", {}).get("task_launch_timeout", "")),
        "chronos_failure_retry": process_flag("chronos", "failure_retry"),
    }))


if __name__ == "__main__":
    main()
