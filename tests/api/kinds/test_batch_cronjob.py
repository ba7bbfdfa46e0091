from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.batch import _cron, cronjob
from tests.api.kinds._helpers import CREATED, CTX, NOW, messages, meta

S = cronjob.STRATEGY


def _cj(schedule: str = "*/5 * * * *", restart: str = "OnFailure", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("hello", "default", uid="u"),
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "hello", "image": "busybox"}], "restartPolicy": restart}}}}, **spec}}


def _created(obj: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = obj or _cj()
    S.default(obj)
    S.prepare_for_create(obj, CTX)
    obj["metadata"]["generation"] = 1
    return obj


def test_resource_facts_and_defaults() -> None:
    (info,) = cronjob.RESOURCES
    assert (info.plural, info.short_names, info.categories) == ("cronjobs", ("cj",), ("all",))
    assert [s.name for s in info.subresources] == ["status"]
    obj = _created()
    spec = obj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["jobTemplate"]["metadata"] == {"creationTimestamp": None}
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]
    assert obj["status"] == {}
    assert S.validate(obj, CTX) == []


@pytest.mark.parametrize(("schedule", "error"), [
    ("*/5 * * * *", None),
    ("0 0 * * MON-FRI", None),
    ("15 2 1 jan,jul ?", None),
    ("@hourly", None),
    ("@every 1h30m", None),
    ("", "empty spec string"),
    ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
    ("@every 5y", 'failed to parse duration @every 5y: time: unknown unit "y" in duration "5y"'),
])
def test_schedule_parser(schedule: str, error: str | None) -> None:
    assert _cron.schedule_error(schedule) == error


@pytest.mark.parametrize(("obj", "expected"), [
    (_cj("61 * * * *"), ['spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']),
    (_cj("TZ=UTC 0 * * * *"),
     ['spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field '
      'instead']),
    (_cj(timeZone="Mars/Olympus"), ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']),
    (_cj(timeZone="Local"),
     ['spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in '
      'https://www.iana.org/time-zones']),
    (_cj(timeZone=""), ['spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string']),
    (_cj(concurrencyPolicy="Sometimes"),
     ['spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"']),
    (_cj(restart="Always"),
     ['spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']),
    (_cj(startingDeadlineSeconds=-5),
     ["spec.startingDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0"]),
])
def test_validation(obj: dict[str, Any], expected: list[str]) -> None:
    assert messages(S.validate(_created(obj), CTX)) == expected


def test_time_zone_accepted_and_selector_rejected() -> None:
    assert S.validate(_created(_cj(timeZone="Europe/Berlin")), CTX) == []
    obj = _cj()
    obj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    obj["spec"]["jobTemplate"]["spec"]["manualSelector"] = True
    assert messages(S.validate(_created(obj), CTX)) == [
        'spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated",
        'spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"']


def test_name_length_on_create_only() -> None:
    obj = _cj()
    obj["metadata"]["name"] = "c" * 53
    created = _created(obj)
    assert messages(S.validate(created, CTX)) == [
        f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters']
    assert S.validate_update(copy.deepcopy(created), created, CTX) == []


def test_update_keeps_status_and_bumps_generation() -> None:
    old = _created()
    old["status"] = {"lastScheduleTime": CREATED}
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    new["status"] = {}
    S.prepare_for_update(new, old, CTX)
    assert new["status"] == {"lastScheduleTime": CREATED} and new["metadata"]["generation"] == 2


def test_table() -> None:
    assert [c.name for c in S.columns()] == ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule",
                                             "Age", "Containers", "Images", "Selector"]
    obj = _created()
    assert S.row(obj, NOW) == ["hello", "*/5 * * * *", "<none>", "False", 0, "<none>", "60m", "hello", "busybox",
                               "<none>"]
    obj["spec"]["timeZone"] = "Etc/UTC"
    obj["status"] = {"active": [{"name": "hello-1"}], "lastScheduleTime": "2026-01-01T00:59:00Z"}
    assert S.row(obj, NOW)[2:6] == ["Etc/UTC", "False", 1, "60s"]


def test_job_template_warnings() -> None:
    obj = _cj()
    obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = -1
    assert S.warnings_on_create(_created(obj)) == [
        "spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds: must be >= 0; negative values are "
        "invalid and will be treated as 1"]
