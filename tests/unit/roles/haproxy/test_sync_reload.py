"""A real HAProxy in master-worker mode (as Debian's unit runs it, with the listening sockets
handed over through the stats socket) serves every request while the sync program rewrites
its configuration and reloads it, and while a backend task vanishes before the sync has
noticed. Everything binds to 127.0.0.1 on free ports; loads are bounded."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from haproxy_sync_helpers import (
    Backend,
    MasterWorker,
    StaticClient,
    app,
    free_port,
    requires_haproxy,
    task,
    wait_serving,
)
from marathon_haproxy_sync.haproxy import HAProxy, RuntimeAPI, split_servers
from marathon_haproxy_sync.syncer import Syncer

pytestmark = requires_haproxy


class Load:
    """Sequential GETs, each on a new connection, until stopped or `limit` is reached."""

    def __init__(self, url, limit=3000):
        self.url = url
        self.limit = limit
        self.sent = 0
        self.failed = []
        self.seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set() and self.sent < self.limit:
            self.sent += 1
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    body = resp.read().decode()
                    self.seen[body] = self.seen.get(body, 0) + 1
            except Exception as exc:  # noqa: BLE001 - every failure counts
                self.failed.append(repr(exc))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)
        print(f"requests sent: {self.sent}, failed: {len(self.failed)}")


@pytest.fixture
def haproxy_mw(make_config, tmp_path):
    """HAProxy master-worker with the role's essentials: expose-fd listeners, redispatch."""
    haproxy = MasterWorker(tmp_path).write().start(timeout=10)
    cfg = make_config(
        base_configs=[str(haproxy.base)],
        dynamic_config=str(haproxy.dynamic),
        reload_command=haproxy.reload_command,
        stats_port=haproxy.stats_port,
        bind_address="127.0.0.1",
        server_options="check inter 2s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down",
    )
    yield cfg, haproxy.proc
    haproxy.stop()


def http_app(*backends):
    """An HTTP app /web on a free service port, one task per backend; with its service port and URL."""
    service_port = free_port()
    web = app("/web", service_port, [task(port=b.port) for b in backends], labels={"HAPROXY_0_MODE": "http"})
    return web, service_port, f"http://127.0.0.1:{service_port}/"


def test_reloads_drop_no_request(haproxy_mw):
    cfg, proc = haproxy_mw
    backends = [Backend(f"task{i}") for i in range(3)]
    web, _port, url = http_app(backends[0])
    client = StaticClient([web])
    syncer = Syncer(cfg, client, HAProxy(cfg))
    try:
        assert syncer.full_sync() is True
        wait_serving(url, {"task0"})
        with Load(url) as load:
            for i in range(1, 7):  # grow and shrink the backend, one reload each time
                web["tasks"] = [task(port=b.port) for b in backends[: 1 + (i % 3)]]
                assert syncer.full_sync() is True
                time.sleep(0.3)
        assert load.sent > 50
        assert load.failed == [], load.failed[:5]
        assert proc.poll() is None
    finally:
        for b in backends:
            b.close()


def test_task_gone_before_the_sync_notices_costs_no_request(haproxy_mw):
    cfg, _proc = haproxy_mw
    a, b = Backend("a"), Backend("b")
    web, _port, url = http_app(a, b)
    syncer = Syncer(cfg, StaticClient([web]), HAProxy(cfg))
    try:
        syncer.full_sync()
        wait_serving(url, {"a"})
        wait_serving(url, {"b"})
        with Load(url) as load:
            time.sleep(0.5)
            b.close()  # the task is killed; Marathon's event has not arrived yet
            time.sleep(1.0)
            web["tasks"] = [task(port=a.port)]
            syncer.full_sync()
            time.sleep(0.5)
        assert load.failed == [], load.failed[:5]
        assert load.seen.get("b", 0) > 0 and load.seen.get("a", 0) > 0
    finally:
        a.close()


