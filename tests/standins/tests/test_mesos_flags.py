"""Flag and environment handling of the mesos-master and mesos-agent stand-ins
(mesos/docs/configuration/master.md, agent.md, master-and-agent.md)."""

import json

import pytest
from harness import StandinProcess, free_port, run_standin

from mesosphere_standins import _common as c
from mesosphere_standins.mesos_agent import write_checkpoint


def refused(module, args, env=None, needle=None):
    result = run_standin(module, args, env)
    assert result.returncode != 0, result.stderr
    if needle:
        assert needle in result.stderr, result.stderr
    return result


# -- master ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--work_dir=/tmp/x", "--bogus=1"], "unknown flag 'bogus'"),
        (["--quorum=1"], "--work_dir needed for replicated log based registry"),
        (["--work_dir={tmp}", "--zk=zk://127.0.0.1:2181/mesos"], "Need to specify --quorum"),
        (["--work_dir={tmp}", "--quorum=1", "--zk=127.0.0.1:2181/mesos"], "zk://"),
        (["--work_dir={tmp}", "--quorum=1", "--zk=zk://nohostport/mesos"], "host:port"),
        (["--work_dir={tmp}", "--zk=file:///nonexistent/zk", "--quorum=1"], "cannot read"),
        (["--work_dir={tmp}", "--port"], "non-boolean flag 'port'"),
        (["--work_dir={tmp}", "--no-port"], "non-boolean flag 'port'"),
        (["--work_dir={tmp}", "--port=abc"], "flag 'port'"),
        (["--work_dir={tmp}", "--port=1", "--port=2"], "more than once"),
        (["--work_dir={tmp}", "--quorum=0"], "--quorum"),
        (["--work_dir={tmp}", "--registry=etcd"], "registry"),
        (["--work_dir={tmp}", "--authenticate_http_readonly"], "No credentials"),
        (["--work_dir={tmp}", "--zk_session_timeout=10"], "duration"),
        (["--work_dir={tmp}", "positional"], "Unexpected argument"),
    ],
)
def test_master_refuses(tmp_path, args, needle):
    refused("mesos_master", [a.replace("{tmp}", str(tmp_path)) for a in args], needle=needle)


def test_master_refuses_bad_env_value(tmp_path):
    refused("mesos_master", [f"--work_dir={tmp_path}"], env={"MESOS_PORT": "notaport"},
            needle="MESOS_PORT")


def test_master_env_missing_quorum_with_zk(tmp_path):
    # MESOS_ZK alone (as /etc/mesos-master files become env vars) still needs a quorum.
    refused("mesos_master", [], env={"MESOS_ZK": "zk://127.0.0.1:2181/mesos", "MESOS_WORK_DIR": str(tmp_path)},
            needle="--quorum")


def test_master_version_and_help():
    result = run_standin("mesos_master", ["--version"])
    assert result.returncode == 0 and result.stdout.strip() == "mesos 1.11.0"
    result = run_standin("mesos_master", ["--help"])
    assert result.returncode == 0 and "--zk=VALUE" in result.stdout and "--quorum=VALUE" in result.stdout


def test_master_flags_from_env_and_defaults(tmp_path):
    """Standalone master (no --zk): flags from MESOS_* variables, defaults as documented,
    the command line wins over the environment."""
    port = free_port()
    env = {"MESOS_WORK_DIR": str(tmp_path / "work"), "MESOS_IP": "127.0.0.1", "MESOS_PORT": "1",
           "MESOS_CLUSTER": "envcluster", "MESOS_HOSTNAME": "127.0.0.1"}
    with StandinProcess("mesos_master", [f"--port={port}"], env, port=port) as proc:
        proc.wait_http("/master/health")
        flags = c.http_request("GET", proc.url("/master/flags")).json()["flags"]
        assert flags["port"] == str(port)
        assert flags["cluster"] == "envcluster"
        assert flags["work_dir"] == str(tmp_path / "work")
        assert flags["zk_session_timeout"] == "10secs"
        assert flags["agent_ping_timeout"] == "15secs"
        assert flags["max_agent_ping_timeouts"] == "5"
        assert flags["registry"] == "replicated_log"
        assert "zk" not in flags and "quorum" not in flags
        # standalone: it leads itself and serves
        assert c.wait_until(lambda: c.http_request("GET", proc.url("/master/state")).status == 200, 10)
        state = c.http_request("GET", proc.url("/master/state")).json()
        assert state["cluster"] == "envcluster"
        assert state["leader"] == state["pid"] == f"master@127.0.0.1:{port}"


