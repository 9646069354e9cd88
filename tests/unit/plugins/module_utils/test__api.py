import urllib.error

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _api

M1 = "http://m1:5050"
M2 = "http://m2:5050"
M3 = "http://m3:5050"


def refused():
    return urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


def test_mesos_leader_from_redirect_without_following(fake_http):
    fake_http.add("GET", M1 + "/master/redirect", 307, headers={"Location": "//m2:5050"})
    client = _api.ApiClient("mesos", [M1, M2])
    assert client.find_leader() == M2
    assert fake_http.calls == [("GET", M1 + "/master/redirect", None)]
    assert fake_http.kwargs[0]["follow_redirects"] == "none"
    # remembered
    assert client.find_leader() == M2
    assert len(fake_http.calls) == 1


def test_mesos_leader_keeps_https_scheme(fake_http):
    fake_http.add("GET", "https://m1:5050/master/redirect", 307, headers={"Location": "//m3:5050"})
    client = _api.ApiClient("mesos", ["https://m1:5050"])
    assert client.find_leader() == "https://m3:5050"


def test_failover_on_connection_error(fake_http):
    fake_http.add("GET", M1 + "/master/redirect", error=refused())
    fake_http.add("GET", M2 + "/master/redirect", 307, headers={"Location": "//m3:5050"})
    fake_http.add("GET", M3 + "/master/state", 200, body={"pid": "master@m3:5050"})
    client = _api.ApiClient("mesos", ["m1:5050", M2, M3 + "/"])
    assert client.get_json("/master/state") == {"pid": "master@m3:5050"}
    assert [c[1] for c in fake_http.calls] == [M1 + "/master/redirect", M2 + "/master/redirect", M3 + "/master/state"]


def test_no_leader(fake_http):
    fake_http.add("GET", M1 + "/master/redirect", 503, body="No leader elected")
    client = _api.ApiClient("mesos", [M1], retries=0)
    with pytest.raises(_api.NoLeaderError, match="No Mesos master leader is elected: http://m1:5050"):
        client.get_json("/master/state")


def test_all_unreachable_names_every_endpoint(fake_http):
    fake_http.add("GET", M1 + "/master/redirect", error=refused(), repeat=True)
    fake_http.add("GET", M2 + "/master/redirect", error=TimeoutError("timed out"), repeat=True)
    client = _api.ApiClient("mesos", [M1, M2], retries=1)
    with pytest.raises(_api.EndpointUnreachable) as info:
        client.get_json("/master/state")
    text = str(info.value)
    assert "Could not reach any Mesos master endpoint for GET /master/redirect" in text
    assert "http://m1:5050/master/redirect: [Errno 111] Connection refused" in text
    assert "http://m2:5050/master/redirect: timed out" in text
    assert len(fake_http.calls) == 4  # two rounds: one retry
    assert fake_http.slept == [0.5]


def test_get_retried_on_5xx_with_backoff(fake_http):
    fake_http.add("GET", "http://mt1:8080/v2/leader", 200, body={"leader": "mt1:8080"}, repeat=True)
    fake_http.add("GET", "http://mt1:8080/v2/apps", 503, body={"message": "busy"})
    fake_http.add("GET", "http://mt1:8080/v2/apps", 502, body={"message": "busy"})
    fake_http.add("GET", "http://mt1:8080/v2/apps", 200, body={"apps": []})
    client = _api.ApiClient("marathon", ["http://mt1:8080"], retries=2)
    assert client.get_json("/v2/apps") == {"apps": []}
    assert fake_http.slept == [0.5, 1.0]


def test_get_5xx_exhausted_raises_with_server_message(fake_http):
    fake_http.add("GET", "http://mt1:8080/v2/leader", 200, body={"leader": "mt1:8080"}, repeat=True)
    fake_http.add("GET", "http://mt1:8080/v2/apps", 500, body={"message": "boom"}, repeat=True)
    client = _api.ApiClient("marathon", ["http://mt1:8080"], retries=1)
    with pytest.raises(_api.HttpStatusError, match=r"GET http://mt1:8080/v2/apps answered HTTP 500: boom\."):
        client.get_json("/v2/apps")


