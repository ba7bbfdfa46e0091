"""scheduling.k8s.io/v1 PriorityClass: the value pods get for ``priorityClassName``.

The two system classes are created at start-up by the apiserver's bootstrap; only they may use
the ``system-`` prefix, with their fixed values.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
#: name → (value, globalDefault) of the built-in system priority classes
SYSTEM_CLASSES = {"system-node-critical": (2_000_001_000, False), "system-cluster-critical": (2_000_000_000, False)}
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")


def _system_class_error(name: str, value: Any, global_default: bool) -> str:
    known = SYSTEM_CLASSES.get(name)
    if known is None:
        return f"{name} is not a known system priority class"
    if value != known[0]:
        return f"value of {name} PriorityClass must be {known[0]}"
    if global_default != known[1]:
        return f"globalDefault of {name} PriorityClass must be {'true' if known[1] else 'false'}"
    return ""


@functools.cache
def _columns() -> tuple[Column, ...]:
    doc = functools.partial(printing.field_doc, "io.k8s.api.scheduling.v1.PriorityClass")
    return (NAME_COLUMN, Column("Value", "integer", description=doc("value")),
            Column("Global-Default", "boolean", description=doc("globalDefault")), AGE_COLUMN,
            Column("PreemptionPolicy", description=doc("preemptionPolicy")))


class PriorityClassStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def default(self, obj: Object) -> None:
        if obj.get("preemptionPolicy") is None:
            obj["preemptionPolicy"] = "PreemptLowerPriority"

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs: list[FieldError] = []
        name = (obj.get("metadata") or {}).get("name") or ""
        value = obj.get("value") or 0
        if name.startswith(SYSTEM_PREFIX):
            problem = _system_class_error(name, value, bool(obj.get("globalDefault")))
            if problem:
                errs.append(errors.forbidden("metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix "
                                                              f"are reserved for system use only. error: {problem}"))
        elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            errs.append(errors.forbidden("value", "maximum allowed value of a user defined priority is "
                                                  f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
        policy = obj.get("preemptionPolicy")
        if policy == "":
            errs.append(errors.required("preemptionPolicy"))
        elif policy is not None and policy not in PREEMPTION_POLICIES:
            errs.append(errors.not_supported("preemptionPolicy", policy, list(PREEMPTION_POLICIES)))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        if (obj.get("value") or 0) != (old.get("value") or 0):
            errs.append(errors.forbidden("value", "may not be changed in an update."))
        errs.extend(validation.immutable(obj.get("preemptionPolicy"), old.get("preemptionPolicy"),
                                         "preemptionPolicy"))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return [(obj.get("metadata") or {}).get("name", ""), obj.get("value") or 0, bool(obj.get("globalDefault")),
                printing.age(obj, now), obj.get("preemptionPolicy") or ""]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="scheduling.k8s.io", version="v1", kind="PriorityClass", plural="priorityclasses",
        singular="priorityclass", namespaced=False, strategy=PriorityClassStrategy(), short_names=("pc",),
    ),
)
