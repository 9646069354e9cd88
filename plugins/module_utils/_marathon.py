# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private Marathon helpers for marathon_app and marathon_app_info; may change without notice."""

from __future__ import annotations

from ansible_collections.mesosphere.cluster.plugins.module_utils._api import quote_path

# Fields Marathon computes or fills in; they never describe what the user asked for.
SERVER_FIELDS = frozenset((
    "version", "versionInfo", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
    "deployments", "tasks", "lastTaskFailure", "readinessCheckResults", "taskStats", "counts",
))

# Maps of the user's own data: compared whole, so that a removed key is a change.
EXACT_MAPS = frozenset(("env", "labels", "secrets", "environmentVariables"))

# Sets of roles (app.raml acceptedResourceRoles: uniqueItems): their order means nothing.
UNORDERED_LISTS = frozenset(("acceptedResourceRoles",))

# A 0 here asks Marathon to pick a port; whatever it picked satisfies the request.
ASSIGNED_PORT_KEYS = frozenset(("port", "servicePort", "hostPort"))


def normalize_app_id(app_id):
    app_id = str(app_id).strip()
    if not app_id.startswith("/"):
        app_id = "/" + app_id
    return app_id.rstrip("/") or "/"


def app_path(app_id, suffix=""):
    return "/v2/apps%s%s" % (quote_path(normalize_app_id(app_id)), suffix)


def strip_server_fields(app):
    return dict((k, v) for k, v in (app or {}).items() if k not in SERVER_FIELDS)


def satisfies(wanted, current, key=None):
    """True when `current` already holds everything set in `wanted`.

    Dicts are compared on the keys the user set (Marathon fills in the rest), except the maps
    of the user's own data (env, labels), which must be equal. Lists must have the same length
    and satisfy element by element. A port of 0 matches the port Marathon assigned.
    """
    if key in ASSIGNED_PORT_KEYS and wanted == 0 and isinstance(current, int):
        return True
    if key == "ports" and isinstance(wanted, list) and isinstance(current, list):
        return len(wanted) == len(current) and all(w == 0 or w == c for w, c in zip(wanted, current, strict=True))
    if isinstance(wanted, dict):
        if not isinstance(current, dict):
            return False
        if key in EXACT_MAPS:
            return wanted == current
        return all(satisfies(v, current.get(k), k) for k, v in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(current, list) or len(wanted) != len(current):
            return False
        return all(satisfies(w, c, key) for w, c in zip(wanted, current, strict=True))
    if isinstance(wanted, bool) or isinstance(current, bool):
        return wanted is current
    if isinstance(wanted, (int, float)) and isinstance(current, (int, float)):
        return float(wanted) == float(current)
    return wanted == current


def _constraint(value):
    # ["hostname", "UNIQUE"] and ["hostname", "UNIQUE", ""] are the same constraint.
    value = list(value) if isinstance(value, (list, tuple)) else value
    while isinstance(value, list) and len(value) > 2 and value[-1] in ("", None):
        value.pop()
    return value


def current_value(key, current):
    """The current value to compare a wanted key with, through Marathon's own rewrites."""
    current = current or {}
    value = current.get(key)
    if value is None and key == "uris" and isinstance(current.get("fetch"), list):
        # Marathon turns the deprecated uris into fetch entries.
        return [f.get("uri") for f in current["fetch"] if isinstance(f, dict)]
    if value is None and key == "ports" and isinstance(current.get("portDefinitions"), list):
        # ... and the deprecated ports into portDefinitions.
        return [p.get("port") for p in current["portDefinitions"] if isinstance(p, dict)]
    return value


def differing_keys(wanted, current):
    out = []
    for key, value in wanted.items():
        have = current_value(key, current)
        if key == "constraints" and isinstance(value, list) and isinstance(have, list):
            value = [_constraint(c) for c in value]
            have = [_constraint(c) for c in have]
        if key in UNORDERED_LISTS and isinstance(value, list) and isinstance(have, list):
            # app.raml: uniqueItems; Marathon may return them in another order.
            value = sorted(set(value))
            have = sorted(set(have))
        if not satisfies(value, have, key):
            out.append(key)
    return sorted(out)


def merge(base, overlay):
    """What the app looks like after a partial update: overlay's keys replace base's."""
    out = dict(base or {})
    out.update(overlay)
    return out


def extract_app(body):
    """GET /v2/apps/{id} answers {"app": {...}}; accept a one-element {"apps": [...]} too."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("app"), dict):
        return body["app"]
    apps = body.get("apps")
    if isinstance(apps, list) and apps:
        return apps[0]
    if "id" in body:
        return body
    return None


def deployment_id_of(resp):
    """Deployment id of a write: header, PUT/restart body, or POST body's deployments list."""
    header = resp.headers.get("marathon-deployment-id")
    if header:
        return header
    try:
        body = resp.json()
    except Exception:
        return None
    if isinstance(body, dict):
        if body.get("deploymentId"):
            return body["deploymentId"]
        deps = body.get("deployments")
        if isinstance(deps, list) and deps and isinstance(deps[0], dict):
            return deps[0].get("id")
    return None


def deployments_for(client, app_id):
    """Running deployments that affect the app."""
    app_id = normalize_app_id(app_id)
    deployments = client.get_json("/v2/deployments") or []
    return [d for d in deployments if app_id in (d.get("affectedApps") or [])]


def deployment_running(client, deployment_id):
    deployments = client.get_json("/v2/deployments") or []
    return any(d.get("id") == deployment_id for d in deployments)


def get_app(client, app_id):
    """The app's definition as Marathon has it, or None when it does not exist."""
    resp = client.request("GET", app_path(app_id), expect=(200, 404))
    if resp.status == 404:
        return None
    return extract_app(resp.json())


def get_tasks(client, app_id):
    resp = client.request("GET", app_path(app_id, "/tasks"), expect=(200, 404))
    if resp.status == 404:
        return []
    body = resp.json() or {}
    return body.get("tasks", []) if isinstance(body, dict) else []


def summarize_task(task):
    return dict(
        id=task.get("id"),
        host=task.get("host"),
        ports=task.get("ports", []),
        state=task.get("state"),
        started_at=task.get("startedAt"),
        healthy=(all(r.get("alive") for r in task.get("healthCheckResults") or [])
                 if task.get("healthCheckResults") else None),
    )
