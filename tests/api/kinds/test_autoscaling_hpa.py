from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kybernetes.api.kinds.autoscaling import _hpa_convert as convert
from kybernetes.api.kinds.autoscaling import horizontalpodautoscaler as hpa
from tests.api.kinds._helpers import CTX, NOW, messages, meta

V2, V1 = hpa.STRATEGY, hpa.V1_STRATEGY
REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def _v2(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("web", "default"),
            "spec": {"scaleTargetRef": dict(REF), "maxReplicas": 5, **spec}}


def _v1(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta("web", "default"),
            "spec": {"scaleTargetRef": dict(REF), "maxReplicas": 5, **spec}}


def _created(strategy: Any, obj: dict[str, Any]) -> dict[str, Any]:
    strategy.default(obj)
    strategy.prepare_for_create(obj, CTX)
    strategy.canonicalize(obj)
    return obj


def _resource(name: str, **target: Any) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def test_resource_facts() -> None:
    v2, v1 = hpa.RESOURCES
    assert (v2.version, v1.version) == ("v2", "v1")
    for info in (v2, v1):
        assert (info.plural, info.short_names, info.categories) == ("horizontalpodautoscalers", ("hpa",), ("all",))
        assert info.prefix == "/registry/autoscaling/horizontalpodautoscalers/"
        assert [s.name for s in info.subresources] == ["status"]
    assert v2.to_storage is None and v1.to_storage is not None and v1.from_storage is not None


def test_v2_defaults() -> None:
    obj = _created(V2, _v2(behavior={"scaleDown": {"stabilizationWindowSeconds": 300}}))
    spec = obj["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [_resource("cpu", type="Utilization", averageUtilization=80)]
    assert spec["behavior"]["scaleUp"] == {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert spec["behavior"]["scaleDown"] == {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                                             "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert obj["status"] == {"currentMetrics": None, "desiredReplicas": 0}
    assert "generation" not in obj["metadata"]
    assert "behavior" not in _created(V2, _v2())["spec"]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"minReplicas": 0}, ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                          "spec.metrics: Forbidden: must specify at least one Object or External metric to support "
                          "scaling to zero replicas"]),
    ({"maxReplicas": 0, "minReplicas": 2}, ["spec.maxReplicas: Invalid value: 0: must be greater than 0",
                                            "spec.maxReplicas: Invalid value: 0: must be greater than or equal to "
                                            "`minReplicas`"]),
    ({"scaleTargetRef": {"kind": "Deployment"}}, ["spec.scaleTargetRef.name: Required value"]),
    ({"metrics": [_resource("cpu", type="Utilization", averageUtilization=0)]},
     ["spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"]),
    ({"metrics": [_resource("memory", type="AverageValue")]},
     ["spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or "
      "a target utilization"]),
    ({"metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                                   "averageValue": "0"}}}]},
     ['spec.metrics[0].pods.target.averageValue: Invalid value: resource.Quantity{i:resource.int64Amount{value:0, '
      'scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}: must be positive']),
    ({"metrics": [{"type": "Pods"}]},
     ["spec.metrics[0].pods: Required value: must populate information for the given metric source"]),
    ({"metrics": [{"type": "Nope"}]},
     ['spec.metrics[0].type: Unsupported value: "Nope": supported values: "ContainerResource", "External", '
      '"Object", "Pods", "Resource"']),
    ({"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]}}},
     ["spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
      "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800"]),
])
def test_v2_validation(spec: dict[str, Any], expected: list[str]) -> None:
    obj = _created(V2, _v2(**spec))
    assert messages(V2.validate(obj, CTX)) == expected


def test_min_replicas_zero_allowed_when_already_zero() -> None:
    old = _created(V2, _v2(minReplicas=2))
    old["spec"]["minReplicas"] = 0
    new = copy.deepcopy(old)
    assert messages(V2.validate_update(new, old, CTX)) == [
        "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero "
        "replicas"]


def test_v1_create_is_stored_as_v2() -> None:
    obj = _created(V1, _v1(targetCPUUtilizationPercentage=50))
    assert obj["spec"] == {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                           "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50}
    assert obj["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    assert "annotations" not in obj["metadata"]
    stored = hpa.to_storage(obj)
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [_resource("cpu", type="Utilization", averageUtilization=50)]
    assert stored["status"] == {"desiredReplicas": 0, "currentMetrics": None}
    assert hpa.to_storage(_created(V1, _v1()))["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80


def test_v1_validation_reports_v2_paths() -> None:
    obj = _created(V1, _v1(targetCPUUtilizationPercentage=0))
    assert messages(V1.validate(obj, CTX)) == [
        "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"]


def _rich_v2() -> dict[str, Any]:
    obj = _v2(minReplicas=2, metrics=[
        _resource("cpu", type="Utilization", averageUtilization=60),
        _resource("memory", type="AverageValue", averageValue="1000Mi"),
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                         "averageValue": "1000m"}}},
        {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
                                          "target": {"type": "Value", "value": "30"}}},
    ], behavior={"scaleDown": {"stabilizationWindowSeconds": 300}})
    obj["status"] = {"currentReplicas": 2, "desiredReplicas": 3, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "100m",
                                                                     "averageUtilization": 30}}}],
        "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z",
                        "reason": "ReadyForNewScale", "message": "recommended size matches current size"}]}
    V2.default(obj)
    return obj


