"""apps/v1 ControllerRevision: immutable snapshots of StatefulSet/DaemonSet templates, and the table.

Written by the statefulset and daemonset controllers; there is no spec/status split.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object, split_api_version

COLUMNS = (
    NAME_COLUMN,
    Column("Controller", description="Controller of the object"),
    Column("Revision", description="revision indicates the revision of the state represented by Data."),
    AGE_COLUMN,
)


def controller_name(obj: Object) -> str:
    """``kind.group/name`` (lower-cased) of the controlling owner, ``<none>`` without one."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            group, _ = split_api_version(str(ref.get("apiVersion") or ""))
            kind = str(ref.get("kind") or "")
            if not kind:
                return str(ref.get("name") or "")
            qualified = f"{kind}.{group}" if group else kind
            return f"{qualified.lower()}/{ref.get('name') or ''}"
    return "<none>"


class ControllerRevisionStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def default(self, obj: Object) -> None:
        obj.setdefault("revision", 0)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("data") is None:
            errs.append(errors.required("data", "data is mandatory"))
        errs.extend(validation.validate_nonnegative(obj.get("revision"), "revision"))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return self.validate(obj, ctx) + common.immutable(obj.get("data"), old.get("data"), "data")

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        return [common.name(obj), controller_name(obj), obj.get("revision") or 0, printing.age(obj, now)]


STRATEGY = ControllerRevisionStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="apps", version="v1", kind="ControllerRevision", plural="controllerrevisions",
        singular="controllerrevision", namespaced=True, strategy=STRATEGY,
    ),
)
