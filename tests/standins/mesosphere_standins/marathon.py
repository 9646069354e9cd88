"""Marathon 1.11 stand-in: ``python3 -m mesosphere_standins.marathon --master zk://.../mesos ...``.

Sources (under the project's upstream reference, Marathon releases/1.11):
  flags and MARATHON_* variables ........ docs/command-line-flags.md
  exit codes ............................ docs/exit-codes.md
  REST resources, bodies, codes ......... docs/rest-api/public/api/v2/*.raml, types/*.raml, examples/
  exact status codes and headers ........ reference README notes 6-9
  events ................................ docs/event-bus.md
  health checks ......................... docs/health-checks.md
  readiness checks ...................... docs/readiness-checks.md (see _readiness.py)
  constraints ........................... docs/constraints.md
  rolling upgrades ...................... docs/deployments.md
  ports / task environment .............. docs/ports.md, docs/task-environment-vars.md

What is simplified is said where it happens and summarised in tests/standins/README.md.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import pwd
import random
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import uuid

from kazoo.exceptions import NoNodeError

from mesosphere_standins import _framework as fw
from mesosphere_standins import _readiness
from mesosphere_standins._common import release
from mesosphere_standins._framework import Flag, Response, json_response, message

LOG = logging.getLogger("mesosphere_standins.marathon")

VERSION = release("1.11.24")  # the version of the stand-in's package

# exit codes (exit-codes.md)
EXIT_ZK_CONNECTION_FAILURE = 100
EXIT_ZK_CONNECTION_LOST = 101
EXIT_LEADERSHIP_LOSS = 103
EXIT_LEADERSHIP_ENDED_GRACEFULLY = 105
EXIT_FRAMEWORK_REMOVED = 110
EXIT_BINDING_ERROR = 111
EXIT_INVALID_FLAG = 112

# Flag table (command-line-flags.md). kind "toggle" = --x / --disable_x.
FLAGS = [
    Flag("master", required=True),
    Flag("access_control_allow_origin"),
    Flag("checkpoint", "toggle", True),
    Flag("enable_features"),
    Flag("deprecated_features"),
    Flag("executor", default="//cmd"),
    Flag("failover_timeout", "int", 604800),
    Flag("framework_name", default="marathon"),
    Flag("ha", "toggle", True),
    Flag("hostname"),
    Flag("webui_url"),
    Flag("leader_proxy_connection_timeout", "int", 5000),
    Flag("leader_proxy_read_timeout", "int", 10000),
    Flag("local_port_max", "int", 20000),
    Flag("local_port_min", "int", 10000),
    Flag("mesos_role"),
    Flag("default_accepted_resource_roles"),
    Flag("accepted_resource_roles_default_behavior",
         choices=("any", "unreserved", "reserved"), default="any"),
    Flag("mesos_user"),
    Flag("reconciliation_initial_delay", "int", 15000),
    Flag("reconciliation_interval", "int", 600000),
    Flag("scale_apps_initial_delay", "int", 15000),
    Flag("scale_apps_interval", "int", 300000),
    Flag("task_launch_timeout", "int", 300000),
    Flag("zk", default="zk://localhost:2181/marathon"),
    Flag("zk_max_versions", "int", 50),
    Flag("zk_timeout", "int", 10000),
    Flag("zk_connection_timeout", "int", 10000),
    Flag("zk_session_timeout", "int", 10000),
    Flag("zk_max_node_size", "int", 1024000),
    Flag("mesos_authentication", "toggle", False),
    Flag("mesos_authentication_principal"),
    Flag("mesos_authentication_secret"),
    Flag("mesos_authentication_secret_file"),
    Flag("mesos_leader_ui_url"),
    Flag("env_vars_prefix"),
    Flag("zk_compression", "toggle", True),
    Flag("zk_compression_threshold", "int", 65536),
    Flag("max_apps", "int"),
    Flag("store_cache", "toggle", True),
    Flag("on_elected_prepare_timeout", "int", 180000),
    Flag("default_network_name"),
    Flag("task_lost_expunge_gc", "int", 75000),
    Flag("task_lost_expunge_initial_delay", "int", 300000),
    Flag("task_lost_expunge_interval", "int", 30000),
    Flag("mesos_heartbeat_interval", "int", 15000),
    Flag("mesos_heartbeat_failure_threshold", "int", 5),
    Flag("mesos_bridge_name", default="mesos-bridge"),
    Flag("backup_location"),
    Flag("draining_seconds", "int", 0),
    Flag("max_running_deployments", "int", 100),
    Flag("suppress_offers", "toggle", True),
    Flag("maintenance_mode", "toggle", True),
    Flag("new_group_enforce_role", choices=("off", "top"), default="off"),
    Flag("max_instances_per_offer", "int", 5),
    Flag("launch_token_refresh_interval", "int", 30000),
    Flag("launch_tokens", "int", 100),
    Flag("offer_matching_timeout", "int", 3000),
    Flag("task_launch_confirm_timeout", "int", 300000),
    Flag("min_revive_offers_interval", "int", 5000),
    Flag("revive_offers_repetitions", "int", 3),
    Flag("decline_offer_duration", "int", 120000),
    Flag("gpu_scheduling_behavior", choices=("restricted", "unrestricted"),
         default="restricted"),
    # web site
    Flag("assets_path"),
    Flag("http_address"),
    Flag("http_credentials"),
    Flag("http_port", "int", 8080),
    Flag("disable_http", "switch", False),
    Flag("https_address"),
    Flag("https_port", "int", 8443),
    Flag("http_realm", default="Mesosphere"),
    Flag("ssl_keystore_path"),
    Flag("ssl_keystore_password"),
    Flag("leader_proxy_ssl_ignore_hostname", "switch", False),
    Flag("leader_proxy_max_open_connections", "int", 64),
    Flag("http_compression", "toggle", True),
    Flag("http_max_concurrent_requests", "int"),
    # metrics
    Flag("metrics_name_prefix", default="marathon"),
    Flag("metrics_prometheus", "toggle", False),
    Flag("metrics_statsd", "toggle", False),
    Flag("metrics_statsd_host"),
    Flag("metrics_statsd_port", "int"),
    Flag("metrics_statsd_transmission_interval_ms", "int", 10000),
    Flag("metrics_datadog", "toggle", False),
    Flag("metrics_datadog_host"),
    Flag("metrics_datadog_port", "int"),
    Flag("metrics_datadog_protocol", choices=("udp", "api"), default="udp"),
    Flag("metrics_datadog_transmission_interval_ms", "int", 10000),
    Flag("metrics_histogram_reservoir_significant_digits", "int", 4),
    Flag("metrics_histogram_reservoir_reset_periodically", "toggle", True),
    Flag("metrics_histogram_reservoir_resetting_interval_ms", "int", 5000),
    Flag("metrics_histogram_reservoir_resetting_chunks", "int", 0),
    # debug
    Flag("logging_level", choices=("off", "fatal", "error", "warn", "info", "debug",
                                   "trace", "all")),
    Flag("tracing", "toggle", False),
    Flag("logstash"),
]

# Alternative environment variables that the docs name explicitly.
ENV_ALIASES = {
    "MESOSPHERE_HTTP_CREDENTIALS": "http_credentials",
    "MESOSPHERE_KEYSTORE_PATH": "ssl_keystore_path",
    "MESOSPHERE_KEYSTORE_PASS": "ssl_keystore_password",
}

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNREACHABLE",
            "TASK_UNKNOWN"}
STAGED = {"TASK_STAGING", "TASK_STARTING"}
CONDITION = {  # instance_changed_event conditions (event-bus.md)
    "TASK_STAGING": "Staging", "TASK_STARTING": "Starting", "TASK_RUNNING": "Running",
    "TASK_FINISHED": "Finished", "TASK_FAILED": "Failed", "TASK_KILLED": "Killed",
    "TASK_KILLING": "Killing", "TASK_LOST": "Unreachable", "TASK_ERROR": "Error",
    "TASK_DROPPED": "Dropped", "TASK_GONE": "Gone", "TASK_UNREACHABLE": "Unreachable",
    "TASK_UNKNOWN": "Unknown",
}

# app.raml PathId segment pattern; the whole id is a series of segments.
ID_SEGMENT = r"(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])"
ID_SEGMENT_MSG = ("must fully match regular expression "
                  "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]"
                  "*[a-z0-9])|(\\.|\\.\\.)$'")
CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS",
                        "IN")
HC_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP")
LOCKED_MSG = ("App is locked by one or more deployments. Override with the option "
              "'?force=true'. View details at '/v2/deployments/{}'.")


# --------------------------------------------------------------------------
# configuration


def parse_args(argv, env=None):
    """Return the flag values or raise FlagError (Marathon exits 112 on bad flags)."""
    values = fw.parse_flags(FLAGS, argv, env=env, env_prefix="MARATHON_",
                            env_aliases=ENV_ALIASES)
    try:
        fw.parse_zk_url(values["zk"])
    except ValueError:
        raise fw.FlagError(
            "Option 'zk' has invalid value: use zk://host1:port1,host2:port2,.../path "
            "or zk://user:pass@host1:port1,.../path") from None
    master = values["master"]
    if master.startswith("zk://"):
        try:
            fw.parse_zk_url(master)
        except ValueError:
            raise fw.FlagError(f"Option 'master' has invalid value '{master}'") from None
    cred = values["http_credentials"]
    if cred is not None and (":" not in cred or not cred.split(":", 1)[0]):
        raise fw.FlagError("Option 'http_credentials' must have the form username:password")
    if values["ssl_keystore_path"] and not values["ssl_keystore_password"]:
        raise fw.FlagError("Option 'ssl_keystore_path' requires 'ssl_keystore_password'")
    if values["disable_http"] and not values["ssl_keystore_path"]:
        raise fw.FlagError("Option 'disable_http' is only allowed when HTTPS is configured "
                           "('ssl_keystore_path')")
    if values["mesos_authentication_secret"] and values["mesos_authentication_secret_file"]:
        raise fw.FlagError("Only one of 'mesos_authentication_secret' and "
                           "'mesos_authentication_secret_file' may be given")
    if values["mesos_authentication"] and not values["mesos_authentication_principal"]:
        raise fw.FlagError("Option 'mesos_authentication' requires "
                           "'mesos_authentication_principal'")
    if values["local_port_min"] >= values["local_port_max"]:
        raise fw.FlagError("Option 'local_port_min' must be less than 'local_port_max'")
    for name in ("http_port", "https_port"):
        if not 0 <= values[name] <= 65535:
            raise fw.FlagError(f"Option '{name}' has invalid value '{values[name]}'")
    if values["ssl_keystore_path"]:
        # The stand-in serves plain HTTP only (see README); refuse rather than pretend.
        raise fw.FlagError("HTTPS ('ssl_keystore_path') is not supported by this stand-in")
    if values["hostname"] is None:
        values["hostname"] = fw.default_hostname()
    if values["mesos_user"] is None:
        values["mesos_user"] = pwd.getpwuid(os.getuid()).pw_name
    return values


# --------------------------------------------------------------------------
# app definitions


def path_id(raw: str, base: str = "/") -> str:
    """Canonical absolute app id ("/a/b")."""
    raw = raw.strip()
    if not raw.startswith("/"):
        raw = base.rstrip("/") + "/" + raw
    parts = [p for p in raw.split("/") if p]
    return "/" + "/".join(parts)


def task_prefix(app_id: str) -> str:
    return app_id.strip("/").replace("/", "_")


class Invalid(Exception):
    def __init__(self, details, status=422, msg="Object is not valid"):
        super().__init__(msg)
        self.details, self.status, self.msg = details, status, msg


def _type_check(obj):
    """400 'Invalid JSON' for wrong JSON types (apps.raml 400 example)."""
    expect = {
        "id": str, "cmd": str, "args": list, "instances": (int,), "cpus": (int, float),
        "mem": (int, float), "disk": (int, float), "gpus": (int,), "env": dict,
        "labels": dict, "constraints": list, "healthChecks": list, "portDefinitions": list,
        "ports": list, "requirePorts": bool, "upgradeStrategy": dict,
        "backoffSeconds": (int,), "backoffFactor": (int, float),
        "maxLaunchDelaySeconds": (int,), "dependencies": list, "fetch": list,
        "uris": list, "user": str, "executor": str, "killSelection": str,
        "readinessChecks": list,
    }
    names = {str: "jsstring", list: "jsarray", dict: "jsobject", bool: "jsboolean"}
    details = []
    for key, types in expect.items():
        if key not in obj or obj[key] is None and key not in ("id", "instances"):
            continue
        v = obj[key]
        types_t = types if isinstance(types, tuple) else (types,)
        ok = isinstance(v, types_t) and not (isinstance(v, bool) and bool not in types_t)
        if not ok:
            kind = names.get(types_t[0], "jsnumber")
            details.append({"path": f"/{key}", "errors": [f"error.expected.{kind}"]})
    if details:
        raise Invalid(details, 400, "Invalid JSON")


def normalize_app(raw: dict, app_id: str, conf: dict) -> dict:
    """Fill in Marathon's defaults (types/app.raml) and validate; raise Invalid (422)."""
    _type_check(raw)
    app = copy.deepcopy(raw)
    details = []

    def err(path, text):
        details.append({"path": path, "errors": [text]})

    app["id"] = app_id
    for seg in app_id.strip("/").split("/"):
        if not re.fullmatch(ID_SEGMENT, seg) and seg not in (".", ".."):
            err("/id", ID_SEGMENT_MSG)
            break
    if app_id == "/":
        err("/id", "Path id must not be the root group")
    if app.get("cmd") and app.get("args"):
        err("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a "
                 "'container'.")
    if not app.get("cmd") and not app.get("args") and not app.get("container"):
        err("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a "
                 "'container'.")
    defaults = {
        "instances": 1, "cpus": 1.0, "mem": 128.0, "disk": 0.0, "gpus": 0,
        "executor": "", "backoffSeconds": 1, "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 300, "requirePorts": False, "labels": {},
        "killSelection": "YOUNGEST_FIRST",
    }
    for k, v in defaults.items():
        if app.get(k) is None:
            app[k] = copy.deepcopy(v)
    minimums = {"instances": 0, "cpus": 0.001, "mem": 0, "disk": 0, "gpus": 0,
                "backoffSeconds": 0, "backoffFactor": 1.0, "maxLaunchDelaySeconds": 0}
    for k, lo in minimums.items():
        if app[k] < lo:
            err(f"/{k}", f"got {app[k]}, expected {lo} or more")
    if app["killSelection"] not in ("YOUNGEST_FIRST", "OLDEST_FIRST"):
        err("/killSelection", "error.unknown.enum.literal")
    us = app.get("upgradeStrategy") or {}
    us = {"maximumOverCapacity": us.get("maximumOverCapacity", 1),
          "minimumHealthCapacity": us.get("minimumHealthCapacity", 1)}
    for k in ("minimumHealthCapacity", "maximumOverCapacity"):
        v = us[k]
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            err(f"/upgradeStrategy/{k}", "error.expected.jsnumber")
        elif v > 1:
            err(f"/upgradeStrategy/{k}", "is greater than 1")
        elif v < 0:
            err(f"/upgradeStrategy/{k}", "is less than 0")
    app["upgradeStrategy"] = us
    us_raw = app.get("unreachableStrategy")
    if us_raw != "disabled":
        us_raw = us_raw or {}
        app["unreachableStrategy"] = {
            "inactiveAfterSeconds": us_raw.get("inactiveAfterSeconds", 0),
            "expungeAfterSeconds": us_raw.get("expungeAfterSeconds", 0)}
    # ports: legacy "ports" becomes portDefinitions (ports.md)
    if "portDefinitions" not in app or app.get("portDefinitions") is None:
        if isinstance(app.get("ports"), list):
            app["portDefinitions"] = [{"port": p, "protocol": "tcp"} for p in app["ports"]]
        elif app.get("container") and (app["container"].get("portMappings") or
                                       (app["container"].get("docker") or {})
                                       .get("portMappings")):
            app["portDefinitions"] = []
        else:
            app["portDefinitions"] = [{"port": 0, "protocol": "tcp", "name": "default"}]
    app.pop("ports", None)
    names = set()
    for i, pd in enumerate(app["portDefinitions"]):
        if not isinstance(pd, dict):
            err(f"/portDefinitions({i})", "error.expected.jsobject")
            continue
        pd.setdefault("port", 0)
        pd.setdefault("protocol", "tcp")
        if not isinstance(pd["port"], int) or not 0 <= pd["port"] <= 65535:
            err(f"/portDefinitions({i})/port", "got %r, expected between 0 and 65535"
                % pd["port"])
        if pd.get("name"):
            if pd["name"] in names:
                err("/portDefinitions", "Port names must be unique.")
            names.add(pd["name"])
        if not pd.get("labels"):
            pd.pop("labels", None)
    container = app.get("container") or {}
    for holder in (container, container.get("docker") or {}):
        for i, m in enumerate(holder.get("portMappings") or []):
            if not isinstance(m, dict):
                err(f"/container/portMappings({i})", "error.expected.jsobject")
                continue
            m.setdefault("containerPort", 0)
            m.setdefault("servicePort", 0)
            m.setdefault("protocol", "tcp")
            if _bridged(app):
                m.setdefault("hostPort", 0)
    if app["requirePorts"] and any(pd.get("port") == 0 for pd in app["portDefinitions"]):
        err("/", "requirePorts can only be used with non-zero ports")  # app validation
    nports = len(app["portDefinitions"]) or len(port_specs(app))
    for i, c in enumerate(app.get("constraints") or []):
        if not isinstance(c, list) or len(c) < 2 or len(c) > 3 or \
                not all(isinstance(x, str) for x in c):
            err(f"/constraints({i})", "Each constraint must have either 2 or 3 fields")
            continue
        if c[1] not in CONSTRAINT_OPERATORS:
            err(f"/constraints({i})", "Constraint operator must be one of "
                + ", ".join(CONSTRAINT_OPERATORS))
        elif c[1] in ("LIKE", "UNLIKE") and len(c) != 3:
            err(f"/constraints({i})", f"{c[1]} requires a regular expression value")
        elif c[1] in ("LIKE", "UNLIKE"):
            try:
                re.compile(c[2])
            except re.error:
                err(f"/constraints({i})", "'%s' is not a valid regular expression" % c[2])
        elif c[1] == "MAX_PER" and (len(c) != 3 or not c[2].isdigit()):
            err(f"/constraints({i})", "MAX_PER requires an integer value")
    hcs = []
    for i, hc in enumerate(app.get("healthChecks") or []):
        if not isinstance(hc, dict):
            err(f"/healthChecks({i})", "error.expected.jsobject")
            continue
        proto = hc.get("protocol", "HTTP")
        if proto not in HC_PROTOCOLS:
            err(f"/healthChecks({i})/protocol", "error.unknown.enum.literal")
            continue
        out = {"gracePeriodSeconds": hc.get("gracePeriodSeconds", 300),
               "intervalSeconds": hc.get("intervalSeconds", 60),
               "maxConsecutiveFailures": hc.get("maxConsecutiveFailures", 3),
               "timeoutSeconds": hc.get("timeoutSeconds", 20),
               "delaySeconds": hc.get("delaySeconds", 15),
               "protocol": proto}
        if proto == "COMMAND":
            cmd = hc.get("command") or {}
            if not cmd.get("value"):
                err(f"/healthChecks({i})/command", "Command health checks need a command")
            out["command"] = {"value": cmd.get("value", "")}
        else:
            if "port" in hc:
                out["port"] = hc["port"]
            else:
                out["portIndex"] = hc.get("portIndex", 0)
                if out["portIndex"] >= nports and not app.get("container"):
                    err(f"/healthChecks({i})", "Health check port indices must address an "
                        "element of the ports array or container port mappings.")
            out["ipProtocol"] = hc.get("ipProtocol", "IPv4")
            if proto in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
                out["path"] = hc.get("path", "/")
            if proto in ("HTTP", "HTTPS"):
                out["ignoreHttp1xx"] = hc.get("ignoreHttp1xx", False)
        hcs.append(out)
    app["healthChecks"] = hcs
    _readiness.normalize(app, err)
    env = app.get("env") or {}
    for k, v in env.items():
        if not isinstance(v, (str, dict)):
            err(f"/env({k})", "error.expected.jsstring")
    for k in ("args", "constraints", "dependencies", "env", "fetch", "healthChecks",
              "readinessChecks", "secrets", "uris"):
        if k in app and not app[k]:
            del app[k]  # (pragma.omitEmpty) in app.raml
    if "uris" in app:  # deprecated; Marathon converts them to fetch
        app.setdefault("fetch", []).extend({"uri": u} for u in app.pop("uris"))
    if "networks" not in app:
        app["networks"] = [{"mode": "container/bridge" if app.get("container", {}).get(
            "docker", {}).get("network") == "BRIDGE" else "host"}]
    default_role = conf.get("mesos_role") or "*"
    app.setdefault("role", default_role)
    # multirole.md: the default role or the group role (top-level group of the id)
    segments = app_id.strip("/").split("/")
    allowed_roles = [default_role] + ([segments[0]] if len(segments) > 1 and segments[0] != default_role else [])
    if app["role"] not in allowed_roles:
        err("/role", f"got {app['role']}, expected one of: [{', '.join(allowed_roles)}]")
    accepted = app.get("acceptedResourceRoles")
    if accepted is not None:
        if not isinstance(accepted, list) or not accepted or len(set(accepted)) != len(accepted):
            err("/acceptedResourceRoles", "must be a non-empty list of unique roles")
        else:
            # multirole.md: only "*" and the app's role are valid (rejected from 1.10 on)
            for value in accepted:
                if value not in ("*", app["role"]):
                    err("/acceptedResourceRoles", f"acceptedResourceRoles can only contain * and {app['role']}")
                    break
    for k in ("version", "versionInfo", "tasksStaged", "tasksRunning", "tasksHealthy",
              "tasksUnhealthy", "deployments", "tasks", "lastTaskFailure"):
        app.pop(k, None)
    if details:
        raise Invalid(details)
    return app