def test_healthy_tasks_killed_before_the_sync_hears_of_their_replacements(haproxy_mw):
    """A deployment kills the old tasks the instant the new ones turn healthy. Until the sync
    catches up, the new tasks are backups (running, not yet checked): HAProxy marks the dead
    servers down on the first refused connection and sends the traffic there."""
    cfg, _proc = haproxy_mw
    old1, old2, new = Backend("old1"), Backend("old2"), Backend("new")
    service_port = free_port()
    url = f"http://127.0.0.1:{service_port}/"
    tasks = [task(port=old1.port, alive=True), task(port=old2.port, alive=True), task(port=new.port)]
    web = app("/web", service_port, tasks, health=True)
    syncer = Syncer(cfg, StaticClient([web]), HAProxy(cfg))
    try:
        syncer.full_sync()
        with open(cfg.dynamic_config) as handle:
            assert "backup" in handle.read()
        wait_serving(url, {"old1", "old2"})
        with Load(url) as load:
            time.sleep(0.5)
            old1.close()
            old2.close()
            time.sleep(1.5)  # the sync has not heard anything yet
        assert load.failed == [], load.failed[:5]
        assert load.seen.get("new", 0) > 0
    finally:
        new.close()


# -- in place: the runtime API instead of a reload ----------------------------------------------


def _runtime_config(cfg, tmp_path):
    return dataclasses.replace(cfg, admin_socket=str(tmp_path / "admin.sock"))


def _worker_pid(cfg):
    info = RuntimeAPI(cfg.admin_socket).command("show info")
    return next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Pid:"))


def _servers_in_worker(cfg, backend):
    state = RuntimeAPI(cfg.admin_socket).command(f"show servers state {backend}")
    return sorted(line.split()[3] for line in state.splitlines()[2:] if line.strip())


def test_task_changes_are_applied_in_place_without_a_reload(haproxy_mw, tmp_path):
    cfg, _proc = haproxy_mw
    cfg = _runtime_config(cfg, tmp_path)
    a, b, c = Backend("a"), Backend("b"), Backend("c")
    web, service_port, url = http_app(a)
    syncer = Syncer(cfg, StaticClient([web]), HAProxy(cfg))
    backend = f"marathon_web_{service_port}"
    try:
        assert syncer.full_sync() is True  # a new frontend: a reload
        wait_serving(url, {"a"})
        reloaded_at = syncer.status["config"]["last_reload"]
        pid = _worker_pid(cfg)
        with Load(url) as load:
            web["tasks"] = [task(port=p) for p in (a.port, b.port, c.port)]
            assert syncer.full_sync() is True
            wait_serving(url, {"b"})
            wait_serving(url, {"c"})
            web["tasks"] = [task(port=c.port)]
            assert syncer.full_sync() is True
            time.sleep(0.5)
            load.seen.clear()
            time.sleep(0.5)
        assert load.failed == [], load.failed[:5]
        assert set(load.seen) == {"c"}, load.seen  # the removed tasks get no new request
        assert _worker_pid(cfg) == pid  # the same worker: no reload happened
        assert syncer.status["config"]["last_reload"] == reloaded_at
        assert "last_runtime_update" in syncer.status["config"]
        # Once a drained server's last (idle, pooled) connection has closed, a sync deletes it.
        deadline = time.monotonic() + 20
        while _servers_in_worker(cfg, backend) != [f"127.0.0.1_{c.port}"] and time.monotonic() < deadline:
            time.sleep(0.5)
            syncer.full_sync()
        assert _servers_in_worker(cfg, backend) == [f"127.0.0.1_{c.port}"]
        assert syncer.draining == {backend: {}}
        with open(cfg.dynamic_config) as handle:  # the file says the same, for the next start
            assert split_servers(handle.read())[1] == {
                backend: {f"127.0.0.1_{c.port}": f"server 127.0.0.1_{c.port} 127.0.0.1:{c.port} {cfg.server_options}"}
            }
    finally:
        for t in (a, b, c):
            t.close()


