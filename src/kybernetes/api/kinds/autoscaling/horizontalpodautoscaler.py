"""HorizontalPodAutoscaler, served as autoscaling/v2 (stored) and autoscaling/v1 (converted).

The generic write path calls these strategies; v1 objects are converted to v2 to be validated
and stored (``_hpa_convert``), as Kubernetes validates and stores its internal form. The HPA
controller writes ``horizontalpodautoscalers/status``.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import printing
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.kinds.autoscaling import _hpa_convert as convert
from kybernetes.api.kinds.autoscaling import _hpa_validation as hpa
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, KIND, PLURAL = "autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"
STORAGE_PREFIX = f"{GROUP}/{PLURAL}"
_STATUS_ANNOTATIONS = (convert.CURRENT_METRICS_ANNOTATION, convert.CONDITIONS_ANNOTATION)
_SPEC_ANNOTATIONS = (convert.METRICS_ANNOTATION, convert.BEHAVIOR_ANNOTATION)

COLUMNS = (
    NAME_COLUMN,
    Column("Reference", description="scaleTargetRef points to the target resource to scale, and is used to the "
           "pods for which metrics should be collected, as well as to actually change the replica count."),
    Column("Targets", description="metrics contains the specifications for which to use to calculate the desired "
           "replica count (the maximum replica count across all metrics will be used).  The desired replica count "
           "is calculated multiplying the ratio between the target value and the current value by the current "
           "number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See "
           "the individual metric source types for more information about how each type of metric must respond."),
    Column("MinPods", description="minReplicas is the lower limit for the number of replicas to which the "
           "autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature "
           "gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is "
           "active as long as at least one metric value is available."),
    Column("MaxPods", description="maxReplicas is the upper limit for the number of replicas to which the "
           "autoscaler can scale up. It cannot be less that minReplicas."),
    Column("Replicas", description="currentReplicas is current number of replicas of pods managed by this "
           "autoscaler, as last seen by the autoscaler."),
    AGE_COLUMN,
)


def _quantity(value: Any) -> str:
    return "<nil>" if value is None else str(value)


def _format_metric(spec: dict[str, Any], st: dict[str, Any] | None) -> str:
    kind = spec.get("type")
    if kind in ("External", "Object", "Pods"):
        field = kind.lower()
        target = (spec.get(field) or {}).get("target") or {}
        current = ((st or {}).get(field) or {}).get("current") if st and st.get(field) is not None else None
        if kind == "Pods" or target.get("averageValue") is not None:
            cur = "<unknown>" if current is None or (kind != "Pods" and current.get("averageValue") is None) \
                else _quantity(current.get("averageValue"))
            suffix = "" if kind == "Pods" else " (avg)"
            return f"{cur}/{_quantity(target.get('averageValue'))}{suffix}"
        cur = "<unknown>" if current is None else _quantity(current.get("value"))
        return f"{cur}/{_quantity(target.get('value'))}"
    if kind in ("Resource", "ContainerResource"):
        field = "resource" if kind == "Resource" else "containerResource"
        src = spec.get(field) or {}
        target = src.get("target") or {}
        current = ((st or {}).get(field) or {}).get("current") if st and st.get(field) is not None else None
        if target.get("averageValue") is not None:
            cur = "<unknown>" if current is None else _quantity(current.get("averageValue"))
            return f"{src.get('name', '')}: {cur}/{target['averageValue']}"
        cur = "<unknown>" if current is None or current.get("averageUtilization") is None \
            else f"{current['averageUtilization']}%"
        util = target.get("averageUtilization")
        return f"{src.get('name', '')}: {cur}/{'<auto>' if util is None else f'{util}%'}"
    return "<unknown type>"


def format_metrics(specs: list[Any], statuses: list[Any]) -> str:
    """``formatHPAMetrics``: at most two targets, then ``+ N more...``."""
    if not specs:
        return "<none>"
    shown = [_format_metric(s if isinstance(s, dict) else {},
                            statuses[i] if i < len(statuses) and isinstance(statuses[i], dict) else None)
             for i, s in enumerate(specs)]
    if len(shown) > 2:
        return ", ".join(shown[:2]) + f" + {len(shown) - 2} more..."
    return ", ".join(shown)


def row_v2(obj: Object, now: float) -> list[Any]:
    spec, st = common.spec(obj), common.status(obj)
    ref = spec.get("scaleTargetRef") or {}
    low = spec.get("minReplicas")
    return [common.name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            format_metrics(spec.get("metrics") or [], st.get("currentMetrics") or []),
            "<unset>" if low is None else str(low), spec.get("maxReplicas") or 0, st.get("currentReplicas") or 0,
            printing.age(obj, now)]


def _floor(old: Object | None) -> int:
    return 0 if old is not None and common.spec(old).get("minReplicas") == 0 else 1


def _status_validation(st: dict[str, Any]) -> list[FieldError]:
    return common.nonnegative(st, ("currentReplicas", "desiredReplicas"), "status")


class HPAStrategy(common.WorkloadStrategy):
    """autoscaling/v2, the stored form."""

    tracks_generation = False
    zero_status = {"currentMetrics": None, "desiredReplicas": 0}
    template_keys = ()

    def default(self, obj: Object) -> None:
        hpa.set_defaults(obj)
        self.default_status(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return hpa.validate_spec(common.spec(obj))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return hpa.validate_spec(common.spec(obj), _floor(old))

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        return row_v2(obj, now)


class HPAStatusStrategy(common.WorkloadStatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return _status_validation(common.status(obj))


def _as_v1(obj: Object) -> Object:
    return convert.v2_to_v1(obj) if obj.get("apiVersion") == f"{GROUP}/v2" else obj


def _round_trip(obj: Object) -> None:
    """Replace a v1 object by what reading it back returns (v1 → stored v2 → v1)."""
    served = from_storage(obj)
    obj.clear()
    obj.update(served)


def _copy_annotations(obj: Object, source: Object, keys: tuple[str, ...]) -> None:
    """Make ``obj``'s round-trip annotations ``keys`` those of ``source`` (which carry its status/spec)."""
    src = (source.get("metadata") or {}).get("annotations") or {}
    md = obj.setdefault("metadata", {})
    annotations = dict(md.get("annotations") or {})
    for key in keys:
        annotations.pop(key, None)
        if key in src:
            annotations[key] = src[key]
    if annotations:
        md["annotations"] = annotations
    else:
        md.pop("annotations", None)


