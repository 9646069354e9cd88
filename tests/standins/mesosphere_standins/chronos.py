"""Chronos 3.0 stand-in: ``python3 -m mesosphere_standins.chronos --master zk://.../mesos ...``.

Sources (project reference, Chronos 3.0.2 docs): docs/docs/configuration.md (flags),
docs/docs/api.md (REST resources, job fields and defaults, constraints), reference
README note 10 (GET /leader, transparent proxying, 204s, --zk_hosts as a plain list,
--zk_path default, <zk_path>/candidate).

Choices where the reference is silent are marked "choice:" below and listed in
tests/standins/README.md.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import logging
import math
import os
import re
import shlex
import sys
import threading
import time
import urllib.parse

from kazoo.exceptions import NoNodeError

from mesosphere_standins import _framework as fw
from mesosphere_standins._common import release
from mesosphere_standins._framework import Flag, Response, json_response

LOG = logging.getLogger("mesosphere_standins.chronos")

VERSION = release("3.0.2")
EXIT_INVALID_FLAG = 1  # choice: Scallop's own exit status for a bad command line

# configuration.md "Chronos v3.0.0 Command Line Flags"; defaults as Chronos's SchedulerConfiguration
FLAGS = [
    Flag("cassandra_consistency", default="ANY"),
    Flag("cassandra_contact_points", short="c"),
    Flag("cassandra_keyspace", default="metrics"),
    Flag("cassandra_port", "int", 9042),
    Flag("cassandra_user"),
    Flag("cassandra_password"),
    Flag("cassandra_stat_count_table", default="chronos_stat_count"),
    Flag("cassandra_table", default="chronos"),
    Flag("cassandra_ttl", "int", 31536000),
    Flag("cluster_name"),
    Flag("decline_offer_duration", "int"),
    Flag("disable_after_failures", "int", 0, short="d"),
    Flag("disable_http", "switch", False),
    Flag("failover_timeout", "int", 604800, short="f"),
    Flag("failure_retry", "int", 60000),
    Flag("graphite_group_prefix", default=""),
    Flag("graphite_host_port", short="g"),
    Flag("graphite_reporting_interval", "int", 60),
    Flag("hostname"),
    Flag("http_address"),
    Flag("http_compression", "toggle", True),
    Flag("http_credentials"),
    Flag("http_notification_credentials"),
    Flag("http_notification_url", short="h"),
    Flag("http_port", "int", 8080),
    Flag("http_realm", default="Mesosphere"),
    Flag("https_address"),
    Flag("https_port", "int", 8443),
    Flag("job_history_limit", "int", 5, short="j"),
    Flag("leader_max_idle_time", "int", 5000, short="l"),
    Flag("mail_from"),
    Flag("mail_password"),
    Flag("mail_server", short="m"),
    Flag("mail_ssl", "switch", False),
    Flag("mail_user"),
    Flag("master", default="local"),
    Flag("mattermost_url"),
    Flag("mesos_authentication_principal"),
    Flag("mesos_authentication_secret_file"),
    Flag("mesos_checkpoint", "switch", False),
    Flag("mesos_framework_name", default="chronos"),
    Flag("mesos_role", default="*"),
    Flag("mesos_task_cpu", "float", 0.1),
    Flag("mesos_task_disk", "float", 256.0),
    Flag("mesos_task_mem", "float", 128.0),
    Flag("min_revive_offers_interval", "int", 5000),
    Flag("raven_dsn", short="r"),
    Flag("reconciliation_interval", "int", 600),
    Flag("revive_offers_for_new_jobs", "switch", False),
    Flag("slack_url", short="s"),
    Flag("ssl_keystore_password"),
    Flag("ssl_keystore_path"),
    Flag("task_epsilon", "int", 60, short="t"),
    Flag("user", default="root", short="u"),
    Flag("webui_url"),
    Flag("zk_auth"),
    Flag("zk_hosts", default="localhost:2181", short="z"),
    Flag("zk_path", default="/chronos/state"),
    Flag("zk_timeout", "int", 10000),
]
ENV_ALIASES = {
    "MESOSPHERE_HTTP_CREDENTIALS": "http_credentials",
    "MESOSPHERE_KEYSTORE_PATH": "ssl_keystore_path",
    "MESOSPHERE_KEYSTORE_PASS": "ssl_keystore_password",
}

JOB_NAME = re.compile(r"^[\w.-]+$")  # api.md: "Must match ([\w\.-]+)"
SCHEDULE = re.compile(r"^R(\d*)/([^/]*)/(P.+)$")
DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                      r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_args(argv, env=None):
    values = fw.parse_flags(FLAGS, argv, env=env, env_aliases=ENV_ALIASES)
    hosts = values["zk_hosts"]
    if not re.fullmatch(r"[^,:/\s]+:\d+(,[^,:/\s]+:\d+)*", hosts or ""):
        # note 10: --zk_hosts is a plain host:port list, never a zk:// URL
        raise fw.FlagError(f"Option 'zk_hosts' must be a host:port,host:port list, not '{hosts}'")
    if not values["zk_path"].startswith("/"):
        raise fw.FlagError("Option 'zk_path' must be an absolute ZooKeeper path")
    master = values["master"]
    if master.startswith("zk://"):
        try:
            fw.parse_zk_url(master)
        except ValueError:
            raise fw.FlagError(f"Option 'master' has invalid value '{master}'") from None
    cred = values["http_credentials"]
    if cred is not None and (":" not in cred or not cred.split(":", 1)[0]):
        raise fw.FlagError("Option 'http_credentials' must have the form username:password")
    if values["ssl_keystore_path"]:
        raise fw.FlagError("HTTPS ('ssl_keystore_path') is not supported by this stand-in")
    if values["disable_http"]:
        raise fw.FlagError("'disable_http' needs HTTPS, which this stand-in does not serve")
    if values["hostname"] is None:
        values["hostname"] = fw.default_hostname()
    return values


def parse_duration(text):
    """ISO 8601 duration -> seconds (months as 30 days, years as 365 days)."""
    m = DURATION.match(text or "")
    if not m or text in ("P", "PT"):
        raise ValueError(text)
    y, mo, w, d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return (((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s


def parse_schedule(text):
    """'R[n]/[start]/period' -> (repeats or None for forever, start datetime or None, secs)."""
    m = SCHEDULE.match(text or "")
    if not m:
        raise ValueError(text)
    reps = int(m.group(1)) if m.group(1) else None
    start = fw.parse_iso(m.group(2)) if m.group(2) else None
    return reps, start, parse_duration(m.group(3))


def format_schedule(reps, start, period_text):
    iso = start.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{start.microsecond // 1000:03d}Z"
    return f"R{'' if reps is None else reps}/{iso}/{period_text}"


class BadJob(Exception):
    pass


def normalize_job(raw, conf, kind):
    """Fill the defaults of api.md's "Job Configuration" table; raise BadJob."""
    if not isinstance(raw, dict):
        raise BadJob("the body must be a JSON object")
    job = copy.deepcopy(raw)
    name = job.get("name")
    if not isinstance(name, str) or not JOB_NAME.match(name):
        raise BadJob("name must match ([\\w\\.-]+)")
    if not isinstance(job.get("command"), str) or (not job["command"] and not job.get("container")):
        raise BadJob("command is required")
    if kind == "iso8601":
        if job.get("parents"):
            raise BadJob("a scheduled job must not have parents")
        try:
            parse_schedule(job.get("schedule"))
        except (ValueError, TypeError):
            raise BadJob(f"invalid schedule '{job.get('schedule')}'") from None
    else:
        parents = job.get("parents")
        if not isinstance(parents, list) or not parents:
            raise BadJob("a dependent job needs a list of parents")
        if job.get("schedule"):
            raise BadJob("a dependent job must not have a schedule")
    epsilon = job.get("epsilon", f"PT{conf['task_epsilon']}S")
    try:
        parse_duration(epsilon)
    except ValueError:
        raise BadJob(f"invalid epsilon '{epsilon}'") from None
    defaults = {
        "description": "", "shell": True, "arguments": [], "epsilon": epsilon,
        "executor": "", "executorFlags": "", "taskInfoData": "", "retries": 2,
        "owner": "", "ownerName": "", "async": False, "successCount": 0, "errorCount": 0,
        "lastSuccess": "", "lastError": "", "cpus": conf["mesos_task_cpu"],
        "disk": conf["mesos_task_disk"], "mem": conf["mesos_task_mem"], "disabled": False,
        "softError": False, "dataProcessingJobType": False, "errorsSinceLastSuccess": 0,
        "fetch": [], "uris": [], "environmentVariables": [], "highPriority": False,
        "runAsUser": conf["user"], "concurrent": False, "constraints": [],
    }
    for k, v in defaults.items():
        if job.get(k) is None:
            job[k] = copy.deepcopy(v)
    for k in ("cpus", "mem", "disk"):  # api.md's docker example sends them as strings
        try:
            job[k] = float(job[k])
        except (TypeError, ValueError):
            raise BadJob(f"{k} must be a number") from None
    for c in job["constraints"]:
        if not isinstance(c, list) or len(c) != 3 or c[1] not in ("EQUALS", "LIKE", "UNLIKE"):
            raise BadJob(f"invalid constraint {c!r}")
    if kind == "iso8601":
        job.setdefault("scheduleTimeZone", "")
    return job