def test_old_tasks_killed_right_after_their_replacements_appear_cost_no_request(haproxy_mw, tmp_path):
    """A deployment kills the old tasks the moment the new ones turn healthy. Had the sync
    reloaded HAProxy to add the new tasks, the requests the old worker accepted before the new
    one took the sockets over would know only the dead tasks: 503. In place, they retry onto
    the new tasks."""
    cfg, _proc = haproxy_mw
    cfg = _runtime_config(cfg, tmp_path)
    old1, old2, new1, new2 = Backend("old1"), Backend("old2"), Backend("new1"), Backend("new2")
    web, _port, url = http_app(old1, old2)
    syncer = Syncer(cfg, StaticClient([web]), HAProxy(cfg))
    try:
        syncer.full_sync()
        wait_serving(url, {"old1", "old2"})
        with Load(url, limit=100000) as load:
            for _round in range(5):
                time.sleep(0.3)
                web["tasks"] += [task(port=new1.port), task(port=new2.port)]
                syncer.full_sync()
                old1.close()
                old2.close()
                time.sleep(0.3)
                web["tasks"] = web["tasks"][2:]
                syncer.full_sync()
                # The next round replaces the tasks that serve now.
                old1, old2, new1, new2 = new1, new2, Backend("new1"), Backend("new2")
        print(f"answered by {sorted(load.seen)}")
        assert load.failed == [], load.failed[:5]
        assert load.sent > 100
    finally:
        for t in (old1, old2, new1, new2):
            t.close()


def test_runtime_api_refusal_falls_back_to_a_reload(haproxy_mw, tmp_path):
    cfg, _proc = haproxy_mw
    cfg = _runtime_config(cfg, tmp_path)
    a, b = Backend("a"), Backend("b")
    web, _port, url = http_app(a)
    syncer = Syncer(cfg, StaticClient([web]), HAProxy(cfg))
    try:
        syncer.full_sync()
        wait_serving(url, {"a"})
        first_reload = syncer.status["config"]["last_reload"]
        syncer.runtime = RuntimeAPI(str(tmp_path / "no-such.sock"))
        web["tasks"] = [task(port=b.port)]
        time.sleep(1.1)  # the status's timestamps have a resolution of one second
        assert syncer.full_sync() is True
        assert syncer.status["config"]["last_reload"] != first_reload
        wait_serving(url, {"b"})
    finally:
        a.close()
        b.close()


class RefusingCheck(HAProxy):
    """HAProxy whose `haproxy -c` also refuses any server on `refused_port`, as a real check
    refuses a line, with the ALERT pointing at it; it records what the URL served at each check."""

    def __init__(self, cfg, url, refused_port=None):
        super().__init__(cfg)
        self.url = url
        self.refused_port = refused_port
        self.served_at_check = []

    def check(self, path):
        try:
            with urllib.request.urlopen(self.url, timeout=1) as resp:
                self.served_at_check.append(resp.read().decode())
        except OSError as exc:
            self.served_at_check.append(repr(exc))
        with open(path) as handle:
            for number, line in enumerate(handle, 1):
                if self.refused_port and line.strip().startswith("server ") and f":{self.refused_port}" in line:
                    return False, f"[ALERT]    (1) : config : parsing [{path}:{number}] : server refused by the test"
        return super().check(path)


def test_a_task_change_serves_before_the_file_check_and_a_refused_check_is_undone(haproxy_mw, tmp_path):
    """The runtime API takes a changed task first (the event-to-serving latency does not pay
    `haproxy -c`); the file is checked after. When the check refuses what the worker took, the
    worker gets its last good servers back in place and the file stays as it was."""
    cfg, _proc = haproxy_mw
    cfg = _runtime_config(cfg, tmp_path)
    a, b, c, d = Backend("a"), Backend("b"), Backend("c"), Backend("d")
    web, _port, url = http_app(a)
    haproxy = RefusingCheck(cfg, url)
    syncer = Syncer(cfg, StaticClient([web]), haproxy)
    try:
        syncer.full_sync()
        wait_serving(url, {"a"})
        pid = _worker_pid(cfg)
        haproxy.served_at_check.clear()
        web["tasks"] = [task(port=b.port)]
        assert syncer.full_sync() is True
        assert haproxy.served_at_check == ["b"]  # served before the check ran
        before = Path(cfg.dynamic_config).read_text()
        assert f":{b.port}" in before

        haproxy.refused_port = c.port
        haproxy.served_at_check.clear()
        web["tasks"] = [task(port=c.port)]
        with Load(url) as load:
            changed = syncer.full_sync()
            time.sleep(0.3)
            load.seen.clear()
            time.sleep(0.5)
        print(f"served at the checks: {haproxy.served_at_check}; after: {load.seen}")
        assert changed is False
        assert "c" in haproxy.served_at_check  # the worker had taken c
        assert load.failed == [], load.failed[:5]
        assert set(load.seen) == {"b"}, load.seen  # and gave it back: b serves again
        assert Path(cfg.dynamic_config).read_text() == before
        [quarantined] = syncer.status["quarantined"]
        assert quarantined["app"] == "/web" and quarantined["reason"].endswith("server refused by the test")
        assert _worker_pid(cfg) == pid  # all in place, no reload

        web["tasks"] = [task(port=d.port)]  # a task the check accepts: applied in place again
        assert syncer.full_sync() is True
        wait_serving(url, {"d"})
        assert f":{d.port}" in Path(cfg.dynamic_config).read_text()
        assert syncer.status["quarantined"] == []
        assert _worker_pid(cfg) == pid
    finally:
        for t in (a, b, c, d):
            t.close()


