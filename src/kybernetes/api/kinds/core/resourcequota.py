"""core/v1 ResourceQuota: resource names and scopes, ``/status`` (the quota controller's usage) and the
REQUEST/LIMIT table.

The quota admission and controller enforce and count; this module only shapes and checks the object.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kybernetes.api import errors, podspec, printing, validation
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

STANDARD_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "storage", "pods", "resourcequotas", "services", "replicationcontrollers",
    "secrets", "configmaps", "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    "requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage",
}
QUOTA_RESOURCES = STANDARD_RESOURCES - {"storage"}
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
          "CrossNamespacePodAffinity")


def _hugepages(name: str) -> bool:
    return name.startswith(("hugepages-", "requests.hugepages-"))


def validate_resource_name(name: str, path: str, quota: bool = True) -> list[FieldError]:
    """``validateResourceName`` (+ ``ValidateResourceQuotaResourceName`` when ``quota``)."""
    errs = validation.validate_qualified_name(name, path)
    if errs:
        return errs
    if "/" not in name:
        if name not in STANDARD_RESOURCES and not _hugepages(name):
            errs.append(errors.invalid(path, name, "must be a standard resource type or fully qualified"))
        if quota and name not in QUOTA_RESOURCES and not _hugepages(name):
            errs.append(errors.invalid(path, name, "must be a standard resource for quota"))
    return errs


def validate_resource_list(values: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for name, value in (values or {}).items() if isinstance(values, dict) else ():
        p = f"{path}[{name}]"
        errs.extend(validate_resource_name(str(name), p))
        errs.extend(validation.validate_nonnegative_quantity(value, p))
        amount = validation.quantity_value(value)
        integer = name in QUOTA_RESOURCES - {"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                                             "requests.storage", "requests.ephemeral-storage", "limits.cpu",
                                             "limits.memory", "limits.ephemeral-storage"} or \
            podspec.is_extended_resource(str(name))
        if amount is not None and integer and amount.denominator != 1:
            errs.append(errors.invalid(p, validation.canonical_quantity(value), "must be an integer"))
    return errs


def _go_scopes(scopes: list[Any]) -> validation.GoValue:
    return validation.GoValue("[]core.ResourceQuotaScope{" + ", ".join(validation.go_quote(str(s)) for s in scopes)
                              + "}")


def validate_spec(obj: Object) -> list[FieldError]:
    spec = c.section(obj, "spec")
    errs = validate_resource_list(spec.get("hard"), "spec.hard")
    scopes = list(spec.get("scopes") or [])
    for scope in scopes:
        if scope not in SCOPES:
            errs.append(errors.invalid("spec.scopes", _go_scopes(scopes), "unsupported scope"))
    for pair in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
        if set(pair) <= set(scopes):
            errs.append(errors.invalid("spec.scopes", _go_scopes(scopes), "conflicting scopes"))
    return errs


def _cells(obj: Object) -> tuple[str, str]:
    status = c.section(obj, "status")
    hard, used = c.section(status, "hard"), c.section(status, "used")
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        used_text = validation.canonical_quantity(used[name]) if used.get(name) is not None else "0"
        text = f"{name}: {used_text}/{validation.canonical_quantity(hard[name])}"
        (limits if name.split(".")[0] == "limits" and "." in name else requests).append(text)
    return ", ".join(requests), ", ".join(limits)


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, AGE_COLUMN,
            Column("Request", description="Request represents a minimum amount of cpu/memory that a container may "
                                          "consume."),
            Column("Limit", description="Limits control the maximum amount of cpu/memory that a container may use "
                                        "independent of contention on the node."))


class ResourceQuotaStrategy(Strategy):
    has_status = True
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        spec, status = c.ensure(obj, "spec"), c.ensure(obj, "status")
        validation.canonicalize_resource_list(spec.get("hard"))
        for key in ("hard", "used"):
            validation.canonicalize_resource_list(status.get(key))

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = {}

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(obj) + self.validate_status(obj)

    @staticmethod
    def validate_status(obj: Object) -> list[FieldError]:
        status = c.section(obj, "status")
        return validate_resource_list(status.get("hard"), "status.hard") + \
            validate_resource_list(status.get("used"), "status.used")

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = copy.deepcopy(old.get("status", {}))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        scopes = list(c.section(obj, "spec").get("scopes") or [])
        if set(scopes) != set(c.section(old, "spec").get("scopes") or []):
            errs.append(errors.invalid("spec.scopes", _go_scopes(scopes), "field is immutable"))
        return errs

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return c.namespaced_fields(obj)

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        requests, limits = _cells(obj)
        return [c.name(obj), printing.age(obj, now), requests, limits]


class ResourceQuotaStatusStrategy(StatusStrategy):
    """``resourcequotas/status`` (the quota controller): the old spec wins."""

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return ResourceQuotaStrategy.validate_status(obj)


STRATEGY = ResourceQuotaStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="ResourceQuota", plural="resourcequotas", singular="resourcequota",
                 namespaced=True, strategy=STRATEGY, short_names=("quota",),
                 status_strategy=ResourceQuotaStatusStrategy(STRATEGY),
                 subresources=(Subresource("status", "ResourceQuota"),)),
)
