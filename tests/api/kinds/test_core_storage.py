"""core/v1 PersistentVolume and PersistentVolumeClaim strategies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.core import persistentvolume, persistentvolumeclaim
from kybernetes.api.strategy import WriteContext

PV, PVC = persistentvolume.STRATEGY, persistentvolumeclaim.STRATEGY
T0, NOW = "2025-01-01T00:00:00Z", 1735689600.0 + 120
CTX = WriteContext(now="2025-01-01T00:00:10Z")


def pv(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "pv1", "creationTimestamp": T0},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"},
                     **spec}}


def created(strategy: Any, obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    strategy.default(obj)
    strategy.prepare_for_create(obj, CTX)
    return obj


def test_pv_defaults_and_initial_status() -> None:
    obj = created(PV, pv())
    assert obj["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert obj["spec"]["volumeMode"] == "Filesystem"
    assert obj["spec"]["hostPath"] == {"path": "/data"}
    assert obj["status"] == {"phase": "Pending", "lastPhaseTransitionTime": "2025-01-01T00:00:10Z"}
    assert PV.validate(obj, CTX) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"accessModes": []}, ["spec.accessModes: Required value"]),
    ({"accessModes": ["ReadWriteOncePod", "ReadWriteMany"]},
     ["spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"]),
    ({"capacity": {"storage": "0"}}, ['spec.capacity[storage]: Invalid value: "0": must be greater than zero']),
    ({"nfs": {"server": "s", "path": "/x"}}, ["spec.nfs: Forbidden: may not specify more than 1 volume type"]),
    ({"hostPath": None, "local": {"path": "/mnt"}}, ["spec.nodeAffinity: Required value: Local volume requires node "
                                                     "affinity"]),
    ({"persistentVolumeReclaimPolicy": "Keep"}, ['spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": '
                                                 'supported values: "Delete", "Recycle", "Retain"']),
])
def test_pv_validation(spec: dict[str, Any], expected: list[str]) -> None:
    obj = created(PV, pv(**spec))
    if obj["spec"].get("hostPath") is None:
        obj["spec"].pop("hostPath", None)
    assert [e.message() for e in PV.validate(obj, CTX)] == expected


def test_pv_source_is_immutable_and_phase_clock_ticks() -> None:
    old = created(PV, pv())
    new = copy.deepcopy(old)
    new["spec"]["hostPath"]["path"] = "/other"
    assert [e.message() for e in PV.validate_update(new, old, CTX)] == [
        "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"]
    status = persistentvolume.RESOURCES[0].status_strategy
    assert status is not None
    moved = copy.deepcopy(old)
    moved["status"] = {"phase": "Available"}
    status.prepare_for_update(moved, old, WriteContext(now="2025-01-01T00:01:00Z"))
    assert moved["status"] == {"phase": "Available", "lastPhaseTransitionTime": "2025-01-01T00:01:00Z"}


def test_pv_row() -> None:
    obj = created(PV, pv(claimRef={"namespace": "default", "name": "data"}, storageClassName="local",
                         accessModes=["ReadWriteMany", "ReadWriteOnce"]))
    obj["status"] = {"phase": "Bound"}
    assert PV.row(obj, NOW) == ["pv1", "1Gi", "RWO,RWX", "Retain", "Bound", "default/data", "local", "<unset>", "",
                                "2m", "Filesystem"]
    assert [c.name for c in PV.columns()] == ["Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim",
                                              "StorageClass", "VolumeAttributesClass", "Reason", "Age", "VolumeMode"]


def pvc(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "data", "namespace": "default", "creationTimestamp": T0},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}, **spec}}


def test_pvc_defaults_and_status() -> None:
    obj = created(PVC, pvc(dataSource={"kind": "PersistentVolumeClaim", "name": "src"}))
    assert obj["spec"]["volumeMode"] == "Filesystem"
    assert obj["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    assert obj["spec"]["dataSourceRef"] == {"kind": "PersistentVolumeClaim", "name": "src"}
    assert obj["status"] == {"phase": "Pending"}
    assert PVC.validate(obj, CTX) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"accessModes": []}, ["spec.accessModes: Required value: at least 1 access mode is required"]),
    ({"resources": {}}, ["spec.resources[storage]: Required value"]),
    ({"volumeMode": "Raw"}, ['spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"']),
])
def test_pvc_validation(spec: dict[str, Any], expected: list[str]) -> None:
    assert [e.message() for e in PVC.validate(created(PVC, pvc(**spec)), CTX)] == expected


def test_pvc_spec_is_immutable_except_bound_resize() -> None:
    old = created(PVC, pvc())
    grown = copy.deepcopy(old)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert [e.message().split("\n")[0] for e in PVC.validate_update(grown, old, CTX)] == [
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
        "for bound claims"]
    bound = copy.deepcopy(old)
    bound["status"]["phase"] = "Bound"
    grown["status"] = bound["status"]
    assert PVC.validate_update(grown, bound, CTX) == []
    shrunk = copy.deepcopy(bound)
    shrunk["spec"]["resources"]["requests"]["storage"] = "512Mi"
    assert [e.message() for e in PVC.validate_update(shrunk, bound, CTX)] == [
        "spec.resources.requests.storage: Forbidden: field can not be less than previous value"]
    binding = copy.deepcopy(old)
    binding["spec"]["volumeName"] = "pv1"
    assert PVC.validate_update(binding, old, CTX) == []


def test_pvc_row() -> None:
    obj = created(PVC, pvc(storageClassName="local-path"))
    assert PVC.row(obj, NOW) == ["data", "Pending", "", "", "", "local-path", "<unset>", "2m", "Filesystem"]
    obj["spec"]["volumeName"] = "pv1"
    obj["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    assert PVC.row(obj, NOW)[:5] == ["data", "Bound", "pv1", "1Gi", "RWO"]
    obj["metadata"]["deletionTimestamp"] = T0
    assert PVC.row(obj, NOW)[1] == "Terminating"
    assert PVC.field_selectors(obj) == {"metadata.name": "data", "metadata.namespace": "default", "name": "data"}
