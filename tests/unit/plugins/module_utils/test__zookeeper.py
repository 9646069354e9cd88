"""Tests of the private ZooKeeper helpers: host lists, four-letter words, summaries, digests.

The answers below were captured from a real ZooKeeper 3.8.0 ensemble (Debian package).
"""

from __future__ import annotations

import socket

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _zookeeper as zk

SRVR_FOLLOWER = (
    "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n"
    "Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\n"
    "Zxid: 0x0\nMode: follower\nNode count: 5\n"
)
SRVR_LEADER = (
    "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n"
    "Latency min/avg/max: 1/2.5/12\nReceived: 2\nSent: 3\nConnections: 4\nOutstanding: 7\n"
    "Zxid: 0x200000003\nMode: leader\nNode count: 5\nProposal sizes last/min/max: -1/-1/-1\n"
)
SRVR_STANDALONE = SRVR_FOLLOWER.replace("follower", "standalone")
SRVR_OBSERVER = SRVR_FOLLOWER.replace("follower", "observer")
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"
NOT_WHITELISTED = "mntr is not executed because it is not in the whitelist.\n"
MNTR = (
    "zk_version\t3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\nzk_server_state\tleader\n"
    "zk_peer_state\tleading - broadcast\nzk_avg_latency\t0.0\nzk_num_alive_connections\t1\n"
    "zk_synced_followers\t2\n"
)


# --------------------------------------------------------------------------------------------
# hosts


@pytest.mark.parametrize(("spec", "addresses", "chroot"), [
    ("zk1:2181,zk2:2182,zk3", ["zk1:2181", "zk2:2182", "zk3:2181"], ""),
    (["zk1:2181", "zk2"], ["zk1:2181", "zk2:2181"], ""),
    (["zk1:2181,zk2:2181", "zk3"], ["zk1:2181", "zk2:2181", "zk3:2181"], ""),
    ("zk://zk1:2181,zk2:2181/mesos", ["zk1:2181", "zk2:2181"], "/mesos"),
    ("ZK://zk1/a/b", ["zk1:2181"], "/a/b"),
    ("zk1:2181/", ["zk1:2181"], ""),
    ("zk1, zk1:2181 ,", ["zk1:2181"], ""),
    ("[fd00::1]:2190,fd00::2,[fd00::3]", ["[fd00::1]:2190", "[fd00::2]:2181", "[fd00::3]:2181"], ""),
])
def test_parse_hosts(spec, addresses, chroot):
    target = zk.parse_hosts(spec)
    assert target.addresses == addresses
    assert target.chroot == chroot
    assert target.username is None
    assert target.connection_string() == ",".join(addresses) + chroot


def test_parse_hosts_credentials_are_read_as_written():
    # nothing decodes them: not Mesos, not Marathon, not the ZooKeeper digest
    target = zk.parse_hosts("zk://mesos:p%40ss:w+=!@zk1:2181,zk2/mesos")
    assert (target.username, target.password) == ("mesos", "p%40ss:w+=!")
    assert target.addresses == ["zk1:2181", "zk2:2181"]
    assert target.chroot == "/mesos"


@pytest.mark.parametrize(("spec", "message"), [
    ("", "no ZooKeeper member"),
    (",,", "no ZooKeeper member"),
    ([], "no ZooKeeper member"),
    ("zk1:x", "not a number"),
    ("zk1:0", "out of range"),
    ("zk1:65536", "out of range"),
    ("[fd00::1", "unbalanced"),
    ("[fd00::1]x", "unexpected text"),
    (":2181", "no host name"),
    ("zk://user@zk1/mesos", "credentials"),
    ("zk1/mesos/", "not a valid ZooKeeper path"),
    ("zk1//mesos", "not a valid ZooKeeper path"),
    ([5], "each entry of hosts"),
    (5, "must be a string or a list"),
])
def test_parse_hosts_refuses(spec, message):
    with pytest.raises(zk.HostSpecError, match=message):
        zk.parse_hosts(spec)


# --------------------------------------------------------------------------------------------
# the socket


class FakeSocket:
    def __init__(self, chunks=(), recv_error=None, send_error=None):
        self.chunks = list(chunks)
        self.recv_error = recv_error
        self.send_error = send_error
        self.sent = b""
        self.closed = False
        self.timeouts = []

    def sendall(self, data):
        if self.send_error:
            raise self.send_error
        self.sent += data

    def settimeout(self, value):
        self.timeouts.append(value)

    def recv(self, size):
        if self.chunks:
            return self.chunks.pop(0)
        if self.recv_error:
            raise self.recv_error
        return b""

    def close(self):
        self.closed = True


