"""CronJob controller: create a Job at each scheduled time, keep the active list and trim history.

``sync`` (``ControllerV2.sync``) reconciles the CronJob's Jobs with ``status.active`` (finished
ones leave it with ``SawCompletedJob``; vanished ones with ``MissingJob``; the newest completion
becomes ``lastSuccessfulTime``), then — unless suspended, being deleted, or its schedule or time
zone is invalid — finds the most recent unmet schedule time (``TooManyMissedTimes`` past 100),
skips it when ``startingDeadlineSeconds`` has passed (``MissSchedule``), honours the
concurrency policy (Forbid waits, Replace deletes the running Jobs) and creates Job
``<cronjob>-<scheduled minutes since the epoch>`` with the ``batch.kubernetes.io/cronjob-
scheduled-timestamp`` annotation. Finished Jobs beyond the success/failure history limits are
deleted oldest first. The key is requeued for the next schedule time (plus 100 ms). The clock is
injectable so tests can step through schedules.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import time
from typing import Any

from kybernetes.api.printing import format_time, parse_time
from kybernetes.client.errors import AlreadyExistsError, ApiError, NotFoundError, has_status_cause
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import CRONJOBS, JOBS, Client
from kybernetes.controllers import cronschedule, loop, podcontrol, refmanager
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

API_VERSION, KIND = "batch/v1", "CronJob"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
MAX_MISSED = 100
SCHEDULE_DOCS = "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/"


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def finished_condition(job: Obj) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def job_name(cj: Obj, scheduled: float) -> str:
    return f"{_md(cj).get('name')}-{int(scheduled // 60)}"


def rfc1123z(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def most_recent_schedule_time(cj: Obj, now: float, schedule: cronschedule.Schedule,
                              include_deadline: bool) -> tuple[float, float | None, int]:
    """(earliest time considered, most recent unmet schedule time or None, missed count)."""
    earliest = parse_time((cj.get("status") or {}).get("lastScheduleTime")) or \
        parse_time(_md(cj).get("creationTimestamp")) or now
    deadline = _spec(cj).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - int(deadline))
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is None or now < t1:
        return earliest, None, 0
    if t2 is None or now < t2:
        return earliest, t1, 1
    interval = round(t2 - t1)
    if interval < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    missed = int((now - t1) // interval) + 1
    # jump close to ``now`` (an hourly schedule stalled for a year must not be walked), land on a real
    # schedule time, then walk forward: irregular schedules (monthly, weekdays) have no fixed interval
    recent = schedule.next(t1 + max(0, missed - 2) * interval - 1) or t1
    if recent > now:
        recent = t1
    following = schedule.next(recent)
    while following is not None and following <= now:
        recent, following = following, schedule.next(following)
    return earliest, recent, missed


def next_schedule_delay(cj: Obj, now: float, schedule: cronschedule.Schedule) -> float | None:
    """Seconds until the next schedule time after the most recent one, plus a small delta."""
    try:
        earliest, recent, _ = most_recent_schedule_time(cj, now, schedule, False)
        base = recent if recent is not None else earliest
    except ValueError:
        base = now
    following = schedule.next(base)
    return None if following is None else following + NEXT_SCHEDULE_DELTA - now


class CronJobController(loop.Controller):
    name = "cronjob"

    def __init__(self, cj_informer: Informer, job_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 clock: loop.Clock = time.time) -> None:
        super().__init__([cj_informer, job_informer])
        self.cj_informer = cj_informer
        self.job_informer = job_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        cj_informer.add_handlers(self.enqueue, self._update_cronjob, self.enqueue)
        job_informer.add_handlers(self._job_changed, self._job_updated, self._job_changed)

    # --- callbacks ------------------------------------------------------------------------------
    def _job_updated(self, old: Obj, cur: Obj) -> None:
        self._job_changed(cur)
        if refmanager.controller_ref_of(old) != refmanager.controller_ref_of(cur):
            self._job_changed(old)

    def _job_changed(self, job: Obj) -> None:
        ref = refmanager.controller_ref_of(job)
        if ref is None or ref.get("kind") != KIND:
            return
        cj = self.cj_informer.get(f"{_md(job).get('namespace', '')}/{ref.get('name')}")
        if cj is not None and _md(cj).get("uid") == ref.get("uid"):
            self.enqueue(cj)

    def _update_cronjob(self, old: Obj, cur: Obj) -> None:
        if _spec(old).get("schedule") != _spec(cur).get("schedule") or \
                _spec(old).get("timeZone") != _spec(cur).get("timeZone"):
            try:
                schedule = cronschedule.parse(self._schedule_text(cur, record=False))
            except ValueError:
                self.recorder.record(cur, WARNING, "UnParseableCronJobSchedule",
                                     f"unparseable schedule for cronjob: {_spec(cur).get('schedule')}")
                return
            delay = next_schedule_delay(cur, self.clock(), schedule)
            if delay is not None:
                self.enqueue_after(cur, delay)
            return
        self.enqueue(cur)

    # --- sync ----------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.cj_informer.get(key)
        if cached is None:
            log.debug("CronJob %s not found, may be it is deleted", key)
            return
        cj = copy.deepcopy(cached)
        jobs = [j for j in self.job_informer.list(_md(cj).get("namespace", ""))
                if (r := refmanager.controller_ref_of(j)) is not None and r.get("kind") == KIND
                and r.get("name") == _md(cj).get("name")]
        delay: float | None = None
        error: Exception | None = None
        try:
            delay, update = await self._sync_cronjob(cj, jobs)
        except Exception as e:  # the status gathered so far is still written
            error, update = e, True
        update = await self._cleanup_finished(cj, jobs) or update
        if update:
            await self.client.replace(CRONJOBS, cj, _md(cj).get("namespace"), subresource="status")
        if delay is not None:
            self.queue.add_after(key, max(delay, 0.0))
        elif error is not None:
            raise error

    def _schedule_text(self, cj: Obj, record: bool = True) -> str:
        """``formatSchedule``: the spec's schedule, prefixed with ``TZ=<timeZone>`` when set."""
        schedule, tz = str(_spec(cj).get("schedule") or ""), _spec(cj).get("timeZone")
        if "TZ" in schedule:
            if record:
                self.recorder.record(cj, WARNING, "UnsupportedSchedule", f"CRON_TZ or TZ used in schedule "
                                     f"{_go_quote(schedule)} is not officially supported, see {SCHEDULE_DOCS} for "
                                     "more details")
            return schedule
        if tz:
            try:
                cronschedule.zone(tz)
            except ValueError:
                return schedule
            return f"TZ={tz} {schedule}"
        return schedule

    async def _sync_cronjob(self, cj: Obj, jobs: list[Obj]) -> tuple[float | None, bool]:
        """``syncCronJob``: (requeue delay, whether status changed); mutates ``cj``'s status."""
        now, update = self.clock(), False
        status = cj.setdefault("status", {})
        children = {_md(j).get("uid") for j in jobs}
        for job in jobs:
            active_uids = {a.get("uid") for a in status.get("active") or []}
            found = _md(job).get("uid") in active_uids
            cond = finished_condition(job)
            if not found and cond is None:
                fresh = await self.client.get(CRONJOBS, _md(cj)["name"], _md(cj).get("namespace"))
                if _md(job).get("uid") in {a.get("uid") for a in (fresh.get("status") or {}).get("active") or []}:
                    cj.clear()
                    cj.update(fresh)
                    status = cj.setdefault("status", {})
                    continue
                self.recorder.record(cj, WARNING, "UnexpectedJob", "Saw a job that the controller did not create or "
                                                                   f"forgot: {_md(job).get('name')}")
            elif found and cond is not None:
                self._forget_active(status, _md(job).get("uid"))
                self.recorder.record(cj, NORMAL, "SawCompletedJob",
                                     f"Saw completed job: {_md(job).get('name')}, condition: {cond}")
                update = True
            elif cond == "Complete":
                done = parse_time((job.get("status") or {}).get("completionTime"))
                last = parse_time(status.get("lastSuccessfulTime"))
                if done is not None and (last is None or done > last):
                    status["lastSuccessfulTime"] = format_time(done)
                    update = True
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            try:
                await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace"))
            except NotFoundError:
                self.recorder.record(cj, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
                self._forget_active(status, ref.get("uid"))
                update = True
        if _md(cj).get("deletionTimestamp"):
            return None, update
        tz = _spec(cj).get("timeZone")
        if tz:
            try:
                cronschedule.zone(tz)
            except ValueError as e:
                self.recorder.record(cj, WARNING, "UnknownTimeZone", f"invalid timeZone: {_go_quote(tz)}: {e}")
                return None, update
        if _spec(cj).get("suspend"):
            return None, update
        try:
            schedule = cronschedule.parse(self._schedule_text(cj))
        except ValueError as e:
            self.recorder.record(cj, WARNING, "UnparseableSchedule",
                                 f"unparseable schedule: {_go_quote(_spec(cj).get('schedule', ''))} : {e}")
            return None, update
        try:
            _, scheduled, missed = most_recent_schedule_time(cj, now, schedule, True)
        except ValueError as e:
            self.recorder.record(cj, WARNING, "InvalidSchedule",
                                 f"invalid schedule: {_spec(cj).get('schedule', '')} : {e}")
            return None, update
        if scheduled is not None and missed > MAX_MISSED:
            self.recorder.record(cj, WARNING, "TooManyMissedTimes", f"too many missed start times: {missed}. Set or "
                                 "decrease .spec.startingDeadlineSeconds or check clock skew")
        if scheduled is None:
            return next_schedule_delay(cj, now, schedule), update
        deadline = _spec(cj).get("startingDeadlineSeconds")
        if deadline is not None and scheduled + int(deadline) < now:
            self.recorder.record(cj, WARNING, "MissSchedule",
                                 f"Missed scheduled time to start a job: {rfc1123z(scheduled)}")
            return next_schedule_delay(cj, now, schedule), update
        name = job_name(cj, scheduled)
        if any(a.get("name") == name for a in status.get("active") or []) or \
                parse_time(status.get("lastScheduleTime")) == scheduled:
            return next_schedule_delay(cj, now, schedule), update
        policy = _spec(cj).get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.recorder.record(cj, NORMAL, "JobAlreadyActive", "Not starting job because prior execution is "
                                                                 "running and concurrency policy is Forbid")
            return next_schedule_delay(cj, now, schedule), update
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                try:
                    job = await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace"))
                except ApiError as e:
                    self.recorder.record(cj, WARNING, "FailedGet", f"Get job: {e}")
                    raise
                if not await self._delete_job(cj, job):
                    raise RuntimeError(f"could not replace job {_md(job).get('namespace')}/{_md(job).get('name')}")
                update = True
        created = await self._create_job(cj, scheduled)
        if created is None:
            return None, update
        status.setdefault("active", []).append({
            "kind": "Job", "namespace": _md(created).get("namespace"), "name": _md(created).get("name"),
            "uid": _md(created).get("uid"), "apiVersion": API_VERSION,
            "resourceVersion": _md(created).get("resourceVersion")})
        status["lastScheduleTime"] = format_time(scheduled)
        return next_schedule_delay(cj, now, schedule), True

    async def _create_job(self, cj: Obj, scheduled: float) -> Obj | None:
        """Create the Job for ``scheduled``; None when it exists and is not ours or already listed."""
        template = _spec(cj).get("jobTemplate") or {}
        tmd = template.get("metadata") or {}
        annotations = dict(tmd.get("annotations") or {})
        annotations[SCHEDULED_ANNOTATION] = cronschedule.rfc3339(scheduled, cronschedule.zone(_spec(cj).get("timeZone")))
        jmd: dict[str, Any] = {"name": job_name(cj, scheduled), "annotations": annotations,
                               "ownerReferences": [refmanager.new_controller_ref(cj, API_VERSION, KIND)]}
        if tmd.get("labels"):
            jmd["labels"] = dict(tmd["labels"])
        job = {"apiVersion": API_VERSION, "kind": "Job", "metadata": jmd,
               "spec": copy.deepcopy(template.get("spec") or {})}
        ns = _md(cj).get("namespace")
        try:
            created = await self.client.create(JOBS, job, ns)
        except AlreadyExistsError:
            existing = await self.client.get(JOBS, jmd["name"], ns)
            ref = refmanager.controller_ref_of(existing)
            if ref is None or ref.get("uid") != _md(cj).get("uid"):
                return None
            if any(a.get("uid") == _md(existing).get("uid") for a in (cj.get("status") or {}).get("active") or []):
                return None
            log.info("Job %s/%s already exists", ns, jmd["name"])
            return existing
        except ApiError as e:
            if not has_status_cause(e, podcontrol.NAMESPACE_TERMINATING):
                self.recorder.record(cj, WARNING, "FailedCreate", f"Error creating job: {e}")
            raise
        self.recorder.record(cj, NORMAL, "SuccessfulCreate", f"Created job {_md(created).get('name')}")
        return created

    @staticmethod
    def _forget_active(status: dict[str, Any], uid: Any) -> None:
        active = [a for a in status.get("active") or [] if a.get("uid") != uid]
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    async def _delete_job(self, cj: Obj, job: Obj) -> bool:
        try:
            await self.client.delete(JOBS, _md(job)["name"], _md(job).get("namespace"), propagationPolicy="Background")
        except ApiError as e:
            self.recorder.record(cj, WARNING, "FailedDelete", f"Deleted job: {e}")
            log.error("error deleting job %s from cronjob %s: %s", _md(job).get("name"), key_of(cj), e)
            return False
        self._forget_active(cj.setdefault("status", {}), _md(job).get("uid"))
        self.recorder.record(cj, NORMAL, "SuccessfulDelete", f"Deleted job {_md(job)['name']}")
        return True

    async def _cleanup_finished(self, cj: Obj, jobs: list[Obj]) -> bool:
        """Delete the oldest finished Jobs beyond the success and failure history limits."""
        spec, update = _spec(cj), False
        for cond, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                            ("Failed", spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            done = [j for j in jobs if finished_condition(j) == cond]
            done.sort(key=lambda j: (parse_time((j.get("status") or {}).get("startTime")) is None,
                                     parse_time((j.get("status") or {}).get("startTime")) or 0.0, _md(j).get("name")))
            for job in done[:max(0, len(done) - int(limit))]:
                update = await self._delete_job(cj, job) or update
        return update


def _go_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
