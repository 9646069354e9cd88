"""TLS: the HTTPS virtual-host frontend (every deployed certificate, SNI picks one),
marathon-lb's HAPROXY_{n}_REDIRECT_TO_HTTPS, HAPROXY_{n}_SSL_CERT and HAPROXY_{n}_BIND_OPTIONS
labels, rendered and then served by a real HAProxy in master-worker mode. The certificates are
self-signed, made by the `openssl` command in a temporary folder."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml
from haproxy_sync_helpers import (
    HAPROXY,
    Backend,
    MasterWorker,
    StaticClient,
    app,
    free_port,
    requires_haproxy,
    task,
    wait_serving,
)
from marathon_haproxy_sync.config import Config
from marathon_haproxy_sync.haproxy import HAProxy
from marathon_haproxy_sync.render import HTTPS_FRONTEND, assemble, binds, frontends, render_blocks
from marathon_haproxy_sync.services import build_services
from marathon_haproxy_sync.syncer import Syncer

OPENSSL = shutil.which("openssl")
requires_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def make_certificate(folder: Path, name: str, host: str) -> Path:
    """A self-signed certificate for `host` and its key, in one file `<name>.pem` (as the role
    deploys them); the certificate alone in `<name>.crt` (outside HAProxy's folder)."""
    key, crt = folder.parent / f"{name}.key", folder.parent / f"{name}.crt"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={host}",
         "-addext", f"subjectAltName=DNS:{host}", "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True,
    )  # fmt: skip
    pem = folder / f"{name}.pem"
    pem.write_text(crt.read_text() + key.read_text())
    pem.chmod(0o600)
    return crt


@pytest.fixture
def certs(tmp_path):
    folder = tmp_path / "certs"
    folder.mkdir()
    return folder, {"shop": make_certificate(folder, "shop", "shop.test"),
                    "other": make_certificate(folder, "other", "other.test")}  # fmt: skip


def tls_config(make_config, folder, **overrides):
    values = {"https_port": 8443, "certificates_dir": str(folder), "certificates": ["other", "shop"]}
    values.update(overrides)
    return make_config(**values)


def render(cfg, apps):
    services, rejected = build_services(apps, cfg)
    text, owners = assemble(render_blocks(services, cfg), cfg)
    return text, owners, rejected


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"https_port": 443}, "https_port needs at least one name in certificates"),
        ({"https_port": 80, "certificates": ["a"]}, "https_port must differ"),
        ({"certificates": ["sub/a"]}, "'sub/a' is not a certificate name"),
        ({"certificates": [".hidden"]}, "is not a certificate name"),
        ({"certificates_dir": "certs"}, "certificates_dir must be an absolute path"),
        ({"https_port": 70000, "certificates": ["a"]}, "https_port must be a port number"),
    ],
)
def test_bad_tls_settings_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        Config.from_dict({"marathon_urls": ["http://m:8080"], **values})


def test_the_https_port_is_reserved_only_while_https_is_on(make_config, tmp_path):
    on = tls_config(make_config, tmp_path, https_port=8443)
    assert on.reserved()[8443] == "the HTTPS virtual-host port"
    _services, rejected = build_services([app("/web", 8443, [task()])], on)
    assert "collides with the HTTPS virtual-host port" in rejected[0].reason
    assert 8443 not in make_config().reserved()


# -- rendering ----------------------------------------------------------------------------------


