"""The mesos inventory plugin, run the way users run it (`ansible-inventory -i x.mesos.yml`), against
fake Mesos masters: small HTTP servers on 127.0.0.2, .3 and .4 that answer like Mesos 1.11 does on the
endpoints the plugin reads (/master/redirect, /metrics/snapshot, /version, /master/flags,
/master/slaves, /master/maintenance/status), with a leader that can move and masters that can stop.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
INVENTORY = str(Path(sys.executable).with_name("ansible-inventory"))


def agent(hostname, ip, rack, active=True, cpus=4.0, mem=2048.0):
    return {"id": "S-%s" % hostname, "pid": "slave(1)@%s:5051" % ip, "hostname": hostname, "port": 5051,
            "registered_time": 1700000000.0, "resources": {"cpus": cpus, "mem": mem, "ports": "[31000-32000]"},
            "used_resources": {"cpus": 0.5, "mem": 128.0}, "attributes": {"rack": rack, "level": 2},
            "active": active, "deactivated": not active, "version": "1.11.0"}


class FakeMesos:
    """Three masters sharing one state; `leader` is the index of the elected one (None: no leader)."""

    def __init__(self, count=3, tls=None):
        self.scheme = "https" if tls else "http"
        self.leader = 0
        self.slaves = []
        self.recovered = []
        self.maintenance = {}
        self.credentials = None
        self.requests = []
        self.servers = []
        for i in range(count):
            server = ThreadingHTTPServer(("127.0.0.%d" % (i + 2), 0), self._handler(i))
            server.daemon_threads = True
            if tls:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*tls)
                server.socket = context.wrap_socket(server.socket, server_side=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def url(self, i):
        host, port = self.servers[i].server_address[:2]
        return "%s://%s:%d" % (self.scheme, host, port)

    def hostport(self, i):
        return self.url(i).split("://", 1)[1]

    def stop(self, i):
        self.servers[i].shutdown()
        self.servers[i].server_close()

    def close(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def _handler(self, index):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, body=None, headers=None):
                raw = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):  # noqa: N802 - the http.server name
                path = self.path.split("?")[0]
                fake.requests.append((index, path, self.headers.get("Authorization")))
                leader = fake.leader
                if path == "/master/redirect":
                    if leader is None:
                        return self.send(503)
                    return self.send(307, headers={"Location": "//" + fake.hostport(leader)})
                if fake.credentials and path not in ("/version",):
                    expected = "Basic " + base64.b64encode(("%s:%s" % fake.credentials).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        return self.send(401, headers={"WWW-Authenticate": 'Basic realm="mesos-master-readonly"'})
                if path == "/metrics/snapshot":
                    return self.send(200, {"master/elected": 1.0 if index == leader else 0.0})
                if path == "/version":
                    return self.send(200, {"version": "1.11.0"})
                if path == "/master/flags":
                    return self.send(200, {"flags": {"cluster": "prod", "quorum": "2", "port": "5050"}})
                if path in ("/master/slaves", "/master/maintenance/status"):
                    if leader is None:
                        return self.send(503)
                    if index != leader:
                        return self.send(307, headers={"Location": "//%s%s" % (fake.hostport(leader), self.path)})
                    if path == "/master/slaves":
                        return self.send(200, {"slaves": fake.slaves, "recovered_slaves": fake.recovered})
                    return self.send(200, fake.maintenance)
                return self.send(404)

        return Handler


@pytest.fixture
def mesos():
    fake = FakeMesos()
    fake.slaves = [agent("a1.example.com", "10.0.1.1", "r1"), agent("a2.example.com", "10.0.1.2", "r1"),
                   agent("a3.example.com", "10.0.2.1", "r2", active=False, mem=65536.0)]
    yield fake
    fake.close()


@pytest.fixture
def inventory(tmp_path):
    """inventory(config, *args, env=None) -> (returncode, parsed --list output or None, stdout + stderr)."""

    def run(config, *args, env=None):
        source = tmp_path / "cluster.mesos.yml"
        source.write_text(yaml.safe_dump(dict({"plugin": "mesosphere.cluster.mesos"}, **config)))
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MESOSPHERE_"))}
        environ.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_HOME=str(tmp_path / "home"),
                       ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(tmp_path / "none.cfg"), **(env or {}))
        proc = subprocess.run([INVENTORY, "-i", str(source), *(args or ["--list"])], capture_output=True, text=True,
                              env=environ, cwd=str(tmp_path), timeout=120, check=False)
        out = proc.stdout + proc.stderr
        assert "Traceback" not in out, out
        try:
            data = plain(json.loads(proc.stdout))
        except ValueError:
            data = None
        return proc.returncode, data, out

    return run


def plain(value):
    """--list marks the values the plugin read from the cluster as not to be templated
    ({"__ansible_unsafe": value}, ansible-core 2.19): compare the values themselves."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def hosts_of(data, group):
    return sorted(data.get(group, {}).get("hosts", []))


