from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.policy import poddisruptionbudget as pdb
from tests.api.kinds._helpers import CTX, NOW, messages, meta

S = pdb.STRATEGY


def _pdb(**spec: Any) -> dict[str, Any]:
    obj = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("web", "default"),
           "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}
    S.default(obj)
    S.prepare_for_create(obj, CTX)
    obj["metadata"]["generation"] = 1
    return obj


def test_resource_facts_and_status() -> None:
    (info,) = pdb.RESOURCES
    assert (info.plural, info.singular, info.short_names, info.categories) == (
        "poddisruptionbudgets", "poddisruptionbudget", ("pdb",), ())
    assert [s.name for s in info.subresources] == ["status"]
    obj = _pdb(minAvailable=1)
    assert obj["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    assert S.validate(obj, CTX) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"minAvailable": -1}, ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]),
    ({"maxUnavailable": "120%"},
     ['spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater '
      'than 100%']),
    ({"minAvailable": 1, "maxUnavailable": 1},
     ["spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000010000), "
      "Selector:(*v1.LabelSelector)(0xc000010020), MaxUnavailable:(*intstr.IntOrString)(0xc000010040), "
      "UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)(nil)}: minAvailable and maxUnavailable "
      "cannot be both set"]),
    ({"unhealthyPodEvictionPolicy": "Never"},
     ['spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", '
      '"IfHealthyBudget"']),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
     ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or "
      "'NotIn'"]),
])
def test_validation(spec: dict[str, Any], expected: list[str]) -> None:
    assert messages(S.validate(_pdb(**spec), CTX)) == expected


def test_update_generation_and_status_strategy() -> None:
    old = _pdb(minAvailable=1)
    new = copy.deepcopy(old)
    new["spec"]["minAvailable"] = "50%"
    new["status"] = {"disruptionsAllowed": 5}
    S.prepare_for_update(new, old, CTX)
    assert new["metadata"]["generation"] == 2 and new["status"]["disruptionsAllowed"] == 0
    status_strategy = pdb.RESOURCES[0].status_strategy
    assert status_strategy is not None
    st = copy.deepcopy(old)
    st["status"]["expectedPods"] = -2
    st["spec"]["minAvailable"] = 7
    status_strategy.prepare_for_update(st, old, CTX)
    assert st["spec"]["minAvailable"] == 1
    assert messages(status_strategy.validate_update(st, old, CTX)) == [
        "status.expectedPods: Invalid value: -2: must be greater than or equal to 0"]


def test_table() -> None:
    assert [c.name for c in S.columns()] == ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]
    obj = _pdb(maxUnavailable="25%")
    obj["status"]["disruptionsAllowed"] = 2
    assert S.row(obj, NOW) == ["web", "N/A", "25%", 2, "60m"]
    assert S.row(_pdb(minAvailable=2), NOW)[1:3] == ["2", "N/A"]
