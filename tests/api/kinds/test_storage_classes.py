from __future__ import annotations

from typing import Any

from kybernetes.api.kinds.storage import csidriver, csinode, storageclass, volumeattachment
from tests.api.kinds._helpers import CTX, NOW, messages, meta

SC = storageclass.RESOURCES[0].strategy


def _sc(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta("local"),
            "provisioner": "rancher.io/local-path", **fields}


def test_storageclass_defaults_and_table() -> None:
    assert storageclass.RESOURCES[0].short_names == ("sc",)
    obj = _sc()
    SC.default(obj)
    assert (obj["reclaimPolicy"], obj["volumeBindingMode"]) == ("Delete", "Immediate")
    assert [c.name for c in SC.columns()] == ["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode",
                                             "AllowVolumeExpansion", "Age"]
    assert SC.row(obj, NOW) == ["local", "rancher.io/local-path", "Delete", "Immediate", False, "60m"]
    obj["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    assert SC.row(obj, NOW)[0] == "local (default)"


def test_storageclass_validation() -> None:
    obj = _sc(provisioner="", reclaimPolicy="Recycle", volumeBindingMode="Later", parameters={"": "x"})
    assert messages(SC.validate(obj, CTX)) == [
        "provisioner: Required value",
        'parameters: Invalid value: "": field can not be empty.',
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
        'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
    ]


def test_storageclass_immutable_fields() -> None:
    old = _sc(parameters={"a": "1"}, reclaimPolicy="Delete", volumeBindingMode="Immediate")
    new = _sc(provisioner="other.io/x", parameters={"a": "2"}, reclaimPolicy="Retain",
              volumeBindingMode="WaitForFirstConsumer")
    assert messages(SC.validate_update(new, old, CTX)) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
        'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ]


def test_csidriver() -> None:
    strategy = csidriver.RESOURCES[0].strategy
    obj: dict[str, Any] = {"metadata": meta("csi.example.com"), "spec": {"tokenRequests": [{"audience": "a"}]}}
    strategy.default(obj)
    assert obj["spec"] == {"tokenRequests": [{"audience": "a"}], "attachRequired": True, "podInfoOnMount": False,
                           "storageCapacity": False, "fsGroupPolicy": "ReadWriteOnceWithFSType",
                           "requiresRepublish": False, "seLinuxMount": False,
                           "volumeLifecycleModes": ["Persistent"]}
    assert strategy.validate(obj, CTX) == []
    assert [c.name for c in strategy.columns()] == ["Name", "AttachRequired", "PodInfoOnMount", "StorageCapacity",
                                                   "TokenRequests", "RequiresRepublish", "Modes", "Age"]
    assert strategy.row(obj, NOW) == ["csi.example.com", True, False, False, "a", False, "Persistent", "60m"]
    changed = {"metadata": meta("csi.example.com"), "spec": {**obj["spec"], "attachRequired": False}}
    assert messages(strategy.validate_update(changed, obj, CTX)) == [
        "spec.attachedRequired: Invalid value: false: field is immutable"]


def test_csinode() -> None:
    strategy = csinode.RESOURCES[0].strategy
    obj = {"metadata": meta("node-1"), "spec": {"drivers": [
        {"name": "csi.example.com", "nodeID": "n1", "topologyKeys": ["topology.example.com/zone"]},
        {"name": "csi.example.com", "nodeID": ""}]}}
    assert messages(strategy.validate(obj, CTX)) == ["spec.drivers[1].nodeID: Required value",
                                                     'spec.drivers[1].name: Duplicate value: "csi.example.com"']
    assert strategy.row(obj, NOW) == ["node-1", 2, "60m"]


def test_volumeattachment() -> None:
    info = volumeattachment.RESOURCES[0]
    obj: dict[str, Any] = {"metadata": meta("va-1"), "spec": {"attacher": "csi.example.com", "nodeName": "node-1",
                                              "source": {"persistentVolumeName": "pv-1"}},
           "status": {"attached": True}}
    assert info.strategy.validate(obj, CTX) == []
    assert [c.name for c in info.strategy.columns()] == ["Name", "Attacher", "PV", "Node", "Attached", "Age"]
    assert info.strategy.row(obj, NOW) == ["va-1", "csi.example.com", "pv-1", "node-1", True, "60m"]
    moved = {**obj, "spec": {**obj["spec"], "nodeName": "node-2"}}
    assert messages(info.strategy.validate_update(moved, obj, CTX))[-1].endswith(": field is immutable")
    bad = {"metadata": meta("va-2"), "spec": {"attacher": "csi.example.com", "nodeName": "n", "source": {}}}
    assert messages(info.strategy.validate(bad, CTX)) == [
        "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"]
    assert [s.name for s in info.subresources] == ["status"]
