"""Service account tokens (TokenRequest) authenticate only while what they are bound to exists."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer

NS = "/api/v1/namespaces/default"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


async def _token(client: TestClient, sa: str, bound: dict[str, Any] | None = None) -> str:
    spec: dict[str, Any] = {"audiences": [], "expirationSeconds": 3600}
    if bound:
        spec["boundObjectRef"] = bound
    r = await client.post(f"{NS}/serviceaccounts/{sa}/token", json={
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
    assert r.status == 201, await r.text()
    return str((await r.json())["status"]["token"])


async def _whoami(client: TestClient, token: str) -> int:
    r = await client.post(WHOAMI, json=REVIEW, headers={"Authorization": f"Bearer {token}"})
    if r.status == 201:
        assert (await r.json())["status"]["userInfo"]["username"] == "system:serviceaccount:default:builder"
    return r.status


async def _create(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status == 201, await r.text()
    return dict(await r.json())


async def test_tokens_end_with_their_service_account_and_pod(api: tuple[ApiServer, TestClient]) -> None:
    server, client = api
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"}}
    await _create(client, f"{NS}/serviceaccounts", sa)
    plain = await _token(client, "builder")
    pod = await _create(client, f"{NS}/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                                "spec": {"serviceAccountName": "builder",
                                                         "containers": [{"name": "c", "image": "busybox"}]}})
    bound = await _token(client, "builder", {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                             "uid": pod["metadata"]["uid"]})
    assert await _whoami(client, plain) == 201
    assert await _whoami(client, plain) == 201  # the second time from the verified-token cache
    assert await _whoami(client, bound) == 201

    r = await client.delete(f"{NS}/pods/p", params={"gracePeriodSeconds": "0"})
    assert r.status == 200
    await server.cache.wait_fresh()
    assert await _whoami(client, bound) == 401  # its pod is gone
    assert await _whoami(client, plain) == 201

    assert (await client.delete(f"{NS}/serviceaccounts/builder")).status == 200
    await _create(client, f"{NS}/serviceaccounts", sa)  # the same name, another uid
    await server.cache.wait_fresh()
    assert await _whoami(client, plain) == 401
    assert await _whoami(client, await _token(client, "builder")) == 201
