"""Readiness checks of the Marathon stand-in (docs/readiness-checks.md, types/readinessCheck.raml).

A readiness check is a temporary monitor that runs during deployments only. Once a task that a
deployment started is running, the leader polls ``<protocol>://<host>:<port of portName><path>``
every ``intervalSeconds`` (each request given ``timeoutSeconds``) until the answer's status is
one of ``httpStatusCodesForReady``. The deployment counts such a task as healthy only from then
on, so it finishes (and a rolling restart kills old tasks) only as new tasks become ready.

The results are TaskReadinessCheckResult objects (``name``, ``taskId``, ``ready`` and, with
``preserveLastResponse``, ``lastResponse``); they exist while the deployment that started the
task runs and are shown by ``embed=apps.readiness`` / ``app.readiness`` and in the
``currentActions`` of ``/v2/deployments``.

Which tasks are checked: those launched by a deployment step (they carry the deployment's id in
``_deployment``). Tasks that replace failed ones outside deployments are not checked, as the
reference says the check is for deployments. Results live in the leader's memory; a new leader
checks the tasks of the running deployments again from the start.
"""

from __future__ import annotations

import copy
import http.client
import ssl
import threading
import time

DEFAULTS = {
    "name": "readinessCheck",
    "protocol": "HTTP",
    "path": "/",
    "portName": "http-api",
    "intervalSeconds": 30,
    "timeoutSeconds": 10,
    "httpStatusCodesForReady": [200],
    "preserveLastResponse": False,
}
PROTOCOLS = ("HTTP", "HTTPS")
BODY_LIMIT = 64 * 1024  # the stand-in keeps at most this much of a preserved response body


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def port_names(app: dict) -> list:
    """Names of the ports a readiness check may name: portDefinitions, or the container's
    portMappings when the app has them (readiness-checks.md: "in the portDefinitions or
    portMappings section")."""
    container = app.get("container") or {}
    mappings = container.get("portMappings") or (container.get("docker") or {}).get("portMappings")
    specs = mappings if mappings else app.get("portDefinitions") or []
    return [s.get("name") for s in specs if isinstance(s, dict)]


def normalize(app: dict, err) -> None:
    """Fill in the defaults of each readiness check and validate them; ``err(path, text)``
    collects the 422 details, as normalize_app does for the rest of the app."""
    checks = app.get("readinessChecks")
    if checks is None:
        return
    if not isinstance(checks, list):
        err("/readinessChecks", "error.expected.jsarray")
        return
    if len(checks) > 1:
        # readiness-checks.md: "Marathon currently allows one readiness check per application."
        err("/readinessChecks", "Only one readiness check per application is supported")
    names = port_names(app)
    out = []
    for i, rc in enumerate(checks):
        path = f"/readinessChecks({i})"
        if not isinstance(rc, dict):
            err(path, "error.expected.jsobject")
            continue
        full = copy.deepcopy(DEFAULTS)
        full.update({k: v for k, v in rc.items() if v is not None})
        if not isinstance(full["name"], str) or not full["name"]:
            err(f"{path}/name", "must be a non-empty string")
        if full["protocol"] not in PROTOCOLS:
            err(f"{path}/protocol", "error.unknown.enum.literal")
        if not isinstance(full["path"], str) or not full["path"].startswith("/"):
            err(f"{path}/path", "must be a path starting with /")
        if not _is_int(full["intervalSeconds"]) or full["intervalSeconds"] < 0:
            err(f"{path}/intervalSeconds", f"got {full['intervalSeconds']!r}, expected 0 or more")
        if not _is_int(full["timeoutSeconds"]) or full["timeoutSeconds"] < 1:
            err(f"{path}/timeoutSeconds", f"got {full['timeoutSeconds']!r}, expected 1 or more")
        elif _is_int(full["intervalSeconds"]) and full["timeoutSeconds"] >= full["intervalSeconds"]:
            err(f"{path}/timeoutSeconds", "timeoutSeconds must be smaller than intervalSeconds")
        codes = full["httpStatusCodesForReady"]
        if not isinstance(codes, list) or not codes:
            err(f"{path}/httpStatusCodesForReady", "must be a non-empty list of status codes")
        elif not all(_is_int(c) and 100 <= c <= 999 for c in codes):
            err(f"{path}/httpStatusCodesForReady", "status codes must be between 100 and 999")
        elif len(set(codes)) != len(codes):
            err(f"{path}/httpStatusCodesForReady", "status codes must be unique")
        if not isinstance(full["preserveLastResponse"], bool):
            err(f"{path}/preserveLastResponse", "error.expected.jsboolean")
        if full["portName"] not in names:
            err(f"{path}/portName",
                f"portName {full['portName']!r} is not the name of a port of the app "
                "(portDefinitions or portMappings)")
        out.append(full)
    app["readinessChecks"] = out