def _bridged(app: dict) -> bool:
    c = app.get("container") or {}
    return (c.get("docker") or {}).get("network") == "BRIDGE" or \
        any(n.get("mode") == "container/bridge" for n in app.get("networks") or [])


def port_specs(app: dict) -> list:
    """The app's ports as (spec, service-port key): container portMappings when there are
    any, else portDefinitions (ports.md, networking.md)."""
    c = app.get("container") or {}
    mappings = c.get("portMappings") or (c.get("docker") or {}).get("portMappings")
    if mappings:
        return [(m, "servicePort") for m in mappings]
    return [(pd, "port") for pd in app.get("portDefinitions") or []]


def service_ports(app: dict) -> list:
    return [spec.get(key, 0) for spec, key in port_specs(app)]


def host_port_specs(app: dict) -> list:
    """(wanted host port or 0 for any, name) for each host port a task needs. Port mappings
    need one when they give a hostPort, or always on the bridge network."""
    out = []
    for spec, key in port_specs(app):
        if key == "port":
            out.append((spec["port"] if app.get("requirePorts") else 0, spec.get("name")))
        elif "hostPort" in spec or _bridged(app):
            out.append((spec.get("hostPort") or 0, spec.get("name")))
    return out


def config_part(app: dict) -> dict:
    """The part of an app whose change means a restart (everything but scaling)."""
    return {k: v for k, v in app.items()
            if k not in ("instances", "version", "versionInfo")}