def test_after_a_restart_the_sync_takes_the_running_servers_over(haproxy_mw, tmp_path):
    cfg, _proc = haproxy_mw
    cfg = _runtime_config(cfg, tmp_path)
    a, b = Backend("a"), Backend("b")
    web, service_port, url = http_app(a)
    client = StaticClient([web])
    try:
        Syncer(cfg, client, HAProxy(cfg)).full_sync()
        wait_serving(url, {"a"})
        pid = _worker_pid(cfg)
        restarted = Syncer(cfg, client, HAProxy(cfg))  # the program restarted
        web["tasks"].append(task(port=b.port))
        assert restarted.full_sync() is True
        wait_serving(url, {"b"})
        assert _worker_pid(cfg) == pid
        assert "last_reload" not in restarted.status["config"]
        # A worker that does not hold the file's servers is not taken over: the sync reloads.
        api = RuntimeAPI(cfg.admin_socket)
        api.expect(f"add server marathon_web_{service_port}/stray 127.0.0.1:1", "New server registered.")
        other = Syncer(cfg, client, HAProxy(cfg))
        web["tasks"] = [task(port=a.port)]
        assert other.full_sync() is True
        assert "last_reload" in other.status["config"]
    finally:
        a.close()
        b.close()


# -- a reload that does not take ----------------------------------------------------------------


def test_a_reload_whose_new_worker_cannot_start_is_detected_and_reported(haproxy_mw, tmp_path):
    """Another program takes the new app's port between the sync's probe and the reload (the
    probe is skipped here to make that race certain): HAProxy's master keeps the old worker,
    the command says nothing. The sync sees no new worker, puts the last good file back,
    names the app and the port, keeps serving the other app, and succeeds once the port is free."""
    cfg, _proc = haproxy_mw
    cfg = _runtime_config(cfg, tmp_path)
    a = Backend("a")
    web, _port, url = http_app(a)
    clash_port = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", clash_port))
    blocker.listen()
    client = StaticClient([web])
    syncer = Syncer(dataclasses.replace(cfg, reload_verify_timeout=3.0), client, HAProxy(cfg))
    try:
        assert syncer.full_sync() is True
        wait_serving(url, {"a"})
        good = Path(cfg.dynamic_config).read_text()
        pid = _worker_pid(cfg)
        syncer._without_taken_ports = lambda services, current: services
        client.apps["/clash"] = app("/clash", clash_port, [task(port=a.port)], labels={"HAPROXY_0_MODE": "http"})

        assert syncer.full_sync() is False
        with open(cfg.status_file) as handle:
            st = json.load(handle)
        print(st["errors"][0])
        assert st["state"] == "error"
        assert "HAProxy did not take the new configuration" in st["errors"][0]
        assert f"app /clash port {clash_port}" in st["errors"][0]
        assert st["last_failed_reload"]["ports_taken"]
        assert Path(cfg.dynamic_config).read_text() == good  # the file says what HAProxy runs
        assert _worker_pid(cfg) == pid
        assert syncer.retry_soon is True
        wait_serving(url, {"a"})  # the other app still serves

        blocker.close()
        assert syncer.full_sync() is True  # retried: now it takes
        wait_serving(f"http://127.0.0.1:{clash_port}/", {"a"})
        assert _worker_pid(cfg) != pid
        with open(cfg.status_file) as handle:
            st = json.load(handle)
        assert st["state"] == "ok" and st["config"]["reload_verified"] is True
    finally:
        blocker.close()
        a.close()


# -- marathon-lb's routing labels, through a real HAProxy ---------------------------------------


