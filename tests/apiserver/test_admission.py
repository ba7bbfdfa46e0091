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


QUOTAS = "/api/v1/namespaces/default/resourcequotas"


async def _quota(client: TestClient, hard: dict[str, str], used: dict[str, str]) -> None:
    """A quota as the controller leaves it: ``status.hard`` copied, ``status.used`` counted."""
    r = await client.post(QUOTAS, json={"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                                        "spec": {"hard": hard}})
    assert r.status == 201, await r.text()
    quota = await r.json()
    quota["status"] = {"hard": hard, "used": used}
    r = await client.put(f"{QUOTAS}/q/status", json=quota)
    assert r.status == 200, await r.text()
    assert (await client.get(f"{QUOTAS}/q")).status == 200  # a consistent read: the cache has the quota now


async def test_quota_admission_charges_creates_and_refuses_the_excess(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await _quota(client, {"pods": "2", "count/configmaps": "5"}, {"pods": "0", "count/configmaps": "0"})
    r = await client.post(PODS + "?dryRun=All", json=pod("dry"))
    assert r.status == 201, await r.text()
    for name in ("a", "b"):
        r = await client.post(PODS, json=pod(name))
        assert r.status == 201, await r.text()
    status = (await (await client.get(f"{QUOTAS}/q")).json())["status"]
    assert status["used"] == {"pods": "2", "count/configmaps": "0"}  # the dry run charged nothing
    r = await client.post(PODS, json=pod("c"))
    body = await r.json()
    assert r.status == 403 and body["reason"] == "Forbidden", body
    assert body["message"] == ('pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, '
                               'limited: pods=2')
    assert body["details"] == {"name": "c", "kind": "pods"}
    assert (await client.get(PODS + "/c")).status == 404  # nothing half-written
    r = await client.post("/api/v1/namespaces/default/configmaps",
                          json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
    assert r.status == 201, await r.text()
    status = (await (await client.get(f"{QUOTAS}/q")).json())["status"]
    assert status["used"] == {"pods": "2", "count/configmaps": "1"}


async def test_concurrent_creates_cannot_overrun_a_quota(api: tuple[ApiServer, TestClient]) -> None:
    import asyncio

    _, client = api
    await _quota(client, {"pods": "3"}, {"pods": "0"})
    codes = [r.status for r in await asyncio.gather(*(client.post(PODS, json=pod(f"p{i}")) for i in range(8)))]
    assert sorted(codes) == [201] * 3 + [403] * 5
    pods = (await (await client.get(PODS)).json())["items"]
    assert len(pods) == 3


async def test_quota_on_compute_resources_requires_them(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await _quota(client, {"limits.memory": "1Gi"}, {"limits.memory": "0"})
    r = await client.post(PODS, json=pod("bare"))
    body = await r.json()
    assert r.status == 403 and body["message"] == \
        'pods "bare" is forbidden: failed quota: q: must specify limits.memory for: c'
    sized = pod("sized")
    sized["spec"]["containers"][0]["resources"] = {"limits": {"memory": "768Mi"}}  # type: ignore[index]
    assert (await client.post(PODS, json=sized)).status == 201
    bigger = pod("bigger")
    bigger["spec"]["containers"][0]["resources"] = {"limits": {"memory": "512Mi"}}  # type: ignore[index]
    r = await client.post(PODS, json=bigger)
    assert r.status == 403 and "requested: limits.memory=512Mi, used: limits.memory=768Mi, limited: " \
        "limits.memory=1Gi" in (await r.json())["message"]


def claim(name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, **spec}}


def storage_class(name: str, default: bool) -> dict[str, object]:
    ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "example.com/p",
            "metadata": {"name": name, "annotations": ann}}


async def test_default_storage_class_fills_only_an_absent_class(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    claims = "/api/v1/namespaces/default/persistentvolumeclaims"
    r = await client.post(claims, json=claim("before"))
    assert r.status == 201 and "storageClassName" not in (await r.json())["spec"]  # no default class yet
    for sc in (storage_class("slow", False), storage_class("local-path", True)):
        r = await client.post("/apis/storage.k8s.io/v1/storageclasses", json=sc)
        assert r.status == 201, await r.text()
    r = await client.post(claims, json=claim("plain"))
    assert (await r.json())["spec"]["storageClassName"] == "local-path"
    r = await client.post(claims, json=claim("none", storageClassName=""))
    assert (await r.json())["spec"]["storageClassName"] == ""
    r = await client.post(claims, json=claim("chosen", storageClassName="slow"))
    assert (await r.json())["spec"]["storageClassName"] == "slow"


async def test_claims_and_volumes_are_created_protected(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    body = claim("kept")
    body["metadata"]["finalizers"] = ["example.com/mine"]
    r = await client.post("/api/v1/namespaces/default/persistentvolumeclaims", json=body)
    assert (await r.json())["metadata"]["finalizers"] == ["example.com/mine", "kubernetes.io/pvc-protection"]
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1"},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/x"}}}
    r = await client.post("/api/v1/persistentvolumes", json=pv)
    assert r.status == 201, await r.text()
    assert (await r.json())["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]


LIMITS = "/api/v1/namespaces/default/limitranges"


async def _limit_range(client: TestClient, *items: dict[str, object]) -> None:
    r = await client.post(LIMITS, json={"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                                        "spec": {"limits": list(items)}})
    assert r.status == 201, await r.text()
    assert (await client.get(f"{LIMITS}/lr")).status == 200  # a consistent read: the cache has it now


async def test_limit_range_defaults_container_resources(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await _limit_range(client, {"type": "Container", "default": {"memory": "512Mi"},
                                "defaultRequest": {"memory": "256Mi", "cpu": "100m"}})
    p = pod("defaulted", initContainers=[{"name": "init", "image": "busybox",
                                          "resources": {"requests": {"cpu": "50m"}}}])
    r = await client.post(PODS, json=p)
    body = await r.json()
    assert r.status == 201, body
    assert body["spec"]["containers"][0]["resources"] == {"limits": {"memory": "512Mi"},
                                                          "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert body["spec"]["initContainers"][0]["resources"] == {"limits": {"memory": "512Mi"},
                                                              "requests": {"cpu": "50m", "memory": "256Mi"}}
    assert body["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container c; memory limit for container c; "
        "memory request for init container init; memory limit for init container init")


async def test_limit_range_bounds_refuse_with_upstream_messages(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await _limit_range(client, {"type": "Container", "max": {"memory": "1Gi"}, "min": {"cpu": "100m"},
                                "maxLimitRequestRatio": {"cpu": "2"}},
                       {"type": "Pod", "max": {"cpu": "1"}})
    big = pod("big")
    big["spec"]["containers"][0]["resources"] = {  # type: ignore[index]
        "requests": {"cpu": "50m"}, "limits": {"memory": "2Gi", "cpu": "500m"}}
    r = await client.post(PODS, json=big)
    body = await r.json()
    assert r.status == 403 and body["reason"] == "Forbidden", body
    assert body["message"] == (
        'pods "big" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, '
        'maximum memory usage per Container is 1Gi, but limit is 2Gi, '
        'cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000]')
    assert (await client.get(PODS + "/big")).status == 404
    # defaults come from max (default ← max, defaultRequest ← default), so a bare pod fits
    r = await client.post(PODS, json=pod("bare"))
    assert r.status == 403  # …except the pod's cpu: defaulted to nothing, and Pod max needs a limit
    assert (await r.json())["message"].endswith("maximum cpu usage per Pod is 1.  No limit is specified]")


async def test_limit_range_bounds_claims(api: tuple[ApiServer, TestClient]) -> None:
    _, client = api
    await _limit_range(client, {"type": "PersistentVolumeClaim", "max": {"storage": "2Gi"}})
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "huge"},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                      "resources": {"requests": {"storage": "5Gi"}}}}
    r = await client.post("/api/v1/namespaces/default/persistentvolumeclaims", json=claim)
    assert r.status == 403
    assert (await r.json())["message"] == ('persistentvolumeclaims "huge" is forbidden: maximum storage usage per '
                                           'PersistentVolumeClaim is 2Gi, but request is 5Gi')