def test_https_frontend_routes_the_same_hosts_and_paths_as_the_http_one(make_config, tmp_path):
    cfg = tls_config(make_config, tmp_path / "certs", log_requests=True)
    apps = [
        app("/site", 10000, [task(port=31000)], labels={"HAPROXY_0_VHOST": "shop.test"}),
        app("/api", 10001, [task(port=31001)], labels={"HAPROXY_0_VHOST": "shop.test", "HAPROXY_0_PATH": "/api"}),
    ]
    text, owners, rejected = render(cfg, apps)
    assert rejected == []
    http_part, https_part = text.split("frontend marathon_http_vhosts\n")[1].split(f"frontend {HTTPS_FRONTEND}\n")
    assert f"    bind :8443 ssl crt {tmp_path}/certs/\n    mode http\n" in https_part
    assert "    http-request set-header X-Forwarded-Proto https\n" in https_part
    rules = [ln for ln in http_part.splitlines() if ln.startswith(("    acl ", "    use_backend "))]
    assert rules == [ln for ln in https_part.splitlines() if ln.startswith(("    acl ", "    use_backend "))]
    assert rules[-2:] == [
        "    use_backend marathon_api_10001 if host_marathon_api_10001 path_marathon_api_10001",
        "    use_backend marathon_site_10000 if host_marathon_site_10000",
    ]
    # Each app's routing lines, in both frontends, belong to it (haproxy -c errors are pinned on it).
    lines = text.splitlines()
    assert {owners[i] for i, ln in enumerate(lines) if ln == rules[-1]} == {"/site"}
    assert [owners[i] for i, ln in enumerate(lines) if ln.startswith(f"frontend {HTTPS_FRONTEND}")] == [None]
    # The shared frontends are not apps' frontends.
    assert set(frontends(text)) == {"marathon_api_10001", "marathon_site_10000"}
    assert set(binds(text)) == {"marathon_api_10001", "marathon_site_10000"}


def test_no_https_frontend_while_https_is_off_or_no_app_has_a_host(make_config, tmp_path):
    vhost_app = app("/site", 10000, [task()], labels={"HAPROXY_0_VHOST": "shop.test"})
    text, _owners, _rejected = render(make_config(), [vhost_app])
    assert HTTPS_FRONTEND not in text
    text, _owners, _rejected = render(tls_config(make_config, tmp_path), [app("/db", 10001, [task()])])
    assert HTTPS_FRONTEND not in text
    # Virtual hosts over HTTPS only: the HTTP frontend off, the HTTPS one serves.
    text, _owners, _rejected = render(tls_config(make_config, tmp_path, vhost_port=0), [vhost_app])
    assert HTTPS_FRONTEND in text and "marathon_http_vhosts\n" not in text


def test_redirect_to_https_is_in_the_apps_backend_for_the_http_vhost_frontend_only(make_config, tmp_path):
    labels = {"HAPROXY_0_VHOST": "shop.test", "HAPROXY_0_REDIRECT_TO_HTTPS": "true"}
    apps = [app("/site", 10000, [task()], labels=labels)]
    text, _owners, _rejected = render(tls_config(make_config, tmp_path, https_port=443), apps)
    backend = text.split("\nbackend marathon_site_10000\n")[1]
    assert (
        "    http-request redirect location https://%[req.hdr(host),field(1,:)]%[pathq] code 301"
        " if { fe_name marathon_http_vhosts }\n"
    ) in backend
    text, _owners, _rejected = render(tls_config(make_config, tmp_path, https_port=8443), apps)
    assert "https://%[req.hdr(host),field(1,:)]:8443%[pathq]" in text


