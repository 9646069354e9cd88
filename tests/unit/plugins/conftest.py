"""Fixtures for the module and module_utils tests: a scripted HTTP server and a module runner.

`fake_http` replaces the one network call of plugins/module_utils/_api.py (open_url) with a
script of expected requests. Every request a module makes is recorded in `fake_http.calls` as
(METHOD, URL, JSON body or None), so a test states exactly which HTTP calls it expects.
An unscripted request fails the test.
"""

import io
import json
import urllib.error

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api


class _Resp:
    def __init__(self, status, body, headers):
        self.status = status
        self._body = body
        self.headers = _Headers(headers)

    def getcode(self):
        return self.status

    def read(self):
        return self._body


class _Headers(dict):
    def items(self):
        return list(dict.items(self))


class FakeHttp:
    def __init__(self):
        self.routes = {}
        self.calls = []
        self.kwargs = []

    def add(self, method, url, status=200, body=None, headers=None, repeat=False, error=None):
        """Script an answer. body: dict/list -> JSON, str/bytes -> raw. error: an exception."""
        if isinstance(body, (dict, list)):
            raw = json.dumps(body).encode()
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body or b""
        self.routes.setdefault((method, url), []).append((status, raw, headers or {}, repeat, error))
        return self

    def writes(self):
        return [c for c in self.calls if c[0] not in ("GET", "HEAD")]

    def __call__(self, url, data=None, headers=None, method=None, **kwargs):
        method = method or ("POST" if data else "GET")
        body = json.loads(data.decode()) if data else None
        self.calls.append((method, url, body))
        self.kwargs.append(kwargs)
        queue = self.routes.get((method, url))
        if not queue:
            raise AssertionError("unexpected HTTP call %s %s (body %r)" % (method, url, body))
        status, raw, hdrs, repeat, error = queue[0]
        if not repeat:
            queue.pop(0)
        if error is not None:
            raise error
        if 200 <= status < 300:
            return _Resp(status, raw, hdrs)
        raise urllib.error.HTTPError(url, status, "status %s" % status, _Headers(hdrs), io.BytesIO(raw))


@pytest.fixture
def fake_http(monkeypatch):
    fake = FakeHttp()
    monkeypatch.setattr(_api, "open_url", fake)
    # Waiting is simulated: sleeping advances a fake clock, so wait loops end at once.
    fake.slept = []
    fake.now = [1000.0]

    def sleep(seconds):
        fake.slept.append(seconds)
        fake.now[0] += max(seconds, 0.01)

    monkeypatch.setattr(_api, "_sleep", sleep)
    monkeypatch.setattr(_api, "_clock", lambda: fake.now[0])
    return fake


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module_main, args, check_mode=False, diff=False) -> (result dict, failed bool)."""

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise ModuleExit(kwargs, True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(main, args, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args):
            try:
                main()
            except ModuleExit as exc:
                return exc.result, exc.failed
        raise AssertionError("module returned without exit_json/fail_json")

    return run
