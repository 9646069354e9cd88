"""Marathon flags and MARATHON_* variables (command-line-flags.md, exit-codes.md)."""

from __future__ import annotations

import pytest
from harness import run_standin

from mesosphere_standins import _framework as fw
from mesosphere_standins import marathon

INVALID_FLAG = 112  # exit-codes.md: InvalidCommandLineFlag


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        ([], {}, "Required option 'master' not found"),
        (["--master=zk://127.0.0.1:2181/mesos", "--no_such_flag=1"], {}, "Unknown option 'no_such_flag'"),
        (["--master=zk://127.0.0.1:2181/mesos", "--zk_session_timeout=abc"], {},
         "Bad arguments for option 'zk_session_timeout'"),
        (["--master=zk://127.0.0.1:2181/mesos", "--zk=127.0.0.1:2181/marathon"], {}, "zk://"),
        (["--master=zk://127.0.0.1:2181/mesos"], {"MARATHON_MASTER": "zk://127.0.0.1:2181/mesos"},
         "both as the environment variable MARATHON_MASTER"),
        (["--master=zk://127.0.0.1:2181/mesos", "--http_credentials=nocolon"], {}, "username:password"),
        (["--master=zk://127.0.0.1:2181/mesos", "--mesos_authentication_secret=a",
          "--mesos_authentication_secret_file=/tmp/x"], {}, "Only one of"),
        (["--master=zk://127.0.0.1:2181/mesos", "--logging_level=loud"], {}, "invalid value 'loud'"),
        (["--master=zk://127.0.0.1:2181/mesos", "--local_port_min=20000", "--local_port_max=10000"], {},
         "local_port_min"),
        (["--master=zk://127.0.0.1:2181/mesos", "--disable_http"], {}, "disable_http"),
        (["--master=zk://127.0.0.1:2181/mesos", "--ha=true"], {}, "does not take a value"),
    ],
)
def test_refused(args, env, needle):
    result = run_standin("marathon", args, env)
    assert result.returncode == INVALID_FLAG, result.stderr
    assert needle in result.stderr


def test_environment_variables_and_toggles():
    env = {"MARATHON_MASTER": "zk://h1:2181,h2:2181/mesos", "MARATHON_DISABLE_HA": "",
           "MARATHON_HTTP_PORT": "9090", "MESOSPHERE_HTTP_CREDENTIALS": "user:secret",
           "MARATHON_CHECKPOINT": ""}
    conf = marathon.parse_args([], env)
    assert conf["master"] == "zk://h1:2181,h2:2181/mesos"
    assert conf["ha"] is False
    assert conf["checkpoint"] is True
    assert conf["http_port"] == 9090
    assert conf["http_credentials"] == "user:secret"


def test_defaults_match_the_flag_documentation():
    conf = marathon.parse_args(["--master", "zk://h:2181/mesos"], {})
    assert conf["zk"] == "zk://localhost:2181/marathon"
    assert conf["http_port"] == 8080 and conf["https_port"] == 8443
    assert conf["framework_name"] == "marathon"
    assert conf["ha"] is True and conf["checkpoint"] is True
    assert conf["failover_timeout"] == 604800
    assert (conf["local_port_min"], conf["local_port_max"]) == (10000, 20000)
    assert conf["zk_session_timeout"] == 10000 and conf["zk_timeout"] == 10000
    assert conf["executor"] == "//cmd" and conf["http_realm"] == "Mesosphere"
    assert conf["max_running_deployments"] == 100
    conf = marathon.parse_args(["--master=zk://h:2181/mesos", "--disable_checkpoint", "--disable_ha"], {})
    assert conf["checkpoint"] is False and conf["ha"] is False


def test_zk_url_with_credentials():
    hosts, path, auth = fw.parse_zk_url("zk://user:pass@h1:2181,user:pass@h2:2181/marathon")
    assert (hosts, path, auth) == ("h1:2181,h2:2181", "/marathon", "user:pass")
    with pytest.raises(ValueError):
        fw.parse_zk_url("zk://h1/marathon")


def test_master_given_without_zookeeper():
    assert fw.MesosMaster("127.0.0.1:5050").leader() == "127.0.0.1:5050"
    assert fw.MesosMaster("http://master.example:5050/").leader() == "master.example:5050"
