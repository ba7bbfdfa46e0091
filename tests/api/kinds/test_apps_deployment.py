from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.kinds.apps import deployment
from tests.api.kinds._helpers import CTX, NOW, messages, meta

S = deployment.STRATEGY


def _deploy(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}},
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web", "default", uid="u-1"),
            "spec": body}


def _created(**spec: Any) -> dict[str, Any]:
    obj = _deploy(**spec)
    S.default(obj)
    S.prepare_for_create(obj, CTX)
    obj["metadata"]["generation"] = 1
    return obj


def test_resource_facts() -> None:
    (info,) = deployment.RESOURCES
    assert (info.group, info.version, info.plural, info.singular) == ("apps", "v1", "deployments", "deployment")
    assert info.short_names == ("deploy",) and info.categories == ("all",) and info.namespaced
    subs = {s.name: s for s in info.subresources}
    assert (subs["scale"].group, subs["scale"].version, subs["scale"].kind) == ("autoscaling", "v1", "Scale")
    assert subs["scale"].verbs == ("get", "patch", "update")
    assert (subs["status"].group, subs["status"].kind) == ("apps", "Deployment")
    assert info.scale is not None and info.status_strategy is not None


def test_defaults() -> None:
    obj = _created()
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert obj["status"] == {}


def test_recreate_gets_no_rolling_update() -> None:
    obj = _created(strategy={"type": "Recreate"})
    assert obj["spec"]["strategy"] == {"type": "Recreate"}
    assert S.validate(obj, CTX) == []


def test_create_clears_status() -> None:
    obj = _deploy()
    obj["status"] = {"replicas": 5}
    S.default(obj)
    S.prepare_for_create(obj, CTX)
    assert obj["status"] == {}


@pytest.mark.parametrize(("change", "expected"), [
    ({"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: '
      '`selector` does not match template `labels`']),
    ({"selector": None},
     ["spec.selector: Required value",
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
      '`selector` does not match template `labels`']),
    ({"selector": {}},
     ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]),
    ({"replicas": -1}, ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}},
     ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
      "may not be 0 when `maxSurge` is 0"]),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "x", "maxSurge": 1}}},
     ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"x"}: '
      "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used "
      "for validation is '[0-9]+%')"]),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}}},
     ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
      'StrVal:"150%"}: must not be greater than 100%']),
    ({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
     ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
    ({"strategy": {"type": "Blue"}},
     ['spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Blue", '
      'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"']),
    ({"progressDeadlineSeconds": 5, "minReadySeconds": 10},
     ["spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"]),
])
def test_validation(change: dict[str, Any], expected: list[str]) -> None:
    obj = _deploy(**change)
    if change.get("selector", "") is None:
        del obj["spec"]["selector"]
    S.default(obj)
    assert messages(S.validate(obj, CTX)) == expected


def test_restart_policy_must_be_always() -> None:
    obj = _created()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages(S.validate(obj, CTX)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']


def test_invalid_message_shape() -> None:
    obj = _created()
    del obj["spec"]["selector"]
    err = errors.invalid_object("Deployment", "apps", "web", S.validate(obj, CTX))
    assert err.message == ('Deployment.apps "web" is invalid: [spec.selector: Required value, '
                           'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
                           '`selector` does not match template `labels`]')


def test_update_keeps_status_and_bumps_generation_on_spec_or_annotations() -> None:
    old = _created()
    old["status"] = {"replicas": 1, "observedGeneration": 1}
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 99}
    S.default(new)
    S.prepare_for_update(new, old, CTX)
    assert new["status"] == {"replicas": 1, "observedGeneration": 1}
    assert new["metadata"]["generation"] == 1

    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    S.prepare_for_update(scaled, old, CTX)
    assert scaled["metadata"]["generation"] == 2

    annotated = copy.deepcopy(old)
    annotated["metadata"]["annotations"] = {"kubernetes.io/change-cause": "x"}
    S.prepare_for_update(annotated, old, CTX)
    assert annotated["metadata"]["generation"] == 2

    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"] = {"tier": "fe"}
    S.prepare_for_update(labelled, old, CTX)
    assert labelled["metadata"]["generation"] == 1


def test_selector_is_immutable() -> None:
    old = _created()
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    assert messages(S.validate_update(new, old, CTX)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
    same = copy.deepcopy(old)
    same["spec"]["selector"]["matchExpressions"] = []
    assert S.validate_update(same, old, CTX) == []


def test_status_strategy_keeps_spec_and_labels() -> None:
    status_strategy = deployment.RESOURCES[0].status_strategy
    assert status_strategy is not None
    old = _created()
    old["metadata"]["labels"] = {"a": "b"}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 7
    new["metadata"]["labels"] = {"c": "d"}
    new["status"] = {"replicas": 2, "readyReplicas": 3}
    status_strategy.prepare_for_update(new, old, CTX)
    assert new["spec"]["replicas"] == 1 and new["metadata"]["labels"] == {"a": "b"}
    assert new["status"]["replicas"] == 2
    assert messages(status_strategy.validate_update(new, old, CTX)) == [
        "status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas"]


def test_table() -> None:
    obj = _created(selector={"matchLabels": {"app": "web"},
                             "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]})
    obj["spec"]["template"]["metadata"]["labels"]["tier"] = "a"
    obj["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    obj["status"] = {"readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    assert [c.name for c in S.columns()] == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                                             "Images", "Selector"]
    assert [c.priority for c in S.columns()] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert S.row(obj, NOW) == ["web", "1/1", 1, 1, "60m", "nginx,side", "nginx:1.27,busybox",
                               "app=web,tier in (a,b)"]


def test_scale_accessor() -> None:
    info = deployment.RESOURCES[0]
    assert info.scale is not None
    obj = _created()
    obj["status"] = {"replicas": 1}
    assert info.scale.get_spec_replicas(obj) == 1
    info.scale.set_spec_replicas(obj, 4)
    assert obj["spec"]["replicas"] == 4
    assert info.scale.get_status_replicas(obj) == 1
    assert info.scale.get_selector(obj) == "app=web"


def test_name_warning() -> None:
    obj = _created()
    obj["metadata"]["name"] = "web.v1"
    (warning,) = S.warnings_on_create(obj)
    assert warning.startswith("metadata.name: this is used in Pod names and hostnames, which can result in "
                              "surprising behavior; a DNS label is recommended: [a lowercase RFC 1123 label")
    assert S.warnings_on_create(_created()) == []


def test_template_warnings() -> None:
    obj = _created()
    obj["spec"]["template"]["spec"]["nodeSelector"] = {"beta.kubernetes.io/os": "linux"}
    expected = ['spec.template.spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use '
                '"kubernetes.io/os" instead']
    assert S.warnings_on_create(obj) == expected
    old = _created()
    S.prepare_for_update(obj, old, CTX)
    assert S.warnings_on_update(obj, old) == expected
    assert S.warnings_on_update(old, old) == []
