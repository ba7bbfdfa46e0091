"""PersistentVolume binder: claims bind to the smallest Available volume that fits, pre-bound volumes
and claims finish binding, delayed classes wait, provisioners get their claims, released volumes
follow their reclaim policy, lost volumes are reported."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.client.rest import PVCS, PVS, STORAGECLASSES
from kybernetes.controllers.persistentvolume import MSG_NO_CLASS, PersistentVolumeController
from tests.controllers.fakes import FakeClient, FakeRecorder, as_client

Obj = dict[str, Any]


def pv(name: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), sc: str = "", phase: str = "Available",
       labels: dict[str, str] | None = None, policy: str = "Retain", **spec: Any) -> Obj:
    s: Obj = {"capacity": {"storage": size}, "accessModes": list(modes), "hostPath": {"path": f"/data/{name}"},
              "persistentVolumeReclaimPolicy": policy, "volumeMode": "Filesystem", **spec}
    if sc:
        s["storageClassName"] = sc
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": s, "status": {"phase": phase}}


def pvc(name: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), sc: str | None = None,
        annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    s: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, "volumeMode": "Filesystem",
              **spec}
    if sc is not None:
        s["storageClassName"] = sc
    return {"metadata": {"name": name, "namespace": "default", "annotations": annotations or {}}, "spec": s,
            "status": {"phase": "Pending"}}


def storage_class(name: str, provisioner: str = "rancher.io/local-path", mode: str = "Immediate") -> Obj:
    return {"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode,
            "reclaimPolicy": "Delete"}


def setup(volumes: list[Obj] = (), claims: list[Obj] = (), classes: list[Obj] = ()  # type: ignore[assignment]
          ) -> tuple[PersistentVolumeController, FakeClient, FakeRecorder]:
    client = FakeClient()
    for v in volumes:
        client.add(PVS, v)
    for c in claims:
        client.add(PVCS, c)
    for sc in classes:
        client.add(STORAGECLASSES, sc)
    rec = FakeRecorder()
    ctrl = PersistentVolumeController(client.informer(PVS), client.informer(PVCS), client.informer(STORAGECLASSES),
                                      as_client(client), rec)
    return ctrl, client, rec


async def drain(ctrl: PersistentVolumeController, limit: int = 50) -> None:
    """Run queued keys until the queue is empty (writes echo into the informers and enqueue more)."""
    for _ in range(limit):
        if not len(ctrl.queue):
            return
        key = await ctrl.queue.get()
        assert key is not None
        await ctrl.sync(key)
        ctrl.queue.done(key)
    raise AssertionError("the queue did not settle")


def stored_claim(client: FakeClient, name: str) -> Obj:
    obj = client.stored(PVCS, name, "default")
    assert obj is not None
    return copy.deepcopy(obj)


def stored_volume(client: FakeClient, name: str) -> Obj:
    obj = client.stored(PVS, name)
    assert obj is not None
    return copy.deepcopy(obj)


async def test_claim_binds_smallest_fitting_volume() -> None:
    ctrl, client, _ = setup(
        volumes=[pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi"), pv("rox", "1Gi", ("ReadOnlyMany",)),
                 pv("classy", "1Gi", sc="fast"), pv("bound", "1Gi", phase="Bound")],
        claims=[pvc("data", "1Gi")])
    await ctrl.sync("claim:default/data")
    claim, volume = stored_claim(client, "data"), stored_volume(client, "small")
    assert claim["spec"]["volumeName"] == "small"
    assert claim["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes",
                                               "pv.kubernetes.io/bound-by-controller": "yes"}
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    ref = volume["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"], ref["uid"]) == ("default", "data", claim["metadata"]["uid"])
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert volume["status"]["phase"] == "Bound"
    client.clear()
    await ctrl.sync("claim:default/data")  # nothing left to do: no writes
    assert [a.verb for a in client.actions if a.verb != "get"] == []


async def test_selector_class_and_volume_mode_must_match() -> None:
    ctrl, client, _ = setup(
        volumes=[pv("a", labels={"tier": "slow"}, sc="fast"), pv("b", labels={"tier": "fast"}, sc="fast"),
                 pv("c", labels={"tier": "fast"}, sc="fast", volumeMode="Block")],
        claims=[pvc("data", sc="fast", selector={"matchLabels": {"tier": "fast"}})],
        classes=[storage_class("fast")])
    await ctrl.sync("claim:default/data")
    assert stored_claim(client, "data")["spec"]["volumeName"] == "b"


async def test_no_volume_and_no_class_stays_pending_with_event() -> None:
    ctrl, client, rec = setup(volumes=[pv("small", "100Mi")], claims=[pvc("data", "1Gi", sc="")])
    await ctrl.sync("claim:default/data")
    assert rec.events == [("data", "Normal", "FailedBinding", MSG_NO_CLASS)]
    assert stored_claim(client, "data")["status"]["phase"] == "Pending"
    assert "volumeName" not in stored_claim(client, "data")["spec"]


async def test_claim_naming_a_volume_binds_it_or_reports_why_not() -> None:
    ctrl, client, rec = setup(volumes=[pv("mine", "5Gi"), pv("small", "100Mi")],
                              claims=[pvc("data", "1Gi", volumeName="mine"), pvc("other", "1Gi", volumeName="small"),
                                      pvc("ghost", volumeName="nope")])
    await ctrl.sync("claim:default/data")
    claim = stored_claim(client, "data")
    assert claim["status"]["phase"] == "Bound" and stored_volume(client, "mine")["status"]["phase"] == "Bound"
    # the user set volumeName: only bind-completed is added, not bound-by-controller
    assert claim["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes"}
    await ctrl.sync("claim:default/other")
    assert rec.events[-1] == ("other", "Warning", "VolumeMismatch",
                              'Cannot bind to requested volume "small": requested PV is too small')
    await ctrl.sync("claim:default/ghost")
    assert stored_claim(client, "ghost")["status"]["phase"] == "Pending"


async def test_volume_pre_bound_by_user_goes_to_its_claim() -> None:
    ref = {"namespace": "default", "name": "data"}
    ctrl, client, _ = setup(volumes=[pv("reserved", "10Gi", claimRef=ref), pv("fit", "1Gi")], claims=[pvc("data")])
    await ctrl.sync("volume:reserved")
    assert stored_volume(client, "reserved")["status"]["phase"] == "Available"
    await ctrl.sync("claim:default/data")
    assert stored_claim(client, "data")["spec"]["volumeName"] == "reserved"
    assert stored_volume(client, "reserved")["spec"]["claimRef"]["uid"] == stored_claim(client, "data")["metadata"]["uid"]
    assert "pv.kubernetes.io/bound-by-controller" not in stored_volume(client, "reserved")["metadata"].get("annotations", {})


async def test_wait_for_first_consumer_then_external_provisioner() -> None:
    ctrl, client, rec = setup(volumes=[pv("static", sc="local-path")], claims=[pvc("data", sc="local-path")],
                              classes=[storage_class("local-path", mode="WaitForFirstConsumer")])
    await ctrl.sync("claim:default/data")
    assert rec.events == [("data", "Normal", "WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding")]
    assert "volumeName" not in stored_claim(client, "data")["spec"]  # the scheduler picks static volumes
    claim = stored_claim(client, "data")
    claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] = "n1"
    await client.replace(PVCS, claim, "default")
    await ctrl.sync("claim:default/data")
    ann = stored_claim(client, "data")["metadata"]["annotations"]
    assert ann["volume.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
    assert ann["volume.beta.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
    assert rec.events[-1][2] == "ExternalProvisioning" and "'rancher.io/local-path'" in rec.events[-1][3]


async def test_missing_class_and_no_provisioner_fail_provisioning() -> None:
    ctrl, _, rec = setup(claims=[pvc("a", sc="gone"), pvc("b", sc="local")],
                              classes=[storage_class("local", provisioner="kubernetes.io/no-provisioner")])
    await ctrl.sync("claim:default/a")
    await ctrl.sync("claim:default/b")
    assert rec.events == [("a", "Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "gone" not found'),
                          ("b", "Warning", "ProvisioningFailed",
                           "no volume plugin matched name: kubernetes.io/no-provisioner")]


async def test_provisioned_volume_with_claim_ref_binds() -> None:
    claim = pvc("data", sc="local-path", annotations={"volume.kubernetes.io/selected-node": "n1"})
    ctrl, client, _ = setup(claims=[claim], classes=[storage_class("local-path", mode="WaitForFirstConsumer")])
    uid = stored_claim(client, "data")["metadata"]["uid"]
    await client.create(PVS, pv("pvc-x", sc="local-path", phase="Pending", policy="Delete",
                                claimRef={"namespace": "default", "name": "data", "uid": uid}))
    await drain(ctrl)
    assert stored_claim(client, "data")["status"]["phase"] == "Bound"
    assert stored_volume(client, "pvc-x")["status"]["phase"] == "Bound"


async def bound_pair(policy: str, provisioned: bool = False) -> tuple[PersistentVolumeController, FakeClient,
                                                                        FakeRecorder]:
    volume = pv("vol", policy=policy)
    if provisioned:
        volume["metadata"]["annotations"] = {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}
    ctrl, client, rec = setup(volumes=[volume], claims=[pvc("data")])
    await ctrl.sync("claim:default/data")
    await client.delete(PVCS, "data", "default")
    await drain(ctrl)
    return ctrl, client, rec


async def test_deleted_claim_releases_and_retain_keeps_volume() -> None:
    _, client, rec = await bound_pair("Retain")
    volume = stored_volume(client, "vol")
    assert volume["status"]["phase"] == "Released" and volume["spec"]["claimRef"]["name"] == "data"
    assert rec.events == []


async def test_delete_policy_is_left_to_the_provisioner_or_fails_without_one() -> None:
    _, client, rec = await bound_pair("Delete", provisioned=True)
    assert stored_volume(client, "vol")["status"]["phase"] == "Released" and rec.events == []
    _, client, rec = await bound_pair("Delete")
    volume = stored_volume(client, "vol")
    message = 'error getting deleter volume plugin for volume "vol": no deletable volume plugin matched'
    assert volume["status"] == {"phase": "Failed", "message": message}
    assert rec.events == [("vol", "Warning", "VolumeFailedDelete", message)]


async def test_released_volume_is_not_rebound_and_a_new_claim_of_the_same_name_gets_another() -> None:
    ctrl, client, _ = await bound_pair("Retain")
    await client.create(PVCS, pvc("data"), "default")
    await client.create(PVS, pv("fresh"))
    await drain(ctrl)
    assert stored_claim(client, "data")["spec"]["volumeName"] == "fresh"
    assert stored_volume(client, "vol")["status"]["phase"] == "Released"


async def test_bound_claim_whose_volume_disappears_is_lost() -> None:
    ctrl, client, rec = setup(volumes=[pv("vol")], claims=[pvc("data")])
    await ctrl.sync("claim:default/data")
    await client.delete(PVS, "vol")
    await drain(ctrl)
    assert stored_claim(client, "data")["status"]["phase"] == "Lost"
    assert rec.events == [("data", "Warning", "ClaimLost",
                           "Bound claim has lost its PersistentVolume. Data on the volume is lost!")]


async def test_volume_bound_by_controller_to_a_claim_that_went_elsewhere_is_freed() -> None:
    ctrl, client, _ = setup(volumes=[pv("a"), pv("b")], claims=[pvc("data", volumeName="b")])
    uid = stored_claim(client, "data")["metadata"]["uid"]
    vol = stored_volume(client, "a")
    vol["spec"]["claimRef"] = {"namespace": "default", "name": "data", "uid": uid}
    vol["metadata"]["annotations"] = {"pv.kubernetes.io/bound-by-controller": "yes"}
    await client.replace(PVS, vol)
    await ctrl.sync("volume:a")
    assert "claimRef" not in stored_volume(client, "a")["spec"]
    assert stored_volume(client, "a")["status"]["phase"] == "Available"
