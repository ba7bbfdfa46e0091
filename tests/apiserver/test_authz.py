"""RBAC decisions follow every change of roles and bindings (the authorizer keeps each user's rules)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer
from kybernetes.apiserver.authn import User

RBAC = "/apis/rbac.authorization.k8s.io/v1"
TOKEN = {"Authorization": "Bearer carol-token"}
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def _status(client: TestClient, path: str) -> int:
    r = await client.get(path, headers=TOKEN)
    return r.status


async def test_roles_and_bindings_take_effect_at_once(api: tuple[ApiServer, TestClient]) -> None:
    server, client = api
    server.authn.add_token("carol-token", User("carol", ("system:authenticated",)))
    assert await _status(client, CONFIGMAPS) == 403
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "reader", "namespace": "default"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}
    assert (await client.post(f"{RBAC}/namespaces/default/roles", json=role)).status == 201
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "carol-reads", "namespace": "default"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
               "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "carol"}]}
    assert (await client.post(f"{RBAC}/namespaces/default/rolebindings", json=binding)).status == 201
    await server.cache.wait_fresh()
    assert await _status(client, CONFIGMAPS) == 403  # bound, but the role grants secrets only
    assert await _status(client, "/api/v1/namespaces/default/secrets") == 200

    role["rules"][0]["resources"] = ["secrets", "configmaps"]  # the role changes: so does the answer
    assert (await client.put(f"{RBAC}/namespaces/default/roles/reader", json=role)).status == 200
    await server.cache.wait_fresh()
    assert await _status(client, CONFIGMAPS) == 200
    assert await _status(client, "/api/v1/namespaces/kube-system/configmaps") == 403  # another namespace

    assert (await client.delete(f"{RBAC}/namespaces/default/rolebindings/carol-reads")).status == 200
    await server.cache.wait_fresh()
    assert await _status(client, CONFIGMAPS) == 403