def test_v2_to_v1_annotations() -> None:
    served = hpa.from_storage(_rich_v2())
    assert served["apiVersion"] == "autoscaling/v1"
    assert served["spec"]["targetCPUUtilizationPercentage"] == 60
    assert served["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 30}
    ann = served["metadata"]["annotations"]
    assert ann[convert.METRICS_ANNOTATION] == (
        '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"1000Mi"}},'
        '{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"1"}},'
        '{"type":"External","external":{"metricName":"queue","metricSelector":{"matchLabels":{"q":"a"}},'
        '"targetValue":"30"}}]')
    assert ann[convert.CURRENT_METRICS_ANNOTATION] == (
        '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":30,"currentAverageValue":"100m"}}]')
    assert json.loads(ann[convert.CONDITIONS_ANNOTATION])[0]["reason"] == "ReadyForNewScale"
    assert ann[convert.BEHAVIOR_ANNOTATION] == (
        '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,'
        '"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}]},"ScaleDown":'
        '{"StabilizationWindowSeconds":300,"SelectPolicy":"Max","Policies":[{"Type":"Percent","Value":100,'
        '"PeriodSeconds":15}]}}')


def test_v1_v2_round_trip() -> None:
    original = _rich_v2()
    back = hpa.to_storage(hpa.from_storage(original))
    assert "annotations" not in back["metadata"]
    key = lambda m: json.dumps(m, sort_keys=True)  # noqa: E731 - v1 moves the CPU metric last
    assert sorted(map(key, back["spec"]["metrics"])) == sorted(map(key, original["spec"]["metrics"]))
    assert back["spec"]["behavior"] == original["spec"]["behavior"]
    assert back["status"]["conditions"] == original["status"]["conditions"]
    assert back["status"]["currentMetrics"][0]["resource"]["current"] == {"averageValue": "100m",
                                                                          "averageUtilization": 30}
    assert hpa.from_storage(back) == hpa.from_storage(original)


def test_v1_update_keeps_status_annotations_from_old() -> None:
    old = hpa.from_storage(_rich_v2())
    new = copy.deepcopy(old)
    new["spec"]["maxReplicas"] = 9
    del new["metadata"]["annotations"][convert.CONDITIONS_ANNOTATION]
    new["status"] = {"currentReplicas": 0, "desiredReplicas": 0}
    V1.default(new)
    V1.prepare_for_update(new, old, CTX)
    assert V1.validate_update(new, old, CTX) == []
    V1.canonicalize(new)
    stored = hpa.to_storage(new)
    assert stored["spec"]["maxReplicas"] == 9
    assert stored["status"]["conditions"][0]["type"] == "AbleToScale"
    assert stored["status"]["currentReplicas"] == 2


def test_v1_status_update_keeps_spec_annotations() -> None:
    old = hpa.from_storage(_rich_v2())
    status_strategy = hpa.RESOURCES[1].status_strategy
    assert status_strategy is not None
    new = copy.deepcopy(old)
    new["metadata"]["annotations"].pop(convert.METRICS_ANNOTATION)
    new["status"]["currentReplicas"] = 4
    status_strategy.prepare_for_update(new, old, CTX)
    status_strategy.canonicalize(new)
    stored = hpa.to_storage(new)
    assert len(stored["spec"]["metrics"]) == 4 and stored["status"]["currentReplicas"] == 4


def test_table() -> None:
    assert [c.name for c in V2.columns()] == ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
    fresh = _created(V2, _v2())
    assert V2.row(fresh, NOW) == ["web", "Deployment/web", "cpu: <unknown>/80%", "1", 5, 0, "60m"]
    rich = _rich_v2()
    assert V2.row(rich, NOW) == ["web", "Deployment/web", "cpu: 30%/60%, memory: <unknown>/1000Mi + 2 more...", "2",
                                 5, 2, "60m"]
    only_pods = _v2(metrics=[{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
        "type": "AverageValue", "averageValue": "10"}}}, {"type": "External", "external": {
            "metric": {"name": "q"}, "target": {"type": "AverageValue", "averageValue": "5"}}}])
    assert V2.row(only_pods, NOW)[2] == "<unknown>/10, <unknown>/5 (avg)"
    via_v1 = _created(V1, _v1(targetCPUUtilizationPercentage=50))
    assert V1.row(via_v1, NOW) == V2.row(hpa.to_storage(via_v1), NOW) == [
        "web", "Deployment/web", "cpu: <unknown>/50%", "1", 5, 0, "60m"]
