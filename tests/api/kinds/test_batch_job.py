from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.batch import job
from tests.api.kinds._helpers import CREATED, CTX, NOW, messages, meta

S = job.STRATEGY
UID = "8f7e-uid"


def _job(restart: str = "Never", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    template: dict[str, Any] = {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}],
                                         "restartPolicy": restart}}
    if labels is not None:
        template["metadata"] = {"labels": labels}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("pi", "default", uid=UID),
            "spec": {"template": template, **spec}}


def _created(obj: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = obj or _job()
    S.default(obj)
    S.prepare_for_create(obj, CTX)
    obj["metadata"]["generation"] = 1
    return obj


def test_resource_facts() -> None:
    (info,) = job.RESOURCES
    assert (info.plural, info.singular, info.short_names, info.categories) == ("jobs", "job", (), ("all",))
    assert [s.name for s in info.subresources] == ["status"] and info.scale is None


def test_defaults_and_generated_selector() -> None:
    obj = _created()
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False and spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    generated = {"job-name": "pi", "batch.kubernetes.io/job-name": "pi", "controller-uid": UID,
                 "batch.kubernetes.io/controller-uid": UID}
    assert spec["template"]["metadata"]["labels"] == generated
    assert obj["metadata"]["labels"] == generated
    assert obj["status"] == {}
    assert S.validate(obj, CTX) == []


def test_template_labels_and_job_labels() -> None:
    obj = _created(_job(labels={"app": "pi"}))
    assert obj["metadata"]["labels"]["app"] == "pi"
    assert obj["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == UID
    own = _job(labels={"app": "pi"})
    own["metadata"]["labels"] = {"team": "a"}
    assert _created(own)["metadata"]["labels"] == {"team": "a"}


def test_parallelism_only_and_per_index_defaults() -> None:
    obj = _created(_job(parallelism=3))
    assert obj["spec"].get("completions") is None and obj["spec"]["parallelism"] == 3
    indexed = _created(_job(completionMode="Indexed", completions=3, backoffLimitPerIndex=1))
    assert indexed["spec"]["backoffLimit"] == 2**31 - 1
    with_policy = _created(_job(podFailurePolicy={"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}))
    assert with_policy["spec"]["podReplacementPolicy"] == "Failed"
    assert with_policy["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"


@pytest.mark.parametrize(("obj", "expected"), [
    (_job(restart="Always"), ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']),
    (_job(completionMode="Indexed", parallelism=2),
     ["spec.completions: Required value: when completion mode is Indexed"]),
    (_job(completionMode="Sequential"),
     ['spec.completionMode: Unsupported value: "Sequential": supported values: "NonIndexed", "Indexed"']),
    (_job(parallelism=-1), ["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]),
    (_job(backoffLimitPerIndex=1),
     ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"]),
    (_job(podReplacementPolicy="Sometimes"),
     ['spec.podReplacementPolicy: Unsupported value: "Sometimes": supported values: "Failed", "TerminatingOrFailed"']),
    (_job(restart="OnFailure", podFailurePolicy={"rules": [{"action": "FailJob", "onExitCodes": {
        "operator": "In", "values": [1]}}]}),
     ['spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when '
      'podFailurePolicy is specified']),
    (_job(podFailurePolicy={"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 2, 1]}}]}),
     ["spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
      "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{0, 2, 1}: must be ordered"]),
    (_job(podFailurePolicy={"rules": [{"action": "Ignore"}]}),
     ["spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is "
      "required"]),
    (_job(successPolicy={"rules": [{"succeededCount": 1}]}),
     ["spec.successPolicy: Invalid value: batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{"
      "batch.SuccessPolicyRule{SucceededIndexes:(*string)(nil), SucceededCount:(*int32)(0xc000010008)}}}: "
      "requires indexed completion mode"]),
    (_job(completionMode="Indexed", completions=3, successPolicy={"rules": [{"succeededIndexes": "0-5"}]}),
     ['spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0-5": error parsing succeededIndexes: '
      'too large index: "5"']),
    (_job(managedBy="kueue"),
     ['spec.managedBy: Invalid value: "kueue": must be a domain-prefixed path (such as "acme.io/foo")']),
])
def test_validation(obj: dict[str, Any], expected: list[str]) -> None:
    assert messages(S.validate(_created(obj), CTX)) == expected


def test_indexed_hostname_and_manual_selector() -> None:
    long_name = _job(completionMode="Indexed", completions=10)
    long_name["metadata"]["name"] = "a" * 62
    assert messages(S.validate(_created(long_name), CTX))[-1] == (
        f'metadata.name: Invalid value: "{"a" * 62}": will not able to create pod with invalid DNS label: '
        f'{"a" * 62}-9')
    manual = _job(manualSelector=True, labels={"app": "pi"}, selector={"matchLabels": {"app": "other"}})
    assert messages(S.validate(_created(manual), CTX)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"pi"}: '
        '`selector` does not match template `labels`']


def test_wrong_generated_labels() -> None:
    obj = _created(_job(labels={"controller-uid": "other"}))
    assert messages(S.validate(obj, CTX))[0] == (
        'spec.template.metadata.labels[controller-uid]: Invalid value: map[string]string{'
        '"batch.kubernetes.io/controller-uid":"8f7e-uid", "batch.kubernetes.io/job-name":"pi", '
        '"controller-uid":"other", "job-name":"pi"}: must be \'8f7e-uid\'')


def test_update_rules() -> None:
    old = _created()
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.36"
    new["spec"]["completions"] = 2
    errs = messages(S.validate_update(new, old, CTX))
    assert errs[0] == "spec.completions: Invalid value: 2: field is immutable"
    assert errs[1].startswith("spec.template: Invalid value: ") and errs[1].endswith(": field is immutable")

    suspended = _created(_job(suspend=True))
    moved = copy.deepcopy(suspended)
    moved["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    moved["spec"]["template"]["metadata"]["labels"]["extra"] = "1"
    assert S.validate_update(moved, suspended, CTX) == []

    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    S.prepare_for_update(new, old, CTX)
    assert new["metadata"]["generation"] == 2 and new["status"] == {}


def _status(**st: Any) -> dict[str, Any]:
    obj = _created()
    obj["status"] = st
    return obj


@pytest.mark.parametrize(("obj", "status", "completions", "duration"), [
    (_status(), "Running", "0/1", ""),
    (_status(succeeded=1, startTime=CREATED, completionTime="2026-01-01T00:00:42Z",
             conditions=[{"type": "Complete", "status": "True"}]), "Complete", "1/1", "42s"),
    (_status(startTime=CREATED, conditions=[{"type": "Failed", "status": "True"}]), "Failed", "0/1", "60m"),
    (_status(conditions=[{"type": "Suspended", "status": "True"}]), "Suspended", "0/1", ""),
    (_status(conditions=[{"type": "FailureTarget", "status": "True"}]), "FailureTarget", "0/1", ""),
])
def test_table(obj: dict[str, Any], status: str, completions: str, duration: str) -> None:
    assert [c.name for c in S.columns()] == ["Name", "Status", "Completions", "Duration", "Age", "Containers",
                                             "Images", "Selector"]
    assert S.row(obj, NOW) == ["pi", status, completions, duration, "60m", "pi", "perl:5.34",
                               f"batch.kubernetes.io/controller-uid={UID}"]


def test_table_terminating_and_parallel_completions() -> None:
    obj = _created(_job(parallelism=3))
    obj["metadata"]["deletionTimestamp"] = CREATED
    row = S.row(obj, NOW)
    assert row[1:3] == ["Terminating", "0/1 of 3"]


def test_field_selector_and_status_strategy() -> None:
    obj = _created()
    obj["status"] = {"succeeded": 1}
    assert S.field_selectors(obj)["status.successful"] == "1"
    status_strategy = job.RESOURCES[0].status_strategy
    assert status_strategy is not None
    new = copy.deepcopy(obj)
    new["status"] = {"active": -1}
    new["spec"]["parallelism"] = 9
    status_strategy.prepare_for_update(new, obj, CTX)
    assert new["spec"]["parallelism"] == 1
    assert messages(status_strategy.validate_update(new, obj, CTX)) == [
        "status.active: Invalid value: -1: must be greater than or equal to 0"]
