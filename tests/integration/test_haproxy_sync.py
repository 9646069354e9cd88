"""The HAProxy role's sync program against the Marathon stand-ins (3 Marathons, 2 agents,
real ZooKeeper) and a real HAProxy in master-worker mode, all on 127.0.0.1.

The same promises as the cluster scenario's verify_haproxy.yml, on one machine and in seconds:
the app's healthy tasks serve through HAProxy; after a scale-up every new task serves within
2 s of turning healthy; scaling down and a rolling restart under steady load fail no request;
killing the leading Marathon, the program follows the new leader and a change made meanwhile
is served within the reconcile interval; a rolling restart of an app with a readiness check
sends no request to a task Marathon has not found ready. Loads are bounded and print requests
sent/failed.
"""

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = "/usr/sbin/haproxy"
APP = "/itest/haproxy-web"
RECONCILE = 3.0

# The sync program is the package the role installs; import it as the hosts do.
sys.path.insert(0, str(ROOT / "roles" / "haproxy" / "files"))
from marathon_haproxy_sync.config import Config  # noqa: E402
from marathon_haproxy_sync.daemon import SyncDaemon  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(HAPROXY).exists(), reason="haproxy is not installed (scripts/setup)")


def http_json(url, method="GET", timeout=5):
    """(status, parsed body) read straight from a server; (0, None) when it cannot be reached."""
    req = urllib.request.Request(url, method=method, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def definition(service_port, instances):
    return {
        "id": APP,
        # Answers / with its task id; stops gracefully on SIGTERM (stops accepting, finishes the
        # requests under way), as apps behind a load balancer should (see the role's README).
        "cmd": (
            "d=$(mktemp -d) && echo $MESOS_TASK_ID > $d/index.html && cd $d && exec python3 -c '"
            "import http.server as h, os, signal, threading; "
            's = h.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), h.SimpleHTTPRequestHandler); '
            "s.daemon_threads = False; "
            "signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=s.shutdown).start()); "
            "s.serve_forever(); s.server_close()'"
        ),
        "instances": instances,
        "cpus": 0.1,
        "mem": 16,
        "portDefinitions": [{"port": service_port, "protocol": "tcp"}],
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/",
                "portIndex": 0,
                "gracePeriodSeconds": 10,
                "intervalSeconds": 1,
                "timeoutSeconds": 2,
                "maxConsecutiveFailures": 3,
            }
        ],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
        "labels": {"HAPROXY_GROUP": "external"},
    }


def put_app(marathons, body, timeout=30):
    """PUT the app on whichever Marathon takes it (elections may be under way)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for base in marathons:
            req = urllib.request.Request(
                f"{base}/v2/apps{body['id']}?force=true",
                data=json.dumps(body).encode(),
                method="PUT",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return json.loads(resp.read())
            except (OSError, ValueError) as exc:
                last = exc
        time.sleep(0.5)
    raise AssertionError(f"no Marathon took the app: {last}")


def healthy(marathons):
    for base in marathons:
        status, body = http_json(f"{base}/v2/apps{APP}?embed=app.tasks")
        if status == 200:
            return {
                t["id"]
                for t in body["app"].get("tasks", [])
                if t.get("state") == "TASK_RUNNING"
                and t.get("healthCheckResults")
                and all(r.get("alive") for r in t["healthCheckResults"])
            }
    return set()


def deployments_done(marathons):
    for base in marathons:
        status, body = http_json(f"{base}/v2/deployments")
        if status == 200:
            return not any(APP in d.get("affectedApps", []) for d in body)
    return False


def wait(check, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s")


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def served(url, rounds):
    seen = set()
    for _ in range(rounds):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                seen.add(resp.read().decode().strip())
        except OSError:
            seen.add("<failed>")
    return seen


class Load:
    """Requests one after the other; counts failures and answers that start with NOT-READY
    (what the readiness app answers before its own readiness delay is over)."""

    def __init__(self, url, seconds=120, limit=20000):
        self.url, self.seconds, self.limit = url, seconds, limit
        self.sent, self.failed, self.errors = 0, 0, []
        self.not_ready = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        end = time.monotonic() + self.seconds
        while not self._stop.is_set() and time.monotonic() < end and self.sent < self.limit:
            self.sent += 1
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    body = resp.read()
                if body.startswith(b"NOT-READY"):
                    self.not_ready.append(body.decode(errors="replace").strip())
            except (OSError, http.client.HTTPException) as exc:  # a response cut off counts too
                self.failed += 1
                self.errors.append(repr(exc))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)
        print(f"requests sent: {self.sent}, failed: {self.failed}, answered by a task not ready: {len(self.not_ready)}")


@pytest.fixture(scope="module")
def lb(standin_cluster, endpoints, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("haproxy-sync")
    stats_port = free_port()
    base = tmp / "haproxy.cfg"
    base.write_text(f"""global
    log stderr local0 err
    maxconn 2000
    stats socket {tmp}/admin.sock mode 600 level admin expose-fd listeners
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    default-server init-addr last,libc,none
listen stats
    bind 127.0.0.1:{stats_port}
    mode http
    monitor-uri /_haproxy_health_check