# --------------------------------------------------------------------------
# ZooKeeper state


class Store:
    """Marathon's persistent state under ``<zk path>/state``.

    Layout (the stand-in's own JSON encoding of Marathon's repositories):
      state/framework-id          the Mesos framework id (plain text)
      state/apps/<app id, / as _> the current app definition (JSON)
      state/instances/<id>        one instance (JSON): app, agent, ports, task id, state
      state/deployments/<id>      one running deployment plan (JSON)
    """

    def __init__(self, zk, base):
        self.zk, self.base = zk, base.rstrip("/") + "/state"
        for sub in ("apps", "instances", "deployments"):
            zk.ensure_path(f"{self.base}/{sub}")

    @staticmethod
    def _key(app_id):
        return task_prefix(app_id) or "_root"

    def framework_id(self):
        try:
            data, _ = self.zk.get(f"{self.base}/framework-id")
            return data.decode() or None
        except NoNodeError:
            return None

    def set_framework_id(self, fid):
        fw.ensure_node(self.zk, f"{self.base}/framework-id", fid.encode())

    def _load(self, sub):
        out = {}
        for child in self.zk.get_children(f"{self.base}/{sub}"):
            try:
                data, _ = self.zk.get(f"{self.base}/{sub}/{child}")
                out[child] = json.loads(data.decode())
            except (NoNodeError, ValueError):
                continue
        return out

    def load_all(self):
        apps = {a["id"]: a for a in self._load("apps").values()}
        instances = {i["instanceId"]: i for i in self._load("instances").values()}
        deployments = {d["id"]: d for d in self._load("deployments").values()}
        return apps, instances, deployments

    def put(self, sub, key, obj):
        fw.ensure_node(self.zk, f"{self.base}/{sub}/{key}", json.dumps(obj).encode())

    def delete(self, sub, key):
        with contextlib.suppress(NoNodeError):
            self.zk.delete(f"{self.base}/{sub}/{key}")

    def put_app(self, app):
        self.put("apps", self._key(app["id"]), app)

    def delete_app(self, app_id):
        self.delete("apps", self._key(app_id))


# --------------------------------------------------------------------------
# the Marathon process


