"""core/v1 PersistentVolumeClaim: defaults, data sources, the set-once spec (resize aside),
``/status`` and the table.

The persistent-volume controller binds claims (``spec.volumeName``) and writes their status.
"""

from __future__ import annotations

import copy
import functools
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

IMMUTABLE = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"


def normalize_data_sources(spec: dict[str, Any]) -> None:
    """``NormalizeDataSources``: ``dataSource`` and ``dataSourceRef`` mirror each other (AnyVolumeDataSource)."""
    source, ref = spec.get("dataSource"), spec.get("dataSourceRef")
    if isinstance(source, dict) and ref is None:
        spec["dataSourceRef"] = {k: source[k] for k in ("apiGroup", "kind", "name") if k in source}
    elif isinstance(ref, dict) and source is None and not ref.get("namespace"):
        spec["dataSource"] = {k: ref[k] for k in ("apiGroup", "kind", "name") if k in ref}


def validate_pvc_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """``ValidatePersistentVolumeClaimSpec`` (also used for StatefulSet claim templates)."""
    errs = st.validate_access_modes(spec.get("accessModes"), f"{path}.accessModes",
                                    "at least 1 access mode is required")
    if spec.get("selector") is not None:
        errs.extend(validation.validate_label_selector(spec["selector"], f"{path}.selector"))
    requests = c.section(c.section(spec, "resources"), "requests")
    if "storage" not in requests:
        errs.append(errors.required(f"{path}.resources[storage]"))
    else:
        errs.extend(st.validate_positive_quantity(requests["storage"], f"{path}.resources[storage]"))
    return errs + st.validate_class_and_mode(spec, path)


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, c.column("Status", "PersistentVolumeClaimStatus", "phase"),
            c.column("Volume", "PersistentVolumeClaimSpec", "volumeName"),
            c.column("Capacity", "PersistentVolumeClaimStatus", "capacity"),
            c.column("Access Modes", "PersistentVolumeClaimStatus", "accessModes"),
            Column("StorageClass", description="StorageClass of the pvc"),
            Column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"), AGE_COLUMN,
            c.column("VolumeMode", "PersistentVolumeClaimSpec", "volumeMode", priority=1))


class PersistentVolumeClaimStrategy(Strategy):
    has_status = True
    tracks_generation = False
    return_deleted_object = True
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        podspec.default_pvc_spec(c.ensure(obj, "spec"))
        status = c.ensure(obj, "status")
        if not status.get("phase"):
            status["phase"] = "Pending"
        for key in ("capacity", "allocatedResources"):
            validation.canonicalize_resource_list(status.get(key))

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = {"phase": "Pending"}
        normalize_data_sources(c.ensure(obj, "spec"))

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_pvc_spec(c.section(obj, "spec"))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = copy.deepcopy(old.get("status", {}))
        normalize_data_sources(c.ensure(obj, "spec"))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        spec, old_spec = copy.deepcopy(c.section(obj, "spec")), copy.deepcopy(c.section(old, "spec"))
        if not old_spec.get("volumeName"):
            if "volumeName" in spec:
                old_spec["volumeName"] = spec["volumeName"]
        beta = st.BETA_CLASS_ANNOTATION
        if old_spec.get("storageClassName") is None and beta not in (c.meta(old).get("annotations") or {}):
            old_spec.pop("storageClassName", None)
            spec.pop("storageClassName", None)
        new_size = c.section(c.section(spec, "resources"), "requests").get("storage")
        old_size = c.section(c.section(old_spec, "resources"), "requests").get("storage")
        if c.section(obj, "status").get("phase") == "Bound" and isinstance(c.section(spec, "resources").get("requests"),
                                                                           dict):
            spec["resources"]["requests"]["storage"] = old_size
        if spec != old_spec:
            errs.append(errors.forbidden("spec", IMMUTABLE + "\n" + "\n".join(c.spec_diff(old_spec, spec))))
        new_v, old_v = validation.quantity_value(new_size), validation.quantity_value(old_size)
        if new_v is not None and old_v is not None and new_v < old_v:
            errs.append(errors.forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
        return errs

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = c.namespaced_fields(obj)
        fields["name"] = c.name(obj)
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, status = c.section(obj, "spec"), c.section(obj, "status")
        phase = "Terminating" if c.is_terminating(obj) else status.get("phase") or ""
        capacity = modes = ""
        if spec.get("volumeName"):
            modes = st.access_modes_cell(status.get("accessModes"))
            size = c.section(status, "capacity").get("storage")
            capacity = validation.canonical_quantity(size) if size is not None else "0"
        return [c.name(obj), phase, spec.get("volumeName") or "", capacity, modes, st.storage_class(obj),
                spec.get("volumeAttributesClassName") or "<unset>", printing.age(obj, now),
                spec.get("volumeMode") or "<unset>"]


class PersistentVolumeClaimStatusStrategy(StatusStrategy):
    """``persistentvolumeclaims/status``: the old spec wins."""


STRATEGY = PersistentVolumeClaimStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="PersistentVolumeClaim", plural="persistentvolumeclaims",
                 singular="persistentvolumeclaim", namespaced=True, strategy=STRATEGY, short_names=("pvc",),
                 status_strategy=PersistentVolumeClaimStatusStrategy(STRATEGY),
                 subresources=(Subresource("status", "PersistentVolumeClaim"),)),
)
