"""local-path provisioner: a claim handed to ``rancher.io/local-path`` on a selected node gets a helper
pod that makes its directory, then a hostPath volume pinned to the node and pre-bound to the claim; a
released Delete volume gets a teardown helper, then is deleted. Failures back off."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from kybernetes.client.rest import CONFIGMAPS, NODES, PODS, PVCS, PVS, STORAGECLASSES
from kybernetes.controllers import localpathprovisioner as lpp
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client

Obj = dict[str, Any]
STORAGE = "/var/lib/kyb/storage"


def claim(name: str = "data", node: str | None = "n1") -> Obj:
    ann = {"volume.kubernetes.io/storage-provisioner": lpp.PROVISIONER}
    if node:
        ann["volume.kubernetes.io/selected-node"] = node
    return {"metadata": {"name": name, "namespace": "default", "annotations": ann},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
                     "storageClassName": "local-path", "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}


def setup(*claims: Obj, nodes: tuple[str, ...] = ("n1",)) -> tuple[lpp.LocalPathProvisioner, FakeClient,
                                                                      FakeRecorder]:
    client = FakeClient(Clock(T0))
    for obj in lpp.default_objects(STORAGE, "example/busybox:1"):
        client.add(STORAGECLASSES if obj["kind"] == "StorageClass" else CONFIGMAPS, obj)
    for c in claims:
        client.add(PVCS, c)
    for n in nodes:
        client.add(NODES, {"metadata": {"name": n}})
    rec = FakeRecorder()
    ctrl = lpp.LocalPathProvisioner(client.informer(PVCS), client.informer(PVS), client.informer(STORAGECLASSES),
                                    client.informer(CONFIGMAPS), client.informer(PODS), as_client(client), rec,
                                    clock=client.clock)
    return ctrl, client, rec


async def finish(client: FakeClient, name: str, phase: str, message: str = "") -> None:
    pod = copy.deepcopy(client.stored(PODS, name, "kube-system"))
    assert pod is not None
    term = {"exitCode": 0 if phase == "Succeeded" else 1, "reason": "Completed" if phase == "Succeeded" else "Error"}
    if message:
        term["message"] = message
    pod["status"] = {"phase": phase, "containerStatuses": [{"name": "helper-pod", "state": {"terminated": term}}]}
    await client.replace(PODS, pod, "kube-system", subresource="status")


def test_default_objects_are_k3s_shaped() -> None:
    sc, cm = lpp.default_objects(STORAGE)
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert (sc["provisioner"], sc["volumeBindingMode"], sc["reclaimPolicy"]) == \
        ("rancher.io/local-path", "WaitForFirstConsumer", "Delete")
    assert json.loads(cm["data"]["config.json"]) == {
        "nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [STORAGE]}]}
    assert yaml.safe_load(cm["data"]["helperPod.yaml"])["spec"]["containers"][0]["image"] == lpp.DEFAULT_HELPER_IMAGE
    assert lpp.parse_config(cm).base_dir("any-node") == STORAGE


async def test_provisions_a_hostpath_volume_on_the_selected_node() -> None:
    ctrl, client, rec = setup(claim())
    uid = client.stored(PVCS, "data", "default")["metadata"]["uid"]  # type: ignore[index]
    name = f"pvc-{uid}"
    await ctrl.sync("claim:default/data")
    helper = client.stored(PODS, f"helper-pod-create-{name}", "kube-system")
    assert helper is not None
    directory = f"{STORAGE}/{name}_default_data"
    spec = helper["spec"]
    assert spec["nodeName"] == "n1" and spec["restartPolicy"] == "Never"
    ctr = spec["containers"][0]
    assert ctr["image"] == "example/busybox:1" and ctr["command"] == ["/bin/sh", "/script/setup"]
    assert {e["name"]: e["value"] for e in ctr["env"]} == {"VOL_DIR": directory, "VOL_MODE": "Filesystem",
                                                          "VOL_SIZE_BYTES": str(2 * 1024 ** 3)}
    assert spec["volumes"][1]["hostPath"] == {"path": STORAGE, "type": "DirectoryOrCreate"}
    assert rec.reasons() == ["Provisioning"] and client.stored(PVS, name) is None
    await ctrl.sync("claim:default/data")  # still running: nothing new
    assert rec.reasons() == ["Provisioning"] and len(client.all(PODS)) == 1
    await finish(client, f"helper-pod-create-{name}", "Succeeded")
    await ctrl.sync("claim:default/data")
    volume = client.stored(PVS, name)
    assert volume is not None
    assert volume["metadata"]["annotations"] == {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path",
                                                 "local.path.provisioner/selected-node": "n1"}
    vs = volume["spec"]
    assert vs["hostPath"] == {"path": directory, "type": "DirectoryOrCreate"}
    assert vs["capacity"] == {"storage": "2Gi"} and vs["persistentVolumeReclaimPolicy"] == "Delete"
    assert vs["storageClassName"] == "local-path" and vs["claimRef"]["uid"] == uid
    assert vs["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]
    assert client.all(PODS) == []  # the helper is gone
    assert rec.events[-1] == ("data", "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}")


async def test_waits_for_a_node_and_ignores_other_provisioners() -> None:
    other = claim("other")
    other["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] = "example.com/nfs"
    ctrl, client, rec = setup(claim(node=None), other)
    await ctrl.sync("claim:default/data")
    await ctrl.sync("claim:default/other")
    assert client.all(PODS) == [] and rec.events == []


async def test_failed_helper_reports_and_backs_off() -> None:
    ctrl, client, rec = setup(claim())
    uid = client.stored(PVCS, "data", "default")["metadata"]["uid"]  # type: ignore[index]
    helper = f"helper-pod-create-pvc-{uid}"
    await ctrl.sync("claim:default/data")
    await finish(client, helper, "Failed", "mkdir: can't create directory: Read-only file system")
    await ctrl.sync("claim:default/data")
    assert rec.events[-1][2] == "ProvisioningFailed"
    assert rec.events[-1][3] == (f'failed to provision volume with StorageClass "local-path": failed to create volume '
                                 f"pvc-{uid}: helper pod {helper} failed: mkdir: can't create directory: "
                                 "Read-only file system")
    assert client.all(PODS) == []
    await ctrl.sync("claim:default/data")  # within the back-off: no new helper
    assert client.all(PODS) == []
    client.clock.advance(lpp.RETRY_BASE)
    await ctrl.sync("claim:default/data")
    assert len(client.all(PODS)) == 1


async def test_stuck_helper_times_out() -> None:
    ctrl, client, rec = setup(claim())
    await ctrl.sync("claim:default/data")
    client.clock.advance(lpp.HELPER_TIMEOUT + 1)
    await ctrl.sync("claim:default/data")
    assert "timed out after 120s waiting for helper pod" in rec.events[-1][3] and client.all(PODS) == []


async def released(node_exists: bool = True) -> tuple[lpp.LocalPathProvisioner, FakeClient, FakeRecorder]:
    ctrl, client, rec = setup(nodes=("n1",) if node_exists else ())
    client.add(PVS, {"metadata": {"name": "pvc-1", "annotations": {"pv.kubernetes.io/provisioned-by": lpp.PROVISIONER,
                                                                 "local.path.provisioner/selected-node": "n1"}},
                     "spec": {"hostPath": {"path": f"{STORAGE}/pvc-1_default_data"},
                              "persistentVolumeReclaimPolicy": "Delete"},
                     "status": {"phase": "Released"}})
    return ctrl, client, rec


async def test_released_volume_is_torn_down_then_deleted() -> None:
    ctrl, client, _ = await released()
    await ctrl.sync("volume:pvc-1")
    helper = client.stored(PODS, "helper-pod-delete-pvc-1", "kube-system")
    assert helper is not None and helper["spec"]["containers"][0]["command"] == ["/bin/sh", "/script/teardown"]
    assert client.stored(PVS, "pvc-1") is not None
    await finish(client, "helper-pod-delete-pvc-1", "Succeeded")
    await ctrl.sync("volume:pvc-1")
    assert client.stored(PVS, "pvc-1") is None and client.all(PODS) == []


async def test_volume_of_a_vanished_node_is_deleted_without_helper() -> None:
    ctrl, client, _ = await released(node_exists=False)
    await ctrl.sync("volume:pvc-1")
    assert client.stored(PVS, "pvc-1") is None and client.all(PODS) == []


async def test_install_keeps_existing_objects() -> None:
    client = FakeClient()
    edited = lpp.default_objects("/elsewhere")[1]
    client.add(CONFIGMAPS, edited)
    await lpp.install(as_client(client), STORAGE)
    assert client.stored(STORAGECLASSES, "local-path") is not None
    cm = client.stored(CONFIGMAPS, "local-path-config", "kube-system")
    assert cm is not None and "/elsewhere" in cm["data"]["config.json"]