""")
    dynamic = tmp / "marathon.cfg"
    dynamic.write_text("# empty\n")
    proc = subprocess.Popen(
        [HAPROXY, "-W", "-f", str(base), "-f", str(dynamic), "-S", f"{tmp}/master.sock"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait(lambda: answers(f"http://127.0.0.1:{stats_port}/_haproxy_health_check"), 10, what="HAProxy up")
    cfg = Config.from_dict(
        {
            "marathon_urls": endpoints["marathon"],
            "dynamic_config": str(dynamic),
            "base_configs": [str(base)],
            "haproxy_bin": HAPROXY,
            "reload_command": ["/bin/kill", "-USR2", str(proc.pid)],
            "admin_socket": str(tmp / "admin.sock"),
            "status_file": str(tmp / "status.json"),
            "reconcile_interval": RECONCILE,
            "stats_port": stats_port,
            "vhost_port": 0,
            "bind_address": "127.0.0.1",
            "retry_delay": 0.2,
            "max_retry_delay": 1.0,
            "resync_spread": 1.0,
        }
    )
    daemon = SyncDaemon(cfg)
    daemon.start()
    service_port = free_port()
    yield {"daemon": daemon, "cfg": cfg, "port": service_port, "url": f"http://127.0.0.1:{service_port}/"}
    daemon.stop()
    for base_url in endpoints["marathon"]:
        if http_json(f"{base_url}/v2/apps{APP}?force=true", method="DELETE")[0] in (200, 202, 404):
            break
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_app_scales_and_restarts_through_haproxy(lb, endpoints, ansible_module):
    marathons = endpoints["marathon"]
    url = lb["url"]
    args = dict(marathon_endpoints=marathons, wait_timeout=120, poll_interval=0.5)

    result = ansible_module("marathon_app", dict(args, definition=definition(lb["port"], 2)))
    assert not result.get("failed"), result.get("msg")
    wait(lambda: len(healthy(marathons)) == 2, 60, what="2 healthy tasks")
    wait(lambda: served(url, 8) == healthy(marathons), 10, what="both tasks served")

    # Scale to 4: every new task serves within 2 s of turning healthy.
    put_app(marathons, definition(lb["port"], 4))
    now_healthy = wait(
        lambda: (h := healthy(marathons)) and len(h) == 4 and h, 60, interval=0.05, what="4 healthy tasks"
    )
    healthy_at = time.monotonic()
    wait(lambda: served(url, 12) == now_healthy, 2.0, interval=0.05, what="all 4 served within 2 s")
    print(f"4 tasks served {time.monotonic() - healthy_at:.2f} s after the 4th turned healthy")

    # Scale to 1 under steady load: no request fails.
    with Load(url) as load:
        result = ansible_module("marathon_app", dict(args, definition=definition(lb["port"], 1)))
        assert not result.get("failed"), result.get("msg")
        time.sleep(RECONCILE)
    assert load.failed == 0, load.errors[:5]
    assert load.sent > 20

    # Rolling restart under steady load: no request fails.
    result = ansible_module("marathon_app", dict(args, definition=definition(lb["port"], 2)))
    assert not result.get("failed"), result.get("msg")
    before = wait(lambda: (h := healthy(marathons)) and len(h) == 2 and h, 60, what="2 healthy tasks")
    with Load(url) as load:
        result = ansible_module("marathon_app", dict(args, id=APP, state="restarted"))
        assert not result.get("failed"), result.get("msg")
        wait(lambda: deployments_done(marathons), 120, what="restart deployment done")
        time.sleep(RECONCILE)
    assert load.failed == 0, load.errors[:5]
    after = healthy(marathons)
    assert after and not (after & before), "the restart replaced every task"
    wait(lambda: served(url, 8) == after, 10, what="new tasks served")


def test_leader_killed_while_changes_flow(lb, standin_cluster, endpoints):
    marathons = endpoints["marathon"]
    url = lb["url"]
    put_app(marathons, definition(lb["port"], 2))
    wait(lambda: len(healthy(marathons)) == 2, 60, what="2 healthy tasks")
    status, body = http_json(marathons[0] + "/v2/leader")
    assert status == 200
    leader_port = int(body["leader"].rsplit(":", 1)[1])
    victim = next(p for p in standin_cluster.marathons if p.url("").rstrip("/").endswith(f":{leader_port}"))
    old_url = victim.url("").rstrip("/")
    victim.kill()
    try:
        others = [m for m in marathons if m != old_url]
        put_app(others, definition(lb["port"], 3), timeout=60)
        changed_at = time.monotonic()
        wait(
            lambda: (
                lb["daemon"].last_event_url in others
                and json.loads(Path(lb["cfg"].status_file).read_text())["marathon"]["events_connected"]
            ),
            30,
            what="events from the new leader",
        )
        now_healthy = wait(lambda: (h := healthy(others)) and len(h) == 3 and h, 90, what="3 healthy tasks")
        try:
            wait(lambda: served(url, 9) == healthy(others), RECONCILE + 2, what="the change served")
        except AssertionError:
            print("healthy:", now_healthy, healthy(others), "served:", served(url, 9))
            print(Path(lb["cfg"].status_file).read_text())
            print(Path(lb["cfg"].dynamic_config).read_text())
            raise
        print(
            f"change served {time.monotonic() - changed_at:.1f} s after it was made; "
            f"events now from {lb['daemon'].last_event_url}"
        )
    finally:
        victim.start()
        victim.wait_http("/ping", timeout=60)


# The readiness app: answers / with its task id, or with "NOT-READY <task id>" during the first
# READY_DELAY seconds after it started; its readiness path /ready answers 503 during those
# seconds and 200 after. It is listening all along (the health check on / passes at once). It
# stops gracefully on SIGTERM: stops accepting, finishes the requests under way.
READINESS_APP = r"""
import http.server, os, signal, threading, time
started = time.monotonic()
delay = float(os.environ["READY_DELAY"])
task = os.environ["MESOS_TASK_ID"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = time.monotonic() - started >= delay
        if self.path == "/ready":
            code, body = (200, "ready") if ready else (503, "warming up")
        else:
            code, body = 200, task if ready else "NOT-READY " + task
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), H)
s.daemon_threads = False
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=s.shutdown).start())
s.serve_forever()
s.server_close()
"""
READY_APP = "/itest/haproxy-ready"
READY_DELAY = 4


def readiness_definition(script, service_port, instances, delay=READY_DELAY):
    body = definition(service_port, instances)
    body.update(
        id=READY_APP,
        cmd=f"exec python3 {script}",
        env={"READY_DELAY": str(delay)},
        portDefinitions=[{"port": service_port, "protocol": "tcp", "name": "http"}],
        readinessChecks=[
            {
                "name": "warm",
                "path": "/ready",
                "portName": "http",
                "intervalSeconds": 2,
                "timeoutSeconds": 1,
                "httpStatusCodesForReady": [200],
            }
        ],
    )
    return body


def app_of(marathons, app_id):
    for base in marathons:
        status, body = http_json(f"{base}/v2/apps{app_id}?embed=app.tasks&embed=app.deployments&embed=app.readiness")
        if status == 200:
            return body["app"]
    return None


def running_ids(app):
    return {t["id"] for t in (app or {}).get("tasks", []) if t.get("state") == "TASK_RUNNING"}


def test_rolling_restart_serves_no_task_before_marathon_finds_it_ready(lb, endpoints, tmp_path):
    marathons = endpoints["marathon"]
    script = tmp_path / "readiness_app.py"
    script.write_text(READINESS_APP)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    try:
        put_app(marathons, readiness_definition(script, port, 2))
        wait(
            lambda: (a := app_of(marathons, READY_APP)) and not a["deployments"] and len(running_ids(a)) == 2,
            90,
            what="2 ready tasks",
        )
        before = running_ids(app_of(marathons, READY_APP))
        wait(lambda: served(url, 8) == before, 10, what="both tasks served")

        seen_not_ready = set()
        with Load(url) as load:
            restart = None
            for base in marathons:
                req = urllib.request.Request(
                    f"{base}/v2/apps{READY_APP}/restart",
                    data=b"{}",
                    method="POST",
                    headers={"Content-Type": "application/json"},
                )
                try:
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        restart = json.loads(resp.read())
                        break
                except OSError:
                    continue
            assert restart, "no Marathon took the restart"
            started = time.monotonic()

            def done():
                app = app_of(marathons, READY_APP)
                if app is None:
                    return False
                seen_not_ready.update(r["taskId"] for r in app.get("readinessCheckResults", []) if not r["ready"])
                return not app["deployments"]

            wait(done, 120, interval=0.2, what="restart deployment done")
            took = time.monotonic() - started
            time.sleep(RECONCILE)
        print(f"restart took {took:.1f} s; tasks seen not ready by Marathon: {len(seen_not_ready)}")
        assert load.failed == 0, load.errors[:5]
        assert load.not_ready == [], load.not_ready[:5]
        assert load.sent > 20
        assert seen_not_ready, "Marathon never reported a new task as not ready"
        assert took >= READY_DELAY, "the deployment finished before the new tasks could be ready"
        after = running_ids(app_of(marathons, READY_APP))
        assert after and not (after & before), "the restart replaced every task"
        assert seen_not_ready <= after
        wait(lambda: served(url, 8) == after, 10, what="new tasks served")
    finally:
        for base in marathons:
            if http_json(f"{base}/v2/apps{READY_APP}?force=true", method="DELETE")[0] in (200, 202, 404):
                break
