"""storage.k8s.io/v1 StorageClass: defaults, immutability and the table with ``(default)``."""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

DEFAULT_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                       "storageclass.beta.kubernetes.io/is-default-class")
RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
MAX_PARAMETERS, MAX_PARAMETERS_SIZE = 512, 256 * 1024


def is_default_class(obj: Object) -> bool:
    """``storageutil.IsDefaultAnnotation``: either annotation set to ``"true"``."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_ANNOTATIONS)


def validate_provisioner(value: str, path: str) -> list[FieldError]:
    if not value:
        return [errors.required(path)]
    return [errors.invalid(path, value.lower(), m) for m in validation.is_qualified_name(value.lower())]


def validate_parameters(params: dict[str, Any], path: str) -> list[FieldError]:
    if len(params) > MAX_PARAMETERS:
        return [errors.too_long(path, "", MAX_PARAMETERS)]
    errs = [errors.invalid(path, k, "field can not be empty.") for k in params if not k]
    if sum(len(k) + len(str(v)) for k, v in params.items()) > MAX_PARAMETERS_SIZE:
        errs.append(errors.too_long(path, "", MAX_PARAMETERS_SIZE))
    return errs


def _validate_topologies(terms: list[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: list[Any] = []
    for i, term in enumerate(terms):
        p = f"allowedTopologies[{i}]"
        exprs = (term or {}).get("matchLabelExpressions") or []
        if not exprs:
            errs.append(errors.required(f"{p}.matchLabelExpressions", "must have at least one label expression"))
        keys: set[str] = set()
        for j, expr in enumerate(exprs):
            ep = f"{p}.matchLabelExpressions[{j}]"
            key = expr.get("key") or ""
            errs.extend(errors.invalid(f"{ep}.key", key, m) for m in validation.is_qualified_name(key))
            if key in keys:
                errs.append(errors.duplicate(f"{ep}.key", key))
            keys.add(key)
            if not expr.get("values"):
                errs.append(errors.required(f"{ep}.values", "must specify as least one value"))
        normal = sorted((e.get("key", ""), sorted(e.get("values") or [])) for e in exprs)
        if normal in seen:
            errs.append(errors.duplicate(f"{p}.matchLabelExpressions", ""))
        seen.append(normal)
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    doc = functools.partial(printing.field_doc, "io.k8s.api.storage.v1.StorageClass")
    return (NAME_COLUMN, Column("Provisioner", description=doc("provisioner")),
            Column("ReclaimPolicy", description=doc("reclaimPolicy")),
            Column("VolumeBindingMode", description=doc("volumeBindingMode")),
            Column("AllowVolumeExpansion", description=doc("allowVolumeExpansion")), AGE_COLUMN)


class StorageClassStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def default(self, obj: Object) -> None:
        if not obj.get("reclaimPolicy"):
            obj["reclaimPolicy"] = "Delete"
        if not obj.get("volumeBindingMode"):
            obj["volumeBindingMode"] = "Immediate"

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validate_provisioner(obj.get("provisioner") or "", "provisioner")
        errs.extend(validate_parameters(obj.get("parameters") or {}, "parameters"))
        policy = obj.get("reclaimPolicy")
        if policy and policy not in RECLAIM_POLICIES:
            errs.append(errors.not_supported("reclaimPolicy", policy, list(RECLAIM_POLICIES)))
        mode = obj.get("volumeBindingMode")
        if mode is None:
            errs.append(errors.required("volumeBindingMode"))
        elif mode not in BINDING_MODES:
            errs.append(errors.not_supported("volumeBindingMode", mode, list(BINDING_MODES)))
        errs.extend(_validate_topologies(obj.get("allowedTopologies") or []))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        if (obj.get("parameters") or {}) != (old.get("parameters") or {}):
            errs.append(errors.forbidden("parameters", "updates to parameters are forbidden."))
        if obj.get("provisioner") != old.get("provisioner"):
            errs.append(errors.forbidden("provisioner", "updates to provisioner are forbidden."))
        if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
            errs.append(errors.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        errs.extend(validation.immutable(obj.get("volumeBindingMode"), old.get("volumeBindingMode"),
                                         "volumeBindingMode"))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        name = (obj.get("metadata") or {}).get("name", "")
        if is_default_class(obj):
            name += " (default)"
        return [name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
                obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")),
                printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="storage.k8s.io", version="v1", kind="StorageClass", plural="storageclasses", singular="storageclass",
        namespaced=False, strategy=StorageClassStrategy(), short_names=("sc",),
    ),
)
