"""storage.k8s.io/v1 VolumeAttachment: a volume attached to a node by a CSI attacher.

The spec is written once by the attach/detach controller and never changes; the external
attacher reports progress through ``volumeattachments/status``.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.storage import csidriver
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

MAX_METADATA_SIZE = 256 * 1024
MAX_ERROR_MESSAGE = 1024


def _validate_spec(spec: dict[str, Any]) -> list[FieldError]:
    attacher = spec.get("attacher") or ""
    errs: list[FieldError] = []
    if not attacher:
        errs.append(errors.required("spec.attacher"))
    source = spec.get("source") or {}
    inline, pv = source.get("inlineVolumeSpec"), source.get("persistentVolumeName")
    if inline is None and pv is None:
        errs.append(errors.required("spec.source", "must specify exactly one of inlineVolumeSpec and "
                                                   "persistentVolumeName"))
    elif inline is not None and pv is not None:
        errs.append(errors.forbidden("spec.source", "must specify exactly one of inlineVolumeSpec and "
                                                    "persistentVolumeName"))
    elif pv is not None and not pv:
        errs.append(errors.required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName"))
    node = spec.get("nodeName") or ""
    errs.extend(errors.invalid("spec.nodeName", node, m) for m in validation.is_dns1123_subdomain(node))
    errs.extend(csidriver.validate_driver_name(attacher, "spec.attacher") if attacher else [])
    if pv:
        errs.extend(errors.invalid("spec.source.persistentVolumeName", pv, m)
                    for m in validation.is_dns1123_subdomain(pv))
    return errs


def _validate_status(status: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    metadata = status.get("attachmentMetadata") or {}
    if sum(len(k) + len(str(v)) for k, v in metadata.items()) > MAX_METADATA_SIZE:
        errs.append(errors.too_long("status.attachmentMetadata", "", MAX_METADATA_SIZE))
    for key in ("attachError", "detachError"):
        err = status.get(key)
        if not isinstance(err, dict):
            continue
        if len(err.get("message") or "") > MAX_ERROR_MESSAGE:
            errs.append(errors.too_long(f"status.{key}.message", "", MAX_METADATA_SIZE))
        code = err.get("errorCode")
        if isinstance(code, int) and code < 0:
            errs.append(errors.invalid(f"status.{key}.errorCode", code, "must be between 0 and 2147483647, inclusive"))
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        Column("Attacher", format="name",
               description=printing.field_doc("io.k8s.api.storage.v1.VolumeAttachmentSpec", "attacher")),
        Column("PV", description=printing.field_doc("io.k8s.api.storage.v1.VolumeAttachmentSource",
                                                    "persistentVolumeName")),
        Column("Node", description=printing.field_doc("io.k8s.api.storage.v1.VolumeAttachmentSpec", "nodeName")),
        Column("Attached", "boolean",
               description=printing.field_doc("io.k8s.api.storage.v1.VolumeAttachmentStatus", "attached")),
        AGE_COLUMN,
    )


class VolumeAttachmentStrategy(Strategy):
    tracks_generation = False

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return _validate_spec(obj.get("spec") or {}) + _validate_status(obj.get("status") or {})

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        if obj.get("spec") != old.get("spec"):
            errs.append(errors.invalid("spec", obj.get("spec"), "field is immutable"))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec = obj.get("spec") or {}
        return [(obj.get("metadata") or {}).get("name", ""), spec.get("attacher", ""),
                (spec.get("source") or {}).get("persistentVolumeName") or "", spec.get("nodeName", ""),
                bool((obj.get("status") or {}).get("attached")), printing.age(obj, now)]


class VolumeAttachmentStatusStrategy(StatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return self.main.validate_update(obj, old, ctx)


STRATEGY = VolumeAttachmentStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="storage.k8s.io", version="v1", kind="VolumeAttachment", plural="volumeattachments",
        singular="volumeattachment", namespaced=False, strategy=STRATEGY,
        subresources=(Subresource("status", "VolumeAttachment", "storage.k8s.io", "v1"),),
        status_strategy=VolumeAttachmentStatusStrategy(STRATEGY),
    ),
)
