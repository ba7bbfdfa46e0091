"""ReplicaSets, StatefulSets, DaemonSets and ControllerRevisions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.apps import controllerrevision, daemonset, replicaset, statefulset
from tests.api.kinds._helpers import CTX, NOW, messages, meta

_TEMPLATE = {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}


def _obj(kind: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": "db"}}, "template": copy.deepcopy(_TEMPLATE)}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta("db", "default", uid="u-1"), "spec": body}


def _create(strategy: Any, obj: dict[str, Any]) -> dict[str, Any]:
    strategy.default(obj)
    strategy.prepare_for_create(obj, CTX)
    obj["metadata"]["generation"] = 1
    return obj


# --- ReplicaSet -----------------------------------------------------------------------------------

def test_replicaset_facts_defaults_and_table() -> None:
    (info,) = replicaset.RESOURCES
    assert (info.plural, info.short_names, info.categories) == ("replicasets", ("rs",), ("all",))
    assert [s.name for s in info.subresources] == ["scale", "status"] and info.scale is not None
    obj = _create(replicaset.STRATEGY, _obj("ReplicaSet"))
    assert obj["spec"]["replicas"] == 1 and obj["status"] == {"replicas": 0}
    assert replicaset.STRATEGY.validate(obj, CTX) == []
    assert [c.name for c in replicaset.STRATEGY.columns()] == ["Name", "Desired", "Current", "Ready", "Age",
                                                               "Containers", "Images", "Selector"]
    obj["status"] = {"replicas": 1, "readyReplicas": 1}
    assert replicaset.STRATEGY.row(obj, NOW) == ["db", 1, 1, 1, "60m", "db", "postgres:16", "app=db"]
    assert replicaset.STRATEGY.field_selectors(obj)["status.replicas"] == "1"


def test_replicaset_validation_and_update() -> None:
    obj = _create(replicaset.STRATEGY, _obj("ReplicaSet", selector={}))
    assert messages(replicaset.STRATEGY.validate(obj, CTX)) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
    old = _create(replicaset.STRATEGY, _obj("ReplicaSet"))
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    replicaset.STRATEGY.prepare_for_update(new, old, CTX)
    assert new["metadata"]["generation"] == 2 and new["status"] == {"replicas": 0}
    new["spec"]["selector"]["matchLabels"]["x"] = "y"
    assert "spec.selector: Invalid value" in messages(replicaset.STRATEGY.validate_update(new, old, CTX))[-1]


# --- StatefulSet ----------------------------------------------------------------------------------

def test_statefulset_defaults() -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}
    obj = _create(statefulset.STRATEGY, _obj("StatefulSet", serviceName="db", volumeClaimTemplates=[claim]))
    spec = obj["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    (pvc,) = spec["volumeClaimTemplates"]
    assert pvc["apiVersion"] == "v1" and pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["metadata"] == {"name": "data", "creationTimestamp": None}
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}
    assert obj["status"] == {"replicas": 0, "availableReplicas": 0}
    assert statefulset.STRATEGY.validate(obj, CTX) == []


def test_statefulset_explicit_rolling_update_type_keeps_nil_rolling_update() -> None:
    obj = _create(statefulset.STRATEGY, _obj("StatefulSet", updateStrategy={"type": "RollingUpdate"}))
    assert obj["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


@pytest.mark.parametrize(("change", "expected"), [
    ({"podManagementPolicy": "Random"},
     ["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"]),
    ({"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 2}}},
     ["spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:2, "
      "MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate'"]),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
     ["spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"]),
    ({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep", "whenScaled": "Retain"}},
     ['spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: '
      '"Retain", "Delete"']),
    ({"selector": {"matchLabels": {"app": "other"}}},
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: '
      '`selector` does not match template `labels`']),
])
def test_statefulset_validation(change: dict[str, Any], expected: list[str]) -> None:
    obj = _create(statefulset.STRATEGY, _obj("StatefulSet", **change))
    assert messages(statefulset.STRATEGY.validate(obj, CTX)) == expected


def test_statefulset_update_rules_and_table() -> None:
    old = _create(statefulset.STRATEGY, _obj("StatefulSet", serviceName="db"))
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:17"
    statefulset.STRATEGY.prepare_for_update(new, old, CTX)
    assert new["metadata"]["generation"] == 2
    assert statefulset.STRATEGY.validate_update(new, old, CTX) == []
    new["spec"]["serviceName"] = "other"
    assert messages(statefulset.STRATEGY.validate_update(new, old, CTX)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
    assert [c.name for c in statefulset.STRATEGY.columns()] == ["Name", "Ready", "Age", "Containers", "Images"]
    old["status"] = {"replicas": 1, "readyReplicas": 1}
    assert statefulset.STRATEGY.row(old, NOW) == ["db", "1/1", "60m", "db", "postgres:16"]
    (info,) = statefulset.RESOURCES
    assert info.short_names == ("sts",) and info.scale is not None and info.scale.get_selector(old) == "app=db"


def test_statefulset_drops_max_unavailable() -> None:
    obj = _create(statefulset.STRATEGY, _obj("StatefulSet", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 2}}))
    assert obj["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 0}


# --- DaemonSet ------------------------------------------------------------------------------------

def test_daemonset_defaults_and_template_generation() -> None:
    obj = _create(daemonset.STRATEGY, _obj("DaemonSet"))
    spec = obj["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert obj["metadata"]["annotations"] == {daemonset.TEMPLATE_GENERATION: "1"}
    assert obj["status"] == {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                             "numberReady": 0}
    assert daemonset.STRATEGY.validate(obj, CTX) == []
    new = copy.deepcopy(obj)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:17"
    daemonset.STRATEGY.prepare_for_update(new, obj, CTX)
    assert new["metadata"]["annotations"][daemonset.TEMPLATE_GENERATION] == "2"
    assert new["metadata"]["generation"] == 2
    again = copy.deepcopy(new)
    again["spec"]["minReadySeconds"] = 5
    daemonset.STRATEGY.prepare_for_update(again, new, CTX)
    assert again["metadata"]["annotations"][daemonset.TEMPLATE_GENERATION] == "2"
    assert again["metadata"]["generation"] == 3


@pytest.mark.parametrize(("rolling", "expected"), [
    ({"maxUnavailable": 0, "maxSurge": 0},
     ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]),
    ({"maxUnavailable": 1, "maxSurge": "10%"},
     ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
      'StrVal:"10%"}: may not be set when maxUnavailable is non-zero']),
])
def test_daemonset_rolling_update_validation(rolling: dict[str, Any], expected: list[str]) -> None:
    obj = _create(daemonset.STRATEGY, _obj("DaemonSet", updateStrategy={"type": "RollingUpdate",
                                                                         "rollingUpdate": rolling}))
    assert messages(daemonset.STRATEGY.validate(obj, CTX)) == expected


def test_daemonset_table() -> None:
    obj = _create(daemonset.STRATEGY, _obj("DaemonSet"))
    obj["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    obj["status"] = {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                     "updatedNumberScheduled": 2, "numberAvailable": 1}
    assert [c.name for c in daemonset.STRATEGY.columns()] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age", "Containers",
        "Images", "Selector"]
    assert daemonset.STRATEGY.row(obj, NOW) == ["db", 2, 2, 1, 2, 1, "kubernetes.io/os=linux", "60m", "db",
                                                "postgres:16", "app=db"]
    (info,) = daemonset.RESOURCES
    assert info.short_names == ("ds",) and info.scale is None


def test_daemonset_status_strategy_keeps_template_generation() -> None:
    old = _create(daemonset.STRATEGY, _obj("DaemonSet"))
    status_strategy = daemonset.RESOURCES[0].status_strategy
    assert status_strategy is not None
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {}
    new["status"]["numberReady"] = -1
    status_strategy.prepare_for_update(new, old, CTX)
    assert new["metadata"]["annotations"] == {daemonset.TEMPLATE_GENERATION: "1"}
    assert messages(status_strategy.validate_update(new, old, CTX)) == [
        "status.numberReady: Invalid value: -1: must be greater than or equal to 0"]


# --- ControllerRevision ---------------------------------------------------------------------------

def test_controllerrevision() -> None:
    s = controllerrevision.STRATEGY
    (info,) = controllerrevision.RESOURCES
    assert info.subresources == () and info.short_names == () and info.categories == ()
    obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
           "metadata": meta("web-7d4b9c", "default", ownerReferences=[
               {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u", "controller": True}])}
    s.default(obj)
    assert messages(s.validate(obj, CTX)) == ["data: Required value: data is mandatory"]
    obj["data"] = {"spec": {}}
    obj["revision"] = 2
    assert s.validate(obj, CTX) == []
    changed = copy.deepcopy(obj)
    changed["data"] = {"spec": {"x": 1}}
    assert messages(s.validate_update(changed, obj, CTX)) == [
        'data: Invalid value: {"spec":{"x":1}}: field is immutable']
    assert s.row(obj, NOW) == ["web-7d4b9c", "statefulset.apps/web", 2, "60m"]


# --- shared helpers (api.printing / api.validation additions) -------------------------------------

def test_selector_strings_and_go_values() -> None:
    from kybernetes.api import printing, validation

    sel = {"matchLabels": {"z": "1", "a": "2"},
           "matchExpressions": [{"key": "m", "operator": "NotIn", "values": ["y", "x"]},
                                {"key": "b", "operator": "Exists"}, {"key": "c", "operator": "DoesNotExist"}]}
    assert printing.selector_string(sel) == "a=2,b,!c,m notin (x,y),z=1"
    assert printing.format_label_selector(None) == "<none>" and printing.format_label_selector({}) == "<none>"
    assert printing.format_label_selector({"matchExpressions": [{"key": "k", "operator": "In"}]}) == "<error>"
    assert printing.container_cells([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]) == ("a,b", "x,y")
    assert printing.bool_ptr(None) == "<unset>" and printing.bool_ptr(True) == "True"
    assert str(validation.go_string_map(None)) == "map[string]string(nil)"
    assert str(validation.go_string_map({"b": 'q"', "a": "1"})) == 'map[string]string{"a":"1", "b":"q\\""}'
    assert str(validation.go_int_or_string(3)) == 'intstr.IntOrString{Type:0, IntVal:3, StrVal:""}'
    assert str(validation.go_label_selector({"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]})) \
        == ('v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{'
            'v1.LabelSelectorRequirement{Key:"k", Operator:"In", Values:[]string{"v"}}}}')
    assert validation.int_or_percent_value("25%") == 25 and validation.int_or_percent_value("7") == 7