@pytest.mark.parametrize("name", ["shop", "shop.pem", "{certs}/shop.pem"])
def test_ssl_cert_and_bind_options_on_the_service_port(make_config, tmp_path, name):
    cfg = tls_config(make_config, tmp_path / "certs")
    labels = {
        "HAPROXY_0_SSL_CERT": name.format(certs=tmp_path / "certs"),
        "HAPROXY_0_BIND_OPTIONS": "ciphers AES128+EECDH:AES128+EDH force-tlsv12 no-sslv3 no-tlsv10",
    }
    text, _owners, rejected = render(cfg, [app("/tls", 10000, [task()], labels=labels)])
    assert rejected == []
    assert (
        f"    bind :10000 ssl crt {tmp_path}/certs/shop.pem ciphers AES128+EECDH:AES128+EDH force-tlsv12 no-sslv3"
        " no-tlsv10\n"
    ) in text


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ({"HAPROXY_0_SSL_CERT": "nope"}, "HAPROXY_0_SSL_CERT='nope' names no certificate the HAProxy role deployed"),
        ({"HAPROXY_0_SSL_CERT": "/etc/ssl/private/shop.pem"}, "names no certificate the HAProxy role deployed"),
        ({"HAPROXY_0_SSL_CERT": "../shop"}, "names no certificate"),
        ({"HAPROXY_0_BIND_OPTIONS": "crt /etc/shadow"}, "'crt' is not an accepted bind option"),
        ({"HAPROXY_0_BIND_OPTIONS": "ssl"}, "certificates through HAPROXY_0_SSL_CERT"),
        ({"HAPROXY_0_BIND_OPTIONS": "ciphers"}, "'ciphers' needs a value"),
        ({"HAPROXY_0_BIND_OPTIONS": "ciphers a;b"}, "'ciphers' needs a value"),
        ({"HAPROXY_0_REDIRECT_TO_HTTPS": "true"}, "REDIRECT_TO_HTTPS needs HAPROXY_0_VHOST"),
        (
            {"HAPROXY_0_VHOST": "a.test", "HAPROXY_0_MODE": "tcp", "HAPROXY_0_REDIRECT_TO_HTTPS": "true"},
            "REDIRECT_TO_HTTPS needs HTTP mode",
        ),
    ],
)
def test_bad_tls_labels_are_refused_with_a_reason(make_config, tmp_path, labels, reason):
    cfg = tls_config(make_config, tmp_path)
    services, rejected = build_services([app("/web", 10000, [task()], labels=labels)], cfg)
    assert services == []
    assert reason in rejected[0].reason


def test_redirect_is_refused_while_https_is_off(make_config):
    labels = {"HAPROXY_0_VHOST": "a.test", "HAPROXY_0_REDIRECT_TO_HTTPS": "true"}
    services, rejected = build_services([app("/web", 10000, [task()], labels=labels)], make_config())
    assert services == []
    assert "needs the HTTPS frontend, which is off" in rejected[0].reason
    assert "deployed (haproxy_tls_certificates: none)" in build_services(
        [app("/web", 10000, [task()], labels={"HAPROXY_0_SSL_CERT": "a"})], make_config()
    )[1][0].reason


