# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private HTTP client shared by the Mesos, Marathon and Chronos modules.

This is private to the mesosphere.cluster collection; it may change without notice.

One client talks to one service (Mesos masters, Marathon instances or Chronos instances) given
a list of endpoints. It finds the leader the way each service exposes it, fails over to the
next endpoint when one cannot be reached, retries reads (never writes) on 5xx answers, and
raises typed errors whose text names what was asked, where, and what the server said.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
from urllib.parse import quote, urlencode, urljoin, urlsplit

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

SERVICES = ("mesos", "marathon", "chronos")
REDACTED = "********"

# Paths that tell who leads. Mesos answers 307 on every master (leader included) with a
# protocol-relative Location that has no path; Marathon and Chronos answer JSON {"leader": "h:p"}.
LEADER_PATHS = {
    "mesos": "/master/redirect",
    "marathon": "/v2/leader",
    "chronos": "/leader",
}

SERVICE_NAMES = {"mesos": "Mesos master", "marathon": "Marathon", "chronos": "Chronos"}

MAX_REDIRECTS = 3

# Says in the servers' logs who is asking.
USER_AGENT = "ansible-mesosphere.cluster"


def _sleep(seconds):
    # Indirection so that tests can replace waiting without touching the time module.
    time.sleep(seconds)


def _clock():
    return time.monotonic()


# --------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """Base class of every error raised by this client; str() is a sentence for a person."""


class EndpointUnreachable(ApiError):
    """No configured endpoint answered at the connection level (refused, timeout, TLS...)."""

    def __init__(self, service, method, path, failures):
        self.service = service
        self.method = method
        self.path = path
        self.failures = list(failures)  # [(url, reason)]
        where = "; ".join("%s: %s" % (url, reason) for url, reason in self.failures) or "no endpoint given"
        super().__init__(
            "Could not reach any %s endpoint for %s %s (%s)."
            % (SERVICE_NAMES.get(service, service), method, path, where)
        )


class HttpStatusError(ApiError):
    """The server answered with a status the caller did not expect."""

    def __init__(self, service, method, url, status, body, headers=None):
        self.service = service
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.server_message = server_message(body)
        text = "%s %s answered HTTP %s" % (method, url, status)
        if self.server_message:
            text += ": %s" % self.server_message
        text += "."
        if status == 401:
            text += " Check the username and password given for %s." % SERVICE_NAMES.get(service, service)
        elif status == 403:
            text += " The user given for %s is not allowed to do this." % SERVICE_NAMES.get(service, service)
        super().__init__(text)


class NoLeaderError(ApiError):
    """Every endpoint answered, but none knows a leader."""


class WaitTimeout(ApiError):
    """wait_until() ran out of time; .last holds the last observed value."""

    def __init__(self, message, last=None):
        self.last = last
        super().__init__(message)


def server_message(body):
    """Return the human part of an error body (Marathon {"message", "details"}, or plain text)."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = body.strip()
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(data, dict):
        msg = str(data.get("message") or data.get("error") or "")
        details = data.get("details")
        if isinstance(details, list) and details:
            parts = []
            for item in details:
                if isinstance(item, dict):
                    parts.append("%s: %s" % (item.get("path", "?"), ", ".join(str(e) for e in item.get("errors", []))))
            if parts:
                msg = "%s (%s)" % (msg, "; ".join(parts)) if msg else "; ".join(parts)
        return msg or text[:500]
    return text[:500]


# --------------------------------------------------------------------------------------------
# Argument specs (mirrored by plugins/doc_fragments/{mesos,marathon,chronos,connection}.py)


def connection_argument_spec():
    return dict(
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path"),
        request_timeout=dict(type="float", default=10.0),
        request_retries=dict(type="int", default=2),
    )


def service_argument_spec(service, required=True):
    spec = {
        "%s_endpoints" % service: dict(type="list", elements="str", required=required),
        "%s_username" % service: dict(type="str"),
        "%s_password" % service: dict(type="str", no_log=True),
    }
    spec.update(connection_argument_spec())
    return spec


def mesos_argument_spec():
    return service_argument_spec("mesos")


def marathon_argument_spec():
    return service_argument_spec("marathon")


def chronos_argument_spec():
    return service_argument_spec("chronos")


def client_from_params(params, service, **kwargs):
    """Build an ApiClient from a module's params for one service (None if no endpoints)."""
    endpoints = params.get("%s_endpoints" % service)
    if not endpoints:
        return None
    return ApiClient(
        service,
        endpoints,
        username=params.get("%s_username" % service),
        password=params.get("%s_password" % service),
        validate_certs=params.get("validate_certs", True),
        ca_path=params.get("ca_path"),
        client_cert=params.get("client_cert"),
        client_key=params.get("client_key"),
        timeout=params.get("request_timeout") or 10.0,
        retries=params.get("request_retries") if params.get("request_retries") is not None else 2,
        **kwargs
    )


