"""Marathon stand-in: the app's role fields (app.raml `role`, `acceptedResourceRoles`; multirole.md)."""

from __future__ import annotations

import uuid

from framework_client import base_of, call


def marathon(cluster):
    return base_of(next(p for p in cluster.marathons if p.alive()))


def test_role_defaults_to_the_default_role_and_group_role_is_allowed(standin_cluster):
    base = marathon(standin_cluster)
    group = f"g{uuid.uuid4().hex[:6]}"
    reply = call(base, "POST", "/v2/apps", {"id": f"/{group}/a", "cmd": "sleep 60", "instances": 0})
    assert reply.status == 201, reply.text
    assert reply.json["role"] == "*" and "acceptedResourceRoles" not in reply.json
    reply = call(base, "POST", "/v2/apps", {"id": f"/{group}/b", "cmd": "sleep 60", "instances": 0,
                                            "role": group, "acceptedResourceRoles": [group, "*"]})
    assert reply.status == 201, reply.text
    app = call(base, "GET", f"/v2/apps/{group}/b").json["app"]
    assert app["role"] == group and sorted(app["acceptedResourceRoles"]) == ["*", group]
    for app_id in ("a", "b"):
        call(base, "DELETE", f"/v2/apps/{group}/{app_id}")


def test_other_roles_are_refused(standin_cluster):
    base = marathon(standin_cluster)
    reply = call(base, "POST", "/v2/apps", {"id": "/top-level", "cmd": "sleep 60", "instances": 0, "role": "prod"})
    assert reply.status == 422
    assert reply.json["details"] == [{"path": "/role", "errors": ["got prod, expected one of: [*]"]}]
    reply = call(base, "POST", "/v2/apps", {"id": "/prod/x", "cmd": "sleep 60", "instances": 0, "role": "prod",
                                            "acceptedResourceRoles": ["batch"]})
    assert reply.status == 422 and reply.json["details"][0]["path"] == "/acceptedResourceRoles"
    assert call(base, "GET", "/v2/apps/prod/x").status == 404