@requires_haproxy
@requires_openssl
def test_rendered_tls_configuration_passes_haproxy_check(make_config, certs, tmp_path):
    folder, _crts = certs
    cfg = tls_config(make_config, folder, log_requests=True, server_options="check inter 2s")
    apps = [
        app("/site", 10000, [task()], labels={"HAPROXY_0_VHOST": "shop.test", "HAPROXY_0_REDIRECT_TO_HTTPS": "1"}),
        app("/tls", 10001, [task()], labels={"HAPROXY_0_SSL_CERT": "other", "HAPROXY_0_BIND_OPTIONS": "alpn h2"}),
    ]
    text, _owners, rejected = render(cfg, apps)
    assert rejected == []
    (tmp_path / "candidate.cfg").write_text(text)
    proc = subprocess.run([HAPROXY, "-c", "-f", cfg.base_configs[0], "-f", str(tmp_path / "candidate.cfg")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- served by a real HAProxy -------------------------------------------------------------------


def https_get(port, sni, path="/", host=None, cafile=None):
    """GET over TLS with this SNI; (status, body, the server's certificate in DER)."""
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl._create_unverified_context()  # noqa: S323
    with (
        socket.create_connection(("127.0.0.1", port), timeout=3) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        request = f"GET {path} HTTP/1.1\r\nHost: {host or sni}\r\nConnection: close\r\n\r\n"
        tls.sendall(request.encode())
        response = http.client.HTTPResponse(tls)
        response.begin()
        return response.status, response.read().decode(), der


def http_get(port, path, host):
    """GET without following redirects: (status, Location, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read().decode()
    finally:
        connection.close()


def der(crt: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(crt.read_text())


@pytest.fixture
def tls_haproxy(make_config, certs, tmp_path):
    """HAProxy master-worker and a sync configuration with the HTTPS frontend on, runtime API on."""
    folder, crts = certs
    haproxy = MasterWorker(tmp_path).write().start(timeout=10)
    cfg = tls_config(
        make_config,
        folder,
        base_configs=[str(haproxy.base)],
        dynamic_config=str(haproxy.dynamic),
        reload_command=haproxy.reload_command,
        admin_socket=haproxy.admin_socket,
        stats_port=haproxy.stats_port,
        bind_address="127.0.0.1",
        vhost_port=free_port(),
        https_port=free_port(),
        server_options="check inter 2s fall 2 rise 1",
    )
    yield cfg, crts
    haproxy.stop()


@requires_haproxy
@requires_openssl
def test_https_vhosts_redirects_paths_and_a_refused_certificate(tls_haproxy):
    """Through a real HAProxy: the HTTP vhost answers a REDIRECT_TO_HTTPS app's host with a 301 to
    https (same path and query); over HTTPS with SNI shop.test, shop.test's certificate is
    presented and the app's task answers; a path route works over HTTPS too (and is not
    redirected over HTTP: it is another app's); SNI other.test gets the other certificate; an app
    naming an unknown certificate is refused and reported while the others are served."""
    cfg, crts = tls_haproxy
    site, api, tls = Backend("site"), Backend("api"), Backend("tls")
    tls_port = free_port()
    shop = {"HAPROXY_0_VHOST": "shop.test"}
    apps = [
        app("/site", free_port(), [task(port=site.port)], labels=dict(shop, HAPROXY_0_REDIRECT_TO_HTTPS="true")),
        app("/api", free_port(), [task(port=api.port)], labels=dict(shop, HAPROXY_0_PATH="/api")),
        app("/tls", tls_port, [task(port=tls.port)], labels={"HAPROXY_0_MODE": "http", "HAPROXY_0_SSL_CERT": "other"}),
        app("/bad", free_port(), [task(port=site.port)], labels={"HAPROXY_0_SSL_CERT": "nope"}),
    ]
    client = StaticClient(apps)
    syncer = Syncer(cfg, client, HAProxy(cfg))
    try:
        assert syncer.full_sync() is True
        wait_serving(f"http://127.0.0.1:{apps[0]['portDefinitions'][0]['port']}/", {"site"})

        status, location, _body = http_get(cfg.vhost_port, "/basket?item=3", "shop.test")
        assert (status, location) == (301, f"https://shop.test:{cfg.https_port}/basket?item=3")
        assert http_get(cfg.vhost_port, "/api/orders", "shop.test") == (200, None, "api")

        status, body, presented = https_get(cfg.https_port, "shop.test", "/basket", cafile=crts["shop"])
        assert (status, body) == (200, "site")
        assert presented == der(crts["shop"])
        assert https_get(cfg.https_port, "shop.test", "/api/orders", cafile=crts["shop"])[:2] == (200, "api")
        assert https_get(cfg.https_port, "other.test", "/", host="shop.test")[2] == der(crts["other"])
        assert https_get(cfg.https_port, "shop.test", "/", host="nobody.test")[0] == 503

        # HAPROXY_{n}_SSL_CERT: the service port terminates TLS with the named certificate.
        status, body, presented = https_get(tls_port, "other.test", cafile=crts["other"])
        assert (status, body, presented) == (200, "tls", der(crts["other"]))

        with open(cfg.status_file) as handle:
            st = json.load(handle)
        assert st["state"] == "degraded"
        assert [(r["app"], r["reason"]) for r in st["rejected"]] == [
            ("/bad", "HAPROXY_0_SSL_CERT='nope' names no certificate the HAProxy role deployed "
                     "(haproxy_tls_certificates: other, shop)")
        ]  # fmt: skip
        text = Path(cfg.dynamic_config).read_text()
        assert "marathon_bad_" not in text and "nope" not in text

        # New tasks behind the vhosts still go in place, through the runtime API (no reload).
        api2 = Backend("api2")
        try:
            apps[1]["tasks"].append(task(port=api2.port))
            assert syncer.full_sync() is True
            assert "last_runtime_update" in syncer.status["config"]
            seen = {https_get(cfg.https_port, "shop.test", "/api/x", cafile=crts["shop"])[1] for _attempt in range(8)}
            assert seen == {"api", "api2"}
        finally:
            api2.close()
    finally:
        for backend in (site, api, tls):
            backend.close()


# -- the role: preflight, deployed files, the sync program's configuration -----------------------

ROLE = Path(__file__).resolve().parents[4] / "roles" / "haproxy"
SECRET = "NOT-TO-BE-PRINTED"
PEM = (
    f"-----BEGIN CERTIFICATE-----\n{SECRET}cert\n-----END CERTIFICATE-----\n"
    f"-----BEGIN PRIVATE KEY-----\n{SECRET}key\n-----END PRIVATE KEY-----\n"
)
CERT_PART, KEY_PART = PEM.split("-----BEGIN PRIVATE KEY-----", 1)
CERT, KEY = CERT_PART, "-----BEGIN PRIVATE KEY-----" + KEY_PART
PREFLIGHT = """
- name: Preflight only
  hosts: nodes
  gather_facts: false
  roles:
    - role: mesosphere.cluster.haproxy
"""


def preflight(run_play, certificates, **extra):
    values = {"haproxy_marathon_urls": ["http://127.0.0.1:8080"], "haproxy_tls_certificates": certificates, **extra}
    return run_play(PREFLIGHT, {"nodes": {"node1": None}}, "haproxy_preflight", extra=values)


@pytest.mark.parametrize(
    ("certificates", "sentence"),
    [
        ([{"name": "shop", "cert": CERT}], "entry 1 ('shop') has no key material: HAProxy needs the private key"),
        ([{"name": "shop", "pem": CERT}], "entry 1 ('shop') has no key material"),
        ([{"name": "a/b", "pem": PEM}], "entry 1 ('a/b') has no usable name"),
        ([{"name": "..", "pem": PEM}], "no '/' and no leading dot"),
        ([{"name": "a", "pem": PEM}, {"name": "a", "pem": PEM}], "entry 2 ('a'): another entry has the same name"),
        ([{"name": "a", "pem": PEM, "key": KEY}], "give either pem, or cert and key"),
        ([{"name": "a", "key": KEY}], "has no certificate"),
    ],
)
def test_preflight_refuses_bad_certificates_without_printing_them(run_play, certificates, sentence):
    rc, out = preflight(run_play, certificates)
    assert rc != 0
    assert sentence in out, out
    assert SECRET not in out


def test_preflight_passes_good_certificates_and_checks_the_https_port(run_play):
    good = [{"name": "shop", "pem": PEM}, {"name": "other.example", "cert": CERT, "key": KEY}]
    rc, out = preflight(run_play, good)
    assert rc == 0, out
    assert SECRET not in out
    rc, out = preflight(run_play, good, haproxy_https_port=9090)
    assert rc != 0 and "the HTTPS port (9090" in out
    rc, out = preflight(run_play, [], haproxy_https_port=9090)  # HTTPS off without certificates
    assert rc == 0, out


def test_the_role_deploys_certificates_root_only_and_tells_the_sync_program(run_play, tmp_path):
    """The role's own certificate folder and files (its host_config task, kept to them) and its
    config.json template, run on this machine into a temporary folder; the sync program accepts
    the configuration."""
    tasks = yaml.safe_load((ROLE / "tasks" / "configure.yml").read_text())
    task = next(t for t in tasks if "mesosphere.cluster.host_config" in t)
    assert task.get("no_log") is True
    args = task["mesosphere.cluster.host_config"]
    tls_args = {
        "directories": [d for d in args["directories"] if d["path"] == "{{ _haproxy_tls_dir }}"],
        "file_sets": [f for f in args["file_sets"] if f["path"] == "{{ _haproxy_tls_dir }}"],
    }
    assert len(tls_args["directories"]) == 1 and len(tls_args["file_sets"]) == 1
    tls_tasks = [{"name": "The certificates", "mesosphere.cluster.host_config": tls_args, "no_log": True}]
    (tmp_path / "tls.yml").write_text(yaml.safe_dump(tls_tasks))
    certs = tmp_path / "certs"
    play = [{
        "hosts": "nodes", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [
            {"ansible.builtin.import_tasks": str(tmp_path / "tls.yml")},
            {"ansible.builtin.template": {"src": str(ROLE / "templates" / "sync-config.json.j2"),
                                          "dest": str(tmp_path / "config.json")}},
        ],
    }]  # fmt: skip
    # Extra vars: above the role's vars files, so that nothing is written outside tmp_path.
    extra = {"_haproxy_tls_dir": str(certs), "haproxy_marathon_urls": ["http://127.0.0.1:8080"]}
    certificates = [{"name": "shop", "pem": PEM}, {"name": "other.example", "cert": CERT, "key": KEY}]
    rc, out = run_play(
        yaml.safe_dump(play), {"nodes": {"node1": None}}, "all", dict(extra, haproxy_tls_certificates=certificates)
    )
    assert rc == 0, out
    assert SECRET not in out
    assert certs.stat().st_mode & 0o777 == 0o700
    for name in ("shop", "other.example"):
        path = certs / f"{name}.pem"
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.read_text() == PEM
    cfg = Config.load(str(tmp_path / "config.json"))
    assert (cfg.https_port, cfg.certificates_dir, cfg.certificates) == (443, str(certs), ["shop", "other.example"])
    rc, out = run_play(yaml.safe_dump(play), {"nodes": {"node1": None}}, "all", dict(extra, haproxy_tls_certificates=[]))  # noqa: E501
    assert rc == 0, out
    assert Config.load(str(tmp_path / "config.json")).https_port == 0  # no certificate: HTTPS off


def test_certificates_removed_from_the_list_go_once_no_app_names_them(run_play, tmp_path):
    """The role's removal steps (tasks/tls_removal.yml, included by service.yml where the
    certificates folder holds a file no longer listed), run on this machine in a temporary folder,
    with the sync program off (so no waiting): a certificate the apps' file still names stays,
    with a sentence; once the file no longer names it, it is removed and the listed ones stay."""
    service = yaml.safe_load((ROLE / "tasks" / "service.yml").read_text())
    include = next(t for t in service if t.get("ansible.builtin.include_tasks") == "tls_removal.yml")
    tasks = yaml.safe_load((ROLE / "tasks" / "tls_removal.yml").read_text())
    # without the reload after the removal (tasks/restart.yml, tested in test_restart_pending.py)
    steps = [t for t in tasks if "ansible.builtin.import_tasks" not in t]
    (tmp_path / "removal.yml").write_text(yaml.safe_dump(steps))
    certs, dynamic = tmp_path / "certs", tmp_path / "marathon.cfg"
    certs.mkdir()
    for name in ("kept", "gone"):
        (certs / f"{name}.pem").write_text(PEM)
    play = [{
        "hosts": "nodes", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [{"ansible.builtin.include_tasks": str(tmp_path / "removal.yml"), "when": include["when"]}],
    }]  # fmt: skip
    extra = {
        "_haproxy_tls_dir": str(certs),
        "_haproxy_dynamic_config": str(dynamic),
        "haproxy_sync_enabled": False,
        "haproxy_tls_certificates": [{"name": "kept", "pem": PEM}],
    }

    def run(**more):
        # what configure.yml's host_config found in the folder
        listing = {"_haproxy_host": {"listing": {str(certs): sorted(p.name for p in certs.iterdir())}}}
        return run_play(yaml.safe_dump(play), {"nodes": {"node1": None}}, "all", dict(extra, **listing, **more))

    dynamic.write_text(f"frontend x\n    bind :1 ssl crt {certs}/gone.pem\n")
    rc, out = run()
    assert rc != 0
    assert f"still names {certs}/gone.pem, removed from haproxy_tls_certificates" in out, out
    assert (certs / "gone.pem").exists()

    dynamic.write_text(f"frontend x\n    bind :1 ssl crt {certs}/kept.pem\n")
    rc, out = run()
    assert rc == 0, out
    assert sorted(p.name for p in certs.iterdir()) == ["kept.pem"]

    # The last one removed: HTTPS goes off, so the folder must be out of the apps' file first.
    dynamic.write_text(f"frontend marathon_https_vhosts\n    bind :443 ssl crt {certs}/\n")
    rc, out = run(haproxy_tls_certificates=[])
    assert rc != 0 and f"still names {certs}/," in out, out
    dynamic.write_text("# no TLS\n")
    rc, out = run(haproxy_tls_certificates=[])
    assert rc == 0, out
    assert list(certs.iterdir()) == []
