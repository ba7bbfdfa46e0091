"""Pure Job rules: completion indexes, conditions, pod failure backoff, pods to create and remove.

Indexed Jobs track finished indexes as an interval string (``"0-2,4"``, ``completedIndexes``);
each pod carries its index in the ``batch.kubernetes.io/job-completion-index`` annotation and
label, as ``JOB_COMPLETION_INDEX`` in its environment and in its hostname ``<job>-<index>``. A
``BackoffRecord`` counts failures since the last success and when the last one happened; pods
are recreated after 10 s doubling per failure, capped (``getRemainingTime``). Conditions follow
``ensureJobConditionStatus``. No I/O; ``job.py`` and ``job_tracking.py`` call these.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kybernetes.api.printing import format_time, parse_time
from kybernetes.controllers import podstate
from kybernetes.controllers.loop import Obj

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"
UNKNOWN_INDEX = -1
MAX_GENERATED_NAME = 58
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 360.0
DEFAULT_BACKOFF_LIMIT = 6
COMPLETE, FAILED, FAILURE_TARGET, SUCCESS_CRITERIA_MET, SUSPENDED = (
    "Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended")


def md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def is_indexed(job: Obj) -> bool:
    return spec(job).get("completionMode") == "Indexed"


def completions(job: Obj) -> int | None:
    value = spec(job).get("completions")
    return None if value is None else int(value)


def suspended(job: Obj) -> bool:
    return bool(spec(job).get("suspend"))


def has_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (md(pod).get("finalizers") or [])


def index_of(pod: Obj) -> int:
    value = (md(pod).get("annotations") or {}).get(INDEX_ANNOTATION)
    try:
        ix = int(value) if value is not None else UNKNOWN_INDEX
    except ValueError:
        return UNKNOWN_INDEX
    return ix if ix >= 0 else UNKNOWN_INDEX


def only_replace_failed(job: Obj) -> bool:
    return spec(job).get("podReplacementPolicy") == "Failed" or spec(job).get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before succeeding."""
    phase = podstate.phase(pod)
    if phase == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(md(pod).get("deletionTimestamp")) and phase != "Succeeded"


def is_terminating(pod: Obj) -> bool:
    return bool(md(pod).get("deletionTimestamp")) and not podstate.is_pod_terminal(pod)


# --- indexes --------------------------------------------------------------------------------------
def parse_indexes(text: str | None, limit: int) -> list[int]:
    """``"0-2,4"`` → [0, 1, 2, 4], dropping indexes ≥ ``limit`` and malformed parts."""
    out: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            continue
        out.update(range(max(lo, 0), min(hi, limit - 1) + 1))
    return sorted(out)


def format_indexes(indexes: list[int]) -> str:
    """Sorted indexes as intervals: [0, 1, 2, 4] → ``"0-2,4"``."""
    parts: list[str] = []
    ordered = sorted(set(indexes))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def first_pending_indexes(succeeded: list[int], active: list[Obj], terminating: list[Obj], count: int,
                          total: int) -> list[int]:
    """The ``count`` lowest indexes that neither succeeded nor have a pod (``firstPendingIndexes``)."""
    taken = set(succeeded) | {index_of(p) for p in active} | {index_of(p) for p in terminating}
    return [ix for ix in range(total) if ix not in taken][:count]


def indexed_template(template: dict[str, Any], job_name: str, index: int) -> tuple[dict[str, Any], str]:
    """(template for ``index``, generateName) (``addCompletionIndex*`` and ``podGenerateNameWithIndex``)."""
    out = copy.deepcopy(template)
    tmd = out.setdefault("metadata", {})
    tmd.setdefault("annotations", {})[INDEX_ANNOTATION] = str(index)
    tmd.setdefault("labels", {})[INDEX_ANNOTATION] = str(index)
    out.setdefault("spec", {})["hostname"] = f"{job_name}-{index}"
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME:
        prefix = prefix[:MAX_GENERATED_NAME - len(suffix)] + suffix
    return out, prefix


def add_index_env(template: dict[str, Any]) -> None:
    """Expose the index to every container as ``JOB_COMPLETION_INDEX`` (from the annotation)."""
    pod_spec = template.setdefault("spec", {})
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or []:
            env = container.setdefault("env", [])
            if not any(e.get("name") == INDEX_ENV for e in env):
                env.append({"name": INDEX_ENV, "valueFrom": {"fieldRef": {
                    "fieldPath": f"metadata.annotations['{INDEX_ANNOTATION}']"}}})