def test_agents_grouped_by_attribute_and_status_and_the_leader(mesos, inventory):
    mesos.leader = 1
    rc, data, out = inventory({
        "mesos_endpoints": [mesos.url(i) for i in range(3)],
        "keyed_groups": [{"key": "mesos_attributes.rack", "prefix": "rack"},
                         {"key": "mesos_status", "prefix": "status"}],
    })
    assert rc == 0 and data, out
    assert hosts_of(data, "rack_r1") == ["a1.example.com", "a2.example.com"]
    assert hosts_of(data, "rack_r2") == ["a3.example.com"]
    assert hosts_of(data, "status_active") == ["a1.example.com", "a2.example.com"]
    assert hosts_of(data, "status_deactivated") == ["a3.example.com"]
    assert hosts_of(data, "slaves") == ["a1.example.com", "a2.example.com", "a3.example.com"]
    assert hosts_of(data, "masters") == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert hosts_of(data, "mesos_leader") == ["127.0.0.3"]
    hostvars = data["_meta"]["hostvars"]
    a1 = hostvars["a1.example.com"]
    assert a1["mesos_agent_ip"] == "10.0.1.1" and a1["mesos_agent_id"] == "S-a1.example.com"
    assert a1["mesos_resources"]["cpus"] == 4.0 and a1["mesos_attributes"] == {"rack": "r1", "level": 2}
    assert a1["mesos_leader"] == mesos.hostport(1) and a1["mesos_cluster"] == "prod"
    assert hostvars["127.0.0.3"]["mesos_master_status"] == "leader"
    assert hostvars["127.0.0.2"]["mesos_master_status"] == "standby"


def test_compose_and_groups_over_resources(mesos, inventory):
    rc, data, out = inventory({
        "mesos_endpoints": [mesos.url(0)],
        "compose": {"ansible_host": "mesos_agent_ip | default(omit)", "rack": "mesos_attributes.rack | default('')"},
        "groups": {"big_agents": "mesos_resources.mem | default(0) >= 65536"},
        "include_masters": False,
    })
    assert rc == 0 and data, out
    assert hosts_of(data, "big_agents") == ["a3.example.com"]
    assert data["_meta"]["hostvars"]["a2.example.com"]["ansible_host"] == "10.0.1.2"
    assert data["_meta"]["hostvars"]["a2.example.com"]["rack"] == "r1"
    assert "masters" not in data and "mesos_leader" not in data


def test_maintenance_draining_and_down_machines(mesos, inventory):
    mesos.maintenance = {"draining_machines": [{"id": {"hostname": "a2.example.com", "ip": "10.0.1.2"}}],
                         "down_machines": [{"hostname": "a9.example.com", "ip": "10.0.9.9"}]}
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(0)],
                               "keyed_groups": [{"key": "mesos_status", "prefix": "status"}]})
    assert rc == 0 and data, out
    assert hosts_of(data, "status_draining") == ["a2.example.com"]
    assert hosts_of(data, "status_down") == ["a9.example.com"]
    assert "a9.example.com" in hosts_of(data, "slaves")
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(0)], "include_down_machines": False,
                               "agents_group": "agents"})
    assert "a9.example.com" not in data["_meta"]["hostvars"]
    assert hosts_of(data, "agents") == ["a1.example.com", "a2.example.com", "a3.example.com"]


def test_a_master_down_still_gives_the_inventory(mesos, inventory):
    mesos.stop(0)
    mesos.leader = 2
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(i) for i in range(3)], "request_retries": 0})
    assert rc == 0 and data, out
    assert hosts_of(data, "slaves") == ["a1.example.com", "a2.example.com", "a3.example.com"]
    assert hosts_of(data, "mesos_leader") == ["127.0.0.4"]
    down = data["_meta"]["hostvars"]["127.0.0.2"]
    assert down["mesos_master_status"] == "unreachable" and down["mesos_master_reachable"] is False


def test_all_masters_down_is_one_sentence(mesos, inventory):
    endpoints = [mesos.url(i) for i in range(3)]
    mesos.close()
    config = {"mesos_endpoints": endpoints, "request_retries": 0}
    rc, data, out = inventory(config)
    assert "Could not read the Mesos cluster for the inventory: No Mesos master answered" in out
    assert endpoints[0] in out
    rc, data, out = inventory(config, env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert rc != 0, out


def test_no_leader_elected_is_an_error(mesos, inventory):
    mesos.leader = None
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(0)], "request_retries": 0},
                              env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert rc != 0
    assert "No Mesos master leader is elected" in out


def test_credentials_from_the_environment_and_a_clear_401(mesos, inventory):
    mesos.credentials = ("ops", "s3cret")
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(0)], "mesos_username": "ops"},
                              env={"MESOSPHERE_CLUSTER_MESOS_PASSWORD": "s3cret"})
    assert rc == 0 and hosts_of(data, "slaves"), out
    assert all(auth for _i, path, auth in mesos.requests if path == "/master/slaves")
    assert "s3cret" not in json.dumps(data)
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(0)], "mesos_username": "ops",
                               "mesos_password": "wrong", "request_retries": 0},
                              env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert rc != 0
    assert "HTTP 401" in out and "Check the username and password" in out
    assert "wrong" not in out