class Chronos:
    def __init__(self, conf):
        self.conf = conf
        self.me = f"{conf['hostname']}:{conf['http_port']}"
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.jobs = {}
        self.running = {}  # task id -> {"job", "agentId", "state", "attempt", "_launched"}
        self.ready = False
        self.framework_id = None
        self.heartbeat = 15.0
        self.last_subscribe = 0.0
        self._waiting_sent = None
        self.tick_s = float(os.environ.get("STANDIN_TICK_SECONDS", "0.5"))
        self.router = fw.Router()
        r = self.router
        r.add("GET", "/leader", self.h_leader)
        r.add("GET", "/ping", lambda req: Response(200, b"pong", content_type="text/plain"))
        r.add("GET", "/v1/scheduler/jobs", self.h_jobs)
        r.add("GET", "/v1/scheduler/jobs/search", self.h_search)
        r.add("POST PUT", "/v1/scheduler/iso8601", lambda req: self.h_upsert(req, "iso8601"))
        r.add("POST PUT", "/v1/scheduler/dependency",
              lambda req: self.h_upsert(req, "dependency"))
        r.add("PUT DELETE", "/v1/scheduler/job/([^/]+)", self.h_job)
        r.add("PUT", "/v1/scheduler/job/success/([^/]+)", self.h_job_success)
        r.add("DELETE", "/v1/scheduler/task/kill/([^/]+)", self.h_kill_tasks)
        r.add("GET", "/v1/scheduler/graph/dot", self.h_dot)

    # ---- start-up

    def start(self):
        c = self.conf
        try:
            self.zk = fw.make_zk_client(c["zk_hosts"], c["zk_auth"], c["zk_timeout"] / 1000.0,
                                        c["zk_timeout"] / 1000.0)
        except Exception as exc:  # noqa: BLE001
            LOG.error("could not connect to ZooKeeper %s: %s", c["zk_hosts"], exc)
            sys.exit(1)
        fw.exit_on_session_loss(self.zk, lambda: 1)
        fw.exit_cleanly_on_sigterm(self.zk)
        self.path = c["zk_path"].rstrip("/")
        self.zk.ensure_path(self.path)
        self.master = None
        if c["master"] != "local":
            # authentication.md: a principal turns framework authentication on
            credential = fw.read_framework_credential(c["mesos_authentication_principal"], None,
                                                      c["mesos_authentication_secret_file"])
            self.master = fw.MesosMaster(c["master"], c["zk_timeout"] / 1000.0,
                                         c["zk_timeout"] / 1000.0, http_timeout_s=3.0,
                                         credential=credential)
        else:
            LOG.warning("--master local: no Mesos master to run jobs on")
        self.latch = fw.LeaderLatch(self.zk, f"{self.path}/candidate", self.me,
                                    on_elected=self._on_elected)
        try:
            self.http = fw.serve_http(self, c["http_address"] or "0.0.0.0", c["http_port"])
        except OSError as exc:
            LOG.error("could not bind port %s: %s", c["http_port"], exc)
            sys.exit(1)
        self.latch.start()
        LOG.info("Chronos stand-in %s listening on %s (zk %s%s)", VERSION, self.me,
                 c["zk_hosts"], self.path)

    def _on_elected(self):
        fw.exit_on_no_auth(self._take_over, 1)

    def _take_over(self):
        LOG.info("elected as leader")
        with self.lock:
            self.jobs = self._load_jobs()
            try:
                data, _ = self.zk.get(f"{self.path}/frameworkId")
                self.framework_id = data.decode() or None
            except NoNodeError:
                self.framework_id = None
            self.ready = True
        threading.Thread(target=self._loop, name="scheduler", daemon=True).start()

    # ---- persistence: <zk_path>/J_<name> (job JSON), <zk_path>/frameworkId

    def _load_jobs(self):
        jobs = {}
        for child in self.zk.get_children(self.path):
            if not child.startswith("J_"):
                continue
            try:
                data, _ = self.zk.get(f"{self.path}/{child}")
                job = json.loads(data.decode())
                jobs[job["name"]] = job
            except (NoNodeError, ValueError, KeyError):
                continue
        return jobs

    def _save(self, job):
        fw.ensure_node(self.zk, f"{self.path}/J_{job['name']}", json.dumps(_public(job)).encode())

    def _delete(self, name):
        with contextlib.suppress(NoNodeError):
            self.zk.delete(f"{self.path}/J_{name}")

    # ---- HTTP

    def dispatch(self, req):
        if req.path == "/leader":
            return self.h_leader(req)  # answered by every node from ZooKeeper
        leader = None
        deadline = time.time() + 5
        while not self.latch.is_leader and time.time() < deadline:
            leader = self.latch.leader_id()
            if leader != self.me:
                break
            time.sleep(0.05)  # elected a moment ago: the latch watch has not fired yet
        if not self.latch.is_leader:
            if not leader or leader == self.me:
                # choice: the reference does not say; a plain 503 while nobody leads
                return Response(503, b"No leader elected", content_type="text/plain")
            try:
                # note 10: non-leaders proxy transparently (no redirect)
                return fw.proxy(req, leader, {}, 5.0, 30.0)
            except OSError as exc:
                LOG.warning("proxying to %s failed: %s", leader, exc)
                return Response(503, b"Could not reach the leader", content_type="text/plain")
        deadline = time.time() + 5
        while not self.ready and time.time() < deadline:
            time.sleep(0.05)
        denied = fw.check_basic_auth(req, self.conf["http_credentials"], self.conf["http_realm"])
        if denied:
            return denied
        func, groups = self.router.match(req)
        if func is None:
            return Response(405 if groups == "method" else 404, b"",
                            content_type="text/plain")
        return func(req, *groups)

    def h_leader(self, req):
        return json_response(200, {"leader": self.latch.leader_id() or ""})

    def h_jobs(self, req):
        with self.lock:
            return json_response(200, [_public(self.jobs[n]) for n in sorted(self.jobs)])

    def h_search(self, req):
        name, command, anyterm = (req.arg(k) for k in ("name", "command", "any"))
        with self.lock:
            out = []
            for job in (self.jobs[n] for n in sorted(self.jobs)):
                n, c = job["name"].lower(), job["command"].lower()
                if name and name.lower() not in n:
                    continue
                if command and command.lower() not in c:
                    continue
                if anyterm and anyterm.lower() not in n and anyterm.lower() not in c:
                    continue
                out.append(_public(job))
        # choice: api.md says "Response: HTTP 204" but describes a search; Chronos answers
        # the matching jobs as a JSON list with 200.
        return json_response(200, out)

    def h_upsert(self, req, kind):
        try:
            raw = json.loads(req.body.decode() or "null")
        except ValueError:
            return Response(400, b"Invalid JSON", content_type="text/plain")
        try:
            job = normalize_job(raw, self.conf, kind)
        except BadJob as exc:
            return Response(400, str(exc).encode(), content_type="text/plain")
        with self.lock:
            if kind == "dependency":
                missing = [p for p in job["parents"] if p not in self.jobs]
                if missing:
                    return Response(400, f"Parent job(s) not found: {', '.join(missing)}"
                                    .encode(), content_type="text/plain")
            old = self.jobs.get(job["name"])
            if old:  # counters survive an update unless the caller sets them
                for k in ("successCount", "errorCount", "lastSuccess", "lastError",
                          "errorsSinceLastSuccess"):
                    if k not in raw:
                        job[k] = old[k]
            if kind == "iso8601":
                job.pop("parents", None)
            else:
                job.pop("schedule", None)
                job.pop("scheduleTimeZone", None)
            self.jobs[job["name"]] = job
            self._save(job)
        return Response(204)

    def h_job(self, req, name):
        name = urllib.parse.unquote(name)
        with self.lock:
            job = self.jobs.get(name)
            if job is None:
                # choice: 400 for an unknown job (the reference gives no code)
                return Response(400, f"Job '{name}' not found".encode(),
                                content_type="text/plain")
            if req.method == "DELETE":
                del self.jobs[name]
                self._delete(name)
                for tid, t in list(self.running.items()):
                    if t["job"] == name:
                        self._kill(tid)
                return Response(204)
            job["_runNow"] = True
            if req.arg("arguments"):
                job["_runArgs"] = req.arg("arguments")
        return Response(204)

    def h_job_success(self, req, name):
        with self.lock:
            job = self.jobs.get(name)
            if job is None:
                return json_response(200, False)
            self._job_succeeded(job)
        return json_response(200, True)

    def h_kill_tasks(self, req, name):
        with self.lock:
            if name not in self.jobs:
                return Response(400, f"Job '{name}' not found".encode(),
                                content_type="text/plain")
            for tid, t in list(self.running.items()):
                if t["job"] == name:
                    self._kill(tid)
        return Response(204)

    def h_dot(self, req):
        with self.lock:
            lines = ["digraph G {"]
            for job in self.jobs.values():
                for p in job.get("parents") or []:
                    lines.append(f'  "{p}" -> "{job["name"]}";')
            lines.append("}")
        return Response(200, ("\n".join(lines) + "\n").encode(), content_type="text/plain")

    # ---- scheduling

    def _loop(self):
        while not self.stop.is_set() and self.latch.is_leader:
            try:
                self._tick()
            except (OSError, ValueError) as exc:
                fw.warn_rarely(LOG, f"scheduler: Mesos master not usable: {exc}")
            except Exception:  # noqa: BLE001
                LOG.exception("scheduler tick failed")
            self.stop.wait(self.tick_s)

    def _subscribe(self):
        c = self.conf
        info = {"name": c["mesos_framework_name"], "user": c["user"], "hostname": c["hostname"],
                "webui_url": c["webui_url"] or f"http://{self.me}",
                "failover_timeout": float(c["failover_timeout"]),
                "checkpoint": c["mesos_checkpoint"], "roles": [c["mesos_role"]]}
        fid, self.heartbeat = self.master.subscribe(info, self.framework_id, c["mesos_authentication_principal"])
        self.last_subscribe = time.time()
        if fid and fid != self.framework_id:
            self.framework_id = fid
            fw.ensure_node(self.zk, f"{self.path}/frameworkId", fid.encode())
            LOG.info("registered with Mesos as framework %s", fid)

    def _tick(self):
        if self.master is None:
            return
        leader = self.master.leader()
        if leader != getattr(self, "_subscribed_to", None) or \
                time.time() - self.last_subscribe >= self.heartbeat * 0.8:
            self._subscribe()
            self._subscribed_to = leader
            self._waiting_sent = None
        state = self.master.get_json("/master/state")
        slaves = self.master.get_json("/master/slaves").get("slaves", [])
        tasks = {}
        offers = None
        for f in state.get("frameworks", []):
            if f.get("id") == self.framework_id:
                offers = f.get("offers")
                for t in f.get("tasks", []) + f.get("completed_tasks", []):
                    tasks.setdefault(t["id"], t)
        launches = []
        with self.lock:
            if not self.latch.is_leader:
                return
            self._track(tasks, {s["id"]: s for s in slaves})
            now = datetime.datetime.now(datetime.UTC)
            for job in list(self.jobs.values()):
                if self._due(job, now):
                    act = self._launch(job, slaves, job.pop("_attempt", 0), offers)
                    if act:
                        launches.append(act)
            waiting = any(job.get("_runNow") for job in self.jobs.values())
        self._revive_or_suppress(waiting)
        for act in launches:
            act()

    def _revive_or_suppress(self, waiting):
        """A job that could not start yet makes the role wait for resources (REVIVE);
        nothing waiting: SUPPRESS (the mesos-master stand-in's allocator, tests/standins/README.md)."""
        if waiting == self._waiting_sent:
            return
        kind = "REVIVE" if waiting else "SUPPRESS"
        self.master.call({"type": kind, "framework_id": {"value": self.framework_id},
                          kind.lower(): {"roles": [self.conf["mesos_role"]]}})
        self._waiting_sent = waiting

    def _due(self, job, now):
        """Is the job to be started now? Advances the schedule of scheduled jobs."""
        busy = any(t["job"] == job["name"] for t in self.running.values())
        if job.get("_runNow"):
            if busy and not job["concurrent"]:
                return False
            job.pop("_runNow")
            return True
        if job["disabled"] or (busy and not job["concurrent"]):
            return False
        if not job.get("schedule"):  # a dependent job: due once its parents succeeded
            return bool(job.pop("_dependentsDue", False))
        reps, start, period = parse_schedule(job["schedule"])
        if reps == 0:
            return False
        if start is None:
            start = now
        if now < start:
            return False
        period_text = job["schedule"].rsplit("/", 1)[1]
        epsilon = parse_duration(job["epsilon"])
        late = (now - start).total_seconds()
        # skip the runs that were missed by more than epsilon
        skipped = 0
        if late > epsilon and period > 0:
            skipped = math.ceil((late - epsilon) / period)
            if reps is not None:
                skipped = min(skipped, reps)
            start += datetime.timedelta(seconds=skipped * period)
            late = (now - start).total_seconds()
        if late < 0 or late > epsilon:  # the next run is in the future, or none is left
            reps = None if reps is None else max(0, reps - skipped)
            job["schedule"] = format_schedule(reps, start, period_text)
            self._save(job)
            return False
        reps = None if reps is None else max(0, reps - skipped - 1)
        job["schedule"] = format_schedule(reps, start + datetime.timedelta(seconds=period),
                                          period_text)
        self._save(job)
        return True

    def _launch(self, job, slaves, attempt=0, offers=None):
        agent = None
        offered = {}  # agent id -> unreserved scalars offered to the role
        for offer in offers or []:
            for item in offer.get("resources_full") or []:
                if item.get("type") == "SCALAR" and not item.get("reservations"):
                    amounts = offered.setdefault(offer["slave_id"], {})
                    amounts[item["name"]] = amounts.get(item["name"], 0.0) + item["scalar"]["value"]
        for s in sorted(slaves, key=lambda s: s["id"]):
            if not s.get("active", True):
                continue
            res, used = s.get("resources") or {}, s.get("used_resources") or {}
            if offers is not None:
                free = offered.get(s["id"], {})
                cpus, mem = free.get("cpus", 0.0), free.get("mem", 0.0)
            else:
                cpus = fw.scalar(res, "cpus") - fw.scalar(used, "cpus")
                mem = fw.scalar(res, "mem") - fw.scalar(used, "mem")
            if cpus + 1e-9 < job["cpus"] or mem + 1e-9 < job["mem"]:
                continue
            attrs = dict(s.get("attributes") or {})
            attrs.setdefault("hostname", s.get("hostname"))
            if all(_constraint_ok(c, attrs) for c in job["constraints"]):
                agent = s
                break
        if agent is None:
            LOG.info("no agent for job %s yet", job["name"])
            job["_runNow"] = True  # try again on the next tick
            job["_attempt"] = attempt
            return None
        # api.md's task id example: ct:<millis>:<attempt>:<job name>:
        tid = f"ct:{fw.time_ms()}:{attempt}:{job['name']}:"
        extra = shlex.split(job.pop("_runArgs", "") or "")  # api.md: ignored for shell jobs
        cmd = job["command"] if job["shell"] else " ".join(
            shlex.quote(a) for a in [job["command"], *job["arguments"], *extra])
        env = [{"name": e["name"], "value": str(e.get("value", ""))}
               for e in job["environmentVariables"]]
        env += [{"name": "mesos_task_id", "value": tid},
                {"name": "CHRONOS_JOB_OWNER", "value": job["owner"]},
                {"name": "CHRONOS_JOB_NAME", "value": job["name"]},
                {"name": "HOST", "value": agent.get("hostname", "")},
                {"name": "CHRONOS_RESOURCE_MEM", "value": str(job["mem"])},
                {"name": "CHRONOS_RESOURCE_CPU", "value": str(job["cpus"])},
                {"name": "CHRONOS_RESOURCE_DISK", "value": str(job["disk"])}]
        task = {"name": f"ChronosTask:{job['name']}", "task_id": {"value": tid},
                "agent_id": {"value": agent["id"]},
                "resources": [fw.scalar_resource("cpus", job["cpus"]),
                              fw.scalar_resource("mem", job["mem"])],
                "command": {"value": cmd, "shell": True, "user": job["runAsUser"],
                            "environment": {"variables": env}}}
        self.running[tid] = {"job": job["name"], "agentId": agent["id"], "state": "TASK_STAGING",
                             "attempt": attempt, "_launched": time.time()}
        body = {"type": "ACCEPT", "framework_id": {"value": self.framework_id},
                "accept": {"operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]}}

        def go():
            try:
                status, resp = self.master.call(body)
            except OSError as exc:
                status, resp = 0, str(exc)
            if status != 202:
                LOG.warning("launch of %s refused: %s %s", tid, status, resp)
                with self.lock:
                    self.running.pop(tid, None)
                    if job["name"] in self.jobs:
                        self.jobs[job["name"]]["_runNow"] = True
                        self.jobs[job["name"]]["_attempt"] = attempt
            else:
                LOG.info("launched %s on %s", tid, agent.get("hostname"))
        return go

    def _track(self, tasks, agents):
        now = time.time()
        for tid, t in list(self.running.items()):
            mt = tasks.get(tid)
            state = mt.get("state") if mt else None
            agent = agents.get(t["agentId"])
            if state not in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST",
                             "TASK_ERROR") and (agent is None or not agent.get("active", True)):
                state = "TASK_LOST"
            if mt is None and state is None and now - t["_launched"] > 10:
                state = "TASK_LOST"
            if state is None or state == t["state"]:
                continue
            t["state"] = state
            job = self.jobs.get(t["job"])
            if state == "TASK_FINISHED":
                self.running.pop(tid)
                if job:
                    self._job_succeeded(job)
            elif state in ("TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"):
                self.running.pop(tid)
                if job:
                    self._job_failed(job, t, state)

    def _job_succeeded(self, job):
        job["successCount"] += 1
        job["errorsSinceLastSuccess"] = 0
        job["lastSuccess"] = fw.now_iso()
        self._save(job)
        for child in self.jobs.values():  # dependent jobs run once all parents succeeded
            parents = child.get("parents") or []
            if job["name"] in parents and all(
                    self.jobs.get(p, {}).get("lastSuccess", "") >
                    child.get("_lastRun", child.get("lastSuccess", "")) for p in parents):
                child["_dependentsDue"] = True
                child["_lastRun"] = fw.now_iso()

    def _job_failed(self, job, task, state):
        if state != "TASK_KILLED" and task["attempt"] < job["retries"]:
            job["_runNow"] = True  # retried at once (failure_retry not waited for)
            job["_attempt"] = task["attempt"] + 1
            return
        job["errorCount"] += 1
        job["errorsSinceLastSuccess"] += 1
        job["lastError"] = fw.now_iso()
        limit = self.conf["disable_after_failures"]
        if limit and job["errorsSinceLastSuccess"] >= limit:
            job["disabled"] = True
        self._save(job)

    def _kill(self, tid):
        t = self.running.get(tid)
        if not t or self.master is None:
            return
        body = {"type": "KILL", "framework_id": {"value": self.framework_id},
                "kill": {"task_id": {"value": tid}, "agent_id": {"value": t["agentId"]}}}
        threading.Thread(target=lambda: _quiet(self.master.call, body), daemon=True).start()


def _public(job):
    """The job without the stand-in's bookkeeping keys (those start with '_')."""
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _quiet(func, *args):
    try:
        func(*args)
    except OSError as exc:
        LOG.warning("%s", exc)


def _constraint_ok(c, attrs):
    """api.md constraints: EQUALS, LIKE, UNLIKE against agent attributes."""
    field, op, value = c
    v = attrs.get(field)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if op == "UNLIKE":
        return v is None or not re.fullmatch(value, str(v))
    if v is None:
        return False
    if op == "EQUALS":
        return str(v) == value
    return bool(re.fullmatch(value, str(v)))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--help" in argv:
        print("usage: chronos [--master zk://...] [--zk_hosts h:p,...] [--zk_path /chronos/state]"
              " [--http_port 8080] ...; see configuration.md")
        return 0
    try:
        conf = parse_args(argv)
    except fw.FlagError as exc:
        print(f"[scallop] Error: {exc}", file=sys.stderr)
        return EXIT_INVALID_FLAG
    fw.setup_logging("chronos")
    c = Chronos(conf)
    try:
        fw.exit_on_no_auth(c.start, 1)
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
