"""HorizontalPodAutoscaler (autoscaling/v2 form) defaults and validation with Kubernetes 1.32's messages.

``horizontalpodautoscaler.py`` calls these for v2 objects directly and for v1 objects after
converting them (Kubernetes validates the internal form, so v1 requests report v2 paths).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.autoscaling._hpa_convert import DEFAULT_CPU_UTILIZATION, cpu_metric

MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
SOURCE_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
_SOURCE_FIELDS = (("Object", "object"), ("External", "external"), ("Pods", "pods"), ("Resource", "resource"),
                  ("ContainerResource", "containerResource"))
_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
             "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                          {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
_QUANTITY_RE = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?([a-zA-Z]*|[eE][+-]?\d+)$")
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


# --- defaults -------------------------------------------------------------------------------------

def _fill_rules(rules: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """``GenerateHPAScale{Up,Down}Rules``: unset fields of the rules take the defaults."""
    out = copy.deepcopy(defaults)
    if isinstance(rules, dict):
        for f in ("selectPolicy", "stabilizationWindowSeconds", "policies"):
            if rules.get(f) is not None:
                out[f] = rules[f]
    return out


def set_defaults(obj: dict[str, Any]) -> None:
    """``SetDefaults_HorizontalPodAutoscaler`` (autoscaling/v2)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [cpu_metric(DEFAULT_CPU_UTILIZATION)]
    status = obj.get("status")
    status = status if isinstance(status, dict) else {}
    for metric in [*spec["metrics"], *(status.get("currentMetrics") or [])]:
        for source in (metric or {}).values() if isinstance(metric, dict) else ():
            _canonical_quantities(source)
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _fill_rules(behavior.get("scaleUp"), _SCALE_UP)
        behavior["scaleDown"] = _fill_rules(behavior.get("scaleDown"), _SCALE_DOWN)


# --- quantities -------------------------------------------------------------------------------------

def quantity_parts(text: Any) -> tuple[int, int, str] | None:
    """``(value, scale, format)`` of a quantity string as Go's int64Amount holds it; None if unparseable."""
    m = _QUANTITY_RE.match(str(text))
    if not m or not (m.group(2) or m.group(3)):
        return None
    sign, whole, frac, suffix = m.group(1), m.group(2) or "0", m.group(3) or "", m.group(4)
    try:
        digits = int(sign + whole + frac)
    except ValueError:
        return None
    if suffix in _BINARY:
        return digits * 2 ** _BINARY[suffix] // 10 ** len(frac), 0, "BinarySI"
    if suffix in _DECIMAL:
        return (digits, _DECIMAL[suffix] - len(frac), "DecimalSI") if digits else (0, 0, "DecimalSI")
    try:
        exp = int(suffix[1:])
    except ValueError:
        return None
    return (digits, exp - len(frac), "DecimalExponent") if digits else (0, 0, "DecimalExponent")


def _quantity_value(text: Any) -> Any:
    parts = quantity_parts(text)
    if parts is None:
        return text
    value, scale, fmt = parts
    return validation.GoValue(f"resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:{scale}}}, "
                              f"d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:\"\", Format:\"{fmt}\"}}")


def _positive(text: Any) -> bool:
    amount = validation.quantity_value(text)
    return amount is not None and amount > 0


def _canonical_quantities(node: Any) -> None:
    """Quantities read back in canonical form (``1000m`` → ``1``), as Go serialises them."""
    if isinstance(node, dict):
        for key in ("value", "averageValue"):
            if isinstance(node.get(key), (str, int, float)):
                node[key] = validation.canonical_quantity(node[key])
        for key in ("target", "current"):
            _canonical_quantities(node.get(key))


# --- validation ---------------------------------------------------------------------------------------