def test_master_boolean_forms(tmp_path):
    port = free_port()
    # in_memory: with the replicated log, --log_auto_initialize=false keeps a fresh master from
    # ever recovering (test_mesos_replicated_log.py), and this test reads /master/state
    credentials = tmp_path / "credentials"
    credentials.write_text("agent s3cret\n")  # --authenticate_agents needs them
    args = [f"--work_dir={tmp_path / 'work'}", "--ip=127.0.0.1", f"--port={port}", "--no-hostname_lookup",
            "--log_auto_initialize=false", "--authenticate_agents", f"--credentials={credentials}",
            "--registry=in_memory"]
    with StandinProcess("mesos_master", args, port=port) as proc:
        proc.wait_http("/master/health")
        flags = c.http_request("GET", proc.url("/flags")).json()["flags"]
        assert flags["hostname_lookup"] == "false"
        assert flags["log_auto_initialize"] == "false"
        assert flags["authenticate_agents"] == "true"
        state = c.wait_until(lambda: c.http_request("GET", proc.url("/master/state")).json(), 10)
        assert state["hostname"] == "127.0.0.1"  # no lookup: the IP


def test_master_zk_file_url(tmp_path):
    zkfile = tmp_path / "zk"
    zkfile.write_text("zk://127.0.0.1:1/mesos\n")
    # parsed fine (the failure is the missing quorum, not the URL)
    refused("mesos_master", [f"--work_dir={tmp_path}", f"--zk=file://{zkfile}"], needle="--quorum")
    url = c.parse_zk_url(f"file://{zkfile}")
    assert url.hosts == "127.0.0.1:1" and url.path == "/mesos"


def test_zk_url_forms():
    url = c.parse_zk_url("zk://user:secret@h1:2181,h2:2182/mesos")
    assert (url.hosts, url.path, url.username, url.password) == ("h1:2181,h2:2182", "/mesos", "user", "secret")
    assert url.auth_data == [("digest", "user:secret")]
    for bad in ("h1:2181/mesos", "zk://h1/mesos", "zk://:2181/mesos", "zk://h1:99999/mesos"):
        with pytest.raises(ValueError):
            c.parse_zk_url(bad)


# -- agent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--work_dir={tmp}"], "--master"),
        (["--master=zk://127.0.0.1:2181/mesos"], "work_dir"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--containerizers=mesos,rkt"], "rkt"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--resources=cpus:lots"], "resources"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--resources=ports:[5-1]"], "resources"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--attributes=rack"], "attributes"),
        (["--master=zk://bad/mesos", "--work_dir={tmp}"], "master detector"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--nope"], "unknown flag 'nope'"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--authenticate_http_readwrite"],
         "No credentials"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--reconfiguration_policy=any"], "policy"),
        (["--master=zk://127.0.0.1:2181/mesos", "--work_dir={tmp}", "--executor_environment_variables=[1]"],
         "executor_environment_variables"),
    ],
)
def test_agent_refuses(tmp_path, args, needle):
    refused("mesos_agent", [a.replace("{tmp}", str(tmp_path)) for a in args], needle=needle)


def test_agent_flags_env_and_defaults(tmp_path):
    port = free_port()
    env = {"MESOS_MASTER": "127.0.0.1:1", "MESOS_WORK_DIR": str(tmp_path / "work"),
           "MESOS_ATTRIBUTES": "rack:r1;cores:8", "MESOS_RESOURCES": "cpus:3;ports:[31000-31009]"}
    with StandinProcess("mesos_agent", ["--ip=127.0.0.1", f"--port={port}", "--hostname=127.0.0.1"], env,
                        port=port) as proc:
        proc.wait_http("/health")
        flags = c.http_request("GET", proc.url("/flags")).json()["flags"]
        assert flags["master"] == "127.0.0.1:1"
        assert flags["containerizers"] == "mesos"
        assert flags["reconfiguration_policy"] == "equal"
        state = c.http_request("GET", proc.url("/state")).json()
        assert state["attributes"] == {"rack": "r1", "cores": 8.0}
        assert state["resources"]["cpus"] == 3.0
        assert state["resources"]["ports"] == "[31000-31009]"
        assert state["resources"]["mem"] > 0 and state["resources"]["disk"] > 0  # auto-detected
        assert state["pid"] == f"slave(1)@127.0.0.1:{port}"
        metrics = c.http_request("GET", proc.url("/metrics/snapshot")).json()
        assert metrics["slave/registered"] == 0.0  # no master at 127.0.0.1:1


