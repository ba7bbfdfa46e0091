"""Job controller: run pods until ``completions`` succeed, within ``parallelism``, backoff and deadline.

Job callbacks enqueue at once; pod callbacks (a pod counts for its controlling Job) enqueue after a
one-second batching delay and lower the create/delete expectations. ``sync`` (``syncJob``) claims
the Job's pods, counts newly finished ones, and decides: a terminal state — success reached,
``backoffLimit`` exceeded (failed pods, or container restarts with ``restartPolicy: OnFailure``),
``activeDeadlineSeconds`` passed — deletes the remaining active pods; otherwise ``manage``
deletes surplus pods (all of them while suspended, with the Suspended condition) or creates the
missing ones — non-indexed as ``<job>-xxxxx``, Indexed for the lowest pending indexes — after
the pod-failure backoff (10 s doubling, capped). Status and finalizers go through
``job_tracking``. Orphan pods that still carry the tracking finalizer are released by a second
queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from typing import Any

from kybernetes.api import errors as api_errors
from kybernetes.api.printing import format_time, parse_time
from kybernetes.api.selectors import LabelSelector, selector_from_label_selector
from kybernetes.client import workqueue
from kybernetes.client.errors import ApiError, NotFoundError, has_status_cause
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import JOBS, PODS, Client
from kybernetes.controllers import job_tracking, loop, podcontrol, podstate, refmanager
from kybernetes.controllers import job_util as ju
from kybernetes.controllers.expectations import ControllerExpectations
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

API_VERSION, KIND = "batch/v1", "Job"
SYNC_BATCH_PERIOD = 1.0
MAX_POD_CREATE_DELETE_PER_SYNC = 500


class JobController(job_tracking.JobTracking, loop.Controller):
    name = "job"

    def __init__(self, job_informer: Informer, pod_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 clock: loop.Clock = time.time) -> None:
        loop.Controller.__init__(self, [job_informer, pod_informer])
        self.job_informer = job_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.expectations = ControllerExpectations()
        self.finalizer_expectations = job_tracking.FinalizerExpectations()
        self.backoff: dict[str, ju.BackoffRecord] = {}
        self.orphan_queue = workqueue.WorkQueue()
        job_informer.add_handlers(self.enqueue, self._update_job, self._delete_job)
        pod_informer.add_handlers(self._add_pod, self._update_pod, self._delete_pod)

    async def run(self, workers: int = 1) -> None:
        orphans = asyncio.create_task(loop.process_queue(self.orphan_queue, self.sync_orphan_pod, "job-orphan-pod"),
                                      name="job-orphan-pod")
        try:
            await super().run(workers)
        finally:
            await self.orphan_queue.shutdown()
            orphans.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await orphans

    # --- callbacks: objects → keys --------------------------------------------------------------
    def _batched(self, job: Obj) -> None:
        self.enqueue_after(job, SYNC_BATCH_PERIOD)

    def _update_job(self, old: Obj, cur: Obj) -> None:
        if ju.md(old).get("generation") == ju.md(cur).get("generation"):
            self._batched(cur)
        else:
            self.enqueue(cur)
        if ju.is_finished(cur):
            self._cleanup_pod_finalizers(cur)
        start = parse_time((cur.get("status") or {}).get("startTime"))
        deadline = ju.spec(cur).get("activeDeadlineSeconds")
        if start is not None and deadline is not None and deadline != ju.spec(old).get("activeDeadlineSeconds"):
            self.enqueue_after(cur, int(deadline) - (self.clock() - start))

    def _delete_job(self, job: Obj) -> None:
        self.enqueue(job)
        self._cleanup_pod_finalizers(job)

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        for pod in self.pod_informer.list(ju.md(job).get("namespace", "")):
            ref = refmanager.controller_ref_of(pod)
            if ref is not None and ref.get("uid") == ju.md(job).get("uid") and ju.has_finalizer(pod):
                self.orphan_queue.add(key_of(pod))

    def _resolve(self, pod: Obj, ref: dict[str, Any] | None) -> Obj | None:
        if ref is None or ref.get("kind") != KIND:
            return None
        job = self.job_informer.get(f"{ju.md(pod).get('namespace', '')}/{ref.get('name')}")
        return job if job is not None and ju.md(job).get("uid") == ref.get("uid") else None

    def _selecting(self, pod: Obj) -> list[Obj]:
        out = []
        for job in self.job_informer.list(ju.md(pod).get("namespace", "")):
            sel = self._selector(job)
            if sel is not None and not sel.empty and sel.matches(ju.md(pod).get("labels")):
                out.append(job)
        return out

    def _add_pod(self, pod: Obj) -> None:
        if ju.md(pod).get("deletionTimestamp"):
            self._delete_pod(pod, final=False)
            return
        ref = refmanager.controller_ref_of(pod)
        if ref is not None:
            if (job := self._resolve(pod, ref)) is not None:
                self.expectations.creation_observed(key_of(job))
                self._batched(job)
            return
        if ju.has_finalizer(pod):
            self.orphan_queue.add(key_of(pod))
        for job in self._selecting(pod):
            self._batched(job)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if ju.md(old).get("resourceVersion") == ju.md(cur).get("resourceVersion"):
            return
        if ju.md(cur).get("deletionTimestamp"):
            self._delete_pod(cur, final=False)
            return
        removed = not ju.has_finalizer(cur)
        old_ref, cur_ref = refmanager.controller_ref_of(old), refmanager.controller_ref_of(cur)
        for ref in ([old_ref] if old_ref != cur_ref else []) + [cur_ref]:
            job = self._resolve(cur, ref)
            if job is None:
                continue
            if removed:
                self.finalizer_expectations.observed(key_of(job), str(ju.md(cur).get("uid")))
            self._batched(job)
        if cur_ref is not None:
            return
        if ju.has_finalizer(cur):
            self.orphan_queue.add(key_of(cur))
        if ju.md(old).get("labels") != ju.md(cur).get("labels") or old_ref != cur_ref:
            for job in self._selecting(cur):
                self._batched(job)

    def _delete_pod(self, pod: Obj, final: bool = True) -> None:
        ref = refmanager.controller_ref_of(pod)
        job = self._resolve(pod, ref)
        if job is None or ju.is_finished(job):
            if ju.has_finalizer(pod) and (ref is None or job is None or ju.is_finished(job)):
                self.orphan_queue.add(key_of(pod))
            return
        key = key_of(job)
        self.expectations.deletion_observed(key)
        if final or not ju.has_finalizer(pod):
            self.finalizer_expectations.observed(key, str(ju.md(pod).get("uid")))
        self._batched(job)

    async def sync_orphan_pod(self, key: str) -> None:
        """Drop the tracking finalizer from a pod no unfinished Job controls any more."""
        pod = self.pod_informer.get(key)
        if pod is None or not ju.has_finalizer(pod):
            return
        ref = refmanager.controller_ref_of(pod)
        if ref is not None:
            if ref.get("kind") != KIND or ref.get("apiVersion") != API_VERSION:
                return
            job = self._resolve(pod, ref)
            if job is not None and not ju.is_finished(job):
                return  # adopted or still running
        with contextlib.suppress(NotFoundError):
            await self.client.patch(PODS, ju.md(pod)["name"], job_tracking.REMOVE_FINALIZER, ju.md(pod).get("namespace"),
                                    patch_type=job_tracking.SMP)

    # --- sync ----------------------------------------------------------------------------------
    @staticmethod
    def _selector(job: Obj) -> LabelSelector | None:
        try:
            return selector_from_label_selector(ju.spec(job).get("selector"))
        except api_errors.StatusError:
            return None

    async def sync(self, key: str) -> None:
        cached = self.job_informer.get(key)
        if cached is None:
            log.debug("Job %s has been deleted", key)
            self.expectations.delete_expectations(key)
            self.finalizer_expectations.delete(key)
            self.backoff.pop(key, None)
            return
        if ju.is_finished(cached):
            self.backoff.pop(key, None)
            return
        job = copy.deepcopy(cached)
        if ju.spec(job).get("completionMode") not in (None, "NonIndexed", "Indexed"):
            self.recorder.record(job, WARNING, "UnknownCompletionMode", "Skipped Job sync because completion mode "
                                                                        "is unknown")
            return
        status = job.setdefault("status", {})
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        satisfied = self.expectations.satisfied(key)
        pods = await self._claim_pods(job)
        active = [p for p in pods if podstate.is_pod_active(p)]
        ctx = job_tracking.JobContext(job, pods, active, sum(1 for p in active if podstate.is_pod_ready(p)),
                         sum(1 for p in pods if ju.is_terminating(p)), set(uncounted.get("succeeded") or []),
                         set(uncounted.get("failed") or []), self.finalizer_expectations.expected(key))
        n_active, now = len(active), self.clock()
        new_succeeded, new_failed = job_tracking.new_finished_pods(ctx)
        ctx.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(ctx.uncounted_succeeded)
        ctx.failed = int(status.get("failed") or 0) + len(new_failed) + len(ctx.uncounted_failed)
        if not status.get("startTime") and not ju.suspended(job):
            status["startTime"] = format_time(now)
        ctx.backoff = self.backoff.get(key, ju.BackoffRecord()).advance(new_succeeded, new_failed)
        ctx.finished = self._finished_condition(job, pods, ctx.failed, now)
        if ju.is_indexed(job):
            total = ju.completions(job) or 0
            ctx.prev_succeeded_indexes = ju.parse_indexes(status.get("completedIndexes"), total)
            fresh = {ju.index_of(p) for p in pods if podstate.phase(p) == "Succeeded" and ju.has_finalizer(p)
                     and 0 <= ju.index_of(p) < total}
            ctx.succeeded_indexes = sorted(set(ctx.prev_succeeded_indexes) | fresh)
            ctx.succeeded = len(ctx.succeeded_indexes)
        suspend_changed, manage_error = False, None
        if ctx.finished is not None:
            deleted_ready, deleted, manage_error = await self._delete_pods(job, active, drop_finalizer=False)
            if deleted != n_active or not satisfied:
                ctx.finished = None  # pods or finalizers may still be on their way
            n_active -= deleted
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
        else:
            managed = satisfied and not ju.md(job).get("deletionTimestamp")
            if managed:
                n_active, manage_error = await self._manage(job, ctx)
            completions = ju.completions(job)
            if n_active == 0 and (ctx.succeeded > 0 if completions is None else ctx.succeeded >= completions):
                ctx.finished = ju.new_condition(ju.SUCCESS_CRITERIA_MET, "True", "CompletionsReached",
                                                "Reached expected number of succeeded pods", now)
            elif managed:
                suspend_changed = self._update_suspended(job, now)
        needs_flush = suspend_changed or n_active != int(status.get("active") or 0) or \
            ctx.ready != status.get("ready") or ctx.terminating != status.get("terminating")
        status.update(active=n_active, ready=ctx.ready, terminating=ctx.terminating)
        await self.track_status(ctx, needs_flush)
        if manage_error is not None:
            raise manage_error

    def _finished_condition(self, job: Obj, pods: list[Obj], failed: int, now: float) -> dict[str, Any] | None:
        """The terminal (or interim) condition this sync would reach, and the deadline requeue."""
        met = ju.find_condition(job, ju.SUCCESS_CRITERIA_MET)
        if met is not None and met.get("status") == "True":
            return ju.new_condition(ju.COMPLETE, "True", met.get("reason", ""), met.get("message", ""), now)
        target = ju.find_condition(job, ju.FAILURE_TARGET)
        if target is not None and target.get("status") == "True":
            return ju.new_condition(ju.FAILED, "True", target.get("reason", ""), target.get("message", ""), now)
        if failed > ju.backoff_limit(job) or ju.restarts_exceed_backoff(job, pods):
            return ju.new_condition(ju.FAILURE_TARGET, "True", "BackoffLimitExceeded",
                                    "Job has reached the specified backoff limit", now)
        deadline = ju.spec(job).get("activeDeadlineSeconds")
        start = parse_time((job.get("status") or {}).get("startTime"))
        if deadline is not None and start is not None and not ju.suspended(job):
            if now - start >= int(deadline):
                return ju.new_condition(ju.FAILURE_TARGET, "True", "DeadlineExceeded",
                                        "Job was active longer than specified deadline", now)
            self.queue.add_after(key_of(job), int(deadline) - (now - start))
        return None

    def _update_suspended(self, job: Obj, now: float) -> bool:
        status = job["status"]
        if ju.suspended(job):
            changed = ju.ensure_condition(status, ju.SUSPENDED, "True", "JobSuspended", "Job suspended", now)
            if changed:
                self.recorder.record(job, NORMAL, "Suspended", "Job suspended")
            return changed
        changed = ju.ensure_condition(status, ju.SUSPENDED, "False", "JobResumed", "Job resumed", now)
        if changed:
            self.recorder.record(job, NORMAL, "Resumed", "Job resumed")
            status["startTime"] = format_time(now)  # the deadline counts continuous activity
        return changed

    async def _claim_pods(self, job: Obj) -> list[Obj]:
        selector = self._selector(job) or LabelSelector()

        async def fresh() -> Obj:
            return await self.client.get(JOBS, ju.md(job)["name"], ju.md(job).get("namespace"))

        manager = refmanager.ControllerRefManager(self.client, PODS, job, selector, API_VERSION, KIND,
                                                  refmanager.recheck_deletion_timestamp(fresh, job))
        pods = self.pod_informer.list(ju.md(job).get("namespace", ""))
        if selector.empty:
            return await manager.claim(pods, match=lambda _p: False)
        return await manager.claim(pods)

    async def _manage(self, job: Obj, ctx: job_tracking.JobContext) -> tuple[int, Exception | None]:
        """``manageJob``: returns the active count after this sync's creates or deletes."""
        key, now = key_of(job), self.clock()
        active = len(ctx.active)
        parallelism = ju.spec(job).get("parallelism")
        parallelism = 1 if parallelism is None else int(parallelism)
        completions = ju.completions(job)
        if ju.suspended(job):
            want = 0
        elif completions is None:
            want = active if ctx.succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - ctx.succeeded, parallelism))
        victims = ju.pods_for_removal(job, ctx.active, max(0, active - want), now)[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if victims:
            self.expectations.expect_deletions(key, len(victims))
            removed_ready, removed, error = await self._delete_pods(job, victims, drop_finalizer=True)
            ctx.terminating += removed
            ctx.ready -= removed_ready
            return active - removed, error
        terminating = ctx.terminating if ju.only_replace_failed(job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active, None
        remaining = ctx.backoff.remaining(now)
        if remaining > 0:
            self.enqueue_after(job, max(remaining, SYNC_BATCH_PERIOD))
            return active, None
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        template = copy.deepcopy(ju.spec(job).get("template") or {})
        indexes: list[int | None] = [None] * diff
        if ju.is_indexed(job):
            ju.add_index_env(template)
            terminating_pods = [p for p in ctx.pods if ju.is_terminating(p)] if ju.only_replace_failed(job) else []
            indexes = list(ju.first_pending_indexes(ctx.succeeded_indexes, ctx.active, terminating_pods, diff,
                                                    completions or 0))
            diff = len(indexes)
        finalizers = template.setdefault("metadata", {}).setdefault("finalizers", [])
        if ju.TRACKING_FINALIZER not in finalizers:
            finalizers.append(ju.TRACKING_FINALIZER)
        self.expectations.expect_creations(key, diff)
        pending = iter(indexes)
        ref = refmanager.new_controller_ref(job, API_VERSION, KIND)

        async def create_one() -> None:
            index = next(pending)
            tmpl, generate_name = template, f"{ju.md(job)['name']}-"
            if index is not None:
                tmpl, generate_name = ju.indexed_template(template, ju.md(job)["name"], index)
            try:
                await self._create_pod(job, tmpl, ref, generate_name)
            except ApiError as e:
                if has_status_cause(e, podcontrol.NAMESPACE_TERMINATING):
                    return
                self.expectations.creation_observed(key)
                raise

        created, error = await podcontrol.slow_start_batch(diff, 1, create_one)
        skipped = sum(1 for _ in pending)
        self.expectations.lower_expectations(key, skipped, 0)
        return active + created, error

    async def _create_pod(self, job: Obj, template: dict[str, Any], ref: dict[str, Any], generate_name: str) -> None:
        """``CreatePodsWithGenerateName``, with the events ``PodControl`` records."""
        pod = podcontrol.pod_from_template(template, job, ref)
        pod["metadata"]["generateName"] = generate_name
        ns = ju.md(job).get("namespace", "")
        try:
            created = await self.client.create(PODS, pod, ns)
        except ApiError as e:
            if not has_status_cause(e, podcontrol.NAMESPACE_TERMINATING):
                self.recorder.record(job, WARNING, podcontrol.FAILED_CREATE, f"Error creating: {e}")
            raise
        self.recorder.record(job, NORMAL, podcontrol.SUCCESSFUL_CREATE, f"Created pod: {ju.md(created).get('name')}")

    async def _delete_pods(self, job: Obj, pods: list[Obj], drop_finalizer: bool) -> tuple[int, int, Exception | None]:
        """Delete pods (first removing the finalizer of surplus ones); (ready deleted, deleted, first error)."""
        key, ns = key_of(job), ju.md(job).get("namespace", "")
        control = podcontrol.PodControl(self.client, self.recorder)

        async def delete(pod: Obj) -> bool:
            try:
                if drop_finalizer and ju.has_finalizer(pod):
                    await self.client.patch(PODS, ju.md(pod)["name"], job_tracking.REMOVE_FINALIZER, ns, patch_type=job_tracking.SMP)
                await control.delete_pod(ns, ju.md(pod)["name"], job)
            except NotFoundError:
                if drop_finalizer:
                    self.expectations.deletion_observed(key)
            except ApiError:
                if drop_finalizer:
                    self.expectations.deletion_observed(key)
                raise
            return True

        results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for e in errors:
            if not isinstance(e, Exception):
                raise e
        ok = [p for p, r in zip(pods, results, strict=True) if r is True]
        first = errors[0] if errors else None
        return sum(1 for p in ok if podstate.is_pod_ready(p)), len(ok), first  # type: ignore[return-value]
