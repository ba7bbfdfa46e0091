"""``Impersonate-*`` headers: who may impersonate whom, and who the request then acts as."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer
from kybernetes.apiserver.authn import User

ALICE = "alice-token"
PODS = "/api/v1/namespaces/default/pods"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def _as(token: str, user: str = "", *groups: str, **extra: str) -> list[tuple[str, str]]:
    headers = [("Authorization", f"Bearer {token}")]
    if user:
        headers.append(("Impersonate-User", user))
    headers += [("Impersonate-Group", g) for g in groups]
    headers += [(f"Impersonate-Extra-{k}", v) for k, v in extra.items()]
    return headers


async def _whoami(client: TestClient, headers: Any) -> dict[str, Any]:
    r = await client.post(WHOAMI, json=REVIEW, headers=headers)
    assert r.status == 201, await r.text()
    return (await r.json())["status"]["userInfo"]


async def _grant(client: TestClient, name: str, rules: list[dict[str, Any]], subject: dict[str, Any]) -> None:
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    r = await client.post(f"{rbac}/clusterroles", json={"apiVersion": "rbac.authorization.k8s.io/v1",
                                                        "kind": "ClusterRole", "metadata": {"name": name},
                                                        "rules": rules})
    assert r.status == 201
    r = await client.post(f"{rbac}/clusterrolebindings", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [subject]})
    assert r.status == 201


async def test_impersonation_needs_the_impersonate_verb(api: tuple[ApiServer, TestClient]) -> None:
    server, client = api
    server.authn.add_token(ALICE, User("alice", ("system:authenticated",)))
    # a user without the impersonate verb is refused, worded like Kubernetes
    r = await client.get(PODS, headers=_as(ALICE, "bob"))
    assert r.status == 403
    body = await r.json()
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('users "bob" is forbidden: User "alice" cannot impersonate resource "users" '
                               'in API group "" at the cluster scope')
    # allowed to impersonate users but not that group
    await _grant(client, "impersonate-users", [{"apiGroups": [""], "resources": ["users"],
                                                "verbs": ["impersonate"]}],
                 {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"})
    await server.cache.wait_fresh()
    assert await _whoami(client, _as(ALICE, "bob")) == {"username": "bob", "groups": ["system:authenticated"]}
    r = await client.get(PODS, headers=_as(ALICE, "bob", "devs"))
    assert r.status == 403
    assert (await r.json())["message"] == ('groups "devs" is forbidden: User "alice" cannot impersonate resource '
                                           '"groups" in API group "" at the cluster scope')
    # the request then acts as bob, with bob's (lack of) permissions
    r = await client.get(PODS, headers=_as(ALICE, "bob"))
    assert r.status == 403
    assert (await r.json())["message"] == ('pods is forbidden: User "bob" cannot list resource "pods" in API group '
                                           '"" in the namespace "default"')


async def test_acting_identity(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    admin = "test-admin-token"
    assert await _whoami(client, _as(admin, "bob", "devs", "ops")) == {
        "username": "bob", "groups": ["devs", "ops", "system:authenticated"]}
    assert await _whoami(client, _as(admin, "system:serviceaccount:kube-system:builder")) == {
        "username": "system:serviceaccount:kube-system:builder",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}
    anonymous = await client.post(WHOAMI, json=REVIEW, headers=_as(admin, "system:anonymous"))
    assert anonymous.status == 403  # system:unauthenticated, not system:authenticated: no basic-user rights
    assert 'User "system:anonymous" cannot create' in (await anonymous.json())["message"]
    # the admin acting as bob has bob's rights, not its own
    assert (await client.get(PODS, headers=_as(admin, "bob"))).status == 403
    assert (await client.get(PODS, headers=_as(admin, "bob", "system:masters"))).status == 200
    # groups without a user cannot be impersonated
    r = await client.get(PODS, headers=_as(admin, "", "devs"))
    assert r.status == 400
    assert (await r.json())["message"] == "requested group 'devs' without impersonating a user"
