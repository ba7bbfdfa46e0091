"""CronJob controller with a fake clock: schedule parsing and next times (macros, ranges, steps, names,
day-of-month/day-of-week, time zones), Job naming and annotation, requeue delays, Allow/Forbid/
Replace, completed and missing Jobs, history limits, starting deadline, missed-start storms, suspend.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from kybernetes.api.printing import format_time, parse_time
from kybernetes.client.rest import CRONJOBS, JOBS
from kybernetes.controllers import cronjob, cronschedule
from kybernetes.controllers.cronjob import CronJobController
from tests.controllers.fakes import Clock, FakeClient, FakeRecorder, as_client

KEY = "default/hello"
T = 1_700_000_000.0  # 2023-11-14T22:13:20Z, a Tuesday


def at(text: str) -> float:
    value = parse_time(text)
    assert value is not None
    return value


def iso(t: float | None) -> str:
    assert t is not None
    return format_time(t)


@pytest.mark.parametrize(("spec", "after", "expected"), [
    ("*/1 * * * *", "2023-11-14T22:13:20Z", "2023-11-14T22:14:00Z"),
    ("* * * * *", "2023-11-14T22:14:00Z", "2023-11-14T22:15:00Z"),
    ("*/15 * * * *", "2023-11-14T22:13:20Z", "2023-11-14T22:15:00Z"),
    ("5 4 * * *", "2023-11-14T22:13:20Z", "2023-11-15T04:05:00Z"),
    ("@hourly", "2023-11-14T22:13:20Z", "2023-11-14T23:00:00Z"),
    ("@daily", "2023-11-14T22:13:20Z", "2023-11-15T00:00:00Z"),
    ("@midnight", "2023-11-14T22:13:20Z", "2023-11-15T00:00:00Z"),
    ("@weekly", "2023-11-14T22:13:20Z", "2023-11-19T00:00:00Z"),
    ("@monthly", "2023-11-14T22:13:20Z", "2023-12-01T00:00:00Z"),
    ("@yearly", "2023-11-14T22:13:20Z", "2024-01-01T00:00:00Z"),
    ("@annually", "2023-11-14T22:13:20Z", "2024-01-01T00:00:00Z"),
    ("0 9 * * MON-FRI", "2023-11-17T10:00:00Z", "2023-11-20T09:00:00Z"),
    ("0 0 13 * 5", "2023-11-14T22:13:20Z", "2023-11-17T00:00:00Z"),  # 13th OR Friday
    ("0 0 29 feb *", "2023-11-14T22:13:20Z", "2024-02-29T00:00:00Z"),
    ("30 2-4/2 * * *", "2023-11-14T22:13:20Z", "2023-11-15T02:30:00Z"),
    ("0 12 1,15 * *", "2023-11-14T22:13:20Z", "2023-11-15T12:00:00Z"),
    ("TZ=America/New_York 0 9 * * *", "2023-11-14T22:13:20Z", "2023-11-15T14:00:00Z"),
    ("CRON_TZ=Asia/Tokyo 0 9 * * *", "2023-11-14T22:13:20Z", "2023-11-15T00:00:00Z"),
    ("@every 90s", "2023-11-14T22:13:20Z", "2023-11-14T22:14:50Z"),
])
def test_schedule_next(spec: str, after: str, expected: str) -> None:
    assert iso(cronschedule.parse(spec).next(at(after))) == expected


@pytest.mark.parametrize("spec", ["* * * *", "61 * * * *", "@fortnightly", "* * * * 7", "TZ=Mars/Base * * * * *"])
def test_schedule_errors(spec: str) -> None:
    with pytest.raises(ValueError):
        cronschedule.parse(spec)


def test_impossible_schedule_has_no_next() -> None:
    assert cronschedule.parse("0 0 30 2 *").next(T) is None


def cron(schedule: str = "*/1 * * * *", policy: str = "Allow", **spec: Any) -> dict[str, Any]:
    body = {"schedule": schedule, "concurrencyPolicy": policy, "suspend": False, "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"app": "hello"}},
                            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}],
                                                           "restartPolicy": "OnFailure"}}}}}
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "hello", "namespace": "default", "uid": "cj-uid", "generation": 1}, "spec": body}


class Cluster:
    def __init__(self, cj: dict[str, Any], created: float = T) -> None:
        self.clock = Clock(created)
        self.client = FakeClient(self.clock)
        self.rec = FakeRecorder()
        self.client.add(CRONJOBS, cj)
        self.ctrl = CronJobController(self.client.informer(CRONJOBS), self.client.informer(JOBS),
                                      as_client(self.client), self.rec, clock=self.clock)

    async def sync_at(self, when: str) -> None:
        self.clock.now = at(when)
        await self.ctrl.sync(KEY)

    def jobs(self) -> list[str]:
        return sorted(j["metadata"]["name"] for j in self.client.all(JOBS))

    def status(self) -> dict[str, Any]:
        cj = self.client.stored(CRONJOBS, "hello", "default")
        assert cj is not None
        return cj.get("status") or {}

    async def finish(self, name: str, condition: str = "Complete", start: str = "") -> None:
        j = copy.deepcopy(self.client.stored(JOBS, name, "default"))
        assert j is not None
        now = format_time(self.clock())
        j["status"] = {"startTime": start or now,
                       "conditions": [{"type": condition, "status": "True", "lastTransitionTime": now}]}
        if condition == "Complete":
            j["status"]["completionTime"] = now
        await self.client.replace(JOBS, j, "default", subresource="status")


def requeue_delay(c: Cluster) -> float:
    timer = c.ctrl.queue._timers[KEY]
    import asyncio
    return timer.when() - asyncio.get_running_loop().time()


async def test_creates_job_each_minute_with_name_and_annotation() -> None:
    c = Cluster(cron())
    await c.sync_at("2023-11-14T22:13:20Z")
    assert c.jobs() == []
    assert 40.0 < requeue_delay(c) <= 40.1  # next run 22:14:00 plus 100 ms
    await c.sync_at("2023-11-14T22:14:00.5Z".replace(".5", ""))
    name = f"hello-{int(at('2023-11-14T22:14:00Z') // 60)}"
    assert c.jobs() == [name] == ["hello-28333334"]
    job = c.client.stored(JOBS, name, "default")
    assert job is not None
    assert job["metadata"]["annotations"] == {cronjob.SCHEDULED_ANNOTATION: "2023-11-14T22:14:00Z"}
    assert job["metadata"]["labels"] == {"app": "hello"}
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    st = c.status()
    assert st["lastScheduleTime"] == "2023-11-14T22:14:00Z"
    assert [(a["name"], a["kind"], a["apiVersion"]) for a in st["active"]] == [(name, "Job", "batch/v1")]
    assert c.rec.messages("SuccessfulCreate") == [f"Created job {name}"]
    await c.sync_at("2023-11-14T22:14:30Z")
    assert c.jobs() == [name]  # already processed
    await c.sync_at("2023-11-14T22:15:01Z")
    assert len(c.jobs()) == 2  # Allow: both run


async def test_forbid_skips_while_active() -> None:
    c = Cluster(cron(policy="Forbid"))
    await c.sync_at("2023-11-14T22:14:01Z")
    await c.sync_at("2023-11-14T22:15:01Z")
    assert len(c.jobs()) == 1
    assert c.rec.messages("JobAlreadyActive") == [
        "Not starting job because prior execution is running and concurrency policy is Forbid"]
    await c.finish(c.jobs()[0])
    await c.sync_at("2023-11-14T22:15:02Z")
    assert c.rec.messages("SawCompletedJob") == [f"Saw completed job: {c.jobs()[0]}, condition: Complete"]
    await c.sync_at("2023-11-14T22:16:01Z")
    assert len(c.jobs()) == 2


async def test_replace_deletes_running_job() -> None:
    c = Cluster(cron(policy="Replace"))
    await c.sync_at("2023-11-14T22:14:01Z")
    first = c.jobs()[0]
    await c.sync_at("2023-11-14T22:15:01Z")
    assert first not in c.jobs() and len(c.jobs()) == 1
    assert c.rec.messages("SuccessfulDelete") == [f"Deleted job {first}"]
    delete = next(a for a in c.client.actions if a.verb == "delete")
    assert delete.body == {"propagationPolicy": "Background"}
    assert [a["name"] for a in c.status()["active"]] == c.jobs()


async def test_last_successful_time_and_history_limits() -> None:
    c = Cluster(cron(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1))
    for minute in (14, 15, 16):
        await c.sync_at(f"2023-11-14T22:{minute}:01Z")
    names = c.jobs()
    await c.finish(names[0], start="2023-11-14T22:14:01Z")
    await c.finish(names[1], start="2023-11-14T22:15:01Z")
    await c.finish(names[2], "Failed", start="2023-11-14T22:16:01Z")
    await c.sync_at("2023-11-14T22:16:30Z")
    assert c.jobs() == names[1:]  # the older success is deleted; one failure is kept
    assert "active" not in c.status()
    await c.sync_at("2023-11-14T22:16:40Z")
    assert c.status()["lastSuccessfulTime"] == "2023-11-14T22:16:01Z"  # the remaining success finished then


async def test_missing_active_job_is_forgotten() -> None:
    c = Cluster(cron())
    await c.sync_at("2023-11-14T22:14:01Z")
    name = c.jobs()[0]
    c.ctrl.job_informer.delete(copy.deepcopy(c.client.stored(JOBS, name, "default")))  # type: ignore[arg-type]
    del c.client.objects[("jobs", "default", name)]
    await c.sync_at("2023-11-14T22:14:02Z")
    assert "active" not in c.status()
    assert c.rec.messages("MissingJob") == [f"Active job went missing: {name}"]


async def test_starting_deadline_skips_late_runs() -> None:
    c = Cluster(cron(startingDeadlineSeconds=10))
    await c.sync_at("2023-11-14T22:14:30Z")  # 30 s late, deadline 10 s
    assert c.jobs() == []
    await c.sync_at("2023-11-14T22:15:05Z")
    assert len(c.jobs()) == 1


async def test_too_many_missed_start_times() -> None:
    c = Cluster(cron(), created=T - 200 * 60)
    await c.sync_at("2023-11-14T22:13:20Z")
    assert c.rec.messages("TooManyMissedTimes") == [
        "too many missed start times: 200. Set or decrease .spec.startingDeadlineSeconds or check clock skew"]
    assert c.jobs() == [f"hello-{int(at('2023-11-14T22:13:00Z') // 60)}"]  # only the most recent one


async def test_suspend_and_bad_time_zone() -> None:
    c = Cluster(cron(suspend=True))
    await c.sync_at("2023-11-14T22:20:00Z")
    assert c.jobs() == []
    c = Cluster(cron(timeZone="Mars/Base"))
    await c.sync_at("2023-11-14T22:20:00Z")
    assert c.jobs() == [] and c.rec.messages("UnknownTimeZone") == [
        'invalid timeZone: "Mars/Base": unknown time zone Mars/Base']


async def test_time_zone_schedule_and_annotation() -> None:
    c = Cluster(cron("0 9 * * *", timeZone="America/New_York"))
    await c.sync_at("2023-11-15T14:00:30Z")
    job = c.client.stored(JOBS, c.jobs()[0], "default")
    assert job is not None
    assert job["metadata"]["annotations"][cronjob.SCHEDULED_ANNOTATION] == "2023-11-15T09:00:00-05:00"
    assert c.status()["lastScheduleTime"] == "2023-11-15T14:00:00Z"


async def test_most_recent_schedule_time_irregular() -> None:
    cj = cron("0 0 1 * *")
    cj["metadata"]["creationTimestamp"] = "2020-01-15T00:00:00Z"
    schedule = cronschedule.parse("0 0 1 * *")
    _, recent, missed = cronjob.most_recent_schedule_time(cj, at("2023-11-14T22:13:20Z"), schedule, False)
    assert iso(recent) == "2023-11-01T00:00:00Z" and missed > 40
    assert dt.datetime.fromtimestamp(recent, dt.UTC).day == 1  # type: ignore[arg-type]
