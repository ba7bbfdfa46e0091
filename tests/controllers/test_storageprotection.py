"""PVC and PV protection: the finalizers stay while a pod uses the claim or the volume is bound."""

from __future__ import annotations

from kybernetes.api.persistentvolumes import PV_PROTECTION, PVC_PROTECTION
from kybernetes.client.rest import PODS, PVCS, PVS
from kybernetes.controllers.pvcprotection import PVCProtectionController, claims_of
from kybernetes.controllers.pvprotection import PVProtectionController
from tests.controllers import builders as b
from tests.controllers.fakes import FakeClient, FakeRecorder, as_client

NOW = "2026-11-22T10:00:00Z"


def claim(name: str, deleting: bool = True, finalizers: tuple[str, ...] = (PVC_PROTECTION,)) -> dict:
    md: dict = {"name": name, "namespace": "default", "finalizers": list(finalizers)}
    if deleting:
        md["deletionTimestamp"] = NOW
    return {"metadata": md, "spec": {"accessModes": ["ReadWriteOnce"]}}


def user(name: str, claim_name: str, node: str = "n1", phase: str = "Running") -> dict:
    p = b.pod(name, node=node, phase=phase)
    p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]
    return p


def pvc_world(*objs: tuple) -> tuple[FakeClient, PVCProtectionController]:
    client = FakeClient()
    for res, obj in objs:
        client.add(res, obj)
    ctl = PVCProtectionController(client.informer(PVCS), client.informer(PODS), as_client(client), FakeRecorder())
    return client, ctl


def finalizers(client: FakeClient, res, name: str, ns: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    obj = client.stored(res, name, ns)
    assert obj is not None
    return list(obj["metadata"].get("finalizers") or [])


async def test_a_claim_in_use_keeps_its_finalizer_until_the_pod_is_gone() -> None:
    client, ctl = pvc_world((PVCS, claim("data")), (PODS, user("app", "data")))
    await ctl.sync("default/data")
    assert finalizers(client, PVCS, "data", "default") == [PVC_PROTECTION]
    assert client.verbs("persistentvolumeclaims") == []
    pod = client.stored(PODS, "app", "default")
    await client.delete(PODS, "app", "default")
    ctl.pod_informer.delete(pod)
    assert len(ctl.queue) == 1  # the pod's claims are looked at again
    await ctl.sync("default/data")
    assert client.stored(PVCS, "data", "default") is None  # the last finalizer went: deleted


async def test_only_scheduled_running_pods_hold_a_claim() -> None:
    for holder in (user("pending", "data", node=""), user("done", "data", phase="Succeeded"),
                   user("other", "another")):
        client, ctl = pvc_world((PVCS, claim("data")), (PODS, holder))
        await ctl.sync("default/data")
        assert client.stored(PVCS, "data", "default") is None, holder["metadata"]["name"]


async def test_the_api_is_asked_before_the_finalizer_goes() -> None:
    # the informer has not seen the pod yet; the live list has
    client, ctl = pvc_world((PVCS, claim("data")))
    client.add(PODS, user("app", "data"))
    await ctl.sync("default/data")
    assert finalizers(client, PVCS, "data", "default") == [PVC_PROTECTION]


async def test_claims_without_the_finalizer_get_it_and_other_finalizers_stay() -> None:
    client, ctl = pvc_world((PVCS, claim("old", deleting=False, finalizers=("example.com/keep",))))
    await ctl.sync("default/old")
    assert finalizers(client, PVCS, "old", "default") == ["example.com/keep", PVC_PROTECTION]
    client, ctl = pvc_world((PVCS, claim("going", finalizers=("example.com/keep", PVC_PROTECTION))))
    await ctl.sync("default/going")
    assert finalizers(client, PVCS, "going", "default") == ["example.com/keep"]


def test_claims_of_a_pod_include_generic_ephemeral_volumes() -> None:
    p = user("app", "data")
    p["spec"]["volumes"].append({"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}})
    p["spec"]["volumes"].append({"name": "cfg", "configMap": {"name": "c"}})
    assert claims_of(p) == ["data", "app-scratch"]


async def test_a_bound_volume_keeps_its_finalizer_until_released() -> None:
    client = FakeClient()
    client.add(PVS, {"metadata": {"name": "pv1", "finalizers": [PV_PROTECTION], "deletionTimestamp": NOW},
                     "spec": {}, "status": {"phase": "Bound"}})
    client.add(PVS, {"metadata": {"name": "pv2"}, "spec": {}, "status": {"phase": "Available"}})
    ctl = PVProtectionController(client.informer(PVS), as_client(client), FakeRecorder())
    await ctl.sync("pv1")
    assert finalizers(client, PVS, "pv1") == [PV_PROTECTION]
    await ctl.sync("pv2")
    assert finalizers(client, PVS, "pv2") == [PV_PROTECTION]
    released = client.stored(PVS, "pv1")
    assert released is not None
    released["status"]["phase"] = "Released"
    ctl.pv_informer.add(released)
    await ctl.sync("pv1")
    assert client.stored(PVS, "pv1") is None
