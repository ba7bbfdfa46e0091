"""Matching PersistentVolumeClaims to PersistentVolumes: the rules the PV binder and the scheduler's
VolumeBinding plugin share (upstream: pkg/controller/volume/persistentvolume/index.go and
component-helpers/storage/volume).

A volume fits a claim when it offers every access mode the claim asks for, at least the requested
capacity, the same storage class and volume mode, and labels the claim's selector accepts; among the
Available volumes that fit, the smallest wins. A volume whose ``claimRef`` already names the claim is
taken first, whatever its size.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.nodeselection import node_selector_matches
from kybernetes.api.quantity import Quantity, parse_quantity
from kybernetes.api.selectors import selector_from_label_selector

Obj = dict[str, Any]

# StorageObjectInUseProtection: a claim or volume still in use is not removed
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return _md(obj).get("annotations") or {}


def claim_class(claim: Obj) -> str:
    """The claim's class: the beta annotation wins over ``spec.storageClassName`` (as upstream reads it)."""
    return annotations_of(claim).get(ANN_BETA_CLASS) or _spec(claim).get("storageClassName") or ""


def volume_class(volume: Obj) -> str:
    return annotations_of(volume).get(ANN_BETA_CLASS) or _spec(volume).get("storageClassName") or ""


def _storage(resources: dict[str, Any] | None) -> Quantity:
    return parse_quantity(str((resources or {}).get("storage") or "0"))


def requested(claim: Obj) -> Quantity:
    return _storage((_spec(claim).get("resources") or {}).get("requests"))


def capacity(volume: Obj) -> Quantity:
    return _storage(_spec(volume).get("capacity"))


def volume_mode(obj: Obj) -> str:
    return _spec(obj).get("volumeMode") or "Filesystem"


def access_modes_fit(claim: Obj, volume: Obj) -> bool:
    """Every mode the claim asks for is one the volume offers."""
    return set(_spec(claim).get("accessModes") or []) <= set(_spec(volume).get("accessModes") or [])


def is_bound_to(volume: Obj, claim: Obj) -> bool:
    """Whether ``volume.spec.claimRef`` names ``claim`` (a ref without uid is a user's pre-binding)."""
    ref = _spec(volume).get("claimRef")
    if not isinstance(ref, dict):
        return False
    md = _md(claim)
    if ref.get("name") != md.get("name") or (ref.get("namespace") or "") != (md.get("namespace") or ""):
        return False
    return not ref.get("uid") or ref.get("uid") == md.get("uid")


def mismatch(volume: Obj, claim: Obj) -> str:
    """Why ``volume`` cannot serve ``claim`` ("" when it can): upstream's checkVolumeSatisfyClaim."""
    if capacity(volume) < requested(claim):
        return "requested PV is too small"
    if volume_class(volume) != claim_class(claim):
        return "storageClassName does not match"
    if volume_mode(volume) != volume_mode(claim):
        return "incompatible volumeMode"
    if not access_modes_fit(claim, volume):
        return "incompatible accessMode"
    return ""


def node_affinity_matches(volume: Obj, node: Obj) -> bool:
    required = (_spec(volume).get("nodeAffinity") or {}).get("required")
    return node_selector_matches(required, _md(node).get("labels") or {}, _md(node).get("name", ""))


def find_best_match(claim: Obj, volumes: list[Obj], delay_binding: bool, node: Obj | None = None,
                    skip: frozenset[str] = frozenset()) -> Obj | None:
    """The volume to bind ``claim`` to (None if none fits). With delayed binding and no ``node`` only
    volumes already naming the claim count: the scheduler chooses among the others once it has a
    node. ``skip``: names already promised to other claims of the same pod."""
    want = requested(claim)
    selector = selector_from_label_selector(_spec(claim).get("selector"))
    best: Obj | None = None
    for volume in volumes:
        size = capacity(volume)
        if size < want or volume_mode(volume) != volume_mode(claim) or _md(volume).get("deletionTimestamp"):
            continue
        affinity_ok = node is None or node_affinity_matches(volume, node)
        if is_bound_to(volume, claim):
            return volume if affinity_ok else None
        if (node is None and delay_binding) or _md(volume).get("name") in skip:
            continue
        if (volume.get("status") or {}).get("phase") != "Available" or _spec(volume).get("claimRef"):
            continue
        if selector is not None and not selector.matches(_md(volume).get("labels") or {}):
            continue
        if volume_class(volume) != claim_class(claim) or not affinity_ok or not access_modes_fit(claim, volume):
            continue
        if best is None or capacity(best) > size:
            best = volume
    return best


def claim_ref(claim: Obj) -> Obj:
    """A volume's ``claimRef`` naming ``claim``."""
    md = _md(claim)
    return {"kind": "PersistentVolumeClaim", "namespace": md.get("namespace"), "name": md.get("name"),
            "uid": md.get("uid"), "apiVersion": "v1", "resourceVersion": md.get("resourceVersion")}


def default_class(classes: list[Obj]) -> Obj | None:
    """The default StorageClass: annotated ``is-default-class: "true"``; the newest when several are."""
    defaults = [c for c in classes if annotations_of(c).get(ANN_DEFAULT_CLASS) == "true"]
    if not defaults:
        return None
    return max(defaults, key=lambda c: (_md(c).get("creationTimestamp") or "", _md(c).get("name") or ""))


def pod_claims(pod: Obj) -> list[tuple[str, bool]]:
    """The claims ``pod`` mounts, each with whether it is a generic ephemeral volume's claim
    (named ``<pod>-<volume>``)."""
    name = (pod.get("metadata") or {}).get("name", "")
    return [(v["persistentVolumeClaim"].get("claimName", ""), False) if v.get("persistentVolumeClaim")
            else (f"{name}-{v.get('name', '')}", True)
            for v in (pod.get("spec") or {}).get("volumes") or () if v.get("persistentVolumeClaim") or v.get("ephemeral")]
