"""Unit tests of the shared helpers the Mesos stand-ins are built on (_common)."""

import json

import pytest

from mesosphere_standins import _common as c


def test_durations_and_bytes():
    assert c.parse_duration("10secs") == 10.0
    assert c.parse_duration("500ms") == 0.5
    assert c.parse_duration("2weeks") == 1209600.0
    assert c.parse_duration("1.5mins") == 90.0
    for bad in ("10", "10s", "secs", "-1secs"):
        with pytest.raises(ValueError):
            c.parse_duration(bad)
    assert c.format_duration(600) == "10mins" and c.format_duration(0.5) == "500ms"
    assert c.parse_bytes("4KB") == 4096 and c.parse_bytes("2GB") == 2 * 1024**3
    with pytest.raises(ValueError):
        c.parse_bytes("4")


SPECS = [c.Flag("port", "int", "5050"), c.Flag("quiet", "bool", "false"), c.Flag("name"),
         c.Flag("slave_timeout", "duration", "15secs", aliases=("agent_timeout",))]


def test_mesos_style_flags():
    flags = c.parse_flags(SPECS, ["--quiet", "--agent_timeout=3secs"], program="p", env={"MESOS_NAME": "x"},
                          env_prefix="MESOS_")
    assert (flags.port, flags.quiet, flags.name, flags.slave_timeout) == (5050, True, "x", 3.0)
    assert flags.raw == {"port": "5050", "quiet": "true", "name": "x", "slave_timeout": "3secs"}
    assert flags.given == {"quiet", "name", "slave_timeout"}
    flags = c.parse_flags(SPECS, ["--no-quiet", "--name=cli"], program="p", env={"MESOS_NAME": "env"},
                          env_prefix="MESOS_")
    assert flags.quiet is False and flags.name == "cli"  # the command line wins
    with pytest.raises(c.FlagError):
        c.parse_flags(SPECS, ["--name", "value"], program="p", env={})  # stout: no space-separated values
    with pytest.raises(c.ExitRequest) as info:
        c.parse_flags(SPECS, ["--help"], program="p", env={})
    assert info.value.code == 0 and "--port=VALUE" in info.value.message


def test_scallop_style_flags():
    flags = c.parse_flags(SPECS, ["--name", "value", "--disable_quiet", "--port", "8080"], program="p", env={},
                          style="scallop")
    assert (flags.name, flags.quiet, flags.port) == ("value", False, 8080)
    with pytest.raises(c.FlagError):
        c.parse_flags(SPECS, ["--port"], program="p", env={}, style="scallop")


def test_flag_table_is_complete():
    table = c.load_data("mesos_flags.json")
    master = {r["name"] for r in table["master"]}
    agent = {r["name"] for r in table["agent"]}
    common = {r["name"] for r in table["common"]}
    assert {"zk", "quorum", "work_dir", "cluster", "credentials", "registry", "agent_ping_timeout"} <= master
    assert {"master", "work_dir", "resources", "attributes", "containerizers", "isolation",
            "systemd_enable_support"} <= agent
    assert {"ip", "port", "hostname", "advertise_ip", "zk_session_timeout", "log_dir", "logging_level",
            "authenticate_http_readonly", "authenticate_http_readwrite"} <= common
    port = next(r for r in table["common"] if r["name"] == "port")
    assert (port["default_master"], port["default_agent"]) == ("5050", "5051")


def test_resources():
    res = c.Resources.parse("cpus:4;mem:2048;disk(role1):100;ports:[31000-31099,31200-31200];gpus_ids:{a,b}")
    assert res.model() == {"cpus": 4.0, "mem": 2048.0, "disk": 100.0, "ports": "[31000-31099, 31200-31200]",
                           "gpus_ids": "{a,b}"}
    task = c.Resources.from_protobuf([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31001}]}}])
    assert res.contains(task)
    left = res - task
    assert left.model()["ports"] == "[31002-31099, 31200-31200]" and left.scalars["cpus"] == 3.5
    assert not left.contains(task) and left.missing(task)[0].startswith("ports")
    assert c.Resources.parse(json.dumps(res.protobuf())) == res
    assert c.Resources.parse(res.text()) == res
    for bad in ("cpus", "cpus:x", "ports:[2-1]", "cpus:-1", "s:{a"):
        with pytest.raises(ValueError):
            c.Resources.parse(bad)


def test_attributes():
    assert c.attributes_model(c.parse_attributes("rack:r1;level:2;ids:[1-3]")) == {
        "rack": "r1", "level": 2.0, "ids": "[1-3]"}
    with pytest.raises(ValueError):
        c.parse_attributes("rack")


def test_credentials_and_basic_auth(tmp_path):
    jfile = tmp_path / "c.json"
    jfile.write_text(json.dumps({"credentials": [{"principal": "a", "secret": "b"}]}))
    tfile = tmp_path / "c.txt"
    tfile.write_text("# comment\na b\nc d\n")
    assert c.load_mesos_credentials(f"file://{jfile}") == {"a": "b"}
    assert c.load_mesos_credentials(str(tfile)) == {"a": "b", "c": "d"}
    with pytest.raises(c.FlagError):
        c.load_mesos_credentials(str(tmp_path / "missing"))
    header = c.basic_auth_header("a", "b:c")
    assert c.parse_basic_auth(header) == ("a", "b:c")
    assert c.parse_basic_auth("Bearer x") is None and c.parse_basic_auth("Basic !!!") is None


def test_routing():
    app = c.HttpApp()
    app.add("GET", "/v2/apps/{id:path}", lambda req: c.json_response(req.params))
    app.add(("GET", "POST"), "/x/{name}", lambda req: c.text_response(req.params["name"]))

    def request(method, path):
        return app.dispatch(c.Request(method, path, {}, b"", ("127.0.0.1", 1)))

    assert json.loads(request("GET", "/v2/apps/a/b").payload()) == {"id": "a/b"}
    assert request("POST", "/x/y").payload() == b"y"
    assert request("DELETE", "/x/y").status == 405
    assert request("GET", "/nope").status == 404
    assert app.dispatch(c.Request("GET", "/nope", {}, b"", ("", 0)), use_not_found=False) is None


def test_ip_to_int():
    # reference NOTES.md: 127.0.0.1 packs to 16777343
    assert c.ip_to_int("127.0.0.1") == 16777343
