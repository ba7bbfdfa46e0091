"""autoscaling/v1 ↔ autoscaling/v2 HorizontalPodAutoscaler conversion (v2 is what is stored).

autoscaling/v1 can only say "target CPU utilization"; everything else a v2 object holds travels
in the annotations Kubernetes uses for the round trip: ``autoscaling.alpha.kubernetes.io/metrics``
(other metric specs), ``…/current-metrics`` (status metrics), ``…/conditions`` and ``…/behavior``.
``horizontalpodautoscaler.py`` wires these functions into the v1 ``ResourceInfo``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kybernetes.api.types import Object

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP_ANNOTATIONS = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)
DEFAULT_CPU_UTILIZATION = 80


def go_json(value: Any) -> str:
    """Compact JSON as Go's ``encoding/json`` writes it (HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _put(d: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless the value is nil (``omitempty`` on pointers)."""
    if value is not None:
        d[key] = value


def _ref(ref: Any) -> dict[str, Any]:
    ref = ref if isinstance(ref, dict) else {}
    out = {"kind": ref.get("kind", ""), "name": ref.get("name", "")}
    if ref.get("apiVersion"):
        out["apiVersion"] = ref["apiVersion"]
    return out


def _metric_id(name: Any, selector: Any) -> dict[str, Any]:
    out = {"name": name or ""}
    _put(out, "selector", selector)
    return out


