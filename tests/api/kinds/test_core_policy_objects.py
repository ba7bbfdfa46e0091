"""core/v1 ResourceQuota, LimitRange, ReplicationController and PodTemplate strategies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.core import limitrange, podtemplate, replicationcontroller, resourcequota
from kybernetes.api.strategy import WriteContext

QUOTA, LIMITS = resourcequota.STRATEGY, limitrange.RESOURCES[0].strategy
RC, TEMPLATE = replicationcontroller.STRATEGY, podtemplate.RESOURCES[0].strategy
T0, NOW = "2025-01-01T00:00:00Z", 1735689600.0 + 300


def test_quota_create_and_validation() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "1000m"}},
                           "status": {"used": {"pods": "99"}}}
    QUOTA.default(obj)
    QUOTA.prepare_for_create(obj, WriteContext())
    assert obj == {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "1"}}, "status": {}}
    bad = {"metadata": {"name": "q"}, "spec": {"hard": {"widgets": "1", "pods": "1.5"},
                                               "scopes": ["BestEffort", "NotBestEffort"]}}
    assert [e.message() for e in QUOTA.validate(bad, WriteContext())] == [
        'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource type or fully qualified',
        'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota',
        'spec.hard[pods]: Invalid value: "1500m": must be an integer',
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes']


def test_quota_row() -> None:
    obj = {"metadata": {"name": "q", "creationTimestamp": T0}, "status": {
        "hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi", "limits.cpu": "2"},
        "used": {"pods": "3", "requests.cpu": "250m", "limits.cpu": "500m"}}}
    assert QUOTA.row(obj, NOW) == ["q", "5m", "pods: 3/10, requests.cpu: 250m/1",
                                   "limits.cpu: 500m/2, limits.memory: 0/2Gi"]
    assert [c.name for c in QUOTA.columns()] == ["Name", "Age", "Request", "Limit"]


def test_limitrange_container_defaults() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "l"}, "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}
    LIMITS.default(obj)
    assert obj["spec"]["limits"][0] == {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"},
                                        "default": {"cpu": "2"}, "defaultRequest": {"cpu": "2", "memory": "64Mi"}}
    assert LIMITS.validate(obj, WriteContext()) == []


@pytest.mark.parametrize(("item", "expected"), [
    ({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
     ["spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1",
      "spec.limits[0].defaultRequest[cpu]: Invalid value: 1: min value 2 is greater than default request value 1",
      "spec.limits[0].default[cpu]: Invalid value: 2: min value 2 is greater than default value 1"]),
    ({"type": "Pod", "default": {"cpu": "1"}},
     ["spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"]),
    ({"type": "PersistentVolumeClaim"},
     ["spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was "
      "provided"]),
    ({"type": "Node"}, ['spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully '
                        "qualified"]),
])
def test_limitrange_validation(item: dict[str, Any], expected: list[str]) -> None:
    obj: dict[str, Any] = {"metadata": {"name": "l"}, "spec": {"limits": [item]}}
    LIMITS.default(obj)
    assert [e.message() for e in LIMITS.validate(obj, WriteContext())] == expected


def test_limitrange_without_limits_serialises_null() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "l"}}
    LIMITS.default(obj)
    assert obj["spec"] == {"limits": None}
    assert [c.name for c in LIMITS.columns()] == ["Name", "Created At"]


def rc(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": T0}, "spec": {
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        **spec}}


def test_rc_defaults_from_template() -> None:
    obj = rc()
    RC.default(obj)
    RC.prepare_for_create(obj, WriteContext())
    assert obj["spec"]["selector"] == {"app": "web"} and obj["metadata"]["labels"] == {"app": "web"}
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "web"}}
    assert obj["status"] == {"replicas": 0}
    assert RC.validate(obj, WriteContext()) == []


def test_rc_validation_and_generation() -> None:
    obj = rc(selector={"app": "other"})
    RC.default(obj)
    assert [e.message() for e in RC.validate(obj, WriteContext())] == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match '
        "template `labels`"]
    old = rc()
    RC.default(old)
    old["metadata"]["generation"] = 1
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    RC.prepare_for_update(new, old, WriteContext())
    assert new["metadata"]["generation"] == 2


def test_rc_scale_row_and_status() -> None:
    obj = rc()
    RC.default(obj)
    obj["status"] = {"replicas": 2, "readyReplicas": 1}
    scale = replicationcontroller.RESOURCES[0].scale
    assert scale is not None
    assert (scale.get_spec_replicas(obj), scale.get_status_replicas(obj), scale.get_selector(obj)) == (1, 2, "app=web")
    assert RC.row(obj, NOW) == ["web", 1, 2, 1, "5m", "c", "nginx", "app=web"]
    assert RC.field_selectors(obj)["status.replicas"] == "2"
    status = replicationcontroller.RESOURCES[0].status_strategy
    assert status is not None
    bad = copy.deepcopy(obj)
    bad["status"] = {"replicas": 1, "readyReplicas": 2}
    assert [e.message() for e in status.validate_update(bad, obj, WriteContext())] == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]


def test_podtemplate() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"a": "b"}},
                                                                   "spec": {"containers": [{"name": "c"}]}}}
    TEMPLATE.default(obj)
    assert [e.message() for e in TEMPLATE.validate(obj, WriteContext())] == [
        "template.spec.containers[0].image: Required value"]
    obj["template"]["spec"]["containers"][0]["image"] = "busybox"
    assert TEMPLATE.row(obj, NOW) == ["t", "c", "busybox", "a=b"]
    assert TEMPLATE.tracks_generation