def test_write_not_retried_on_5xx(fake_http):
    fake_http.add("GET", "http://c1:4400/leader", 200, body={"leader": "c1:4400"})
    fake_http.add("POST", "http://c1:4400/v1/scheduler/iso8601", 500, body="oops")
    client = _api.ApiClient("chronos", ["http://c1:4400"], retries=3)
    with pytest.raises(_api.HttpStatusError) as info:
        client.request("POST", "/v1/scheduler/iso8601", body={"name": "x"}, expect=(204,))
    assert info.value.status == 500
    assert info.value.server_message == "oops"
    assert len(fake_http.writes()) == 1


def test_write_fails_over_on_refused_but_not_on_timeout(fake_http):
    fake_http.add("GET", "http://mt1:8080/v2/leader", 200, body={"leader": "mt1:8080"})
    fake_http.add("PUT", "http://mt1:8080/v2/apps/a", error=refused())
    fake_http.add("PUT", "http://mt2:8080/v2/apps/a", 200, body={"deploymentId": "d"})
    client = _api.ApiClient("marathon", ["http://mt1:8080", "http://mt2:8080"])
    assert client.request("PUT", "/v2/apps/a", body={"id": "/a"}).json() == {"deploymentId": "d"}

    fake_http.add("GET", "http://mt1:8080/v2/leader", 200, body={"leader": "mt1:8080"})
    fake_http.add("PUT", "http://mt1:8080/v2/apps/b", error=TimeoutError("timed out"))
    with pytest.raises(_api.EndpointUnreachable):
        client.request("PUT", "/v2/apps/b", body={"id": "/b"})
    assert [c[1] for c in fake_http.writes()][-1] == "http://mt1:8080/v2/apps/b"


def test_mesos_standby_307_followed_by_hand_keeping_method(fake_http):
    # the leader changed after discovery: the old leader now redirects to the new one
    fake_http.add("GET", M1 + "/master/redirect", 307, headers={"Location": "//m1:5050"})
    fake_http.add("POST", M1 + "/master/machine/down", 307, headers={"Location": "//m2:5050/master/machine/down"})
    fake_http.add("POST", M2 + "/master/machine/down", 200)
    client = _api.ApiClient("mesos", [M1])
    client.request("POST", "/master/machine/down", body=[{"hostname": "a"}])
    assert fake_http.calls[-1] == ("POST", M2 + "/master/machine/down", [{"hostname": "a"}])


def test_basic_auth_and_tls_options_passed(fake_http):
    fake_http.add("GET", "https://c1:4400/leader", 200, body={"leader": "c1:4400"})
    client = _api.ApiClient("chronos", ["https://c1:4400"], username="u", password="p", validate_certs=False,
                            ca_path="/ca.pem", client_cert="/c.pem", client_key="/k.pem", timeout=3)
    assert client.find_leader() == "https://c1:4400"
    kw = fake_http.kwargs[0]
    assert kw["url_username"] == "u" and kw["url_password"] == "p" and kw["force_basic_auth"] is True
    assert kw["validate_certs"] is False and kw["ca_path"] == "/ca.pem"
    assert kw["client_cert"] == "/c.pem" and kw["client_key"] == "/k.pem" and kw["timeout"] == 3
    assert kw["http_agent"] == "ansible-mesosphere.cluster"


def test_marathon_no_leader_404(fake_http):
    fake_http.add("GET", "http://mt1:8080/v2/leader", 404, body={"message": "There is no leader"})
    client = _api.ApiClient("marathon", ["http://mt1:8080"], retries=0)
    with pytest.raises(_api.NoLeaderError):
        client.find_leader()