class HPAv1Strategy(common.WorkloadStrategy):
    """autoscaling/v1: defaulted as v1, validated as its v2 conversion."""

    tracks_generation = False
    zero_status = {"currentReplicas": 0, "desiredReplicas": 0}
    template_keys = ()

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("minReplicas") is None:
            spec["minReplicas"] = 1
        self.default_status(obj)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        super().prepare_for_create(obj, ctx)
        _copy_annotations(obj, {}, _STATUS_ANNOTATIONS)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return hpa.validate_spec(common.spec(convert.v1_to_v2(obj)))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        old = _as_v1(old)
        obj["status"] = copy.deepcopy(old.get("status", {}))
        _copy_annotations(obj, old, _STATUS_ANNOTATIONS)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return hpa.validate_spec(common.spec(convert.v1_to_v2(obj)), _floor(convert.v1_to_v2(_as_v1(old))))

    def canonicalize(self, obj: Object) -> None:
        _round_trip(obj)

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        return row_v2(convert.v1_to_v2(obj), now)


class HPAv1StatusStrategy(common.WorkloadStatusStrategy):
    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        old = _as_v1(old)
        super().prepare_for_update(obj, old, ctx)
        _copy_annotations(obj, old, _SPEC_ANNOTATIONS)

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return _status_validation(common.status(obj))

    def canonicalize(self, obj: Object) -> None:
        _round_trip(obj)


def to_storage(obj: Object) -> Object:
    """A served v1 object → the stored v2 object (defaulted as a v2 read would be)."""
    stored = convert.v1_to_v2(obj)
    hpa.set_defaults(stored)
    return stored


def from_storage(obj: Object) -> Object:
    """The stored v2 object → v1 (a v1 object, as create answers with, is round-tripped first)."""
    if obj.get("apiVersion") == f"{GROUP}/v1":
        obj = to_storage(obj)
    return convert.v2_to_v1(obj)


STRATEGY = HPAStrategy()
V1_STRATEGY = HPAv1Strategy()


def _info(version: str, strategy: common.WorkloadStrategy, status_strategy: common.WorkloadStatusStrategy,
          **conversion: Any) -> ResourceInfo:
    return ResourceInfo(
        group=GROUP, version=version, kind=KIND, plural=PLURAL, singular="horizontalpodautoscaler",
        namespaced=True, strategy=strategy, short_names=("hpa",), categories=("all",),
        subresources=(Subresource("status", KIND, GROUP, version),), status_strategy=status_strategy,
        storage_prefix=STORAGE_PREFIX, **conversion,
    )


RESOURCES: tuple[ResourceInfo, ...] = (
    _info("v2", STRATEGY, HPAStatusStrategy(STRATEGY)),
    _info("v1", V1_STRATEGY, HPAv1StatusStrategy(V1_STRATEGY), to_storage=to_storage, from_storage=from_storage),
)