def validate_reference(ref: Any, path: str) -> list[FieldError]:
    """``ValidateCrossVersionObjectReference``."""
    ref = ref if isinstance(ref, dict) else {}
    errs: list[FieldError] = []
    for f in ("kind", "name"):
        value = str(ref.get(f) or "")
        if not value:
            errs.append(errors.required(f"{path}.{f}"))
        else:
            errs.extend(errors.invalid(f"{path}.{f}", value, m) for m in validation.is_path_segment_name(value))
    return errs


def _validate_metric_id(mid: Any, path: str) -> list[FieldError]:
    name = str((mid or {}).get("name") or "") if isinstance(mid, dict) else ""
    if not name:
        return [errors.required(f"{path}.name", "must specify a metric name")]
    return [errors.invalid(f"{path}.name", name, m) for m in validation.is_path_segment_name(name)]


def _validate_target(target: Any, path: str) -> list[FieldError]:
    t = target if isinstance(target, dict) else {}
    errs: list[FieldError] = []
    kind = t.get("type") or ""
    if not kind:
        errs.append(errors.required(f"{path}.type", "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(errors.invalid(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue"))
    for f in ("value", "averageValue"):
        if t.get(f) is not None and not _positive(t[f]):
            errs.append(errors.invalid(f"{path}.{f}", _quantity_value(t[f]), "must be positive"))
    util = t.get("averageUtilization")
    if isinstance(util, int) and util < 1:
        errs.append(errors.invalid(f"{path}.averageUtilization", util, "must be greater than 0"))
    return errs


def _validate_source(kind: str, src: dict[str, Any], path: str) -> list[FieldError]:
    target = src.get("target")
    target = target if isinstance(target, dict) else {}
    errs: list[FieldError] = []
    if kind == "Object":
        errs += validate_reference(src.get("describedObject"), f"{path}.describedObject")
    if kind in ("Object", "External", "Pods"):
        errs += _validate_metric_id(src.get("metric"), f"{path}.metric")
    if kind in ("Resource", "ContainerResource"):
        name = str(src.get("name") or "")
        if not name:
            errs.append(errors.required(f"{path}.name", "must specify a resource name"))
        elif kind == "ContainerResource" and "/" not in name and name not in _CONTAINER_RESOURCES \
                and not name.startswith("hugepages-"):
            errs.append(errors.invalid(f"{path}.name", name, "must be a standard resource for containers"))
        if kind == "ContainerResource":
            container = str(src.get("container") or "")
            if not container:
                errs.append(errors.required(f"{path}.container", "must specify a container"))
            else:
                errs.extend(errors.invalid(f"{path}.container", container, m)
                            for m in validation.is_dns1123_label(container))
    errs += _validate_target(target, f"{path}.target")
    value, average, util = target.get("value"), target.get("averageValue"), target.get("averageUtilization")
    tp = f"{path}.target"
    if kind == "Object" and value is None and average is None:
        errs.append(errors.required(f"{tp}.averageValue", "must set either a target value or averageValue"))
    elif kind == "External":
        if value is None and average is None:
            errs.append(errors.required(f"{tp}.averageValue",
                                        "must set either a target value for metric or a per-pod target"))
        if value is not None and average is not None:
            errs.append(errors.forbidden(f"{tp}.value",
                                         "may not set both a target value for metric and a per-pod target"))
    elif kind == "Pods" and average is None:
        errs.append(errors.required(f"{tp}.averageValue", "must specify a positive target averageValue"))
    elif kind in ("Resource", "ContainerResource"):
        if util is None and average is None:
            errs.append(errors.required(f"{tp}.averageUtilization",
                                        "must set either a target raw value or a target utilization"))
        if util is not None and average is not None:
            errs.append(errors.forbidden(f"{tp}.averageValue",
                                         "may not set both a target raw value and a target utilization"))
    return errs


