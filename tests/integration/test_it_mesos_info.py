import time

from integration_helpers import http_json


def test_mesos_info_reads_the_cluster(standin_cluster, endpoints, ansible_module):
    # The frameworks register shortly after the cluster is up: look again for a while.
    deadline = time.monotonic() + 60
    while True:
        result = ansible_module("mesos_info", dict(mesos_endpoints=endpoints["mesos"]), check=True)
        names = sorted(f["name"] for f in result.get("frameworks", []) if f["active"])
        if ("marathon" in names and "chronos" in names) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    leading = standin_cluster.leading_master(timeout=10)
    assert result["leader"] == "127.0.0.1:%d" % leading.port and result["masters_agree"] is True
    assert sorted(m["elected"] for m in result["masters"]) == [False, False, True]
    assert all(m["flags"].get("quorum") == "2" for m in result["masters"])
    assert all(m["flags"].get("zk", "").startswith("zk://") for m in result["masters"])
    # the server, read independently
    status, state = http_json(leading.url("/master/state"))
    assert status == 200
    assert sorted(a["id"] for a in result["agents"]) == sorted(s["id"] for s in state["slaves"])
    names = sorted(f["name"] for f in result["frameworks"])
    assert "marathon" in names and "chronos" in names
    zk = result["zookeeper"]
    assert zk["error"] is None and zk["agrees"] is True, zk
