"""Counting a Job's finished pods exactly once, through the ``batch.kubernetes.io/job-tracking`` finalizer.

Every Job pod is created with the finalizer. When a pod finishes (or the Job does), its UID is
first written to ``status.uncountedTerminatedPods``, then its finalizer is removed, then — once
the removal succeeded — the UID moves into the ``succeeded``/``failed`` counters (Indexed Jobs
count ``completedIndexes`` instead). The terminal condition waits until nothing is uncounted and
no pod is terminating: first the interim ``SuccessCriteriaMet``/``FailureTarget`` condition is
written, then ``Complete`` (with ``completionTime``, event ``Completed`` "Job completed") or
``Failed`` (event with the reason, e.g. ``BackoffLimitExceeded``) — as Kubernetes 1.32 does
(``trackJobStatusAndRemoveFinalizers``). Mixed into ``JobController``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import key_of
from kybernetes.client.rest import JOBS, PODS, Client
from kybernetes.controllers import job_util as ju
from kybernetes.controllers import loop, podstate
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

MAX_UNCOUNTED_PODS = 500
SMP = "application/strategic-merge-patch+json"
REMOVE_FINALIZER = {"metadata": {"$deleteFromPrimitiveList/finalizers": [ju.TRACKING_FINALIZER]}}


@dataclass
class JobContext:
    """One sync's view of a Job (``syncJobCtx``); ``job`` is the caller's deep copy."""

    job: Obj
    pods: list[Obj]
    active: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    expected_removed: set[str]
    succeeded: int = 0
    failed: int = 0
    finished: dict[str, Any] | None = None
    prev_succeeded_indexes: list[int] = field(default_factory=list)
    succeeded_indexes: list[int] = field(default_factory=list)
    backoff: ju.BackoffRecord = field(default_factory=ju.BackoffRecord)

    @property
    def status(self) -> dict[str, Any]:
        return self.job.setdefault("status", {})  # type: ignore[no-any-return]


class FinalizerExpectations:
    """Pod UIDs whose tracking-finalizer removal a Job still expects to observe."""

    def __init__(self) -> None:
        self._uids: dict[str, set[str]] = {}

    def expect_removed(self, key: str, uids: set[str]) -> None:
        self._uids.setdefault(key, set()).update(uids)

    def observed(self, key: str, uid: str) -> None:
        pending = self._uids.get(key)
        if pending is not None:
            pending.discard(uid)
            if not pending:
                del self._uids[key]

    def expected(self, key: str) -> set[str]:
        return set(self._uids.get(key, ()))

    def delete(self, key: str) -> None:
        self._uids.pop(key, None)


def uid(pod: Obj) -> str:
    return str(ju.md(pod).get("uid") or "")


def new_finished_pods(ctx: JobContext) -> tuple[list[Obj], list[Obj]]:
    """Finished pods not yet counted: they still carry the finalizer and are not in the uncounted lists."""
    succeeded, failed = [], []
    total = ju.completions(ctx.job) or 0
    for pod in ctx.pods:
        u = uid(pod)
        if not ju.has_finalizer(pod) or u in ctx.expected_removed:
            continue
        if ju.is_indexed(ctx.job) and not 0 <= ju.index_of(pod) < total:
            continue
        if podstate.phase(pod) == "Succeeded" and u not in ctx.uncounted_succeeded:
            succeeded.append(pod)
        elif ju.is_pod_failed(pod, ctx.job) and u not in ctx.uncounted_failed:
            failed.append(pod)
    return succeeded, failed


def clean_uncounted(status: dict[str, Any], with_finalizer: set[str]) -> bool:
    """Move UIDs whose finalizer is gone from the uncounted lists into the counters."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for field_name in ("succeeded", "failed"):
        listed = uncounted.get(field_name) or []
        keep = [u for u in listed if u in with_finalizer]
        if len(keep) != len(listed):
            changed = True
            status[field_name] = int(status.get(field_name) or 0) + len(listed) - len(keep)
        if keep:
            uncounted[field_name] = keep
        else:
            uncounted.pop(field_name, None)
    return changed


def api_status(status: dict[str, Any]) -> dict[str, Any]:
    """Drop zero counters and empty strings the API omits (``ready``/``terminating`` are pointers: kept)."""
    out = dict(status)
    for key in ("active", "succeeded", "failed"):
        if not out.get(key):
            out.pop(key, None)
    if not out.get("completedIndexes"):
        out.pop("completedIndexes", None)
    if not out.get("conditions"):
        out.pop("conditions", None)
    return out