def _validate_metric(metric: Any, path: str) -> list[FieldError]:
    m = metric if isinstance(metric, dict) else {}
    kind = m.get("type") or ""
    errs: list[FieldError] = []
    if not kind:
        errs.append(errors.required(f"{path}.type", "must specify a metric source type"))
    unsupported = errors.not_supported(f"{path}.type", kind, SOURCE_TYPES)
    if kind not in SOURCE_TYPES:
        errs.append(unsupported)
    present = [(k, f) for k, f in _SOURCE_FIELDS if m.get(f) is not None]
    if present:
        first_kind, first_field = present[0]
        errs += _validate_source(first_kind, m[first_field] if isinstance(m[first_field], dict) else {},
                                 f"{path}.{first_field}")
    expected = dict(_SOURCE_FIELDS).get(kind)
    if expected is not None and m.get(expected) is None:
        errs.append(errors.required(f"{path}.{expected}", "must populate information for the given metric source"))
    if len(present) != 1:
        errs.extend(errors.forbidden(f"{path}.{f}", "must populate the given metric source only")
                    for _, f in sorted(present, key=lambda p: p[1]) if f != expected)
    return errs


def _validate_rules(rules: Any, path: str) -> list[FieldError]:
    if not isinstance(rules, dict):
        return []
    errs: list[FieldError] = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int):
        if window < 0:
            errs.append(errors.invalid(f"{path}.stabilizationWindowSeconds", window,
                                       "must be greater than or equal to zero"))
        if window > MAX_STABILIZATION_WINDOW_SECONDS:
            errs.append(errors.invalid(f"{path}.stabilizationWindowSeconds", window,
                                       f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in ("Disabled", "Max", "Min"):
        errs.append(errors.not_supported(f"{path}.selectPolicy", select, ["Disabled", "Max", "Min"]))
    policies = rules.get("policies") or []
    if not policies:
        errs.append(errors.required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        p, policy = f"{path}.policies[{i}]", policy if isinstance(policy, dict) else {}
        if policy.get("type") not in ("Pods", "Percent"):
            errs.append(errors.not_supported(f"{p}.type", policy.get("type") or "", ["Percent", "Pods"]))
        for f in ("value", "periodSeconds"):
            v = policy.get(f) or 0
            if isinstance(v, int) and v <= 0:
                errs.append(errors.invalid(f"{p}.{f}", v, "must be greater than zero"))
        period = policy.get("periodSeconds") or 0
        if isinstance(period, int) and period > MAX_PERIOD_SECONDS:
            errs.append(errors.invalid(f"{p}.periodSeconds", period,
                                       f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return errs


def validate_spec(spec: dict[str, Any], min_replicas_floor: int = 1, path: str = "spec") -> list[FieldError]:
    """``validateHorizontalPodAutoscalerSpec``; the floor is 0 when the old object already had 0."""
    errs: list[FieldError] = []
    low, high = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if isinstance(low, int) and low < min_replicas_floor:
        errs.append(errors.invalid(f"{path}.minReplicas", low,
                                   f"must be greater than or equal to {min_replicas_floor}"))
    if isinstance(high, int) and high < 1:
        errs.append(errors.invalid(f"{path}.maxReplicas", high, "must be greater than 0"))
    if isinstance(low, int) and isinstance(high, int) and high < low:
        errs.append(errors.invalid(f"{path}.maxReplicas", high, "must be greater than or equal to `minReplicas`"))
    errs += validate_reference(spec.get("scaleTargetRef"), f"{path}.scaleTargetRef")
    metrics = spec.get("metrics") or []
    for i, metric in enumerate(metrics):
        errs += _validate_metric(metric, f"{path}.metrics[{i}]")
    if low == 0 and not any(isinstance(m, dict) and m.get("type") in ("Object", "External") for m in metrics):
        errs.append(errors.forbidden(f"{path}.metrics", "must specify at least one Object or External metric to "
                                                        "support scaling to zero replicas"))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        errs += _validate_rules(behavior.get("scaleUp"), f"{path}.behavior.scaleUp")
        errs += _validate_rules(behavior.get("scaleDown"), f"{path}.behavior.scaleDown")
    return errs
