"""playbooks/remove_node.yml's checks, run for real by ansible-playbook on local hosts.

Each run names what to remove in a way the playbook must refuse before any host is touched,
and the sentence is checked; a good request gets as far as the confirmation, which a run
without a terminal cannot give, so nothing is changed in any test. The masters and ZooKeeper
members that stay are asked whether they serve: a ZooKeeper member and a Mesos master stand in
for all of them on this machine (every host's address is 127.0.0.1), each answering only what the
playbook asks (`srvr`; any HTTP answer means the master answers).
"""

from __future__ import annotations

import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PLAYBOOK = """
- name: The collection's remove_node.yml
  ansible.builtin.import_playbook: mesosphere.cluster.remove_node
"""
MASTERS = [f"m{i}" for i in range(1, 6)]


class _Srvr(socketserver.BaseRequestHandler):
    def handle(self):
        if self.request.recv(16).startswith(b"srvr") and self.server.serving:
            self.request.sendall(b"Zookeeper version: 3.8.0-standin\nMode: follower\nNode count: 5\n")


class _Master(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def zookeeper():
    """A ZooKeeper member on a free port of 127.0.0.1; `serving = False` takes it down."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Srvr)
    server.serving = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def master():
    """A Mesos master on a free port of 127.0.0.1 (any HTTP answer: it answers)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Master)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def addresses(zookeeper, master):
    """Every host's variables: its ZooKeeper member and Mesos master are the two above."""
    yield {"zookeeper_address": "127.0.0.1", "zookeeper_client_port": zookeeper.server_address[1],
           "mesos_master_hostname": "127.0.0.1", "mesos_master_port": master.server_address[1]}
    zookeeper.serving = True


def inventory(addresses, ids=False):
    masters = {name: dict(addresses, **({"zookeeper_id": index} if ids else {}))
               for index, name in enumerate(MASTERS, 1)}
    return {"masters": masters, "slaves": {"s1": None, "s2": None}}


@pytest.fixture
def remove(run_play, addresses):
    def _remove(node, ids=False, **extra):
        return run_play(PLAYBOOK, inventory(addresses, ids), "all", extra=dict(extra, node=node))

    return _remove


# what is named, and the sentences of its refusal
REFUSED = {
    "nothing named": ("", ["remove_node.yml needs what to remove: -e node=NAME"]),
    "an unknown name": ("m4,nope", ["nope is not in the inventory. Nothing was changed."]),
    "agents and masters together": ("s1,m5", ["s1, m5 mixes agents and masters or ZooKeeper members"]),
    "two agents at once": ("s1,s2", ["remove_node.yml removes one agent per run; s1, s2 are agents"]),
    "fewer than three masters left": ("m3,m4,m5", [
        "Removing m3, m4, m5 would leave 2 masters and 2 ZooKeeper members; fewer than three",
        "remove_node_allow_fewer=true",
    ]),
    "an even number left": ("m5", [
        "4 masters would be left: an even number",
        "4 ZooKeeper members would be left: an even ensemble",
    ]),
    "a removal that moves the ids of the others": ("m1,m2", ["so the ids of m3, m4, m5 would move"]),
    # no master would be left to run the checks on: refused by the first play
    "every master": (",".join(MASTERS), ["Removing m1, m2, m3, m4, m5 would leave no Mesos master"]),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_before_the_confirmation(remove, case):
    node, sentences = REFUSED[case]
    rc, out = remove(node)
    assert rc != 0
    for sentence in sentences:
        assert sentence in out
    assert "Not confirmed" not in out  # refused before the confirmation


def test_with_explicit_ids_the_first_members_can_go_once_confirmed(remove):
    rc, out = remove("m1,m2", ids=True)
    assert rc != 0  # no terminal here: the confirmation stops it
    assert "would move" not in out
    assert "Not confirmed, so nothing was changed" in out
    assert "ZooKeeper then runs on m3, m4, m5 and the Mesos masters m3, m4, m5 restart with --quorum=2" in out


def test_the_last_two_members_go_once_confirmed(remove):
    rc, out = remove("m4,m5")
    assert rc != 0
    assert "Not confirmed, so nothing was changed" in out
    assert "To go on, type m4,m5 at the prompt or set -e remove_node_confirmed=true" in out
    # none of the agent's tasks ran
    assert "TASK [Read the agents the master knows" not in out
    assert "TASK [Put the machine in a maintenance window" not in out


UNREACHABLE = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1}  # a closed port


def dead(run_play, addresses, node, name, **extra):
    """remove() with `name` unreachable."""
    hosts = inventory(addresses)
    hosts["masters"][name] = dict(hosts["masters"][name], **UNREACHABLE)
    return run_play(PLAYBOOK, hosts, "all", extra=dict(extra, node=node))


def test_an_unreachable_member_is_refused_unless_declared_dead(run_play, addresses):
    rc, out = dead(run_play, addresses, "m4,m5", "m5")
    assert rc != 0
    assert "m5 cannot be reached. If dead, -e remove_node_unreachable=true" in out
    assert "Not confirmed" not in out


def test_a_dead_member_is_left_alone_and_the_others_are_still_stopped(run_play, addresses):
    rc, out = dead(run_play, addresses, "m4,m5", "m5", remove_node_unreachable=True)
    assert rc != 0  # no terminal here: the confirmation stops it
    assert "cannot be reached" not in out
    assert "HAProxy stop for good on m4 (m5, unreachable, is left as it is)" in out
    assert "Not confirmed, so nothing was changed" in out


def test_an_unreachable_agent_is_refused_unless_declared_dead(run_play, addresses):
    hosts = inventory(addresses)
    hosts["slaves"]["s2"] = UNREACHABLE
    rc, out = run_play(PLAYBOOK, hosts, "all", extra={"node": "s2"})
    assert rc != 0
    assert "s2 cannot be reached (" in out and "If it is dead, -e remove_node_unreachable=true" in out
    assert "Not confirmed" not in out


def test_a_zookeeper_member_that_stays_but_does_not_serve_is_refused(remove, zookeeper):
    zookeeper.serving = False
    rc, out = remove("m4,m5")
    assert rc != 0
    assert "which would stay in the ensemble, does not serve" in out
    assert "without it the ensemble would lose its quorum: bring it back first. Nothing was changed." in out
    assert "Not confirmed" not in out


def test_a_mesos_master_that_stays_but_does_not_answer_is_refused(run_play, addresses):
    hosts = inventory(addresses)
    hosts["masters"]["m2"] = dict(hosts["masters"]["m2"], mesos_master_port=1)  # nothing listens there
    rc, out = run_play(PLAYBOOK, hosts, "all", extra={"node": "m4,m5"})
    assert rc != 0
    assert "The Mesos master at http://127.0.0.1:1, which would stay, does not answer" in out
    assert "Not confirmed" not in out
