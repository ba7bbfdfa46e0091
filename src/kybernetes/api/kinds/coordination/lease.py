"""coordination.k8s.io/v1 Lease: node heartbeats (``kube-node-lease``) and leader election locks."""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN,
            Column("Holder", description=printing.field_doc("io.k8s.api.coordination.v1.LeaseSpec",
                                                            "holderIdentity")),
            AGE_COLUMN)


class LeaseStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if isinstance(duration, int) and duration <= 0:
            errs.append(errors.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if isinstance(transitions, int) and transitions < 0:
            errs.append(errors.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
        if spec.get("preferredHolder") and not spec.get("strategy"):
            errs.append(errors.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        holder = (obj.get("spec") or {}).get("holderIdentity")
        return [(obj.get("metadata") or {}).get("name", ""), holder or "", printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="coordination.k8s.io", version="v1", kind="Lease", plural="leases", singular="lease",
        namespaced=True, strategy=LeaseStrategy(),
    ),
)