def pods_for_removal(job: Obj, active: list[Obj], at_least: int, now: float) -> list[Obj]:
    """Duplicate or out-of-range indexes first, then the least advanced pods (``activePodsForRemoval``)."""
    remove: list[Obj] = []
    left = active
    if is_indexed(job):
        total = completions(job) or 0
        by_index: dict[int, list[Obj]] = {}
        for pod in active:
            by_index.setdefault(index_of(pod), []).append(pod)
        left = []
        for ix, pods in sorted(by_index.items()):
            if ix == UNKNOWN_INDEX or ix >= total:
                remove += pods
            elif len(pods) == 1:
                left.append(pods[0])
            else:
                ranked = podstate.deletion_order(pods, [0] * len(pods), now)
                remove += ranked[:-1]
                left.append(ranked[-1])
    if len(remove) < at_least:
        remove += podstate.deletion_order(left, [0] * len(left), now)[:at_least - len(remove)]
    return remove


# --- conditions -----------------------------------------------------------------------------------
def find_condition(job: Obj, type_: str) -> dict[str, Any] | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def new_condition(type_: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    ts = format_time(now)
    cond = {"type": type_, "status": status, "lastProbeTime": ts, "lastTransitionTime": ts}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def ensure_condition(status: dict[str, Any], type_: str, value: str, reason: str, message: str, now: float) -> bool:
    """Set a condition (never adding one as False); True when the list changed."""
    conditions = status.setdefault("conditions", [])
    for i, c in enumerate(conditions):
        if c.get("type") == type_:
            if c.get("status") != value or (c.get("reason") or "") != reason or (c.get("message") or "") != message:
                conditions[i] = new_condition(type_, value, reason, message, now)
                return True
            return False
    if value != "False":
        conditions.append(new_condition(type_, value, reason, message, now))
        return True
    if not conditions:
        status.pop("conditions")
    return False


def is_finished(job: Obj) -> bool:
    return any(c.get("type") in (COMPLETE, FAILED) and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


# --- backoff --------------------------------------------------------------------------------------
def finish_time(pod: Obj) -> float:
    """When a pod finished: its containers' last finishedAt, else deletion or readiness change, else creation."""
    status = pod.get("status") or {}
    times = [parse_time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt"))
             for c in status.get("containerStatuses") or []]
    known = [t for t in times if t is not None]
    if known:
        return max(known)
    for value in (md(pod).get("deletionTimestamp"), (podstate.ready_condition(pod) or {}).get("lastTransitionTime"),
                  md(pod).get("creationTimestamp")):
        t = parse_time(value)
        if t is not None:
            return t
    return 0.0


@dataclass(frozen=True)
class BackoffRecord:
    failures_after_success: int = 0
    last_failure: float | None = None

    def advance(self, succeeded: list[Obj], failed: list[Obj]) -> BackoffRecord:
        """Fold newly finished pods in (``newBackoffRecord``)."""
        failed_times = sorted(finish_time(p) for p in failed)
        if not succeeded:
            if not failed_times:
                return self
            return BackoffRecord(self.failures_after_success + len(failed_times), failed_times[-1])
        last_success = max(finish_time(p) for p in succeeded)
        after = [t for t in failed_times if t > last_success]
        return BackoffRecord(len(after), after[-1] if after else None)

    def remaining(self, now: float) -> float:
        """Seconds until the next pod may be created: 10 s doubling per failure, capped."""
        if not self.failures_after_success or self.last_failure is None:
            return 0.0
        delay = POD_FAILURE_BACKOFF
        for _ in range(1, self.failures_after_success):
            delay = min(delay * 2, MAX_POD_FAILURE_BACKOFF)
        return max(0.0, delay - (now - self.last_failure))


def backoff_limit(job: Obj) -> int:
    """``spec.backoffLimit`` (6 when unset, as the API defaults it)."""
    value = spec(job).get("backoffLimit")
    return DEFAULT_BACKOFF_LIMIT if value is None else int(value)


def restarts_exceed_backoff(job: Obj, pods: list[Obj]) -> bool:
    """restartPolicy OnFailure: container restarts of running pods count against backoffLimit."""
    if ((spec(job).get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    total = 0
    for pod in pods:
        if podstate.phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            total += sum(int(c.get("restartCount") or 0) for key in ("initContainerStatuses", "containerStatuses")
                         for c in status.get(key) or [])
    limit = backoff_limit(job)
    return total > 0 if limit == 0 else total >= limit


def by_index(pods: list[Obj]) -> list[Obj]:
    return sorted(pods, key=index_of)