def connector(sock=None, error=None):
    calls = []

    def connect(address, timeout):
        calls.append((address, timeout))
        if error:
            raise error
        return sock

    connect.calls = calls
    return connect


def test_send_reads_until_eof_and_closes():
    sock = FakeSocket([SRVR_LEADER[:10].encode(), SRVR_LEADER[10:].encode()])
    connect = connector(sock)
    assert zk.send_four_letter_word("zk1", 2181, "srvr", 3, connect=connect) == SRVR_LEADER
    assert sock.sent == b"srvr"
    assert sock.closed
    assert connect.calls == [(("zk1", 2181), 3)]
    assert all(0 < t <= 3 for t in sock.timeouts)


@pytest.mark.parametrize(("error", "kind", "reachable", "message"), [
    (ConnectionRefusedError(111, "Connection refused"), zk.MemberUnreachable, False, "refused"),
    (TimeoutError(), zk.MemberTimeout, False, "no TCP connection to zk1:2181 within 2s"),
    (socket.gaierror(-2, "Name or service not known"), zk.MemberUnreachable, False, "cannot resolve zk1"),
    (OSError(113, "No route to host"), zk.MemberUnreachable, False, "No route to host"),
])
def test_send_connection_errors(error, kind, reachable, message):
    with pytest.raises(kind, match=message) as info:
        zk.send_four_letter_word("zk1", 2181, "srvr", 2, connect=connector(error=error))
    assert info.value.reachable is reachable


def test_send_answer_timeout_is_reachable():
    sock = FakeSocket([b"Zookeeper"], recv_error=TimeoutError())
    with pytest.raises(zk.MemberTimeout, match="accepted the connection but sent no complete answer") as info:
        zk.send_four_letter_word("zk1", 2181, "srvr", 1, connect=connector(sock))
    assert info.value.reachable
    assert sock.closed


def test_send_reset_is_reported():
    sock = FakeSocket(recv_error=ConnectionResetError(104, "Connection reset by peer"))
    with pytest.raises(zk.MemberUnreachable, match="closed the connection") as info:
        zk.send_four_letter_word("zk1", 2181, "srvr", 1, connect=connector(sock))
    assert info.value.reachable


def test_send_write_error_is_reported():
    sock = FakeSocket(send_error=BrokenPipeError(32, "Broken pipe"))
    with pytest.raises(zk.MemberUnreachable, match="Broken pipe"):
        zk.send_four_letter_word("zk1", 2181, "srvr", 1, connect=connector(sock))


def test_send_refuses_endless_answers():
    sock = FakeSocket([b"x" * 65536] * 20)
    with pytest.raises(zk.MalformedAnswer, match="more than"):
        zk.send_four_letter_word("zk1", 2181, "srvr", 1, connect=connector(sock))


def test_send_not_whitelisted():
    sock = FakeSocket([NOT_WHITELISTED.encode()])
    with pytest.raises(zk.NotWhitelisted, match="4lw.commands.whitelist"):
        zk.send_four_letter_word("zk1", 2181, "mntr", 1, connect=connector(sock))


def test_send_not_serving():
    sock = FakeSocket([NOT_SERVING.encode()])
    with pytest.raises(zk.NotServing, match="not serving"):
        zk.send_four_letter_word("zk1", 2181, "srvr", 1, connect=connector(sock))


def test_send_deadline_covers_the_whole_answer(monkeypatch):
    clock = iter([100.0, 100.5, 102.0])
    monkeypatch.setattr(zk.time, "monotonic", lambda: next(clock))
    sock = FakeSocket([b"a", b"b", b"c"])
    with pytest.raises(zk.MemberTimeout):
        zk.send_four_letter_word("zk1", 2181, "srvr", 1, connect=connector(sock))


# --------------------------------------------------------------------------------------------
# parsers


def test_parse_srvr_leader():
    parsed = zk.parse_srvr(SRVR_LEADER)
    assert parsed == dict(
        version="3.8.0-${mvngit.commit.id}",
        mode="leader",
        zxid="0x200000003",
        epoch=2,
        latency=dict(min=1.0, avg=2.5, max=12.0),
        received=2,
        sent=3,
        connections=4,
        outstanding=7,
        node_count=5,
    )


def test_parse_srvr_follower_zero_zxid():
    parsed = zk.parse_srvr(SRVR_FOLLOWER)
    assert (parsed["mode"], parsed["zxid"], parsed["epoch"]) == ("follower", "0x0", 0)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty answer"),
    ("imok", "no version or mode"),
    ("Zookeeper version: 3.8.0\n", "no version or mode"),
    ("Mode: leader\n", "no version or mode"),
    (SRVR_FOLLOWER.replace("0x0", "0xZZ"), "not hexadecimal"),
    (SRVR_FOLLOWER.replace("0/0.0/0", "0/0"), "not min/avg/max"),
    (SRVR_FOLLOWER.replace("0/0.0/0", "a/b/c"), "not numeric"),
])
def test_parse_srvr_malformed(text, message):
    with pytest.raises(zk.MalformedAnswer, match=message):
        zk.parse_srvr(text)


