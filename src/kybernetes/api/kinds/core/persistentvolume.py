"""core/v1 PersistentVolume: defaults, one volume source, the phase clock, ``/status`` and the table.

Created ``Pending``; the persistent-volume controller moves it to Available, Bound or Released.
"""

from __future__ import annotations

import copy
import functools
import posixpath
from typing import Any

from kybernetes.api import errors, podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.kinds.core import _storage as st
from kybernetes.api.strategy import (
    AGE_COLUMN,
    NAME_COLUMN,
    Column,
    ResourceInfo,
    StatusStrategy,
    Strategy,
    Subresource,
    WriteContext,
)
from kybernetes.api.types import Object

PV_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker", "nfs", "rbd",
              "quobyte", "cinder", "cephfs", "iscsi", "flexVolume", "fc", "azureFile", "vsphereVolume",
              "photonPersistentDisk", "portworxVolume", "azureDisk", "scaleIO", "local", "storageos", "csi")
RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]


def validate_pv_spec(spec: dict[str, Any]) -> list[FieldError]:
    errs = st.validate_access_modes(spec.get("accessModes"), "spec.accessModes", "")
    capacity = c.section(spec, "capacity")
    if not capacity:
        errs.append(errors.required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(errors.not_supported("spec.capacity", validation.go_string_map(capacity), ["storage"]))
    for name, value in capacity.items():
        errs.extend(st.validate_positive_quantity(value, f"spec.capacity[{name}]"))
    errs.extend(st.validate_class_and_mode(spec, "spec"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(errors.not_supported("spec.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    count = 0
    for key in PV_SOURCES:
        src = spec.get(key)
        if not isinstance(src, dict):
            continue
        if count:
            errs.append(errors.forbidden(f"spec.{key}", "may not specify more than 1 volume type"))
            continue
        count += 1
        if key in ("hostPath", "nfs"):
            errs.extend(podspec.validate_one_volume_source(key, src, f"spec.{key}"))
        elif key == "local":
            if not src.get("path"):
                errs.append(errors.required("spec.local.path"))
            elif ".." in str(src["path"]).split("/"):
                errs.append(errors.invalid("spec.local.path", src["path"], "must not contain '..'"))
            if not isinstance(spec.get("nodeAffinity"), dict):
                errs.append(errors.required("spec.nodeAffinity", "Local volume requires node affinity"))
        elif key == "csi":
            if not src.get("driver"):
                errs.append(errors.required("spec.csi.driver"))
            if not src.get("volumeHandle"):
                errs.append(errors.required("spec.csi.volumeHandle"))
    if not count:
        errs.append(errors.required("spec", "must specify a volume type"))
    host = c.section(spec, "hostPath")
    if host and posixpath.normpath(str(host.get("path") or ".")) == "/" and policy == "Recycle":
        errs.append(errors.forbidden("spec.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath "
                                                                            "mount of '/'"))
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, c.column("Capacity", "PersistentVolumeSpec", "capacity"),
            c.column("Access Modes", "PersistentVolumeSpec", "accessModes"),
            c.column("Reclaim Policy", "PersistentVolumeSpec", "persistentVolumeReclaimPolicy"),
            c.column("Status", "PersistentVolumeStatus", "phase"),
            c.column("Claim", "PersistentVolumeSpec", "claimRef"),
            Column("StorageClass", description="StorageClass of the pv"),
            Column("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
            c.column("Reason", "PersistentVolumeStatus", "reason"), AGE_COLUMN,
            c.column("VolumeMode", "PersistentVolumeSpec", "volumeMode", priority=1))


class PersistentVolumeStrategy(Strategy):
    has_status = True
    tracks_generation = False
    return_deleted_object = True
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        spec, status = c.ensure(obj, "spec"), c.ensure(obj, "status")
        if not spec.get("persistentVolumeReclaimPolicy"):
            spec["persistentVolumeReclaimPolicy"] = "Retain"
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        validation.canonicalize_resource_list(spec.get("capacity"))
        podspec.default_volume_source(spec)
        if not status.get("phase"):
            status["phase"] = "Pending"

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": ctx.now or None}
        if obj["status"]["lastPhaseTransitionTime"] is None:
            del obj["status"]["lastPhaseTransitionTime"]

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_pv_spec(c.section(obj, "spec"))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        spec, old_spec = c.section(obj, "spec"), c.section(old, "spec")
        errs = self.validate(obj, ctx)
        source = {k: spec.get(k) for k in PV_SOURCES if k in spec}
        old_source = {k: old_spec.get(k) for k in PV_SOURCES if k in old_spec}
        if source != old_source:
            errs.append(errors.forbidden("spec.persistentvolumesource",
                                         "spec.persistentvolumesource is immutable after creation"))
        errs.extend(validation.immutable(spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode"))
        if old_spec.get("nodeAffinity") is not None and spec.get("nodeAffinity") != old_spec.get("nodeAffinity"):
            errs.append(errors.forbidden("spec.nodeAffinity", "field is immutable"))
        return errs

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = c.cluster_fields(obj)
        fields["name"] = c.name(obj)
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, status = c.section(obj, "spec"), c.section(obj, "status")
        ref = c.section(spec, "claimRef")
        claim = f"{ref.get('namespace') or ''}/{ref.get('name') or ''}" if isinstance(spec.get("claimRef"), dict) else ""
        phase = "Terminating" if c.is_terminating(obj) else status.get("phase") or ""
        size = c.section(spec, "capacity").get("storage")
        return [c.name(obj), validation.canonical_quantity(size) if size is not None else "0",
                st.access_modes_cell(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy") or "",
                phase, claim, st.storage_class(obj), spec.get("volumeAttributesClassName") or "<unset>",
                status.get("reason") or "", printing.age(obj, now), spec.get("volumeMode") or "<unset>"]


class PersistentVolumeStatusStrategy(StatusStrategy):
    """``persistentvolumes/status``: a phase change stamps ``lastPhaseTransitionTime``."""

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        super().prepare_for_update(obj, old, ctx)
        status, old_status = c.ensure(obj, "status"), c.section(old, "status")
        if status.get("phase") == old_status.get("phase"):
            if status.get("lastPhaseTransitionTime") is None and "lastPhaseTransitionTime" in old_status:
                status["lastPhaseTransitionTime"] = copy.deepcopy(old_status["lastPhaseTransitionTime"])
        elif status.get("lastPhaseTransitionTime") in (None, old_status.get("lastPhaseTransitionTime")) and ctx.now:
            status["lastPhaseTransitionTime"] = ctx.now


STRATEGY = PersistentVolumeStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="PersistentVolume", plural="persistentvolumes",
                 singular="persistentvolume", namespaced=False, strategy=STRATEGY, short_names=("pv",),
                 status_strategy=PersistentVolumeStatusStrategy(STRATEGY),
                 subresources=(Subresource("status", "PersistentVolume"),)),
)
