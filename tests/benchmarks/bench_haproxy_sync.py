#!/usr/bin/env python3
"""Benchmark of the HAProxy role's sync program. Prints figures; asserts nothing.

    .venv/bin/python tests/benchmarks/bench_haproxy_sync.py [--apps 1000] [--tasks 5] [--rounds 20]

1. Render time: Marathon apps (each with an HTTP health check and healthy tasks) to the
   complete HAProxy file: choosing the tasks, refusing ports, rendering, assembling.
2. `haproxy -c` time for that file (every sync that changes something pays it).
3. Event stream parsing: one deployment_info event of 1 MB, 5 MB and 10 MB (a plan naming
   thousands of apps on one data line), fed in 64 KiB reads as the daemon reads the stream.
4. Event-to-serving latency: a real HAProxy (master-worker, as Debian runs it) serves all the
   apps' frontends; the sync program runs as it does in production (event thread and worker,
   reloading HAProxy with SIGUSR2). Each round moves one app to a new backend in the fake
   Marathon, sends the status_update_event, and times until a request through HAProxy is
   answered by the new backend.

Everything listens on a random 127.x.y.z address with ports chosen at random (service ports
in one free block), so it runs beside other tests; every process it starts is stopped at the
end. It is a benchmark, not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "tests" / "unit" / "roles" / "haproxy"
sys.path.insert(0, str(HELPERS))
from haproxy_sync_helpers import HAPROXY, FakeMarathon, MasterWorker, QuietServer  # noqa: E402
from marathon_haproxy_sync.config import Config  # noqa: E402
from marathon_haproxy_sync.daemon import SyncDaemon  # noqa: E402
from marathon_haproxy_sync.events import SSEParser, event_invalidation  # noqa: E402
from marathon_haproxy_sync.render import assemble, render_blocks  # noqa: E402
from marathon_haproxy_sync.services import build_services  # noqa: E402


def percentile(values, pct):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def make_apps(count, tasks, first_port, host="127.0.0.1"):
    apps = {}
    for i in range(count):
        app_id = f"/bench/app{i:04d}"
        apps[app_id] = {
            "id": app_id,
            "portDefinitions": [{"port": first_port + i, "protocol": "tcp"}],
            "labels": {"HAPROXY_GROUP": "external"},
            "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0}],
            "tasks": [
                {
                    "id": f"app{i}.{t}",
                    "host": host,
                    "ports": [40000 + (i * tasks + t) % 20000],
                    "state": "TASK_RUNNING",
                    "healthCheckResults": [{"alive": True, "consecutiveFailures": 0}],
                }
                for t in range(tasks)
            ],
        }
    return apps


def free_block(address, size, attempts=50):
    """A block of `size` consecutive ports free on `address` (checked by binding each)."""
    rng = random.Random()
    for _ in range(attempts):
        start = rng.randrange(20000, 60000 - size)
        held = []
        try:
            for port in range(start, start + size):
                s = socket.socket()
                s.bind((address, port))
                held.append(s)
            return start
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no block of {size} free ports on {address}")


class Backend:
    def __init__(self, address, name):
        body = name.encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = QuietServer((address, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def bench_render(cfg, apps, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        services, _rejected = build_services(apps.values(), cfg)
        text, _owners = assemble(render_blocks(services, cfg), cfg)
        times.append(time.perf_counter() - started)
    return times, text, services


def bench_check(cfg, text, workdir, repeat):
    path = Path(workdir) / "check.cfg"
    path.write_text(text)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run(
            [HAPROXY, "-c", "-f", cfg.base_configs[0], "-f", str(path)], capture_output=True, text=True, check=False
        )
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError("haproxy -c refused the benchmark's configuration:\n" + proc.stdout + proc.stderr)
    return times


def big_event(size):
    """A deployment_info event of about `size` bytes, framed as Marathon sends it."""
    one = len(json.dumps({"actions": [{"action": "RestartApplication", "app": "/bench/app000000"}]})) + 2
    steps = [
        {"actions": [{"action": "RestartApplication", "app": f"/bench/app{n:06d}"}]} for n in range(size // one + 1)
    ]
    body = json.dumps({"eventType": "deployment_info", "plan": {"id": "bench", "steps": steps}})
    return f"event: deployment_info\r\ndata: {body}\r\n\r\n".encode()


def bench_sse(sizes, chunk=65536, repeat=3):
    for size in sizes:
        raw = big_event(size)
        times = []
        for _ in range(repeat):
            parser = SSEParser()
            started = time.perf_counter()
            events = []
            for i in range(0, len(raw), chunk):
                events += parser.feed(raw[i : i + chunk])
            parsed = time.perf_counter() - started
            apps = event_invalidation(*events[0]).apps
            times.append((parsed, time.perf_counter() - started))
        parse_ms = statistics.median(t[0] for t in times) * 1000
        total_ms = statistics.median(t[1] for t in times) * 1000
        print(
            f"event stream: {len(raw) / 1e6:.1f} MB event parsed in {parse_ms:.1f} ms "
            f"({total_ms:.1f} ms with its JSON and {len(apps)} apps invalidated), median of {repeat}"
        )


def wait_body(url, expected, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.read().decode() == expected:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.005)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20, help="event-to-serving rounds (bounded)")
    parser.add_argument("--render-repeat", type=int, default=5)
    parser.add_argument("--sse-only", action="store_true", help="only the event stream parsing figures")
    args = parser.parse_args(argv)

    bench_sse([1_000_000, 5_000_000, 10_000_000])
    if args.sse_only:
        return 0

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    address = f"127.{random.randint(64, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    workdir = tempfile.mkdtemp(prefix="bench-haproxy-sync-")
    first_port = free_block(address, args.apps)
    stats_port = free_block(address, 1)
    haproxy = MasterWorker(workdir, address=address, stats_port=stats_port, maxconn=2000).write()
    base, dynamic = haproxy.base, haproxy.dynamic
    print(f"apps: {args.apps}, tasks per app: {args.tasks}, listening on {address}, work dir {workdir}")

    cfg = Config.from_dict(
        {
            "marathon_urls": ["http://127.0.0.1:1"],
            "dynamic_config": str(dynamic),
            "base_configs": [str(base)],
            "haproxy_bin": HAPROXY,
            "status_file": f"{workdir}/status.json",
            "reconcile_interval": 600.0,
            "stats_port": stats_port,
            "vhost_port": 0,
            "bind_address": address,
            "server_options": "",  # no active checks on the 5,000 fake servers
            "log_requests": False,
            "debounce": 0.0,
        }
    )
    apps = make_apps(args.apps, args.tasks, first_port)

    # 1 and 2: render and check.
    render_times, text, services = bench_render(cfg, apps, args.render_repeat)
    print(
        f"render ({args.apps} apps x {args.tasks} tasks -> {len(services)} frontends, "
        f"{sum(len(s.servers) for s in services)} servers, {len(text) // 1024} KiB): "
        f"median {statistics.median(render_times) * 1000:.1f} ms, min {min(render_times) * 1000:.1f} ms "
        f"over {len(render_times)} runs"
    )
    check_times = bench_check(cfg, text, workdir, 3)
    print(f"haproxy -c on that file: median {statistics.median(check_times) * 1000:.0f} ms over 3 runs")

    # 3: event to serving, through a real HAProxy and the running sync program.
    backends = [Backend(address, "blue"), Backend(address, "green")]
    marathon = FakeMarathon(apps)
    haproxy.start()
    cfg.marathon_urls = [marathon.url]
    cfg.reload_command = haproxy.reload_command
    cfg.admin_socket = haproxy.admin_socket
    target = "/bench/app0000"
    url = f"http://{address}:{first_port}/"
    apps[target]["labels"]["HAPROXY_0_MODE"] = "http"
    apps[target]["tasks"] = [{**apps[target]["tasks"][0], "host": address, "ports": [backends[0].port]}]
    daemon = SyncDaemon(cfg)
    latencies = []
    try:
        daemon.start()
        if wait_body(url, "blue", 60) is None:
            raise RuntimeError("HAProxy never served the benchmark app; see " + workdir)
        deadline = time.monotonic() + 30
        while marathon.attached() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(args.rounds):
            backend = backends[(i + 1) % 2]
            name = "green" if backend is backends[1] else "blue"
            apps[target]["tasks"] = [{**apps[target]["tasks"][0], "ports": [backend.port], "id": f"r{i}"}]
            started = time.monotonic()
            marathon.emit("status_update_event", {"appId": target, "taskStatus": "TASK_RUNNING"})
            served = wait_body(url, name, 30)
            if served is None:
                print(f"round {i}: not served within 30 s")
                continue
            latencies.append(served - started)
            time.sleep(0.2)
    finally:
        daemon.stop()
        marathon.close()
        haproxy.stop()
        for b in backends:
            b.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    if latencies:
        print(
            f"event-to-serving latency over {len(latencies)} rounds: "
            f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )
    else:
        print("event-to-serving latency: no round completed")
    return 0 if latencies else 1


if __name__ == "__main__":
    sys.exit(main())