def test_agent_refuses_changed_resources_with_old_checkpoint(tmp_path):
    """agent-recovery.md / --reconfiguration_policy=equal: a checkpointed agent
    info that differs from the new flags stops the agent with a clear message."""
    work = tmp_path / "work"
    write_checkpoint(str(work), {"id": "old-S0", "hostname": "127.0.0.1", "port": 5051,
                                 "resources": "cpus:2;disk:100;mem:100;ports:[31000-31009]",
                                 "attributes": [["rack", "r1"]]})
    base = ["--master=127.0.0.1:1", f"--work_dir={work}", "--hostname=127.0.0.1", "--port=5051",
            "--ip=127.0.0.1", "--attributes=rack:r1"]
    result = refused("mesos_agent", base + ["--resources=cpus:4;disk:100;mem:100;ports:[31000-31009]"],
                     needle="Incompatible agent info")
    assert f"rm -f {work}/meta/slaves/latest" in result.stderr
    refused("mesos_agent", base[:-1] + ["--attributes=rack:r2",
                                        "--resources=cpus:2;disk:100;mem:100;ports:[31000-31009]"],
            needle="attributes")
    # additive policy accepts a superset
    port = free_port()
    args = [a for a in base if not a.startswith("--port")] + [
        f"--port={port}", "--resources=cpus:4;disk:100;mem:100;ports:[31000-31009]",
        "--reconfiguration_policy=additive"]
    # the port is part of the agent info under "equal" only
    with StandinProcess("mesos_agent", args, port=port) as proc:
        assert proc.wait_http("/health") == 200
    # the same info starts fine and keeps the checkpointed id
    json_info = json.loads((work / "meta" / "slaves" / "latest" / "slave.info").read_text())
    assert json_info["id"] == "old-S0"


def test_master_libprocess_ip(tmp_path):
    """configuration/libprocess.md: LIBPROCESS_IP is the address when --ip is not given."""
    port = free_port()
    env = {"LIBPROCESS_IP": "127.0.0.1", "LIBPROCESS_ADVERTISE_IP": "127.0.0.2"}
    with StandinProcess("mesos_master", [f"--work_dir={tmp_path}", f"--port={port}", "--hostname=h"], env,
                        port=port) as proc:
        proc.wait_http("/master/health")
        state = c.wait_until(lambda: c.http_request("GET", proc.url("/master/state")).json(), 10)
        assert state["pid"] == f"master@127.0.0.2:{port}"


def test_agent_with_a_plain_master_address(tmp_path):
    """--master=host:port (configuration/agent.md) with a standalone master (no --zk)."""
    mport, aport = free_port(), free_port()
    master = StandinProcess("mesos_master", [f"--work_dir={tmp_path / 'm'}", "--ip=127.0.0.1", f"--port={mport}",
                                             "--hostname=127.0.0.1"], port=mport)
    agent = StandinProcess("mesos_agent", [f"--master=127.0.0.1:{mport}", f"--work_dir={tmp_path / 'a'}",
                                           "--ip=127.0.0.1", f"--port={aport}", "--hostname=127.0.0.1",
                                           "--resources=cpus:1;mem:64;disk:64;ports:[31990-31999]"], port=aport)
    try:
        master.wait_http("/master/health")
        agent.wait_http("/health")
        slaves = c.wait_until(lambda: c.http_request("GET", master.url("/master/slaves")).json()["slaves"], 15)
        assert slaves and slaves[0]["port"] == aport
        assert c.http_request("GET", agent.url("/state")).json()["master_hostname"] == "127.0.0.1"
    finally:
        agent.kill()
        master.kill()
