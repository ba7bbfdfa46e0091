"""storage.k8s.io/v1 CSIDriver: defaults of the driver's capabilities and the table."""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
LIFECYCLE_MODES = ("Persistent", "Ephemeral")
MIN_TOKEN_SECONDS, MAX_TOKEN_SECONDS = 600, 1 << 32
_DEFAULTS: dict[str, Any] = {"attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
                             "fsGroupPolicy": "ReadWriteOnceWithFSType", "requiresRepublish": False,
                             "seLinuxMount": False}


def validate_driver_name(name: str, path: str) -> list[FieldError]:
    """``ValidateCSIDriverName``: required, at most 63 characters, a DNS subdomain (any case)."""
    errs: list[FieldError] = []
    if not name:
        errs.append(errors.required(path))
    if len(name) > 63:
        errs.append(errors.too_long(path, name, 63))
    errs.extend(errors.invalid(path, name, m) for m in validation.is_dns1123_subdomain(name.lower()))
    return errs


def _validate_spec(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for key, path in (("attachRequired", "spec.attachedRequired"), ("podInfoOnMount", "spec.podInfoOnMount"),
                      ("storageCapacity", "spec.storageCapacity"), ("seLinuxMount", "spec.seLinuxMount")):
        if spec.get(key) is None:
            errs.append(errors.required(path))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        errs.append(errors.not_supported("spec.fsGroupPolicy", policy, list(FS_GROUP_POLICIES)))
    audiences: set[str] = set()
    for i, req in enumerate(spec.get("tokenRequests") or []):
        p = f"spec.tokenRequests[{i}]"
        audience = req.get("audience", "")
        if audience in audiences:
            errs.append(errors.duplicate(f"{p}.audience", audience))
            continue
        audiences.add(audience)
        seconds = req.get("expirationSeconds")
        if isinstance(seconds, int) and seconds < MIN_TOKEN_SECONDS:
            errs.append(errors.invalid(f"{p}.expirationSeconds", seconds,
                                       "may not specify a duration less than 10 minutes"))
        if isinstance(seconds, int) and seconds > MAX_TOKEN_SECONDS:
            errs.append(errors.invalid(f"{p}.expirationSeconds", seconds,
                                       "may not specify a duration larger than 2^32 seconds"))
    errs.extend(errors.not_supported("spec.volumeLifecycleModes", m, list(LIFECYCLE_MODES))
                for m in spec.get("volumeLifecycleModes") or [] if m not in LIFECYCLE_MODES)
    period = spec.get("nodeAllocatableUpdatePeriodSeconds")
    if isinstance(period, int) and period < 10:
        errs.append(errors.invalid("spec.nodeAllocatableUpdatePeriodSeconds", period,
                                   "must be greater than or equal to 10 seconds"))
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    doc = functools.partial(printing.field_doc, "io.k8s.api.storage.v1.CSIDriverSpec")
    return (NAME_COLUMN,
            Column("AttachRequired", "boolean", description=doc("attachRequired")),
            Column("PodInfoOnMount", "boolean", description=doc("podInfoOnMount")),
            Column("StorageCapacity", "boolean", description=doc("storageCapacity")),
            Column("TokenRequests", description=doc("tokenRequests")),
            Column("RequiresRepublish", "boolean", description=doc("requiresRepublish")),
            Column("Modes", description=doc("volumeLifecycleModes")),
            AGE_COLUMN)


class CSIDriverStrategy(Strategy):
    has_status = False

    def default(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        for key, value in _DEFAULTS.items():
            if spec.get(key) is None:
                spec[key] = value
        if not spec.get("volumeLifecycleModes"):
            spec["volumeLifecycleModes"] = ["Persistent"]

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return _validate_spec(obj.get("spec") or {})

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        errs = _validate_spec(spec)
        errs.extend(validation.immutable(spec.get("attachRequired"), old_spec.get("attachRequired"),
                                         "spec.attachedRequired"))
        errs.extend(validation.immutable(spec.get("volumeLifecycleModes"), old_spec.get("volumeLifecycleModes"),
                                         "spec.volumeLifecycleModes"))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec = obj.get("spec") or {}
        tokens = spec.get("tokenRequests")
        modes = ",".join(spec.get("volumeLifecycleModes") or [])
        return [(obj.get("metadata") or {}).get("name", ""),
                True if spec.get("attachRequired") is None else bool(spec["attachRequired"]),
                bool(spec.get("podInfoOnMount")), bool(spec.get("storageCapacity")),
                "<unset>" if tokens is None else ",".join(t.get("audience", "") for t in tokens),
                bool(spec.get("requiresRepublish")), modes or "<none>", printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="storage.k8s.io", version="v1", kind="CSIDriver", plural="csidrivers", singular="csidriver",
        namespaced=False, strategy=CSIDriverStrategy(),
    ),
)