def test_cache_answers_without_the_masters_until_flushed(mesos, inventory, tmp_path):
    config = {"mesos_endpoints": [mesos.url(0)], "mesos_password": "s3cret", "request_retries": 0,
              "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
              "cache_connection": str(tmp_path / "cache"), "cache_timeout": 3600}
    rc, first, out = inventory(config)
    assert rc == 0 and hosts_of(first, "slaves"), out
    asked = len(mesos.requests)
    mesos.slaves = []
    rc, cached, out = inventory(config)
    assert len(mesos.requests) == asked, "the second run asked the masters despite the cache"
    assert hosts_of(cached, "slaves") == hosts_of(first, "slaves")
    assert not any("s3cret" in p.read_text() for p in (tmp_path / "cache").iterdir())
    rc, flushed, out = inventory(config, "--list", "--flush-cache")
    assert rc == 0 and hosts_of(flushed, "slaves") == [], out


def test_only_mesos_yml_files_are_sources(mesos, inventory, tmp_path):
    from ansible_collections.mesosphere.cluster.plugins.inventory.mesos import InventoryModule

    for name, accepted in (("x.mesos.yml", True), ("x.mesos.yaml", True), ("hosts.yml", False)):
        (tmp_path / name).write_text("plugin: mesosphere.cluster.mesos\n")
        assert InventoryModule().verify_file(str(tmp_path / name)) is accepted


def test_values_read_from_the_cluster_are_never_templated(mesos, inventory):
    # An agent's attributes are whatever its operator typed: a Jinja expression in them must stay text.
    mesos.slaves = [agent("a1.example.com", "10.0.1.1", "{{ 6 * 7 }}")]
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(0)], "include_masters": False,
                               "compose": {"rack": "mesos_attributes.rack"}})
    assert rc == 0 and data, out
    assert data["_meta"]["hostvars"]["a1.example.com"]["rack"] == "{{ 6 * 7 }}"


def test_tls_options_are_the_modules(inventory, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=mesos",
                    "-keyout", str(key), "-out", str(cert),
                    "-addext", "subjectAltName=IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4"],
                   check=True, capture_output=True)
    fake = FakeMesos(tls=(str(cert), str(key)))
    fake.slaves = [agent("a1.example.com", "10.0.1.1", "r1")]
    try:
        config = {"mesos_endpoints": [fake.url(0)], "request_retries": 0, "include_masters": False}
        rc, data, out = inventory(config, env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
        assert rc != 0 and "CERTIFICATE_VERIFY_FAILED" in out, out
        rc, data, out = inventory(dict(config, ca_path=str(cert)))
        assert rc == 0 and hosts_of(data, "slaves") == ["a1.example.com"], out
        rc, data, out = inventory(dict(config, validate_certs=False))
        assert rc == 0 and hosts_of(data, "slaves") == ["a1.example.com"], out
    finally:
        fake.close()


def test_agents_recovered_after_a_failover_keep_their_attributes(mesos, inventory):
    # Until they re-register with a new leader, agents are known from the registry, in the
    # agent-info form: lists of Resource and Attribute messages.
    mesos.slaves = [agent("a1.example.com", "10.0.1.1", "r1")]
    mesos.recovered = [{
        "id": "S-a2", "hostname": "a2.example.com", "port": 5051,
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}, "role": "*"},
                      {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}, "role": "prod"},
                      {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31099}]}}],
        "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r2"}},
                       {"name": "level", "type": "SCALAR", "scalar": {"value": 3.0}}],
    }]
    rc, data, out = inventory({"mesos_endpoints": [mesos.url(0)], "include_masters": False,
                               "keyed_groups": [{"key": "mesos_attributes.rack", "prefix": "rack"},
                                                {"key": "mesos_status", "prefix": "status"}]})
    assert rc == 0 and data, out
    assert hosts_of(data, "rack_r2") == ["a2.example.com"]
    assert hosts_of(data, "status_recovered") == ["a2.example.com"]
    a2 = data["_meta"]["hostvars"]["a2.example.com"]
    assert a2["mesos_resources"] == {"cpus": 3.0, "ports": "[31000-31099]"}
    assert a2["mesos_attributes"] == {"rack": "r2", "level": 3.0}


def test_resources_in_the_flags_text_form():
    from ansible_collections.mesosphere.cluster.plugins.inventory.mesos import as_mapping

    assert as_mapping("cpus:4;mem:1024.5;ports:[31000-31099];cpus(prod):2") == {
        "cpus": 6, "mem": 1024.5, "ports": "[31000-31099]"}
    assert as_mapping("rack:r1;level:2") == {"rack": "r1", "level": 2}
    assert as_mapping(None) == {} and as_mapping({"cpus": 1.0}) == {"cpus": 1.0}
