"""Chronos flags (configuration.md; reference README note 10)."""

from __future__ import annotations

import pytest
from harness import run_standin

from mesosphere_standins import chronos


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--no_such_flag=1"], "Unknown option 'no_such_flag'"),
        (["--zk_hosts=zk://127.0.0.1:2181/chronos"], "zk_hosts"),
        (["--zk_hosts=127.0.0.1"], "zk_hosts"),
        (["--zk_path=chronos"], "zk_path"),
        (["--zk_timeout=soon"], "Bad arguments for option 'zk_timeout'"),
        (["--master=zk://nohostport/mesos"], "master"),
        (["--http_credentials=nocolon"], "username:password"),
        (["stray"], "Excess arguments provided: 'stray'"),
    ],
)
def test_refused(args, needle):
    result = run_standin("chronos", args)
    assert result.returncode != 0
    assert needle in result.stderr


def test_defaults():
    conf = chronos.parse_args([], {})
    assert conf["master"] == "local"
    assert conf["zk_hosts"] == "localhost:2181"
    assert conf["zk_path"] == "/chronos/state"
    assert conf["mesos_framework_name"] == "chronos"
    assert (conf["mesos_task_cpu"], conf["mesos_task_mem"], conf["mesos_task_disk"]) == (0.1, 128.0, 256.0)


def test_short_options_and_switches():
    conf = chronos.parse_args(["-z", "h1:2181,h2:2181", "--http_port", "4400", "--mesos_checkpoint",
                               "--disable_http_compression"], {})
    assert conf["zk_hosts"] == "h1:2181,h2:2181"
    assert conf["http_port"] == 4400
    assert conf["mesos_checkpoint"] is True
    assert conf["http_compression"] is False


def test_schedule_parsing():
    reps, start, period = chronos.parse_schedule("R10/2012-10-01T05:52:00Z/PT2S")
    assert reps == 10 and start.year == 2012 and period == 2
    reps, start, period = chronos.parse_schedule("R//P1DT1H")
    assert reps is None and start is None and period == 90000
    with pytest.raises(ValueError):
        chronos.parse_schedule("every day")