def test_unexpected_status_error_text_has_details(fake_http):
    fake_http.add("GET", "http://mt1:8080/v2/leader", 200, body={"leader": "mt1:8080"})
    fake_http.add("POST", "http://mt1:8080/v2/apps", 422, body={
        "message": "Object is not valid",
        "details": [{"path": "/cpus", "errors": ["must be positive"]}]})
    client = _api.ApiClient("marathon", ["http://mt1:8080"])
    with pytest.raises(_api.HttpStatusError) as info:
        client.request("POST", "/v2/apps", body={}, expect=(201,))
    assert str(info.value) == (
        "POST http://mt1:8080/v2/apps answered HTTP 422: Object is not valid (/cpus: must be positive).")


def test_body_not_json_is_an_api_error(fake_http):
    fake_http.add("GET", "http://c1:4400/leader", 200, body="<html>")
    client = _api.ApiClient("chronos", ["http://c1:4400"])
    with pytest.raises(_api.ApiError, match="not JSON"):
        client.find_leader()


def test_wait_until_returns_and_times_out(fake_http):
    seen = []

    def check():
        seen.append(1)
        return len(seen) >= 3, len(seen)

    assert _api.wait_until(check, timeout=10, delay=1) == 3
    with pytest.raises(_api.WaitTimeout, match="Timed out after 2s waiting for the thing") as info:
        _api.wait_until(lambda: (False, "last"), timeout=2, delay=1, what="the thing")
    assert info.value.last == "last"


def test_client_from_params():
    params = dict(marathon_endpoints=["mt1:8080"], marathon_username="u", marathon_password="p",
                  validate_certs=True, ca_path=None, client_cert=None, client_key=None,
                  request_timeout=5.0, request_retries=0)
    client = _api.client_from_params(params, "marathon")
    assert client.endpoints == ["http://mt1:8080"] and client.retries == 0 and client.timeout == 5.0
    assert _api.client_from_params(params, "chronos") is None


def test_argument_specs_mark_passwords_no_log():
    for spec in (_api.mesos_argument_spec(), _api.marathon_argument_spec(), _api.chronos_argument_spec()):
        assert [k for k, v in spec.items() if v.get("no_log")] == [k for k in spec if k.endswith("_password")]


def test_not_http_is_unreachable(fake_http):
    fake_http.add("GET", "http://c1:4400/leader", error=_api.http.client.BadStatusLine("SSH-2.0-OpenSSH"))
    client = _api.ApiClient("chronos", ["http://c1:4400"], retries=0)
    with pytest.raises(_api.EndpointUnreachable, match="http://c1:4400/leader: "):
        client.find_leader()


def test_401_says_to_check_credentials(fake_http):
    fake_http.add("GET", "http://c1:4400/leader", 401, body="")
    client = _api.ApiClient("chronos", ["http://c1:4400"], retries=0)
    with pytest.raises(_api.HttpStatusError) as info:
        client.find_leader()
    assert str(info.value) == ("GET http://c1:4400/leader answered HTTP 401. "
                               "Check the username and password given for Chronos.")


@pytest.mark.parametrize("url, shown", [
    ("zk://mesos:p%40ss+=!@z1:2181,z2:2181/mesos", "zk://mesos:********@z1:2181,z2:2181/mesos"),
    ("zk://mesos:a@b@z1:2181/mesos", "zk://mesos:********@z1:2181/mesos"),
    ("http://ops:s3cret@m1:5050", "http://ops:********@m1:5050"),
    ("zk://z1:2181,z2:2181/mesos", "zk://z1:2181,z2:2181/mesos"),
    ("zk://user@z1:2181/mesos", "zk://user@z1:2181/mesos"),
    ("file:///etc/mesos/zk", "file:///etc/mesos/zk"),
    (None, None),
])
def test_redact_url_keeps_the_password_out(url, shown):
    assert _api.redact_url(url) == shown
