"""Admission plugins on pod creation: ServiceAccount, DefaultTolerationSeconds, Priority."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


async def test_service_account_token_volume_and_tolerations(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    r = await client.post(PODS, json=pod("p1"))
    body = await r.json()
    assert r.status == 201, body
    spec = body["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    vol = spec["volumes"][0]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == len("kube-api-access-") + 5
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": vol["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    assert {(t["key"], t["tolerationSeconds"]) for t in spec["tolerations"]} == {
        ("node.kubernetes.io/not-ready", 300), ("node.kubernetes.io/unreachable", 300)}
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"


async def test_opt_outs_and_existing_tolerations_are_respected(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    r = await client.post(PODS, json=pod("p2", automountServiceAccountToken=False,
                                         tolerations=[{"operator": "Exists"}]))
    spec = (await r.json())["spec"]
    assert "volumes" not in spec and "volumeMounts" not in spec["containers"][0]
    assert spec["tolerations"] == [{"operator": "Exists"}]


async def test_missing_service_account_or_priority_class_is_forbidden(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    r = await client.post(PODS, json=pod("p3", serviceAccountName="ghost"))
    body = await r.json()
    assert r.status == 403 and 'serviceaccount "ghost" not found' in body["message"]
    r = await client.post(PODS, json=pod("p4", priorityClassName="nope"))
    body = await r.json()
    assert r.status == 403 and "no PriorityClass with name nope was found" in body["message"]
    r = await client.post(PODS, json=pod("p5", priorityClassName="system-node-critical"))
    assert (await r.json())["spec"]["priority"] == 2000001000
