"""core/v1 ReplicationController: selector and labels defaulted from the template, generation,
``/status``, ``/scale`` (autoscaling/v1 Scale), the ``status.replicas`` field selector and the table.

The replication manager (a ReplicaSet controller over a map selector) keeps the pods in step.
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
    ScaleAccessor,
    StatusStrategy,
    Strategy,
    Subresource,
    WriteContext,
)
from kybernetes.api.types import Object


def _labels_match(selector: dict[str, Any], labels: Any) -> bool:
    labels = labels if isinstance(labels, dict) else {}
    return all(labels.get(k) == v for k, v in selector.items())


def validate_spec(spec: dict[str, Any]) -> list[FieldError]:
    """``ValidateReplicationControllerSpec``."""
    errs = validation.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
    if not selector:
        errs.append(errors.required("spec.selector"))
    else:
        errs.extend(validation.validate_labels(selector, "spec.selector"))
    errs.extend(validation.validate_nonnegative(spec.get("replicas"), "spec.replicas"))
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.append(errors.required("spec.template"))
        return errs
    labels = c.meta(template).get("labels")
    if selector and not _labels_match(selector, labels):
        errs.append(errors.invalid("spec.template.metadata.labels", validation.go_string_map(labels),
                                   "`selector` does not match template `labels`"))
    errs.extend(podspec.validate_pod_template(template, "spec.template"))
    pod = c.section(template, "spec")
    if pod.get("restartPolicy") != "Always":
        errs.append(errors.not_supported("spec.template.spec.restartPolicy", pod.get("restartPolicy") or "",
                                         ["Always"]))
    if pod.get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden("spec.template.spec.activeDeadlineSeconds",
                                     "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


def validate_status(status: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        errs.extend(validation.validate_nonnegative(status.get(key), f"status.{key}"))
    total = status.get("replicas") or 0
    for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if (status.get(key) or 0) > total:
            errs.append(errors.invalid(f"status.{key}", status.get(key), "cannot be greater than status.replicas"))
    if (status.get("availableReplicas") or 0) > (status.get("readyReplicas") or 0):
        errs.append(errors.invalid("status.availableReplicas", status.get("availableReplicas"),
                                   "cannot be greater than readyReplicas"))
    return errs


def _set_replicas(obj: Object, replicas: int) -> None:
    c.ensure(obj, "spec")["replicas"] = replicas


SCALE = ScaleAccessor(
    get_spec_replicas=lambda obj: int(c.section(obj, "spec").get("replicas") or 0),
    set_spec_replicas=_set_replicas,
    get_status_replicas=lambda obj: int(c.section(obj, "status").get("replicas") or 0),
    get_selector=lambda obj: ",".join(f"{k}={v}" for k, v in sorted(
        (c.section(obj, "spec").get("selector") or {}).items())),
)


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, c.column("Desired", "ReplicationControllerSpec", "replicas", "integer"),
            c.column("Current", "ReplicationControllerStatus", "replicas", "integer"),
            c.column("Ready", "ReplicationControllerStatus", "readyReplicas", "integer"), AGE_COLUMN,
            Column("Containers", priority=1, description="Names of each container in the template."),
            Column("Images", priority=1, description="Images referenced by each container in the template."),
            c.column("Selector", "ReplicationControllerSpec", "selector", priority=1))


class ReplicationControllerStrategy(Strategy):
    has_status = True
    tracks_generation = True
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        spec = c.ensure(obj, "spec")
        template = spec.get("template")
        labels = c.meta(template).get("labels") if isinstance(template, dict) else None
        if labels:
            if not spec.get("selector"):
                spec["selector"] = copy.deepcopy(labels)
            md = c.ensure(obj, "metadata")
            if not md.get("labels"):
                md["labels"] = copy.deepcopy(labels)
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        if isinstance(template, dict):
            podspec.default_pod_template(template)
        c.ensure(obj, "status").setdefault("replicas", 0)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = {"replicas": 0}

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(c.section(obj, "spec"))

    def warnings_on_create(self, obj: Object) -> list[str]:
        template = c.section(c.section(obj, "spec"), "template")
        return podspec.warnings_for_pod_spec(c.section(template, "spec"), "spec.template.spec")

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = c.namespaced_fields(obj)
        fields["status.replicas"] = str(c.section(obj, "status").get("replicas") or 0)
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, status = c.section(obj, "spec"), c.section(obj, "status")
        names, images = printing.container_cells(c.dicts(c.section(c.section(spec, "template"), "spec")
                                                         .get("containers")))
        return [c.name(obj), spec.get("replicas") or 0, status.get("replicas") or 0, status.get("readyReplicas") or 0,
                printing.age(obj, now), names, images, printing.map_selector_string(spec.get("selector"))]


class ReplicationControllerStatusStrategy(StatusStrategy):
    """``replicationcontrollers/status`` (the replication manager): the old spec wins."""

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_status(c.section(obj, "status"))


STRATEGY = ReplicationControllerStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="", version="v1", kind="ReplicationController", plural="replicationcontrollers",
        singular="replicationcontroller", namespaced=True, strategy=STRATEGY, short_names=("rc",),
        categories=("all",), status_strategy=ReplicationControllerStatusStrategy(STRATEGY), scale=SCALE,
        subresources=(Subresource("scale", "Scale", "autoscaling", "v1"), Subresource("status", "ReplicationController")),
    ),
)