def host_port(app: dict, inst: dict, port_name: str, host_port_specs) -> int | None:
    """The port of ``inst`` that the check polls: the host port assigned to the named port, or,
    for a port mapping without a host port, its container port (the stand-in agent runs tasks
    on the host)."""
    for idx, (_, name) in enumerate(host_port_specs(app)):
        if name == port_name:
            return inst["ports"][idx] if idx < len(inst["ports"]) else None
    container = app.get("container") or {}
    for m in container.get("portMappings") or (container.get("docker") or {}).get("portMappings") or []:
        if m.get("name") == port_name and m.get("containerPort"):
            return m["containerPort"]
    return None


def probe(check: dict, host: str, port: int):
    """One readiness request. Returns (ready, lastResponse or None)."""
    timeout = max(float(check["timeoutSeconds"]), 0.1)
    if check["protocol"] == "HTTPS":
        # Simplification: the certificate is not verified, as for HTTPS health checks.
        conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", check["path"])
        resp = conn.getresponse()
        body = resp.read(BODY_LIMIT)
        status = resp.status
        content_type = resp.getheader("Content-Type") or ""
    except (OSError, http.client.HTTPException):
        return False, None
    finally:
        conn.close()
    last = {"status": status, "contentType": content_type,
            "body": body.decode("utf-8", "replace")}
    return status in check["httpStatusCodesForReady"], last


class Readiness:
    """Readiness state of the leader: one result per checked instance.

    ``owner`` is the Marathon object; its lock guards this state too. Methods whose name does
    not start with ``run_`` are called with that lock held.
    """

    def __init__(self, owner, host_port_specs):
        self.owner = owner
        self.host_port_specs = host_port_specs
        self.results: dict = {}  # instance id -> result (with private "_" keys)
        self.inflight: set = set()

    # ---- which instances are checked

    def checked(self, inst: dict) -> bool:
        """True when the instance is under a readiness check: its app has one and the
        deployment that launched it is still running."""
        app = self.owner.apps.get(inst["appId"])
        return bool(app and app.get("readinessChecks")
                    and inst.get("_deployment") in self.owner.deployments)

    def is_ready(self, inst: dict) -> bool:
        """False while a checked instance has not answered ready; True otherwise."""
        if not self.checked(inst):
            return True
        r = self.results.get(inst["instanceId"])
        return bool(r and r["ready"])

    # ---- polling

    def schedule(self) -> None:
        now = time.time()
        for inst in list(self.owner.instances.values()):
            if not self.checked(inst) or inst["state"] != "TASK_RUNNING" or inst.get("_killing"):
                continue
            app = self.owner.apps[inst["appId"]]
            check = app["readinessChecks"][0]
            r = self.results.get(inst["instanceId"])
            if r is None or r["_check"] != check:
                r = {"name": check["name"], "taskId": inst["taskId"], "ready": False,
                     "_next": now, "_check": check, "_answered": False}
                self.results[inst["instanceId"]] = r
            iid = inst["instanceId"]
            if r["ready"] or iid in self.inflight or r["_next"] > now:
                continue
            port = host_port(app, inst, check["portName"], self.host_port_specs)
            r["_next"] = now + max(float(check["intervalSeconds"]), 0.2)
            if port is None:
                continue
            self.inflight.add(iid)
            host = inst.get("ip") or inst["host"]
            threading.Thread(target=self.run_check, args=(iid, check, host, port),
                             name=f"readiness-{iid}", daemon=True).start()

    def run_check(self, iid: str, check: dict, host: str, port: int) -> None:
        try:
            ready, last = probe(check, host, port)
        except Exception:  # noqa: BLE001 - a broken probe is a "not ready"
            ready, last = False, None
        with self.owner.lock:
            self.inflight.discard(iid)
            self.record(iid, check, ready, last)

    def record(self, iid: str, check: dict, ready: bool, last) -> None:
        r = self.results.get(iid)
        inst = self.owner.instances.get(iid)
        if r is None or inst is None or r["_check"] != check:
            return
        changed = r["ready"] != ready or not r["_answered"]
        r["ready"] = ready
        r["_answered"] = True
        if check["preserveLastResponse"] and last is not None:
            r["lastResponse"] = last
        if changed:
            self.owner.readiness_changed(inst)

    def forget(self, iid: str) -> None:
        self.results.pop(iid, None)

    def prune(self) -> None:
        """Drop the results of instances no longer checked (their deployment ended)."""
        for iid in list(self.results):
            inst = self.owner.instances.get(iid)
            if inst is None or not self.checked(inst):
                del self.results[iid]

    # ---- what the API shows

    def results_for(self, app_id: str, deployment: str | None = None) -> list:
        """TaskReadinessCheckResult objects of the app's checked instances (only those that
        ``deployment`` started, when given)."""
        out = []
        for iid, r in sorted(self.results.items()):
            inst = self.owner.instances.get(iid)
            if inst is None or inst["appId"] != app_id or not self.checked(inst):
                continue
            if deployment is not None and inst.get("_deployment") != deployment:
                continue
            out.append({k: v for k, v in r.items() if not k.startswith("_")})
        return out