# --------------------------------------------------------------------------------------------
# The client


class Response:
    def __init__(self, status, headers, body, url):
        self.status = status
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        self.body = body or b""
        self.url = url

    def json(self):
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as exc:
            raise ApiError(
                "%s answered HTTP %s with a body that is not JSON (%s)." % (self.url, self.status, exc)) from None


class _Unreachable(Exception):
    pass


def normalize_endpoint(endpoint):
    endpoint = str(endpoint).strip().rstrip("/")
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    return endpoint


def quote_path(segment):
    """Quote a user-given id for use in a URL path, keeping Marathon's group slashes."""
    return quote(segment, safe="/")


class ApiClient:
    """HTTP client for one service, with leader discovery, failover and read retries."""

    def __init__(self, service, endpoints, username=None, password=None, validate_certs=True,
                 ca_path=None, client_cert=None, client_key=None, timeout=10.0, retries=2,
                 backoff=0.5, sleep=None):
        if service not in SERVICES:
            raise ValueError("unknown service %r" % service)
        self.service = service
        self.endpoints = [normalize_endpoint(e) for e in endpoints if str(e).strip()]
        self.username = username
        self.password = password
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self._sleep_fn = sleep
        self._leader = None

    def reset(self):
        """Forget the leader found earlier, so that the next request asks again."""
        self._leader = None

    @property
    def label(self):
        return SERVICE_NAMES[self.service]

    # -- the single place that touches the network ----------------------------------------
    def _send(self, method, url, body=None, headers=None):
        data = None
        hdrs = {"Accept": "application/json"}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        try:
            resp = open_url(
                url, data=data, headers=hdrs, method=method, timeout=self.timeout,
                validate_certs=self.validate_certs, url_username=self.username,
                url_password=self.password, force_basic_auth=bool(self.username),
                follow_redirects="none", client_cert=self.client_cert, client_key=self.client_key,
                ca_path=self.ca_path, use_netrc=False, http_agent=USER_AGENT,
            )
            return Response(resp.getcode(), dict(resp.headers.items()), resp.read(), url)
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read()
            except Exception:  # pragma: no cover - a closed fp on some redirects
                payload = b""
            headers = dict(exc.headers.items()) if exc.headers is not None else {}
            # With redirects disabled urllib reports the *target* as exc.url; keep the asked one.
            return Response(exc.code, headers, payload, url)
        except urllib.error.URLError as exc:
            raise _Unreachable(str(getattr(exc, "reason", exc))) from None
        except (UrlsConnectionError, TimeoutError, OSError, http.client.HTTPException) as exc:
            # HTTPException: something answered that does not speak HTTP (or hung up mid-answer).
            raise _Unreachable(str(exc) or exc.__class__.__name__) from None

    # -- leader discovery --------------------------------------------------------------------
    def leader_of(self, endpoint):
        """Ask one endpoint who leads. Returns a base URL, or None if it knows no leader.

        Raises _Unreachable when the endpoint cannot be reached and HttpStatusError for answers
        that make no sense.
        """
        path = LEADER_PATHS[self.service]
        url = endpoint + path
        resp = self._send("GET", url)
        scheme = urlsplit(endpoint).scheme
        if self.service == "mesos":
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.headers.get("location", "")
                if not location:
                    raise HttpStatusError(self.service, "GET", url, resp.status, b"redirect without Location")
                target = urljoin(url, location)
                parts = urlsplit(target)
                return "%s://%s" % (scheme or parts.scheme, parts.netloc)
            if resp.status == 503:
                return None
            raise HttpStatusError(self.service, "GET", url, resp.status, resp.body, resp.headers)
        if resp.status == 200:
            data = resp.json() or {}
            leader = data.get("leader") if isinstance(data, dict) else None
            if not leader:
                return None
            if "://" in leader:
                return leader.rstrip("/")
            return "%s://%s" % (scheme, leader)
        # Marathon: 404 "There is no leader"; a standby that cannot find one says 502.
        if resp.status in (404, 502, 503):
            return None
        raise HttpStatusError(self.service, "GET", url, resp.status, resp.body, resp.headers)

    def leader_seen_by(self, endpoint):
        """Who `endpoint` says leads (base URL or None); EndpointUnreachable if it cannot be reached."""
        endpoint = normalize_endpoint(endpoint)
        try:
            return self.leader_of(endpoint)
        except _Unreachable as exc:
            raise EndpointUnreachable(self.service, "GET", LEADER_PATHS[self.service],
                                      [(endpoint + LEADER_PATHS[self.service], str(exc))]) from None

    def find_leader(self, refresh=False):
        """Return the leader's base URL, asking the endpoints in order."""
        if self._leader and not refresh:
            return self._leader
        failures = []
        no_leader = []
        for endpoint in self.endpoints:
            try:
                leader = self.leader_of(endpoint)
            except _Unreachable as exc:
                failures.append((endpoint + LEADER_PATHS[self.service], str(exc)))
                continue
            if leader:
                self._leader = leader
                return leader
            no_leader.append(endpoint)
        if no_leader:
            raise NoLeaderError(
                "No %s leader is elected: %s answered that none is known." % (self.label, ", ".join(no_leader))
            )
        raise EndpointUnreachable(self.service, "GET", LEADER_PATHS[self.service], failures)

    # -- requests ------------------------------------------------------------------------------
    def request(self, method, path, body=None, query=None, expect=(200,), leader=True, endpoint=None):
        """Send one request and return a Response whose status is in `expect`.

        leader=True sends it to the leader (found once and remembered); otherwise to `endpoint`,
        or to the first endpoint that answers. Connection failures fail over to the next
        endpoint; 5xx answers to GET are retried with backoff; 307 is followed by hand, so that
        a standby Mesos master's redirect does not turn a POST into a GET.
        """
        method = method.upper()
        if query:
            path = "%s?%s" % (path, urlencode(query, doseq=True))
        reading = method in ("GET", "HEAD")
        attempts = (self.retries + 1) if reading else 1
        failures = []
        for attempt in range(attempts):
            last_try = attempt + 1 >= attempts
            if attempt:
                (self._sleep_fn or _sleep)(self.backoff * (2 ** (attempt - 1)))
            try:
                candidates = self._candidates(leader, endpoint, refresh=attempt > 0)
            except (EndpointUnreachable, NoLeaderError):
                if last_try:
                    raise
                continue
            resp = None
            for base in candidates:
                try:
                    resp = self._follow(method, base + path, body)
                    break
                except _Unreachable as exc:
                    failures.append((base + path, str(exc)))
                    if base == self._leader:
                        self._leader = None
                    if not reading and "timed out" in str(exc):
                        # A write that timed out may have been applied: never send it twice.
                        raise EndpointUnreachable(self.service, method, path, failures) from None
            if resp is None:
                if last_try:
                    raise EndpointUnreachable(self.service, method, path, failures)
                continue
            if resp.status in expect:
                return resp
            if resp.status >= 500 and reading and not last_try:
                continue
            raise HttpStatusError(self.service, method, resp.url, resp.status, resp.body, resp.headers)
        raise EndpointUnreachable(self.service, method, path, failures)  # pragma: no cover

    def _candidates(self, leader, endpoint, refresh=False):
        if endpoint:
            return [normalize_endpoint(endpoint)]
        if leader:
            found = self.find_leader(refresh=refresh)
            rest = [e for e in self.endpoints if e != found]
            # Marathon and Chronos standbys proxy to the leader, so they are a fallback when
            # the leader's advertised name does not resolve from here. Mesos standbys redirect.
            return [found] + rest
        return list(self.endpoints)

    def _follow(self, method, url, body):
        for _hop in range(MAX_REDIRECTS + 1):
            resp = self._send(method, url, body)
            if resp.status in (307, 308) and resp.headers.get("location"):
                target = urljoin(url, resp.headers["location"])
                if urlsplit(target).scheme != urlsplit(url).scheme:
                    # Mesos sends a protocol-relative Location; keep the scheme we were using.
                    target = "%s:%s" % (urlsplit(url).scheme, target.split(":", 1)[1])
                url = target
                continue
            return resp
        return resp

    def get_json(self, path, query=None, expect=(200,), leader=True, endpoint=None):
        return self.request("GET", path, query=query, expect=expect, leader=leader, endpoint=endpoint).json()


# --------------------------------------------------------------------------------------------
# Waiting


def wait_until(check, timeout, delay=1.0, what="the condition", sleep=None, clock=None):
    """Call check() until it returns (True, value); return value.

    check() returns (done, value). Raises WaitTimeout naming `what` after `timeout` seconds,
    carrying the last value. A timeout of 0 means one try.
    """
    sleep = sleep or _sleep
    clock = clock or _clock
    deadline = clock() + max(0.0, float(timeout))
    while True:
        done, value = check()
        if done:
            return value
        if clock() >= deadline:
            raise WaitTimeout("Timed out after %ss waiting for %s." % (timeout, what), last=value)
        sleep(max(0.0, min(delay, deadline - clock())))


def redact_url(value):
    """``value`` with the password of a URL's user part (``zk://user:password@hosts/path``)
    replaced by ``********``, so that a result or a message never carries it; anything else as
    it is."""
    if not isinstance(value, str) or "://" not in value:
        return value
    scheme, rest = value.split("://", 1)
    userinfo, at, hosts = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return value
    return "%s://%s:%s@%s" % (scheme, userinfo.split(":", 1)[0], REDACTED, hosts)