class Marathon:
    def __init__(self, conf: dict):
        self.conf = conf
        self.me = f"{conf['hostname']}:{conf['http_port']}"
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.bus = fw.EventBus()
        self.started = time.time()
        self.leader_since = None
        self.ready = False  # leader with state loaded
        self.apps: dict = {}
        self.instances: dict = {}
        self.deployments: dict = {}
        self.health: dict = {}  # instance id -> [result per health check]
        self.hc_inflight: set = set()
        self.readiness = _readiness.Readiness(self, host_port_specs)
        self.backoff: dict = {}  # app id -> (failures, not-before time)
        self.last_failure: dict = {}
        self.framework_id = None
        self.heartbeat = 15.0
        self.last_subscribe = 0.0
        self._wanting_sent = None
        self.counters = {"deployments": 0, "tasks_launched": 0}
        self.tick_s = float(os.environ.get("STANDIN_TICK_SECONDS", "0.5"))
        self.lost_grace_s = float(os.environ.get("STANDIN_TASK_LOST_GRACE_SECONDS", "10"))
        self.router = fw.Router()
        self._routes()

    # ---- start-up ---------------------------------------------------------

    def start(self):
        c = self.conf
        hosts, path, auth = fw.parse_zk_url(c["zk"])
        self.zk_path = path
        try:
            self.zk = fw.make_zk_client(hosts, auth, c["zk_session_timeout"] / 1000.0,
                                        c["zk_connection_timeout"] / 1000.0, creator_only=True)
        except Exception as exc:  # noqa: BLE001
            LOG.error("could not connect to ZooKeeper %s: %s", hosts, exc)
            sys.exit(EXIT_ZK_CONNECTION_FAILURE)
        fw.exit_on_session_loss(self.zk, lambda: EXIT_LEADERSHIP_LOSS if self.ready
                                else EXIT_ZK_CONNECTION_LOST)
        fw.exit_cleanly_on_sigterm(self.zk)
        self.store = Store(self.zk, path)
        # command-line-flags.md: --mesos_authentication turns framework authentication on
        credential = fw.read_framework_credential(
            c["mesos_authentication_principal"], c["mesos_authentication_secret"],
            c["mesos_authentication_secret_file"]) if c["mesos_authentication"] else None
        self.master = fw.MesosMaster(c["master"], c["zk_session_timeout"] / 1000.0,
                                     c["zk_connection_timeout"] / 1000.0, http_timeout_s=3.0,
                                     credential=credential)
        self.latch = fw.LeaderLatch(self.zk, f"{path}/leader-curator", self.me,
                                    on_elected=self._on_elected)
        try:
            self.http = fw.serve_http(self, c["http_address"] or "0.0.0.0", c["http_port"])
        except OSError as exc:
            LOG.error("could not bind %s:%s: %s", c["http_address"], c["http_port"], exc)
            sys.exit(EXIT_BINDING_ERROR)
        if c["ha"]:
            self.latch.start()
        else:
            self.latch.is_leader = True
            threading.Thread(target=self._on_elected, daemon=True).start()
        LOG.info("Marathon stand-in %s listening on %s (zk %s)", VERSION, self.me, fw.without_password(c["zk"]))

    def _on_elected(self):
        fw.exit_on_no_auth(self._take_over, EXIT_LEADERSHIP_LOSS)

    def _take_over(self):
        LOG.info("elected as leader")
        with self.lock:
            self.apps, self.instances, self.deployments = self.store.load_all()
            self.framework_id = self.store.framework_id()
            self.leader_since = time.time()
            self.ready = True
        threading.Thread(target=self._scheduler_loop, name="scheduler", daemon=True).start()

    def is_leader(self):
        return self.latch.is_leader

    def leader(self):
        if self.is_leader():
            return self.me
        return self.latch.leader_id() if self.conf["ha"] else None

    def abdicate(self):
        def go():
            time.sleep(0.3)
            LOG.info("abdicating leadership and exiting")
            self.bus.close_all()
            self.latch.close()
            logging.shutdown()
            os._exit(EXIT_LEADERSHIP_ENDED_GRACEFULLY)
        threading.Thread(target=go, daemon=True).start()

    # ---- events -----------------------------------------------------------

    def emit(self, event_type, **fields):
        fields["eventType"] = event_type
        fields["timestamp"] = fw.now_iso()
        self.bus.publish(fields)

    # ---- HTTP --------------------------------------------------------------

    def dispatch(self, req):
        if not self.is_leader():
            return self._not_leader(req)
        deadline = time.time() + 5
        while not self.ready and time.time() < deadline:
            time.sleep(0.05)
        if not self.ready:
            return message(503, "Leader election in progress")
        denied = fw.check_basic_auth(req, self.conf["http_credentials"],
                                     self.conf["http_realm"]) \
            if req.path not in ("/ping", "/metrics") else None
        resp = denied or self._route(req)
        if isinstance(resp, Response):
            resp.headers["X-Marathon-Leader"] = f"http://{self.me}"
            origin = self.conf["access_control_allow_origin"]
            if origin:
                resp.headers["Access-Control-Allow-Origin"] = origin
        else:
            resp.headers["X-Marathon-Leader"] = f"http://{self.me}"
        return resp

    def _not_leader(self, req):
        leader = self.leader()
        deadline = time.time() + 5
        while leader == self.me and not self.is_leader() and time.time() < deadline:
            time.sleep(0.05)  # elected a moment ago: the latch watch has not fired yet
            leader = self.leader()
        if self.is_leader():
            return self.dispatch(req)
        if not leader or leader == self.me:
            return Response(502, _jetty_error(502, "Could not determine the current leader"),
                            content_type="text/html;charset=iso-8859-1")
        if req.path == "/v2/events":
            # reference note 8: the event stream is redirected, not proxied
            return Response(302, b"", {"Location": f"http://{leader}{req.raw_path}"})
        via = req.headers.get("X-Marathon-Via", "")
        if self.me in [v.strip().split(" ")[-1] for v in via.split(",") if v.strip()]:
            return Response(502, _jetty_error(502, "Detected proxying loop."),
                            content_type="text/html;charset=iso-8859-1")
        via = (via + ", " if via else "") + f"1.1 {self.me}"
        try:
            return fw.proxy(req, leader, {"X-Marathon-Via": via},
                            self.conf["leader_proxy_connection_timeout"] / 1000.0,
                            self.conf["leader_proxy_read_timeout"] / 1000.0)
        except OSError as exc:
            LOG.warning("proxying to leader %s failed: %s", leader, exc)
            return Response(502, _jetty_error(502, "Could not proxy to the current leader"),
                            content_type="text/html;charset=iso-8859-1")

    def _route(self, req):
        func, groups = self.router.match(req)
        if func is None:
            if groups == "method":
                return Response(405, _jetty_error(405, "HTTP method not allowed"),
                                content_type="text/html;charset=iso-8859-1")
            return Response(404, _jetty_error(404, "Not Found"),
                            content_type="text/html;charset=iso-8859-1")
        return func(req, *groups)

    def _routes(self):
        r = self.router
        r.add("GET", "/ping", self.h_ping)
        r.add("GET", "/metrics", self.h_metrics)
        r.add("GET", "/v2/info", self.h_info)
        r.add("GET DELETE", "/v2/leader", self.h_leader)
        r.add("GET", "/v2/events", self.h_events)
        r.add("GET POST PUT PATCH", "/v2/apps/?", self.h_apps)
        r.add("POST", "/v2/apps/(.+)/restart", self.h_app_restart)
        r.add("GET DELETE", "/v2/apps/(.+)/tasks", self.h_app_tasks)
        r.add("GET DELETE", "/v2/apps/(.+)/tasks/([^/]+)", self.h_app_task)
        r.add("GET", "/v2/apps/(.+)/versions", self.h_app_versions)
        r.add("GET PUT PATCH DELETE", "/v2/apps/(.+)", self.h_app)
        r.add("GET", "/v2/tasks", self.h_tasks)
        r.add("POST", "/v2/tasks/delete", self.h_tasks_delete)
        r.add("GET", "/v2/deployments", self.h_deployments)
        r.add("DELETE", "/v2/deployments/([^/]+)", self.h_deployment)
        r.add("GET", "/v2/queue", self.h_queue)

    # ---- simple resources

    def h_ping(self, req):
        if "application/json" in req.headers.get("Accept", ""):
            return json_response(200, "pong")
        return Response(200, b"pong", content_type="text/plain")

    def h_info(self, req):
        c = self.conf
        marathon_config = {k: c[k] for k in (
            "access_control_allow_origin", "checkpoint", "decline_offer_duration",
            "default_network_name", "env_vars_prefix", "executor", "failover_timeout",
            "framework_name", "ha", "hostname", "launch_token_refresh_interval",
            "local_port_max", "local_port_min", "master", "max_instances_per_offer",
            "mesos_bridge_name", "mesos_heartbeat_failure_threshold",
            "mesos_heartbeat_interval", "mesos_leader_ui_url", "mesos_role", "mesos_user",
            "min_revive_offers_interval", "offer_matching_timeout",
            "on_elected_prepare_timeout", "reconciliation_initial_delay",
            "reconciliation_interval", "scale_apps_initial_delay", "scale_apps_interval",
            "store_cache", "task_launch_confirm_timeout", "task_launch_timeout",
            "task_lost_expunge_initial_delay", "task_lost_expunge_interval", "webui_url")}
        if c["access_control_allow_origin"]:
            marathon_config["access_control_allow_origin"] = [
                o.strip() for o in c["access_control_allow_origin"].split(",")]
        marathon_config["launch_token"] = c["launch_tokens"]
        marathon_config["leader_proxy_connection_timeout_ms"] = \
            c["leader_proxy_connection_timeout"]
        marathon_config["leader_proxy_read_timeout_ms"] = c["leader_proxy_read_timeout"]
        marathon_config["features"] = [f for f in (c["enable_features"] or "").split(",") if f]
        marathon_config["mesos_leader_ui_url"] = c["mesos_leader_ui_url"] or (
            f"http://{self.master.leader()}/" if self.master.leader() else None)
        return json_response(200, {
            "name": c["framework_name"], "version": VERSION, "buildref": "standin",
            "elected": self.is_leader(), "leader": self.leader(),
            "frameworkId": self.framework_id,
            "marathon_config": marathon_config,
            "zookeeper_config": {k: c[k] for k in (
                "zk", "zk_compression", "zk_compression_threshold", "zk_connection_timeout",
                "zk_max_node_size", "zk_max_versions", "zk_session_timeout", "zk_timeout")},
            "http_config": {"http_port": c["http_port"], "https_port": c["https_port"]},
        })

    def h_leader(self, req):
        if req.method == "GET":
            leader = self.leader()
            if not leader:
                return message(404, "There is no leader")
            return json_response(200, {"leader": leader})
        # DELETE: reference note 8 and leader.raml; ?backup/?restore are accepted and
        # ignored (the stand-in has no backup provider).
        self.abdicate()
        return message(200, "Leadership abdicated")

    def h_metrics(self, req):
        with self.lock:
            running = sum(1 for i in self.instances.values() if i["state"] == "TASK_RUNNING")
            staged = sum(1 for i in self.instances.values() if i["state"] in STAGED)
            gauges = {
                "marathon.apps.active.gauge": len(self.apps),
                "marathon.deployments.active.gauge": len(self.deployments),
                "marathon.groups.active.gauge": 1,
                "marathon.instances.running.gauge": running,
                "marathon.instances.staged.gauge": staged,
                "marathon.pods.active.gauge": 0,
                "marathon.uptime.gauge.seconds": int(time.time() - self.started),
                "marathon.leadership.duration.gauge.seconds":
                    int(time.time() - self.leader_since) if self.leader_since else 0,
            }
            counters = {"marathon.deployments.counter": self.counters["deployments"],
                        "marathon.tasks.launched.counter": self.counters["tasks_launched"]}
        return json_response(200, {
            "version": "4.0.0",
            "counters": {k: {"count": v} for k, v in counters.items()},
            "gauges": {k: {"value": v} for k, v in gauges.items()},
            "histograms": {}, "meters": {}, "timers": {}})

    def h_queue(self, req):
        return json_response(200, {"queue": []})

    # ---- events stream

    def h_events(self, req):
        accept = req.headers.get("Accept", "*/*")
        if "text/event-stream" not in accept and "*/*" not in accept:
            return Response(405, _jetty_error(405, "HTTP method GET is not supported by "
                                              "this URL"), content_type="text/html")
        types = req.query.get("event_type") or []
        q = self.bus.subscribe(types)
        client = req.client_ip

        def writer(wfile):
            self.emit("event_stream_attached", remoteAddress=client)
            try:
                while not self.stop.is_set():
                    items = q.get_all(5.0)
                    if q.closed:
                        break
                    if not items:
                        wfile.write(b"\n")  # keep-alive, an empty line
                    for ev in items:
                        wfile.write(f"event: {ev['eventType']}\ndata: "
                                    f"{json.dumps(ev)}\n\n".encode())
                    wfile.flush()
                    if not self.is_leader():
                        break
            finally:
                self.bus.unsubscribe(q)
                self.emit("event_stream_detached", remoteAddress=client)

        return fw.StreamResponse(writer, {"Content-Type": "text/event-stream",
                                          "Cache-Control": "no-cache, no-store"})

    # ---- apps

    def _parse_body(self, req):
        try:
            obj = json.loads(req.body.decode() or "null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Invalid([{"path": "/", "errors": [str(exc)]}], 400, "Invalid JSON") from None
        return obj

    def _app_info(self, app, embed):
        out = copy.deepcopy(app)
        insts = [i for i in self.instances.values() if i["appId"] == app["id"]]
        if "counts" in embed:
            out["tasksStaged"] = sum(1 for i in insts if i["state"] in STAGED)
            out["tasksRunning"] = sum(1 for i in insts if i["state"] == "TASK_RUNNING")
            h = [self._healthy(i) for i in insts if i["state"] == "TASK_RUNNING"]
            out["tasksHealthy"] = sum(1 for x in h if x is True) if app.get("healthChecks") \
                else 0
            out["tasksUnhealthy"] = sum(1 for x in h if x is False)
        if "deployments" in embed:
            out["deployments"] = [{"id": d["id"]} for d in self.deployments.values()
                                  if app["id"] in d["affectedApps"]]
        if "readiness" in embed:
            out["readinessCheckResults"] = self.readiness.results_for(app["id"])
        if "tasks" in embed:
            out["tasks"] = [self._task_json(i) for i in insts]
        if "lastTaskFailure" in embed and app["id"] in self.last_failure:
            out["lastTaskFailure"] = self.last_failure[app["id"]]
        return out

    @staticmethod
    def _embeds(req, prefix, default):
        vals = req.query.get("embed")
        if not vals:
            return set(default)
        embed = set()
        for v in vals:
            for part in v.split(","):
                name = part.strip()
                if name.startswith(prefix + "."):
                    name = name[len(prefix) + 1:]
                if name == "failures":
                    embed |= {"lastTaskFailure", "tasks", "counts", "deployments"}
                elif name in ("count", "counts"):
                    embed.add("counts")
                else:
                    embed.add(name)
        if "tasks" in embed:
            embed.add("deployments")  # apps.raml: embedding tasks sets deployments
        embed.add("counts")  # "currently embedded by default"
        return embed

    def h_apps(self, req):
        if req.method == "GET":
            embed = self._embeds(req, "apps", {"counts", "deployments"})
            with self.lock:
                apps = sorted(self.apps.values(), key=lambda a: a["id"])
                cmd, aid, label = req.arg("cmd"), req.arg("id"), req.arg("label")
                if cmd:
                    apps = [a for a in apps if cmd in (a.get("cmd") or "")]
                if aid:
                    apps = [a for a in apps if aid in a["id"]]
                if label:
                    apps = [a for a in apps if _label_match(a.get("labels") or {}, label)]
                return json_response(200, {"apps": [self._app_info(a, embed) for a in apps]})
        if req.method == "POST":
            return self._create(req)
        return message(405, "Updating several apps at once is not supported by this stand-in")

    def _create(self, req):
        try:
            raw = self._parse_body(req)
            if not isinstance(raw, dict):
                raise Invalid([{"path": "/", "errors": ["error.expected.jsobject"]}], 400,
                              "Invalid JSON")
            if not isinstance(raw.get("id"), str):
                raise Invalid([{"path": "/id", "errors": ["error.expected.jsstring"
                               if "id" in raw else "error.path.missing"]}], 400 if "id" in raw
                              else 422, "Invalid JSON" if "id" in raw else "Object is not valid")
            app_id = path_id(raw["id"])
            app = normalize_app(raw, app_id, self.conf)
        except Invalid as exc:
            return json_response(exc.status, {"message": exc.msg, "details": exc.details})
        with self.lock:
            if app_id in self.apps:
                return message(409, f"An app with id [{app_id}] already exists.")
            if self.conf["max_apps"] is not None and len(self.apps) >= self.conf["max_apps"]:
                return message(422, f"The maximum number of apps "
                               f"({self.conf['max_apps']}) is reached")
            dep = self._deploy(app_id, None, app, req)
            info = self._app_info(self.apps[app_id], {"counts", "deployments"})
        host = req.headers.get("Host") or self.me
        return json_response(201, info, {"Location": f"http://{host}{app_id}",
                                         "Marathon-Deployment-Id": dep["id"]})

    def _locked(self, app_id, force):
        deps = [d for d in self.deployments.values() if app_id in d["affectedApps"]]
        if deps and not force:
            return json_response(409, {"message": LOCKED_MSG.format(deps[0]["id"]),
                                       "deployments": [{"id": d["id"]} for d in deps]})
        for d in deps:  # ?force=true cancels the running deployment (deployments.md)
            self._finish_deployment(d, success=False)
        return None

    def h_app(self, req, raw_id):
        app_id = path_id(raw_id)
        if req.method == "GET":
            embed = self._embeds(req, "app", {"counts", "deployments", "tasks",
                                              "lastTaskFailure", "readiness"})
            with self.lock:
                app = self.apps.get(app_id)
                if not app:
                    return message(404, f"App '{app_id}' does not exist")
                return json_response(200, {"app": self._app_info(app, embed)})
        if req.method == "DELETE":
            force = req.bool_arg("force", True)  # reference note 7: DELETE defaults true
            with self.lock:
                app = self.apps.get(app_id)
                if not app:
                    return message(404, f"App '{app_id}' does not exist")
                locked = self._locked(app_id, force)
                if locked:
                    return locked
                dep = self._deploy(app_id, app, None, req)
            return json_response(200, {"version": dep["version"], "deploymentId": dep["id"]},
                                 {"Marathon-Deployment-Id": dep["id"]})
        # PUT (upsert, partialUpdate default true) and PATCH (never creates)
        try:
            raw = self._parse_body(req)
            if not isinstance(raw, dict):
                raise Invalid([{"path": "/", "errors": ["error.expected.jsobject"]}], 400,
                              "Invalid JSON")
        except Invalid as exc:
            return json_response(exc.status, {"message": exc.msg, "details": exc.details})
        force = req.bool_arg("force", False)
        partial = req.method == "PATCH" or req.bool_arg("partialUpdate", True)
        with self.lock:
            old = self.apps.get(app_id)
            if old is None and req.method == "PATCH":
                return message(404, f"App '{app_id}' does not exist")
            if old is not None and partial:
                merged = {k: v for k, v in old.items()}
                merged.update(raw)
                if "ports" in raw and "portDefinitions" not in raw:
                    merged.pop("portDefinitions", None)
            else:
                merged = dict(raw)
            merged.pop("id", None)
            try:
                new = normalize_app(merged, app_id, self.conf)
            except Invalid as exc:
                return json_response(exc.status, {"message": exc.msg, "details": exc.details})
            if old is not None:
                locked = self._locked(app_id, force)
                if locked:
                    return locked
            dep = self._deploy(app_id, old, new, req)
        body = {"version": dep["version"], "deploymentId": dep["id"]}
        headers = {"Marathon-Deployment-Id": dep["id"]}
        if old is None:
            host = req.headers.get("Host") or self.me
            headers["Location"] = f"http://{host}{app_id}"
            return json_response(201, body, headers)
        return json_response(200, body, headers)

    def h_app_restart(self, req, raw_id):
        app_id = path_id(raw_id)
        with self.lock:
            app = self.apps.get(app_id)
            if not app:
                return message(404, f"App '{app_id}' does not exist")
            locked = self._locked(app_id, req.bool_arg("force", False))
            if locked:
                return locked
            dep = self._deploy(app_id, app, copy.deepcopy(app), req, restart=True)
        return json_response(200, {"version": dep["version"], "deploymentId": dep["id"]},
                             {"Marathon-Deployment-Id": dep["id"]})

    def h_app_versions(self, req, raw_id):
        app_id = path_id(raw_id)
        with self.lock:
            app = self.apps.get(app_id)
            if not app:
                return message(404, f"App '{app_id}' does not exist")
            return json_response(200, {"versions": [app["version"]]})

    def h_app_tasks(self, req, raw_id):
        app_id = path_id(raw_id)
        with self.lock:
            if app_id not in self.apps:
                return message(404, f"App '{app_id}' does not exist")
            insts = [i for i in self.instances.values() if i["appId"] == app_id]
            if req.method == "DELETE":
                host = req.arg("host")
                if host:
                    insts = [i for i in insts if i["host"] == host]
                killed = self._kill_tasks(insts, req.bool_arg("scale", False))
                return killed if isinstance(killed, Response) else \
                    json_response(200, {"tasks": killed})
            if req.headers.get("Accept", "").startswith("text/plain"):
                return Response(200, self._tasks_text([self.apps[app_id]]).encode(),
                                content_type="text/plain")
            return json_response(200, {"tasks": [self._task_json(i) for i in insts]})

    def h_app_task(self, req, raw_id, task_id):
        app_id = path_id(raw_id)
        with self.lock:
            if app_id not in self.apps:
                return message(404, f"App '{app_id}' does not exist")
            insts = [i for i in self.instances.values()
                     if i["appId"] == app_id and task_id in (i["taskId"], i["instanceId"])]
            if not insts:
                return message(404, f"Task '{task_id}' does not exist")
            if req.method == "GET":
                return json_response(200, {"task": self._task_json(insts[0])})
            killed = self._kill_tasks(insts, req.bool_arg("scale", False))
            return killed if isinstance(killed, Response) else \
                json_response(200, {"task": killed[0]})

    def _kill_tasks(self, insts, scale):
        """Kill; with scale, also lower the instance count by a deployment (tasks.raml) and
        answer that deployment instead of the tasks."""
        out = []
        for i in insts:
            out.append(self._task_json(i))
            self._request_kill(i, "killed via the REST API")
        if scale and insts:
            dep = None
            for app_id in sorted({i["appId"] for i in insts}):
                old = self.apps[app_id]
                new = copy.deepcopy(old)
                new["instances"] = max(0, old["instances"] -
                                       sum(1 for i in insts if i["appId"] == app_id))
                self._locked(app_id, True)  # simplification: behaves as ?force=true
                dep = self._deploy(app_id, old, new, None)
            return json_response(200, {"version": dep["version"], "deploymentId": dep["id"]},
                                 {"Marathon-Deployment-Id": dep["id"]})
        return out

    def h_tasks(self, req):
        with self.lock:
            statuses = set(req.query.get("status", []) + req.query.get("status[]", []))
            want = {"running": {"TASK_RUNNING"}, "staging": STAGED}
            insts = list(self.instances.values())
            if statuses:
                allowed = set().union(*(want.get(s, set()) for s in statuses))
                insts = [i for i in insts if i["state"] in allowed]
            if req.headers.get("Accept", "").startswith("text/plain"):
                return Response(200, self._tasks_text(sorted(self.apps.values(),
                                                             key=lambda a: a["id"])).encode(),
                                content_type="text/plain")
            return json_response(200, {"tasks": [self._task_json(i) for i in insts]})

    def h_tasks_delete(self, req):
        try:
            body = self._parse_body(req)
        except Invalid as exc:
            return json_response(exc.status, {"message": exc.msg, "details": exc.details})
        ids = (body or {}).get("ids") or []
        with self.lock:
            by_task = {i["taskId"]: i for i in self.instances.values()}
            unknown = [t for t in ids if t not in by_task]
            if unknown:
                return message(400, f"Invalid task id {unknown[0]}")
            killed = self._kill_tasks([by_task[t] for t in ids], req.bool_arg("scale", False))
            return killed if isinstance(killed, Response) else \
                json_response(200, {"tasks": killed})

    def _tasks_text(self, apps):
        """/v2/tasks as text/plain (tasks.raml): app, service port, host:port..."""
        lines = []
        for app in apps:
            insts = [i for i in self.instances.values()
                     if i["appId"] == app["id"] and i["state"] == "TASK_RUNNING"]
            for idx, service_port in enumerate(service_ports(app)):
                hosts = [f"{i['host']}:{i['ports'][idx]}" for i in insts
                         if idx < len(i["ports"])]
                lines.append("\t".join([task_prefix(app["id"]), str(service_port)] + hosts))
        return "".join(line + "\n" for line in lines)

    def _task_json(self, inst):
        t = {"appId": inst["appId"], "host": inst["host"], "id": inst["taskId"],
             "ipAddresses": [{"ipAddress": inst.get("ip") or inst["host"],
                              "protocol": "IPv4"}],
             "ports": inst["ports"], "servicePorts": inst["servicePorts"],
             "slaveId": inst["agentId"], "state": inst["state"],
             "stagedAt": inst["stagedAt"], "version": inst["version"],
             "localVolumes": [], "role": inst.get("role", "*")}
        if inst.get("startedAt"):
            t["startedAt"] = inst["startedAt"]
        app = self.apps.get(inst["appId"])
        if app and app.get("healthChecks") and inst["instanceId"] in self.health:
            t["healthCheckResults"] = [
                {k: v for k, v in r.items() if not k.startswith("_")}
                for r in self.health[inst["instanceId"]] if r.get("_checked")]
        return t

    # ---- deployments

    def h_deployments(self, req):
        with self.lock:
            return json_response(200, [self._deployment_json(d)
                                       for d in self.deployments.values()])

    def h_deployment(self, req, dep_id):
        with self.lock:
            dep = self.deployments.get(dep_id)
            if not dep:
                return message(404, f"DeploymentPlan {dep_id} does not exist")
            self._finish_deployment(dep, success=False)
            if req.bool_arg("force", False):
                return Response(202, b"")
            app_id = dep["affectedApps"][0]
            previous = dep.get("_previous")
            current = self.apps.get(app_id)
            rollback = self._deploy(app_id, current, copy.deepcopy(previous) if previous
                                    else None, None)
            return json_response(200, {"deploymentId": rollback["id"],
                                       "version": rollback["version"]},
                                 {"Marathon-Deployment-Id": rollback["id"]})

    def _action_infos(self, dep):
        """The current step's actions as DeploymentActionInfo (deploymentEventsInfo.raml):
        each with the readiness results of the tasks this deployment started for its app."""
        step = dep["currentStep"]
        current = dep["steps"][step - 1]["actions"] if 0 < step <= len(dep["steps"]) else []
        return [dict(a, readinessCheckResults=self.readiness.results_for(a.get("app"), dep["id"]))
                for a in current]

    def _deployment_json(self, dep):
        step = dep["currentStep"]
        return {"id": dep["id"], "version": dep["version"],
                "affectedApps": dep["affectedApps"], "affectedPods": [],
                "steps": dep["steps"],
                "currentActions": self._action_infos(dep),
                "currentStep": step, "totalSteps": len(dep["steps"])}

    def readiness_changed(self, inst):
        """A readiness result of ``inst`` changed (lock held). The reference names no event
        for it; the stand-in sends a ``deployment_info`` whose current step carries the
        results, so that event consumers re-read the app."""
        dep = self.deployments.get(inst.get("_deployment"))
        if dep is None:
            return
        LOG.info("task %s: readiness %s", inst["taskId"],
                 "ready" if self.readiness.is_ready(inst) else "not ready")
        self.emit("deployment_info", plan=self._plan_json(dep),
                  currentStep={"actions": [dict(a, type=a["action"])
                                           for a in self._action_infos(dep)]})

    def _store_app_version(self, app, scaling=False, old=None):
        version = fw.now_iso()
        app["version"] = version
        vi = (old or {}).get("versionInfo") or {}
        if scaling and vi:
            app["versionInfo"] = {"lastScalingAt": version,
                                  "lastConfigChangeAt": vi["lastConfigChangeAt"]}
        else:
            app["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
        self.apps[app["id"]] = app
        self.store.put_app(app)
        return version

    def _assign_service_ports(self, app, old):
        used = {p for a in self.apps.values() if a["id"] != app["id"] for p in service_ports(a)}
        olds = service_ports(old or {})
        lo, hi = self.conf["local_port_min"], self.conf["local_port_max"]
        nxt = lo
        for idx, (spec, key) in enumerate(port_specs(app)):
            if spec.get(key, 0) != 0:
                continue
            if idx < len(olds) and olds[idx] and olds[idx] not in used:
                spec[key] = olds[idx]  # keep a port the app already had
            else:
                while nxt in used and nxt <= hi:
                    nxt += 1
                if nxt > hi:
                    raise Invalid([{"path": "/portDefinitions",
                                    "errors": ["no free service port left"]}])
                spec[key] = nxt
            used.add(spec[key])

    def _deploy(self, app_id, old, new, req, restart=False):
        """Store the new app version and start a deployment plan for it (lock held)."""
        if new is not None:
            self._assign_service_ports(new, old)
            scaling = old is not None and not restart and \
                config_part(old) == config_part(new)
            self._store_app_version(new, scaling=scaling, old=old)
            if old is None:
                steps = [[{"action": "StartApplication", "app": app_id}],
                         [{"action": "ScaleApplication", "app": app_id}]]
                kind = "start"
            elif scaling:
                steps = [[{"action": "ScaleApplication", "app": app_id}]]
                kind = "scale"
            else:
                steps = [[{"action": "RestartApplication", "app": app_id}]]
                kind = "restart"
            for hc in new.get("healthChecks") or []:
                if old is None or hc not in (old.get("healthChecks") or []):
                    self.emit("add_health_check_event", appId=app_id, healthCheck=hc)
        else:
            steps = [[{"action": "StopApplication", "app": app_id}]]
            kind = "stop"
        dep = {"id": str(uuid.uuid4()), "version": new["version"] if new else fw.now_iso(),
               "affectedApps": [app_id], "steps": [{"actions": s} for s in steps],
               "currentStep": 1, "_kind": kind, "_previous": old, "_new": new,
               "_target": new["versionInfo"]["lastConfigChangeAt"] if new else None}
        self.deployments[dep["id"]] = dep
        self.store.put("deployments", dep["id"], dep)
        self.counters["deployments"] += 1
        self.backoff.pop(app_id, None)
        if req is not None:
            self.emit("api_post_event", clientIp=req.client_ip, uri=req.path,
                      appDefinition=self._app_info(new or old, set()))
        self.emit("group_change_success", groupId="/", version=dep["version"])
        self.emit("deployment_info", plan=self._plan_json(dep),
                  currentStep={"actions": [dict(a, type=a["action"])
                                           for a in self._action_infos(dep)]})
        return dep

    @staticmethod
    def _plan_json(dep):
        """DeploymentPlan (types/deploymentPlan.raml): steps of {"actions": [...]}, and the
        root group before and after (only the affected app, the stand-in has no groups)."""
        def group(app):
            return {"id": "/", "apps": [app] if app else [], "groups": [], "pods": [],
                    "dependencies": [], "version": dep["version"]}
        return {"id": dep["id"], "version": dep["version"], "steps": dep["steps"],
                "original": group(dep.get("_previous")), "target": group(dep.get("_new"))}

    def _finish_deployment(self, dep, success=True):
        if dep["id"] not in self.deployments:
            return
        del self.deployments[dep["id"]]
        self.store.delete("deployments", dep["id"])
        self.emit("deployment_success" if success else "deployment_failed", id=dep["id"],
                  plan=self._plan_json(dep))

    def _advance_step(self, dep):
        step = dep["steps"][dep["currentStep"] - 1]
        self.emit("deployment_step_success", plan=self._plan_json(dep),
                  currentStep={"actions": [dict(a, type=a["action"])
                                           for a in step["actions"]]})
        if dep["currentStep"] >= len(dep["steps"]):
            self._finish_deployment(dep, success=True)
        else:
            dep["currentStep"] += 1
            self.store.put("deployments", dep["id"], dep)

    # ---- scheduling loop -----------------------------------------------------

    def _scheduler_loop(self):
        while not self.stop.is_set() and self.is_leader():
            try:
                self._tick()
            except (OSError, ValueError) as exc:
                fw.warn_rarely(LOG, f"scheduler: Mesos master not usable: {exc}")
            except Exception:  # noqa: BLE001
                LOG.exception("scheduler tick failed")
            self.stop.wait(self.tick_s)

    def _subscribe(self):
        c = self.conf
        info = {"name": c["framework_name"], "user": c["mesos_user"],
                "hostname": c["hostname"], "webui_url": c["webui_url"] or f"http://{self.me}",
                "failover_timeout": float(c["failover_timeout"]),
                "checkpoint": c["checkpoint"], "roles": self._framework_roles(),
                "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}]}
        try:
            fid, self.heartbeat = self.master.subscribe(info, self.framework_id, c["mesos_authentication_principal"])
        except fw.FrameworkRemoved as exc:
            LOG.error("framework %s has been removed from Mesos: %s", self.framework_id, exc)
            logging.shutdown()
            os._exit(EXIT_FRAMEWORK_REMOVED)
        self.last_subscribe = time.time()
        if fid and fid != self.framework_id:
            with self.lock:
                self.framework_id = fid
                self.store.set_framework_id(fid)
            LOG.info("registered with Mesos as framework %s", fid)

    def _framework_roles(self):
        with self.lock:
            roles = {a.get("role") or "*" for a in self.apps.values()}
        return sorted(roles | {self.conf["mesos_role"] or "*"})

    def _wanting_roles(self):
        """multirole.md: Marathon revives offers for the roles of services that need
        instances and suppresses the others."""
        deploying = {a for d in self.deployments.values() for a in d["affectedApps"]}
        return {app.get("role") or "*" for app in self.apps.values()
                if app["id"] in deploying or len(self._alive(app["id"])) < app["instances"]}

    def _revive_suppress(self, wanting):
        if wanting == self._wanting_sent:
            return
        roles = set(self._framework_roles())
        for kind, subset in (("REVIVE", wanting & roles), ("SUPPRESS", roles - wanting)):
            if subset:
                self.master.call({"type": kind, "framework_id": {"value": self.framework_id},
                                  kind.lower(): {"roles": sorted(subset)}})
        self._wanting_sent = wanting

    def _tick(self):
        master = self.master.leader()
        roles = self._framework_roles()
        if master != getattr(self, "_subscribed_to", None) or roles != getattr(self, "_subscribed_roles", None) or \
                time.time() - self.last_subscribe >= self.heartbeat * 0.8:
            self._subscribe()
            self._subscribed_to = master
            self._subscribed_roles = roles
            self._wanting_sent = None
        state = self.master.get_json("/master/state")
        listing = self.master.get_json("/master/slaves")
        slaves = listing.get("slaves", [])
        # agents a new leading master recovered from its registry and that have not re-registered
        # yet: their tasks are not lost, the master has not decided (high-availability.md)
        recovered = {s.get("id") for s in listing.get("recovered_slaves") or []}
        tasks = {}
        offers = None
        for f in state.get("frameworks", []):
            if f.get("id") == self.framework_id:
                offers = f.get("offers")
                for t in f.get("tasks", []) + f.get("completed_tasks", []):
                    tasks.setdefault(t["id"], t)
        for t in state.get("orphan_tasks") or []:
            if t.get("framework_id") == self.framework_id:
                tasks.setdefault(t["id"], t)
        agents = {s["id"]: s for s in slaves}
        actions = []
        with self.lock:
            if not self.is_leader():
                return
            self._reconcile(tasks, agents, recovered)
            self._schedule_health_checks()
            self.readiness.prune()
            self.readiness.schedule()
            wanting = self._wanting_roles()
            view = self._agent_view(agents, offers)
            for dep in list(self.deployments.values()):
                actions += self._step_deployment(dep, view)
            locked = {a for d in self.deployments.values() for a in d["affectedApps"]}
            for app in list(self.apps.values()):
                if app["id"] not in locked:
                    actions += self._keep_scaled(app, view)
        self._revive_suppress(wanting)
        for act in actions:
            act()

    # ---- task state tracking

    def _reconcile(self, tasks, agents, recovered=frozenset()):
        now = time.time()
        for inst in list(self.instances.values()):
            mt = tasks.get(inst["taskId"])
            agent = agents.get(inst["agentId"])
            new_state, msg = None, ""
            if mt is None and agent is None and inst["agentId"] in recovered:
                continue  # its agent re-registers with the new master, and its tasks with it
            if mt is not None:
                new_state = mt.get("state")
                statuses = mt.get("statuses") or []
                if statuses:
                    msg = statuses[-1].get("message", "")
                if new_state not in TERMINAL and (agent is None or not agent.get("active", True)):
                    new_state, msg = "TASK_LOST", "agent is no longer active"
            elif agent is None or not agent.get("active", True):
                new_state, msg = "TASK_LOST", "agent is no longer active"
            elif now - inst.get("_launched", now) > self.lost_grace_s:
                new_state, msg = "TASK_LOST", "task unknown to the Mesos master"
            if new_state and new_state != inst["state"]:
                self._set_state(inst, new_state, msg)
            elif inst.get("_killing") and now - inst["_killing"] > 10:
                self._request_kill(inst, "kill not confirmed yet")  # e.g. lost in a failover

    def _set_state(self, inst, state, msg=""):
        old = inst["state"]
        inst["state"] = state
        app = self.apps.get(inst["appId"])
        if state == "TASK_RUNNING" and not inst.get("startedAt"):
            inst["startedAt"] = fw.now_iso()
        self.emit("status_update_event", slaveId=inst["agentId"], taskId=inst["taskId"],
                  taskStatus=state, message=msg, appId=inst["appId"], host=inst["host"],
                  ipAddresses=[{"ipAddress": inst.get("ip") or inst["host"],
                                "protocol": "IPv4"}],
                  ports=inst["ports"], version=inst["version"])
        self.emit("instance_changed_event", instanceId=inst["instanceId"],
                  condition=CONDITION.get(state, "Unknown"), runSpecId=inst["appId"],
                  agentId=inst["agentId"], host=inst["host"], runSpecVersion=inst["version"])
        LOG.info("task %s: %s -> %s %s", inst["taskId"], old, state, msg)
        if state in TERMINAL:
            if state in ("TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_UNREACHABLE"):
                self.last_failure[inst["appId"]] = {
                    "appId": inst["appId"], "host": inst["host"], "message": msg,
                    "state": state, "taskId": inst["taskId"], "timestamp": fw.now_iso(),
                    "version": inst["version"], "slaveId": inst["agentId"]}
                if app and state in ("TASK_FAILED", "TASK_ERROR"):
                    n, _ = self.backoff.get(app["id"], (0, 0))
                    delay = min(app["backoffSeconds"] * app["backoffFactor"] ** n,
                                app["maxLaunchDelaySeconds"])
                    self.backoff[app["id"]] = (n + 1, time.time() + delay)
            self._expunge(inst)
        else:
            if state == "TASK_RUNNING" and app:
                self.backoff.pop(app["id"], None)
            self.store.put("instances", inst["instanceId"], inst)

    def _expunge(self, inst):
        self.instances.pop(inst["instanceId"], None)
        self.health.pop(inst["instanceId"], None)
        self.readiness.forget(inst["instanceId"])
        self.store.delete("instances", inst["instanceId"])

    def _request_kill(self, inst, reason):
        if inst.get("_killing") and time.time() - inst["_killing"] < 5:
            return
        inst["_killing"] = time.time()
        self.store.put("instances", inst["instanceId"], inst)
        fid = self.framework_id
        body = {"type": "KILL", "framework_id": {"value": fid},
                "kill": {"task_id": {"value": inst["taskId"]},
                         "agent_id": {"value": inst["agentId"]}}}

        def go():
            try:
                status, resp = self.master.call(body)
                LOG.info("kill %s (%s): %s", inst["taskId"], reason, status)
            except OSError as exc:
                LOG.warning("kill %s failed: %s", inst["taskId"], exc)
        threading.Thread(target=go, daemon=True).start()

    # ---- health checks (Marathon-level: HTTP/TCP from the leader)

    def _healthy(self, inst):
        """True/False for apps with health checks, None when unknown or no checks."""
        app = self.apps.get(inst["appId"])
        if not app or not app.get("healthChecks") or inst["state"] != "TASK_RUNNING":
            return None
        results = self.health.get(inst["instanceId"]) or []
        if not results or not all(r.get("_checked") for r in results):
            return None
        return all(r["alive"] for r in results)

    def _ready(self, inst):
        """Counts as healthy for deployments: running, with health checks all alive and, when
        a readiness check runs on it, ready (readiness-checks.md)."""
        if inst["state"] != "TASK_RUNNING" or inst.get("_killing"):
            return False
        if not self.readiness.is_ready(inst):
            return False
        app = self.apps.get(inst["appId"])
        if app and app.get("healthChecks"):
            return self._healthy(inst) is True
        return True

    def _schedule_health_checks(self):
        now = time.time()
        for inst in list(self.instances.values()):
            app = self.apps.get(inst["appId"])
            if not app or not app.get("healthChecks") or inst["state"] != "TASK_RUNNING" \
                    or inst.get("_killing"):
                continue
            results = self.health.setdefault(inst["instanceId"], [])
            while len(results) < len(app["healthChecks"]):
                results.append({"alive": False, "consecutiveFailures": 0, "firstSuccess": None,
                                "lastSuccess": None, "lastFailure": None,
                                "lastFailureCause": None,
                                "instanceId": inst["instanceId"], "_next": now,
                                "_checked": False})
            for idx, hc in enumerate(app["healthChecks"]):
                key = (inst["instanceId"], idx)
                if key in self.hc_inflight or results[idx]["_next"] > now:
                    continue
                self.hc_inflight.add(key)
                results[idx]["_next"] = now + max(hc["intervalSeconds"], 0.2)
                threading.Thread(target=self._run_health_check,
                                 args=(app, copy.deepcopy(inst), idx, hc),
                                 daemon=True).start()

    def _run_health_check(self, app, inst, idx, hc):
        ok, cause = False, None
        try:
            ok, cause = _probe(hc, inst, app, self.conf)
        except Exception as exc:  # noqa: BLE001
            ok, cause = False, str(exc)
        finally:
            with self.lock:
                self.hc_inflight.discard((inst["instanceId"], idx))
                self._record_health(inst["instanceId"], idx, hc, ok, cause)

    def _record_health(self, iid, idx, hc, ok, cause):
        inst = self.instances.get(iid)
        results = self.health.get(iid)
        if inst is None or not results or idx >= len(results) or ok is None:
            return
        r = results[idx]
        before = self._healthy(inst)
        now_s = fw.now_iso()
        if ok:
            r.update(alive=True, consecutiveFailures=0, lastSuccess=now_s)
            r["firstSuccess"] = r["firstSuccess"] or now_s
        else:
            in_grace = r["firstSuccess"] is None and inst.get("startedAt") and \
                (time.time() - fw.parse_iso(inst["startedAt"]).timestamp()
                 < hc["gracePeriodSeconds"])
            r.update(lastFailure=now_s, lastFailureCause=cause)
            if not in_grace:
                r["consecutiveFailures"] += 1
                r["alive"] = False
                self.emit("failed_health_check_event", appId=inst["appId"],
                          taskId=inst["taskId"], instanceId=iid, healthCheck=hc)
            elif not r["_checked"]:
                r["alive"] = False
        first = not r["_checked"]
        r["_checked"] = True
        after = self._healthy(inst)
        if after is not None and (after != before or (first and before is None)):
            self.emit("health_status_changed_event", appId=inst["appId"], instanceId=iid,
                      taskId=inst["taskId"], version=inst["version"], alive=after)
            self.emit("instance_health_changed_event", instanceId=iid,
                      runSpecId=inst["appId"], runSpecVersion=inst["version"], healthy=after)
        limit = hc["maxConsecutiveFailures"]
        if not ok and limit > 0 and r["consecutiveFailures"] >= limit \
                and not inst.get("_killing"):
            self.emit("unhealthy_instance_kill_event", appId=inst["appId"],
                      taskId=inst["taskId"], instanceId=iid, version=inst["version"],
                      reason=cause or "", host=inst["host"], slaveId=inst["agentId"])
            self.emit("unhealthy_task_kill_event", appId=inst["appId"],
                      taskId=inst["taskId"], version=inst["version"], reason=cause or "",
                      host=inst["host"], slaveId=inst["agentId"])
            self._request_kill(inst, "too many failed health checks")

    # ---- placement

    def _agent_view(self, agents, offers=None):
        pools = {}
        unavailable = {}
        for offer in offers or []:
            if offer.get("unavailability"):
                unavailable[offer["slave_id"]] = offer["unavailability"]
            role = (offer.get("allocation_info") or {}).get("role", "*")
            for item in offer.get("resources_full") or []:
                reservations = item.get("reservations") or []
                pool = reservations[-1].get("role", "*") if reservations else "*"
                if item.get("type") == "SCALAR":
                    amounts = pools.setdefault(offer["slave_id"], {}).setdefault((role, pool), {})
                    amounts[item["name"]] = amounts.get(item["name"], 0.0) + item["scalar"]["value"]
        view = {}
        for aid, a in agents.items():
            res, used = a.get("resources") or {}, a.get("used_resources") or {}
            ranges = fw.parse_ranges(res.get("ports") if isinstance(res, dict) else res)
            used_ports = {p for b, e in fw.parse_ranges(
                used.get("ports") if isinstance(used, dict) else used) for p in range(b, e + 1)}
            for inst in self.instances.values():
                if inst["agentId"] == aid:
                    used_ports.update(inst["ports"])
            pid = a.get("pid", "")
            ip = pid.split("@", 1)[1].rsplit(":", 1)[0] if "@" in pid else a.get("hostname")
            view[aid] = {
                "id": aid, "hostname": a.get("hostname") or ip, "ip": ip,
                "active": a.get("active", True),
                "attributes": a.get("attributes") or {},
                "cpus": fw.scalar(res, "cpus") - fw.scalar(used, "cpus"),
                "mem": fw.scalar(res, "mem") - fw.scalar(used, "mem"),
                "disk": fw.scalar(res, "disk") - fw.scalar(used, "disk"),
                "ranges": ranges, "used_ports": used_ports,
                # maintenance-mode.md: the window its offers announce, if any
                "unavailability": unavailable.get(aid),
                # offered (allocation role, reservation role) -> free scalars; None: a master
                # that publishes no offers (everything free is usable)
                "pools": None if offers is None else pools.get(aid, {}),
            }
        return view

    def _accepted_roles(self, app):
        """app.raml acceptedResourceRoles, else the flags' defaults."""
        role = app.get("role") or "*"
        if app.get("acceptedResourceRoles"):
            return list(app["acceptedResourceRoles"])
        if self.conf.get("default_accepted_resource_roles"):
            return [r.strip() for r in self.conf["default_accepted_resource_roles"].split(",") if r.strip()]
        behaviour = self.conf.get("accepted_resource_roles_default_behavior") or "any"
        return {"any": ["*", role], "unreserved": ["*"], "reserved": [role]}[behaviour]

    def _take(self, app, ag):
        """Per pool, the cpus/mem/disk one instance takes from the agent's offers
        (reserved first), or None when they do not fit."""
        need = {"cpus": app["cpus"], "mem": app["mem"], "disk": app["disk"]}
        if ag["pools"] is None:
            if any(ag[k] + 1e-9 < v for k, v in need.items()):
                return None
            return {"*": {k: v for k, v in need.items() if v}}
        role = app.get("role") or "*"
        accepted = self._accepted_roles(app)
        order = list(dict.fromkeys(p for p in (role, "*") if p in accepted))
        taken = {}
        for name, amount in need.items():
            left = amount
            for pool in order:
                have = ag["pools"].get((role, pool), {}).get(name, 0.0)
                use = min(have, left)
                if use > 1e-9:
                    taken.setdefault(pool, {})[name] = use
                    left -= use
            if left > 1e-9:
                return None
        return taken

    def _place(self, app, view):
        """Pick (agent, host ports) for one new instance of app, or (None, reason)."""
        mine = [i for i in self.instances.values() if i["appId"] == app["id"]
                and i["state"] not in TERMINAL]
        counts = {}
        for i in mine:
            counts[i["agentId"]] = counts.get(i["agentId"], 0) + 1
        candidates = sorted(view.values(), key=lambda v: (counts.get(v["id"], 0), v["id"]))
        reason = "no agent is registered"
        for ag in candidates:
            if not ag["active"]:
                reason = "no active agent"
                continue
            if self._in_maintenance(ag):
                reason = "agents under maintenance declined"
                continue
            if self._take(app, ag) is None:
                reason = "insufficient resources"
                continue
            ports = self._pick_ports(app, ag)
            if ports is None:
                reason = "insufficient ports"
                continue
            if not all(_constraint_ok(c, ag, mine, view)
                       for c in app.get("constraints") or []):
                reason = "constraints not satisfied"
                continue
            return ag, ports
        return None, reason

    def _in_maintenance(self, ag):
        """maintenance-mode.md: with --maintenance_mode (the default), offers of an agent during
        its maintenance window are declined, from --draining_seconds before the window begins."""
        window = ag.get("unavailability")
        if not window or not self.conf["maintenance_mode"]:
            return False
        start = int((window.get("start") or {}).get("nanoseconds", 0)) / 1e9
        now = time.time()
        if "duration" in window and now >= start + int(window["duration"].get("nanoseconds", 0)) / 1e9:
            return False  # the window is over
        return now + self.conf["draining_seconds"] >= start

    @staticmethod
    def _pick_ports(app, ag):
        """Host ports from the agent's port ranges: the fixed ones must be free, the others
        are picked at random among the free ones, as Marathon's port matcher does (a port
        held by something Mesos does not know about then only fails one attempt)."""
        wanted = [p for p, _ in host_port_specs(app)]
        fixed = [p for p in wanted if p]
        if any(p in ag["used_ports"] or not any(b <= p <= e for b, e in ag["ranges"])
               for p in fixed) or len(set(fixed)) != len(fixed):
            return None
        free = [p for b, e in ag["ranges"] for p in range(b, min(e, b + 20000) + 1)
                if p not in ag["used_ports"] and p not in fixed]
        dynamic = len(wanted) - len(fixed)
        if dynamic > len(free):
            return None
        chosen = iter(random.sample(free, dynamic))
        return [p or next(chosen) for p in wanted]

    def _launch(self, app, view, deployment=None):
        """Create an instance, persist it and return the action that launches it. An instance
        launched by a deployment step carries the deployment's id (its readiness is checked)."""
        ag, ports = self._place(app, view)
        if ag is None:
            return None
        taken = self._take(app, ag)
        role = app.get("role") or "*"
        for pool, amounts in taken.items():
            for name, amount in amounts.items():
                if ag["pools"] is not None:
                    ag["pools"][(role, pool)][name] -= amount
                if pool == "*":
                    ag[name] -= amount
        ag["used_ports"].update(ports)
        iid = f"{task_prefix(app['id'])}.instance-{uuid.uuid1()}"
        inst = {"instanceId": iid, "taskId": f"{iid}._app.1", "appId": app["id"],
                "version": app["version"],
                "configVersion": app["versionInfo"]["lastConfigChangeAt"],
                "agentId": ag["id"], "host": ag["hostname"], "ip": ag["ip"],
                "ports": ports, "servicePorts": service_ports(app),
                "state": "TASK_STAGING", "stagedAt": fw.now_iso(), "role": app.get("role", "*"),
                "_launched": time.time()}
        if deployment is not None:
            inst["_deployment"] = deployment
        self.instances[iid] = inst
        self.store.put("instances", iid, inst)
        task = self._task_info(app, inst, taken)
        body = {"type": "ACCEPT", "framework_id": {"value": self.framework_id},
                "accept": {"operations": [{"type": "LAUNCH",
                                           "launch": {"task_infos": [task]}}]}}
        self.counters["tasks_launched"] += 1
        self.emit("instance_changed_event", instanceId=iid, condition="Provisioned",
                  runSpecId=app["id"], agentId=ag["id"], host=ag["hostname"],
                  runSpecVersion=app["version"])

        def go():
            try:
                status, resp = self.master.call(body)
            except OSError as exc:
                status, resp = 0, str(exc)
            if status != 202:
                LOG.warning("launch of %s on %s refused: %s %s", inst["taskId"], ag["id"],
                            status, resp)
                with self.lock:
                    if iid in self.instances:
                        self._expunge(self.instances[iid])
            else:
                LOG.info("launched %s on %s ports %s", inst["taskId"], ag["hostname"], ports)
        return go

    def _task_info(self, app, inst, taken=None):
        prefix = self.conf["env_vars_prefix"] or ""
        env = {}
        for k, v in (app.get("env") or {}).items():
            if isinstance(v, str):
                env[k] = v
        ports = inst["ports"]
        names = [name for _, name in host_port_specs(app)]
        for idx, p in enumerate(ports):
            env[f"{prefix}PORT{idx}"] = str(p)
            if idx < len(names) and names[idx]:
                env[f"{prefix}PORT_{re.sub(r'[^A-Za-z0-9_]', '_', names[idx]).upper()}"] = \
                    str(p)
        if ports:
            env[f"{prefix}PORT"] = str(ports[0])
            env[f"{prefix}PORTS"] = ",".join(str(p) for p in ports)
        env[f"{prefix}HOST"] = inst["host"]
        env["MARATHON_APP_ID"] = app["id"]
        env["MARATHON_APP_VERSION"] = app["version"]
        env["MARATHON_APP_RESOURCE_CPUS"] = str(float(app["cpus"]))
        env["MARATHON_APP_RESOURCE_MEM"] = str(float(app["mem"]))
        env["MARATHON_APP_RESOURCE_DISK"] = str(float(app["disk"]))
        env["MARATHON_APP_RESOURCE_GPUS"] = str(int(app.get("gpus", 0)))
        labels = {k: v for k, v in (app.get("labels") or {}).items()
                  if len(k) <= 512 and len(str(v)) <= 512}
        env["MARATHON_APP_LABELS"] = " ".join(
            re.sub(r"[^A-Za-z0-9_]", "_", k) for k in labels)
        for k, v in labels.items():
            env["MARATHON_APP_LABEL_" + re.sub(r"[^A-Za-z0-9_]", "_", k).upper()] = str(v)
        env["MESOS_TASK_ID"] = inst["taskId"]
        cmd = app["cmd"] if app.get("cmd") else " ".join(shlex.quote(a) for a in app.get("args") or ["true"])
        role = app.get("role") or "*"
        resources = []
        for pool, amounts in (taken or {"*": {"cpus": app["cpus"], "mem": app["mem"],
                                              "disk": app["disk"]}}).items():
            for name in ("cpus", "mem", "disk"):
                if amounts.get(name):
                    item = fw.scalar_resource(name, amounts[name])
                    if pool != "*":
                        item["reservations"] = [{"type": "DYNAMIC", "role": pool}]
                    resources.append(item)
        if ports:
            resources.append(fw.ports_resource(ports))
        for item in resources:
            item["allocation_info"] = {"role": role}
        return {"name": task_prefix(app["id"]).replace("_", "."),
                "task_id": {"value": inst["taskId"]},
                "agent_id": {"value": inst["agentId"]}, "resources": resources,
                "command": {"value": cmd, "shell": True, "user": app.get("user"),
                            "environment": {"variables": [{"name": k, "value": v}
                                                          for k, v in env.items()]}},
                "labels": {"labels": [{"key": k, "value": str(v)}
                                      for k, v in (app.get("labels") or {}).items()]}}

    def _launch_allowed(self, app):
        n, not_before = self.backoff.get(app["id"], (0, 0))
        return time.time() >= not_before

    def _alive(self, app_id):
        return [i for i in self.instances.values() if i["appId"] == app_id
                and i["state"] not in TERMINAL and not i.get("_killing")]

    def _kill_order(self, app, insts):
        rev = app.get("killSelection", "YOUNGEST_FIRST") == "YOUNGEST_FIRST"
        # staged before running, then by age
        return sorted(insts, key=lambda i: (i["state"] == "TASK_RUNNING",
                                            -i["_launched"] if rev else i["_launched"]))

    def _keep_scaled(self, app, view):
        """Outside deployments: replace instances that are gone (failed, lost)."""
        acts = []
        alive = self._alive(app["id"])
        missing = app["instances"] - len(alive)
        if missing > 0 and self._launch_allowed(app):
            for _ in range(min(missing, self.conf["max_instances_per_offer"])):
                act = self._launch(app, view)
                if act is None:
                    break
                acts.append(act)
        return acts

    def _step_deployment(self, dep, view):
        app_id = dep["affectedApps"][0]
        action = dep["steps"][dep["currentStep"] - 1]["actions"][0]["action"]
        app = self.apps.get(app_id)
        acts = []
        if action == "StartApplication":
            self._advance_step(dep)
            return acts
        if action == "StopApplication":
            insts = [i for i in self.instances.values() if i["appId"] == app_id]
            for i in insts:
                self._request_kill(i, "app deleted")
            if not insts:
                if app_id in self.apps:
                    for hc in self.apps[app_id].get("healthChecks") or []:
                        self.emit("remove_health_check_event", appId=app_id, healthCheck=hc)
                    del self.apps[app_id]
                    self.store.delete_app(app_id)
                    self.emit("app_terminated_event", appId=app_id)
                self._advance_step(dep)
            elif app_id in self.apps:
                # The app disappears from /v2/apps at once; its tasks are being killed.
                for hc in self.apps[app_id].get("healthChecks") or []:
                    self.emit("remove_health_check_event", appId=app_id, healthCheck=hc)
                del self.apps[app_id]
                self.store.delete_app(app_id)
            return acts
        if app is None:
            self._finish_deployment(dep, success=False)
            return acts
        target = app["instances"]
        cfg = app["versionInfo"]["lastConfigChangeAt"]
        alive = self._alive(app_id)
        new = [i for i in alive if i["configVersion"] == cfg]
        old = [i for i in alive if i["configVersion"] != cfg]
        if action == "ScaleApplication":
            old, new = [], alive  # scaling keeps every current instance
        # too many new ones (scale down)
        for i in self._kill_order(app, new)[:max(0, len(new) - target)]:
            self._request_kill(i, "scaling down")
        new = [i for i in new if not i.get("_killing")]
        healthy_new = sum(1 for i in new if self._ready(i))
        if action == "RestartApplication":
            us = app["upgradeStrategy"]
            min_healthy = math.ceil(target * us["minimumHealthCapacity"])
            max_cap = target + math.floor(target * us["maximumOverCapacity"])
            can_kill = len(old) + healthy_new - min_healthy
            to_kill = self._kill_order(app, old)[:max(0, min(can_kill, len(old)))]
            for i in to_kill:
                self._request_kill(i, "replaced by a new version")
            old = [i for i in old if not i.get("_killing")]
            # instances being killed still hold capacity until Mesos confirms their end
            dying = sum(1 for i in self.instances.values()
                        if i["appId"] == app_id and i.get("_killing"))
            room = max_cap - (len(old) + len(new) + dying)
            if room <= 0 and min_healthy >= max_cap and len(new) < target and not to_kill \
                    and old and not dying and healthy_new == len(new):
                # minimum health capacity == maximum capacity: free one slot, as Marathon
                # does, or the upgrade could never start
                self._request_kill(self._kill_order(app, old)[0], "making room for upgrade")
                room = 0
            launches = min(room, target - len(new))
        else:
            launches = target - len(new)
        if launches > 0 and self._launch_allowed(app):
            for _ in range(min(launches, self.conf["max_instances_per_offer"])):
                act = self._launch(app, view, deployment=dep["id"])
                if act is None:
                    break
                acts.append(act)
        terminating = [i for i in self.instances.values() if i["appId"] == app_id
                       and i.get("_killing")]
        if not old and len(new) == target and healthy_new == target and not terminating:
            self._advance_step(dep)
        return acts


def _probe(hc, inst, app, conf):
    """Run one health check. Returns (ok, cause); ok None means 'ignore' (1xx)."""
    # Simplification: MESOS_* checks are run by the agent's executor in Mesos; the stand-in
    # agent has none, so Marathon runs them itself like their Marathon-level twins.
    proto = hc["protocol"].replace("MESOS_", "")
    timeout = max(hc["timeoutSeconds"], 0.1)
    host = inst.get("ip") or inst["host"]
    if proto == "COMMAND":
        # Simplification: Mesos runs COMMAND checks inside the task's sandbox on its agent;
        # the stand-in runs them on the leader with the task's environment variables.
        env = dict(os.environ)
        for idx, p in enumerate(inst["ports"]):
            env[f"PORT{idx}"] = str(p)
        if inst["ports"]:
            env["PORT"] = str(inst["ports"][0])
        env.update(HOST=inst["host"], MESOS_TASK_ID=inst["taskId"],
                   MARATHON_APP_ID=inst["appId"])
        try:
            rc = subprocess.run(["/bin/sh", "-c", hc["command"]["value"]], env=env,
                                timeout=timeout, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode
        except subprocess.TimeoutExpired:
            return False, "command timed out"
        return rc == 0, None if rc == 0 else f"command exited with {rc}"
    port = hc.get("port") or (inst["ports"][hc.get("portIndex", 0)]
                              if hc.get("portIndex", 0) < len(inst["ports"]) else None)
    if not port:
        return False, "no port"
    if proto == "TCP":
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True, None
        except OSError as exc:
            return False, f"ConnectException: {exc}"
    import http.client
    cls = http.client.HTTPSConnection if proto == "HTTPS" else http.client.HTTPConnection
    kwargs = {}
    if proto == "HTTPS":
        import ssl
        kwargs["context"] = ssl._create_unverified_context()  # health-checks.md: not verified
    conn = cls(host, port, timeout=timeout, **kwargs)
    try:
        conn.request("GET", hc.get("path", "/"))
        status = conn.getresponse().status
    except OSError as exc:
        return False, f"ConnectException: {exc}"
    finally:
        conn.close()
    if 100 <= status < 200 and hc.get("ignoreHttp1xx"):
        return None, None
    if 200 <= status <= 399:
        return True, None
    return False, f"{status}"


def _attr(ag, field):
    if field in ("hostname", "@hostname"):
        return ag["hostname"]
    val = ag["attributes"].get(field)
    if isinstance(val, float) and val.is_integer():
        val = int(val)
    return None if val is None else str(val)


def _constraint_ok(c, ag, mine, view):
    """constraints.md operators against one candidate agent."""
    field, op = c[0], c[1]
    value = c[2] if len(c) > 2 else None
    mine_vals = [_attr(view[i["agentId"]], field) for i in mine if i["agentId"] in view]
    v = _attr(ag, field)
    if op == "UNLIKE":
        return v is None or not re.fullmatch(value, v)
    if v is None:
        return False
    if op == "UNIQUE":
        return v not in mine_vals
    if op == "CLUSTER" or op == "IS":
        if value:
            return v == value
        return not mine_vals or v == mine_vals[0]
    if op == "LIKE":
        return bool(re.fullmatch(value, v))
    if op == "MAX_PER":
        return mine_vals.count(v) < int(value)
    if op == "IN":
        return v in [x.strip() for x in (value or "").strip("{}").split(",")]
    if op == "GROUP_BY":
        # spread evenly: place where this value has the fewest instances
        counts = {}
        for ag2 in view.values():
            a = _attr(ag2, field)
            if a is not None:
                counts.setdefault(a, 0)
        for x in mine_vals:
            counts[x] = counts.get(x, 0) + 1
        return counts.get(v, 0) <= min(counts.values(), default=0)
    return False


def _label_match(labels, query):
    for sel in [s.strip() for s in query.split(",") if s.strip()]:
        m = re.match(r"^([-A-Za-z0-9_.]+)\s*(==|!=)\s*(.*)$", sel)
        if m:
            k, op, v = m.groups()
            if op == "==" and labels.get(k) != v:
                return False
            if op == "!=" and (k not in labels or labels.get(k) == v):
                return False
        elif sel not in labels:
            return False
    return True


def _jetty_error(status, reason):
    return (f"<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;"
            f"charset=ISO-8859-1\"/>\n<title>Error {status} {reason}</title>\n</head>\n"
            f"<body><h2>HTTP ERROR {status}</h2>\n<p>Problem accessing. Reason:\n<pre>    "
            f"{reason}</pre></p>\n</body>\n</html>\n")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--help" in argv or "-h" in argv:
        print("usage: marathon --master <zk://...|host:port> [flags]; see "
              "command-line-flags.md for the flags")
        return 0
    try:
        conf = parse_args(argv)
    except fw.FlagError as exc:
        print(f"[scallop] Error: {exc}", file=sys.stderr)
        return EXIT_INVALID_FLAG
    fw.setup_logging("marathon", conf["logging_level"] or "info")
    m = Marathon(conf)
    try:
        fw.exit_on_no_auth(m.start, EXIT_ZK_CONNECTION_FAILURE)
    except fw.FlagError as exc:
        print(f"[scallop] Error: {exc}", file=sys.stderr)
        return EXIT_INVALID_FLAG
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