def get(url, host=None, cookie=None):
    headers = {}
    if host:
        headers["Host"] = host
    if cookie:
        headers["Cookie"] = cookie
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=3) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("Set-Cookie")
    except urllib.error.HTTPError as exc:
        return exc.code, "", None


API_LABELS = {"HAPROXY_0_VHOST": "shop.test", "HAPROXY_0_PATH": "/api /v2"}


def test_path_routing_sends_a_hosts_paths_to_their_app(haproxy_mw, tmp_path):
    """HAPROXY_{n}_PATH (with HAPROXY_{n}_VHOST): on the virtual-host port, requests for the
    host whose path begins with one of the app's paths go to it; the host's other requests go
    to the app that has the host without a path; other hosts get no backend (503)."""
    cfg, _proc = haproxy_mw
    cfg = dataclasses.replace(_runtime_config(cfg, tmp_path), vhost_port=free_port())
    api, site = Backend("api"), Backend("site")
    apps = [
        app(
            "/api",
            free_port(),
            [task(port=api.port)],
            labels={"HAPROXY_0_VHOST": "shop.test", "HAPROXY_0_PATH": "/api /v2"},
        ),
        app("/site", free_port(), [task(port=site.port)], labels={"HAPROXY_0_VHOST": "shop.test"}),
    ]
    syncer = Syncer(cfg, StaticClient(apps), HAProxy(cfg))
    vhost = f"http://127.0.0.1:{cfg.vhost_port}"
    try:
        assert syncer.full_sync() is True
        wait_serving(f"http://127.0.0.1:{apps[0]['portDefinitions'][0]['port']}/", {"api"})
        assert get(f"{vhost}/api/orders", host="shop.test")[:2] == (200, "api")
        assert get(f"{vhost}/v2/x", host="shop.test:8080")[:2] == (200, "api")
        assert get(f"{vhost}/", host="shop.test")[:2] == (200, "site")
        assert get(f"{vhost}/apix", host="shop.test")[:2] == (200, "api")  # path_beg: a prefix
        assert get(f"{vhost}/basket", host="shop.test")[:2] == (200, "site")
        assert get(f"{vhost}/api/orders", host="other.test")[0] == 503
    finally:
        api.close()
        site.close()


def test_sticky_sessions_keep_a_client_on_its_task_across_task_changes(haproxy_mw, tmp_path):
    """HAPROXY_{n}_STICKY: HAProxy sets marathon-lb's cookie (mesosphere_server_id); a client
    sending it back stays on its task, also after another task is added (a reload: HAProxy
    2.6 cannot give a server added at runtime a cookie)."""
    cfg, _proc = haproxy_mw
    cfg = _runtime_config(cfg, tmp_path)
    one, two, three = Backend("one"), Backend("two"), Backend("three")
    port = free_port()
    labels = {"HAPROXY_0_MODE": "http", "HAPROXY_0_STICKY": "true"}
    sticky = app("/sticky", port, [task(port=one.port), task(port=two.port)], labels=labels)
    syncer = Syncer(cfg, StaticClient([sticky]), HAProxy(cfg))
    url = f"http://127.0.0.1:{port}/"
    try:
        assert syncer.full_sync() is True
        wait_serving(url, {"one", "two"})
        status, first, set_cookie = get(url)
        assert status == 200 and set_cookie.startswith("mesosphere_server_id=")
        cookie = set_cookie.split(";")[0]
        assert {get(url, cookie=cookie)[1] for _attempt in range(10)} == {first}
        assert {get(url)[1] for _attempt in range(10)} == {"one", "two"}  # without it: balanced

        pid = _worker_pid(cfg)
        sticky["tasks"].append(task(port=three.port))
        assert syncer.full_sync() is True
        wait_serving(url, {"three"})
        assert _worker_pid(cfg) != pid and syncer.status["config"]["reload_verified"] is True
        assert {get(url, cookie=cookie)[1] for _attempt in range(10)} == {first}
        answers = [get(url) for _attempt in range(6)]
        cookie3 = next(c for _s, body, c in answers if body == "three").split(";")[0]
        assert {get(url, cookie=cookie3)[1] for _attempt in range(5)} == {"three"}
    finally:
        for b in (one, two, three):
            b.close()
