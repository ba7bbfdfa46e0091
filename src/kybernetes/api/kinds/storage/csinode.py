"""storage.k8s.io/v1 CSINode: the CSI drivers a node's kubelet registered (one per node name)."""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.storage import csidriver
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

NODE_ID_MAX = 192


def _validate_driver(driver: dict[str, Any], seen: set[str], path: str) -> list[FieldError]:
    name = driver.get("name") or ""
    errs = csidriver.validate_driver_name(name, f"{path}.name")
    node_id = driver.get("nodeID") or ""
    if not node_id:
        errs.append(errors.required(f"{path}.nodeID"))
    if len(node_id) > NODE_ID_MAX:
        errs.append(errors.invalid(f"{path}.nodeID", node_id, f"must be {NODE_ID_MAX} characters or less"))
    count = (driver.get("allocatable") or {}).get("count")
    if isinstance(count, int) and count < 0:
        errs.append(errors.invalid(f"{path}.allocatable.count", count, "must be greater than or equal to 0"))
    if name in seen:
        errs.append(errors.duplicate(f"{path}.name", name))
    seen.add(name)
    keys: set[str] = set()
    for key in driver.get("topologyKeys") or []:
        if not key:
            errs.append(errors.required(path, ""))
        if key in keys:
            errs.append(errors.duplicate(path, key))
        keys.add(key)
        errs.extend(errors.invalid(path, key, m) for m in validation.is_qualified_name(key))
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN,
            Column("Drivers", "integer", description="Drivers indicates the number of CSI drivers registered on "
                                                     "the node"),
            AGE_COLUMN)


class CSINodeStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        seen: set[str] = set()
        errs: list[FieldError] = []
        for i, driver in enumerate((obj.get("spec") or {}).get("drivers") or []):
            errs.extend(_validate_driver(driver if isinstance(driver, dict) else {}, seen, f"spec.drivers[{i}]"))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        old_drivers = {d.get("name"): d for d in (old.get("spec") or {}).get("drivers") or []}
        for driver in (obj.get("spec") or {}).get("drivers") or []:
            before = old_drivers.get(driver.get("name"))
            if before is not None:
                errs.extend(validation.immutable(driver, before, "spec.drivers"))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        drivers = (obj.get("spec") or {}).get("drivers") or []
        return [(obj.get("metadata") or {}).get("name", ""), len(drivers), printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="storage.k8s.io", version="v1", kind="CSINode", plural="csinodes", singular="csinode",
        namespaced=False, strategy=CSINodeStrategy(),
    ),
)