def test_parse_srvr_tolerates_missing_counters():
    parsed = zk.parse_srvr("Zookeeper version: 3.9.1\nMode: follower\nConnections: many\n")
    assert parsed["connections"] is None
    assert parsed["zxid"] is None
    assert parsed["latency"] is None


def test_parse_mntr():
    values = zk.parse_mntr(MNTR)
    assert values["zk_server_state"] == "leader"
    assert values["zk_synced_followers"] == 2
    assert values["zk_avg_latency"] == 0.0
    assert values["zk_version"].startswith("3.8.0")
    assert values["zk_peer_state"] == "leading - broadcast"


@pytest.mark.parametrize(("text", "message"), [
    ("zk_version 3.8\n", "not a mntr line"),
    ("hello\tworld\n", "not a mntr line"),
    ("zk_version\t3.8\n", "no zk_server_state"),
])
def test_parse_mntr_malformed(text, message):
    with pytest.raises(zk.MalformedAnswer, match=message):
        zk.parse_mntr(text)


# --------------------------------------------------------------------------------------------
# probe and summary


def fake_send(answers):
    """A send_four_letter_word stand-in: answers[(host, command)] is text or an exception."""
    calls = []

    def send(host, port, command, timeout):
        calls.append((host, command))
        answer = answers[(host, command)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    send.calls = calls
    return send


def test_probe_serving_member_with_extras():
    send = fake_send({("zk1", "srvr"): SRVR_LEADER, ("zk1", "ruok"): "imok", ("zk1", "mntr"): MNTR})
    member = zk.probe_member("zk1", 2181, 2, mntr=True, ruok=True, send=send)
    assert member["reachable"] and member["serving"]
    assert member["mode"] == "leader"
    assert member["ruok"] is True
    assert member["mntr"]["zk_synced_followers"] == 2
    assert member["error"] is None
    assert member["address"] == "zk1:2181"


def test_probe_unreachable_member_asks_nothing_more():
    send = fake_send({("zk1", "srvr"): zk.MemberUnreachable("connection to zk1:2181 refused")})
    member = zk.probe_member("zk1", 2181, 2, mntr=True, ruok=True, send=send)
    assert send.calls == [("zk1", "srvr")]
    assert not member["reachable"] and not member["serving"]
    assert member["mode"] is None
    assert "refused" in member["error"]
    assert member["ruok"] is None and member["mntr"] is None


def test_probe_not_serving_member():
    send = fake_send({("zk1", "srvr"): zk.NotServing("zk1:2181 is running but not serving")})
    member = zk.probe_member("zk1", 2181, 2, send=send)
    assert member["reachable"] and not member["serving"]
    assert "not serving" in member["error"]


def test_probe_malformed_srvr():
    send = fake_send({("zk1", "srvr"): "SSH-2.0-OpenSSH_9.2\r\n"})
    member = zk.probe_member("zk1", 22, 2, send=send)
    assert member["reachable"] and not member["serving"]
    assert "not a srvr answer" in member["error"]


def test_probe_unknown_mode_is_not_serving():
    send = fake_send({("zk1", "srvr"): SRVR_FOLLOWER.replace("follower", "looking")})
    member = zk.probe_member("zk1", 2181, 2, send=send)
    assert member["reachable"] and not member["serving"]
    assert "looking" in member["error"]


def test_probe_extras_not_whitelisted_keep_srvr_data():
    send = fake_send({
        ("zk1", "srvr"): SRVR_FOLLOWER,
        ("zk1", "ruok"): zk.NotWhitelisted("zk1:2181 does not allow ruok"),
        ("zk1", "mntr"): zk.MalformedAnswer("not a mntr line"),
    })
    member = zk.probe_member("zk1", 2181, 2, mntr=True, ruok=True, send=send)
    assert member["serving"] and member["mode"] == "follower"
    assert member["ruok"] is None and member["mntr"] is None
    assert "ruok: zk1:2181 does not allow ruok" in member["error"]
    assert "mntr: not a mntr line" in member["error"]


def test_probe_ruok_silent():
    send = fake_send({("zk1", "srvr"): SRVR_FOLLOWER, ("zk1", "ruok"): ""})
    assert zk.probe_member("zk1", 2181, 2, ruok=True, send=send)["ruok"] is False


def members(*modes):
    result = []
    for i, mode in enumerate(modes, 1):
        result.append(dict(
            address="zk%d:2181" % i,
            mode=mode,
            serving=mode in zk.SERVING_MODES,
            reachable=mode != "down",
        ))
    return result


@pytest.mark.parametrize(("modes", "quorum", "leader", "voting"), [
    (("follower", "leader", "follower"), True, "zk2:2181", 3),
    (("down", "leader", "follower"), True, "zk2:2181", 2),
    (("down", "down", "leader"), False, "zk3:2181", 1),
    (("not-serving", "down", "not-serving"), False, None, 0),
    (("leader", "leader", "follower"), False, None, 3),
    (("follower", "follower", "follower"), False, None, 3),
    (("standalone",), True, None, 0),
    (("standalone", "standalone", "standalone"), False, None, 0),
    (("leader", "follower", "follower", "down", "down"), True, "zk1:2181", 3),
    (("leader", "follower", "down", "down", "down"), False, "zk1:2181", 2),
    (("leader", "follower", "down", "down"), False, "zk1:2181", 2),
    (("leader", "follower", "observer"), True, "zk1:2181", 2),
    (("leader", "observer", "observer"), False, "zk1:2181", 1),
])
def test_summarize(modes, quorum, leader, voting):
    summary = zk.summarize(members(*modes))
    assert summary["quorum"] is quorum
    assert summary["leader"] == leader
    assert summary["voting_serving"] == voting
    assert summary["size"] == len(modes)
    assert summary["majority"] == len(modes) // 2 + 1
    assert summary["unreachable"] == [m["address"] for m in members(*modes) if m["mode"] == "down"]


def test_summarize_split_brain_lists_both_leaders():
    summary = zk.summarize(members("leader", "leader", "follower"))
    assert summary["leaders"] == ["zk1:2181", "zk2:2181"]


# --------------------------------------------------------------------------------------------
# digests and ACLs


def test_digest_id_matches_zookeeper():
    # The value ZooKeeper's DigestAuthenticationProvider prints for super:secret.
    assert zk.digest_id("super", "secret") == "super:lK75jTNcA+U9vtVEw5vB51mj/w4="


@pytest.mark.parametrize(("names", "value"), [
    (["all"], 31), (["read"], 1), (["read", "write"], 3), (["create", "delete", "admin"], 28),
    (["read", "all"], 31),
])
def test_permissions(names, value):
    assert zk.permissions_to_int(names) == value


@pytest.mark.parametrize(("value", "names"), [(31, ["all"]), (1, ["read"]), (17, ["read", "admin"]), (0, [])])
def test_permission_names(value, names):
    assert zk.permissions_to_names(value) == names


@pytest.mark.parametrize(("entry", "key"), [
    (dict(scheme="world", permissions=["read"]), ("world", "anyone", 1)),
    (dict(scheme="world", id="anyone"), ("world", "anyone", 31)),
    (dict(scheme="digest", username="super", password="secret", permissions=["all"]),
     ("digest", "super:lK75jTNcA+U9vtVEw5vB51mj/w4=", 31)),
    (dict(scheme="digest", id="mesos:abc="), ("digest", "mesos:abc=", 31)),
    (dict(scheme="ip", id="10.0.0.0/8", permissions=["read", "write"]), ("ip", "10.0.0.0/8", 3)),
])
def test_acl_entry_to_key(entry, key):
    assert zk.acl_entry_to_key(entry) == key


@pytest.mark.parametrize(("entry", "message"), [
    (dict(scheme="world", id="bob"), "only has the id 'anyone'"),
    (dict(scheme="digest"), "needs username and password"),
    (dict(scheme="digest", id="nocolon"), "needs username and password"),
    (dict(scheme="digest", username="u", password="p", id="u:x"), "either id"),
    (dict(scheme="digest", username="u"), "either id"),
    (dict(scheme="ip"), "needs id"),
    (dict(scheme="sasl", id="x"), "unsupported"),
    (dict(scheme="world", permissions=[]), "at least one permission"),
])
def test_acl_entry_refused(entry, message):
    with pytest.raises(ValueError, match=message):
        zk.acl_entry_to_key(entry)


def test_acl_key_to_dict():
    assert zk.acl_key_to_dict(("ip", "10.1.1.1", 17)) == dict(scheme="ip", id="10.1.1.1", permissions=["read", "admin"])


def test_argument_spec_matches_doc_fragment():
    import yaml

    from ansible_collections.mesosphere.cluster.plugins.doc_fragments.zookeeper import ModuleDocFragment

    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = zk.zookeeper_argument_spec()
    assert set(doc) == set(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"]
        assert doc[name].get("default") == option.get("default")
        assert doc[name].get("required", False) == option.get("required", False)