def _target(kind: str, value: Any = None, average: Any = None, utilization: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def cpu_metric(utilization: int) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": "cpu", "target": _target("Utilization", utilization=utilization)}}


def is_cpu_utilization(metric: Any) -> bool:
    res = metric.get("resource") if isinstance(metric, dict) else None
    return (metric.get("type") == "Resource" and isinstance(res, dict) and res.get("name") == "cpu"
            and (res.get("target") or {}).get("averageUtilization") is not None)


# --- metric specs ---------------------------------------------------------------------------------

def metric_v1_to_v2(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o = m["object"]
        kind = "AverageValue" if o.get("averageValue") is not None else "Value"
        out["object"] = {"describedObject": _ref(o.get("target")),
                         "target": _target(kind, o.get("targetValue") or "0", o.get("averageValue")),
                         "metric": _metric_id(o.get("metricName"), o.get("selector"))}
    if isinstance(m.get("pods"), dict):
        p = m["pods"]
        out["pods"] = {"metric": _metric_id(p.get("metricName"), p.get("selector")),
                       "target": _target("AverageValue", average=p.get("targetAverageValue") or "0")}
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r = m[key]
            util = r.get("targetAverageUtilization")
            src = {"name": r.get("name", ""), "target": _target("AverageValue" if util is None else "Utilization",
                                                                 average=r.get("targetAverageValue"), utilization=util)}
            if key == "containerResource":
                src["container"] = r.get("container", "")
            out[key] = src
    if isinstance(m.get("external"), dict):
        e = m["external"]
        kind = "AverageValue" if e.get("targetValue") is None else "Value"
        out["external"] = {"metric": _metric_id(e.get("metricName"), e.get("metricSelector")),
                           "target": _target(kind, e.get("targetValue"), e.get("targetAverageValue"))}
    return out


def metric_v2_to_v1(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o, t, mid = m["object"], m["object"].get("target") or {}, m["object"].get("metric") or {}
        obj = {"target": _ref(o.get("describedObject")), "metricName": mid.get("name", ""),
               "targetValue": t.get("value") or "0"}
        _put(obj, "selector", mid.get("selector"))
        _put(obj, "averageValue", t.get("averageValue"))
        out["object"] = obj
    if isinstance(m.get("pods"), dict):
        t, mid = m["pods"].get("target") or {}, m["pods"].get("metric") or {}
        pods = {"metricName": mid.get("name", ""), "targetAverageValue": t.get("averageValue") or "0"}
        _put(pods, "selector", mid.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r, t = m[key], m[key].get("target") or {}
            src: dict[str, Any] = {"name": r.get("name", "")}
            _put(src, "targetAverageUtilization", t.get("averageUtilization"))
            _put(src, "targetAverageValue", t.get("averageValue"))
            if key == "containerResource":
                src["container"] = r.get("container", "")
            out[key] = src
    if isinstance(m.get("external"), dict):
        t, mid = m["external"].get("target") or {}, m["external"].get("metric") or {}
        ext: dict[str, Any] = {"metricName": mid.get("name", "")}
        _put(ext, "metricSelector", mid.get("selector"))
        _put(ext, "targetValue", t.get("value"))
        _put(ext, "targetAverageValue", t.get("averageValue"))
        out["external"] = ext
    return out


# --- metric statuses ------------------------------------------------------------------------------

def _current(value: Any = None, average: Any = None, utilization: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def status_v1_to_v2(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o = m["object"]
        out["object"] = {"metric": _metric_id(o.get("metricName"), o.get("selector")),
                         "current": _current(o.get("currentValue") or "0", o.get("averageValue")),
                         "describedObject": _ref(o.get("target"))}
    if isinstance(m.get("pods"), dict):
        p = m["pods"]
        out["pods"] = {"metric": _metric_id(p.get("metricName"), p.get("selector")),
                       "current": _current(average=p.get("currentAverageValue") or "0")}
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r = m[key]
            src = {"name": r.get("name", ""), "current": _current(average=r.get("currentAverageValue") or "0",
                                                                   utilization=r.get("currentAverageUtilization"))}
            if key == "containerResource":
                src["container"] = r.get("container", "")
            out[key] = src
    if isinstance(m.get("external"), dict):
        e = m["external"]
        out["external"] = {"metric": _metric_id(e.get("metricName"), e.get("metricSelector")),
                           "current": _current(e.get("currentValue") or "0", e.get("currentAverageValue"))}
    return out


def status_v2_to_v1(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o, c, mid = m["object"], m["object"].get("current") or {}, m["object"].get("metric") or {}
        obj = {"target": _ref(o.get("describedObject")), "metricName": mid.get("name", ""),
               "currentValue": c.get("value") or "0"}
        _put(obj, "selector", mid.get("selector"))
        _put(obj, "averageValue", c.get("averageValue"))
        out["object"] = obj
    if isinstance(m.get("pods"), dict):
        c, mid = m["pods"].get("current") or {}, m["pods"].get("metric") or {}
        pods = {"metricName": mid.get("name", ""), "currentAverageValue": c.get("averageValue") or "0"}
        _put(pods, "selector", mid.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r, c = m[key], m[key].get("current") or {}
            src: dict[str, Any] = {"name": r.get("name", "")}
            _put(src, "currentAverageUtilization", c.get("averageUtilization"))
            src["currentAverageValue"] = c.get("averageValue") or "0"
            if key == "containerResource":
                src["container"] = r.get("container", "")
            out[key] = src
    if isinstance(m.get("external"), dict):
        c, mid = m["external"].get("current") or {}, m["external"].get("metric") or {}
        ext: dict[str, Any] = {"metricName": mid.get("name", "")}
        _put(ext, "metricSelector", mid.get("selector"))
        ext["currentValue"] = c.get("value") or "0"
        _put(ext, "currentAverageValue", c.get("averageValue"))
        out["external"] = ext
    return out


# --- behavior (marshalled from the internal type: Go field names) and conditions ------------------

def _rules_to_internal(rules: Any) -> Any:
    if not isinstance(rules, dict):
        return None
    policies = rules.get("policies")
    return {"StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds"),
            "SelectPolicy": rules.get("selectPolicy"),
            "Policies": None if policies is None else [
                {"Type": p.get("type", ""), "Value": p.get("value", 0), "PeriodSeconds": p.get("periodSeconds", 0)}
                for p in policies if isinstance(p, dict)]}


def _field(d: dict[str, Any], name: str) -> Any:
    """Go's case-insensitive JSON field lookup."""
    for k, v in d.items():
        if k.lower() == name.lower():
            return v
    return None


def _rules_from_internal(rules: Any) -> Any:
    if not isinstance(rules, dict):
        return None
    out: dict[str, Any] = {}
    _put(out, "stabilizationWindowSeconds", _field(rules, "StabilizationWindowSeconds"))
    _put(out, "selectPolicy", _field(rules, "SelectPolicy"))
    policies = _field(rules, "Policies")
    if isinstance(policies, list):
        out["policies"] = [{"type": _field(p, "Type") or "", "value": _field(p, "Value") or 0,
                            "periodSeconds": _field(p, "PeriodSeconds") or 0} for p in policies if isinstance(p, dict)]
    return out


def _condition(c: dict[str, Any]) -> dict[str, Any]:
    out = {"type": c.get("type", ""), "status": c.get("status", ""), "lastTransitionTime": c.get("lastTransitionTime")}
    for f in ("reason", "message"):
        if c.get(f):
            out[f] = c[f]
    return out


def _load(annotations: dict[str, Any], key: str) -> Any:
    try:
        return json.loads(annotations[key]) if key in annotations else None
    except (TypeError, ValueError):
        return None


# --- whole objects ----------------------------------------------------------------------------------

def _shell(obj: Object, api_version: str) -> tuple[Object, dict[str, Any]]:
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = api_version
    md = out.setdefault("metadata", {})
    annotations = {k: v for k, v in (md.get("annotations") or {}).items() if k not in ROUND_TRIP_ANNOTATIONS}
    return out, annotations


def _finish(out: Object, annotations: dict[str, Any]) -> None:
    if annotations:
        out["metadata"]["annotations"] = annotations
    else:
        out["metadata"].pop("annotations", None)


def v1_to_v2(obj: Object) -> Object:
    """A served autoscaling/v1 object → its autoscaling/v2 form (what v1 requests are validated as)."""
    out, annotations = _shell(obj, "autoscaling/v2")
    src = (obj.get("metadata") or {}).get("annotations") or {}
    spec1, st1 = obj.get("spec") or {}, obj.get("status") or {}
    spec: dict[str, Any] = {"scaleTargetRef": _ref(spec1.get("scaleTargetRef"))}
    _put(spec, "minReplicas", spec1.get("minReplicas"))
    spec["maxReplicas"] = spec1.get("maxReplicas", 0)
    others = _load(src, METRICS_ANNOTATION)
    metrics = [metric_v1_to_v2(m) for m in others if isinstance(m, dict)] if isinstance(others, list) else []
    if spec1.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(cpu_metric(spec1["targetCPUUtilizationPercentage"]))
    spec["metrics"] = metrics or [cpu_metric(DEFAULT_CPU_UTILIZATION)]
    behavior = _load(src, BEHAVIOR_ANNOTATION)
    if isinstance(behavior, dict):
        up = _rules_from_internal(_field(behavior, "ScaleUp"))
        down = _rules_from_internal(_field(behavior, "ScaleDown"))
        if up is not None or down is not None:
            spec["behavior"] = {k: v for k, v in (("scaleUp", up), ("scaleDown", down)) if v is not None}
    out["spec"] = spec
    status: dict[str, Any] = {}
    _put(status, "observedGeneration", st1.get("observedGeneration"))
    _put(status, "lastScaleTime", st1.get("lastScaleTime"))
    if st1.get("currentReplicas"):
        status["currentReplicas"] = st1["currentReplicas"]
    status["desiredReplicas"] = st1.get("desiredReplicas", 0)
    current = _load(src, CURRENT_METRICS_ANNOTATION)
    if isinstance(current, list):
        status["currentMetrics"] = [status_v1_to_v2(m) for m in current if isinstance(m, dict)]
    elif st1.get("currentCPUUtilizationPercentage") is not None:
        status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": st1["currentCPUUtilizationPercentage"]}}}]
    else:
        status["currentMetrics"] = None
    conditions = _load(src, CONDITIONS_ANNOTATION)
    if isinstance(conditions, list) and conditions:
        status["conditions"] = [_condition(c) for c in conditions if isinstance(c, dict)]
    out["status"] = status
    _finish(out, annotations)
    return out


def v2_to_v1(obj: Object) -> Object:
    """A stored autoscaling/v2 object → its autoscaling/v1 form with the round-trip annotations."""
    out, annotations = _shell(obj, "autoscaling/v1")
    spec2, st2 = obj.get("spec") or {}, obj.get("status") or {}
    spec: dict[str, Any] = {"scaleTargetRef": _ref(spec2.get("scaleTargetRef"))}
    _put(spec, "minReplicas", spec2.get("minReplicas"))
    spec["maxReplicas"] = spec2.get("maxReplicas", 0)
    metrics = [m for m in spec2.get("metrics") or [] if isinstance(m, dict)]
    cpu = next((m for m in metrics if is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    out["spec"] = spec
    others = [metric_v2_to_v1(m) for m in metrics if not is_cpu_utilization(m)]
    if others:
        annotations[METRICS_ANNOTATION] = go_json(others)
    status: dict[str, Any] = {}
    _put(status, "observedGeneration", st2.get("observedGeneration"))
    _put(status, "lastScaleTime", st2.get("lastScaleTime"))
    status["currentReplicas"] = st2.get("currentReplicas", 0)
    status["desiredReplicas"] = st2.get("desiredReplicas", 0)
    current = [m for m in st2.get("currentMetrics") or [] if isinstance(m, dict)]
    for m in current:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu" and \
                (res.get("current") or {}).get("averageUtilization") is not None:
            status["currentCPUUtilizationPercentage"] = res["current"]["averageUtilization"]
    out["status"] = status
    if current:
        annotations[CURRENT_METRICS_ANNOTATION] = go_json([status_v2_to_v1(m) for m in current])
    behavior = spec2.get("behavior")
    if isinstance(behavior, dict):
        annotations[BEHAVIOR_ANNOTATION] = go_json({"ScaleUp": _rules_to_internal(behavior.get("scaleUp")),
                                                    "ScaleDown": _rules_to_internal(behavior.get("scaleDown"))})
    conditions = [c for c in st2.get("conditions") or [] if isinstance(c, dict)]
    if conditions:
        annotations[CONDITIONS_ANNOTATION] = go_json([_condition(c) for c in conditions])
    _finish(out, annotations)
    return out