class JobTracking:
    """Status writes and finalizer removal of the Job controller."""

    client: Client
    clock: loop.Clock
    recorder: loop.Recorder
    backoff: dict[str, ju.BackoffRecord]
    finalizer_expectations: FinalizerExpectations

    async def track_status(self, ctx: JobContext, needs_flush: bool) -> None:
        """``trackJobStatusAndRemoveFinalizers``."""
        job, key = ctx.job, key_of(ctx.job)
        indexed, total = ju.is_indexed(job), ju.completions(job) or 0
        pods = ju.by_index(ctx.pods) if indexed else ctx.pods
        with_finalizer = {uid(p) for p in pods if ju.has_finalizer(p) and uid(p) not in ctx.expected_removed}
        uncounted = ctx.status.setdefault("uncountedTerminatedPods", {})
        needs_flush = clean_uncounted(ctx.status, with_finalizer) or needs_flush
        to_remove: list[Obj] = []
        new_indexes: list[int] = []
        reached_max = False
        for pod in pods:
            u = uid(pod)
            if not ju.has_finalizer(pod) or u in ctx.expected_removed:
                continue  # processed by an earlier sync
            failed = ju.is_pod_failed(pod, job)
            if not (ju.md(job).get("deletionTimestamp") or ctx.finished is not None
                    or podstate.phase(pod) == "Succeeded" or failed):
                continue
            to_remove.append(pod)
            ix = ju.index_of(pod)
            if podstate.phase(pod) == "Succeeded" and u not in ctx.uncounted_failed:
                if indexed:
                    if 0 <= ix < total and ix not in ctx.prev_succeeded_indexes:
                        new_indexes.append(ix)
                        needs_flush = True
                elif u not in ctx.uncounted_succeeded:
                    uncounted.setdefault("succeeded", []).append(u)
                    needs_flush = True
            elif failed or (ctx.finished is not None and ctx.finished["type"] != ju.SUCCESS_CRITERIA_MET):
                if u not in ctx.uncounted_failed and (not indexed or 0 <= ix < total):
                    uncounted.setdefault("failed", []).append(u)
                    needs_flush = True
            if len(new_indexes) + len(uncounted.get("succeeded") or []) + len(uncounted.get("failed") or []) >= \
                    MAX_UNCOUNTED_PODS:
                reached_max = True
                break
        if indexed:
            ctx.succeeded_indexes = sorted(set(ctx.succeeded_indexes) | set(new_indexes))
            text = ju.format_indexes(ctx.succeeded_indexes)
            needs_flush = needs_flush or text != (ctx.status.get("completedIndexes") or "")
            ctx.status["succeeded"] = len(ctx.succeeded_indexes)
            ctx.status["completedIndexes"] = text
        if ctx.finished is not None and ctx.finished["type"] == ju.FAILURE_TARGET:
            ctx.status.setdefault("conditions", []).append(ctx.finished)
            needs_flush = True
            ctx.finished = ju.new_condition(ju.FAILED, "True", ctx.finished.get("reason", ""),
                                            ctx.finished.get("message", ""), self.clock())
        if ctx.finished is not None and ctx.finished["type"] == ju.SUCCESS_CRITERIA_MET:
            if ju.find_condition(job, ju.SUCCESS_CRITERIA_MET) is None:
                ctx.status.setdefault("conditions", []).append(ctx.finished)
                needs_flush = True
            ctx.finished = ju.new_condition(ju.COMPLETE, "True", ctx.finished.get("reason", ""),
                                            ctx.finished.get("message", ""), self.clock())
        needs_flush = await self._flush(ctx, key, to_remove, with_finalizer, needs_flush)
        finished = not reached_max and self._enact_finished(ctx)
        if needs_flush or finished:
            ctx.job = await self.write_status(ctx.job)
            if finished and ctx.finished is not None:
                self._record_finished(ctx.job, ctx.finished)

    async def _flush(self, ctx: JobContext, key: str, to_remove: list[Obj],
                     with_finalizer: set[str], needs_flush: bool) -> bool:
        """Write the uncounted UIDs, remove finalizers, count what was removed (``flushUncountedAndRemoveFinalizers``)."""
        if needs_flush:
            ctx.job = await self.write_status(ctx.job)
            self.backoff[key] = ctx.backoff
            needs_flush = False
        error: Exception | None = None
        if to_remove:
            removed, error = await self._remove_finalizers(key, to_remove)
            with_finalizer.difference_update(uid(p) for p, ok in zip(to_remove, removed, strict=True) if ok)
        if clean_uncounted(ctx.status, with_finalizer):
            needs_flush = True
        if error is not None:
            if needs_flush:
                ctx.job = await self.write_status(ctx.job)
            raise error
        return needs_flush

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> tuple[list[bool], Exception | None]:
        self.finalizer_expectations.expect_removed(key, {uid(p) for p in pods})

        async def remove(pod: Obj) -> bool:
            if not ju.has_finalizer(pod):
                return True
            try:
                await self.client.patch(PODS, ju.md(pod)["name"], REMOVE_FINALIZER, ju.md(pod).get("namespace"),
                                        patch_type=SMP)
            except NotFoundError:
                self.finalizer_expectations.observed(key, uid(pod))
            except ApiError:
                self.finalizer_expectations.observed(key, uid(pod))
                raise
            return True

        results = await asyncio.gather(*(remove(p) for p in pods), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for e in errors:
            if not isinstance(e, Exception):
                raise e
        return [r is True for r in results], errors[0] if errors else None  # type: ignore[return-value]

    def _enact_finished(self, ctx: JobContext) -> bool:
        """Set Complete/Failed once nothing is uncounted and no pod is terminating."""
        if ctx.finished is None:
            return False
        uncounted = ctx.status.get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed") or ctx.terminating > 0:
            return False
        cond = ctx.finished
        ju.ensure_condition(ctx.status, cond["type"], cond["status"], cond.get("reason", ""), cond.get("message", ""),
                            self.clock())
        if cond["type"] == ju.COMPLETE:
            ctx.status["completionTime"] = cond["lastTransitionTime"]
        return True

    def _record_finished(self, job: Obj, cond: dict[str, Any]) -> None:
        if cond["type"] == ju.COMPLETE:
            completions = ju.completions(job)
            if completions is not None and int((job.get("status") or {}).get("succeeded") or 0) > completions:
                self.recorder.record(job, WARNING, "TooManySucceededPods",
                                     "Too many succeeded pods running after completion count reached")
            self.recorder.record(job, NORMAL, "Completed", "Job completed")
        else:
            self.recorder.record(job, WARNING, cond.get("reason", ""), cond.get("message", ""))

    async def write_status(self, job: Obj) -> Obj:
        """PUT ``jobs/status`` with the API's omissions; returns the stored Job (a conflict requeues)."""
        body = copy.deepcopy(job)
        body["status"] = api_status(body.get("status") or {})
        return await self.client.replace(JOBS, body, ju.md(job).get("namespace"), subresource="status")
