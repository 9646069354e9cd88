"""marathon_app and the app's role fields (app.raml `role`, `acceptedResourceRoles`; multirole.md)."""

import pytest

from ansible_collections.mesosphere.cluster.plugins.module_utils import _marathon
from ansible_collections.mesosphere.cluster.plugins.modules import marathon_app

MT = "http://mt1:8080"
SERVER_APP = {"id": "/prod/web", "cmd": "sleep 1000", "instances": 1, "cpus": 0.1, "mem": 32.0, "role": "prod",
              "acceptedResourceRoles": ["prod", "*"], "version": "v", "versionInfo": {}, "deployments": []}


@pytest.mark.parametrize("wanted,same", [
    ({"role": "prod"}, True),
    ({"role": "*"}, False),
    ({"acceptedResourceRoles": ["*", "prod"]}, True),   # a set: the order Marathon keeps means nothing
    ({"acceptedResourceRoles": ["prod"]}, False),
    ({"acceptedResourceRoles": ["*"]}, False),
])
def test_role_fields_compare(wanted, same):
    assert (_marathon.differing_keys(wanted, SERVER_APP) == []) is same


def test_role_change_is_one_put_and_same_roles_none(fake_http, run_module):
    fake_http.add("GET", MT + "/v2/leader", body={"leader": "mt1:8080"}, repeat=True)
    fake_http.add("GET", MT + "/v2/apps/prod/web", body={"app": SERVER_APP})
    fake_http.add("GET", MT + "/v2/apps/prod/web/tasks", body={"tasks": []})
    args = dict(marathon_endpoints=[MT], id="/prod/web", wait=False,
                definition={"cmd": "sleep 1000", "role": "prod", "acceptedResourceRoles": ["*", "prod"]})
    result, failed = run_module(marathon_app.main, args)
    assert not failed and result["changed"] is False and fake_http.writes() == []
    fake_http.add("GET", MT + "/v2/apps/prod/web", body={"app": SERVER_APP})
    fake_http.add("PUT", MT + "/v2/apps/prod/web", body={"version": "v2", "deploymentId": "d1"})
    fake_http.add("GET", MT + "/v2/apps/prod/web", body={"app": dict(SERVER_APP, acceptedResourceRoles=["prod"])},
                  repeat=True)
    fake_http.add("GET", MT + "/v2/apps/prod/web/tasks", body={"tasks": []})
    args["definition"] = dict(args["definition"], acceptedResourceRoles=["prod"])
    result, failed = run_module(marathon_app.main, args, check_mode=False)
    assert not failed, result.get("msg")
    assert result["changed_fields"] == ["acceptedResourceRoles"]
    assert [(c[0], c[2]) for c in fake_http.writes()] == [
        ("PUT", {"id": "/prod/web", "cmd": "sleep 1000", "role": "prod", "acceptedResourceRoles": ["prod"]})]
