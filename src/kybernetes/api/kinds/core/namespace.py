"""core/v1 Namespace: the ``kubernetes`` finalizer, the ``kubernetes.io/metadata.name`` label,
phases, deletion, ``/status``, ``/finalize`` and the table.

Deleting a namespace marks it ``Terminating``; it stays until the namespace controller has emptied
it and removed ``kubernetes`` from ``spec.finalizers`` through ``namespaces/finalize``.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
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

FINALIZER = "kubernetes"
NAME_LABEL = "kubernetes.io/metadata.name"


def ensure_name_label(obj: Object) -> None:
    md = c.meta(obj)
    if md.get("name"):
        labels = c.section(md, "labels")
        labels[NAME_LABEL] = md["name"]
        md["labels"] = labels


def validate_finalizers(obj: Object) -> list[FieldError]:
    """``validateFinalizerName`` for each of ``spec.finalizers``."""
    errs: list[FieldError] = []
    for value in c.section(obj, "spec").get("finalizers") or []:
        value = str(value)
        errs.extend(validation.validate_qualified_name(value, "spec.finalizers"))
        if "/" not in value and value != FINALIZER:
            errs.append(errors.invalid("spec.finalizers", value,
                                       "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def spec_finalizers_pending(obj: Object) -> bool:
    return bool(c.section(obj, "spec").get("finalizers")) or bool(c.meta(obj).get("finalizers"))


@functools.cache
def _columns() -> tuple[Column, ...]:
    return NAME_COLUMN, Column("Status", description="The status of the namespace"), AGE_COLUMN


class NamespaceStrategy(Strategy):
    has_status = True
    tracks_generation = False
    return_deleted_object = True
    name_validator = staticmethod(validation.is_dns1123_label)

    def default(self, obj: Object) -> None:
        ensure_name_label(obj)
        c.ensure(obj, "spec")
        status = c.ensure(obj, "status")
        if not status.get("phase"):
            status["phase"] = "Active"

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = {"phase": "Active"}
        spec = c.ensure(obj, "spec")
        finalizers = list(spec.get("finalizers") or [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)
        spec["finalizers"] = finalizers

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_finalizers(obj)

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        c.ensure(obj, "spec")["finalizers"] = copy.deepcopy(c.section(old, "spec").get("finalizers"))
        if obj["spec"]["finalizers"] is None:
            obj["spec"].pop("finalizers")
        obj["status"] = copy.deepcopy(old.get("status", {}))

    def canonicalize(self, obj: Object) -> None:
        ensure_name_label(obj)

    def prepare_for_delete(self, obj: Object, ctx: WriteContext) -> None:
        c.ensure(obj, "status")["phase"] = "Terminating"

    def blocks_deletion(self, obj: Object) -> bool:
        return spec_finalizers_pending(obj)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = c.cluster_fields(obj)
        # "name" is a historical alias Kubernetes keeps for compatibility
        fields.update({"status.phase": str(c.section(obj, "status").get("phase") or ""), "name": c.name(obj)})
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return [c.name(obj), c.section(obj, "status").get("phase") or "", printing.age(obj, now)]


class NamespaceStatusStrategy(StatusStrategy):
    """``namespaces/status``: phase Active without a deletionTimestamp, Terminating with one."""

    def blocks_deletion(self, obj: Object) -> bool:
        return spec_finalizers_pending(obj)

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        phase = c.section(obj, "status").get("phase") or ""
        if not c.is_terminating(obj):
            if phase != "Active":
                return [errors.invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
        elif phase != "Terminating":
            return [errors.invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not "
                                                          "empty")]
        return []


class NamespaceFinalizeStrategy(Strategy):
    """``namespaces/finalize``: only ``spec.finalizers`` changes (the namespace controller's last step)."""

    has_status = False
    tracks_generation = False

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        finalizers = c.section(obj, "spec").get("finalizers")
        kept = copy.deepcopy(old)
        c.ensure(kept, "spec")["finalizers"] = finalizers or []
        if not finalizers:
            kept["spec"].pop("finalizers")
        c.replace_with(obj, kept)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_finalizers(obj)

    def blocks_deletion(self, obj: Object) -> bool:
        return spec_finalizers_pending(obj)


STRATEGY = NamespaceStrategy()
FINALIZE_STRATEGY = NamespaceFinalizeStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace", namespaced=False,
        strategy=STRATEGY, short_names=("ns",), status_strategy=NamespaceStatusStrategy(STRATEGY),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(Subresource("finalize", "Namespace", verbs=("update",)), Subresource("status", "Namespace")),
        subresource_strategies={"finalize": FINALIZE_STRATEGY},
    ),
)
