"""Facts about a pod that workload controllers decide on: active, ready, available, ranked for deletion.

Pure functions over pod dicts (``podutil`` and ``controller_utils`` in Kubernetes). The ReplicaSet
controller ranks pods with ``deletion_order`` before scaling down; the endpoints controllers use
``is_pod_ready``/``is_pod_terminal``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from kybernetes.api.printing import parse_time

Obj = dict[str, Any]

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_pod_terminal(pod: Obj) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """Not Succeeded/Failed and not being deleted (``controller.IsPodActive``)."""
    return not is_pod_terminal(pod) and not _md(pod).get("deletionTimestamp")


def ready_condition(pod: Obj) -> dict[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c
    return None


def is_pod_ready(pod: Obj) -> bool:
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def ready_since(pod: Obj) -> float | None:
    """When the Ready condition last turned True (None when not ready or unknown)."""
    c = ready_condition(pod)
    if c is None or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least ``min_ready_seconds`` (``podutil.IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds < now


def max_container_restarts(pod: Obj) -> int:
    status = pod.get("status") or {}
    counts = [int(c.get("restartCount") or 0) for key in ("initContainerStatuses", "containerStatuses")
              for c in status.get(key) or [] if isinstance(c, dict)]
    return max(counts, default=0)


def deletion_cost(pod: Obj) -> int:
    value = (_md(pod).get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _log_rank_diff(t1: float, t2: float, now: float) -> int:
    """Compare ages on a log2 scale of nanoseconds, as ``LogarithmicScaleDown`` does."""
    d1, d2 = (now - t1) * 1e9, (now - t2) * 1e9
    r1 = int(math.log2(d1)) if d1 > 0 else -1
    r2 = int(math.log2(d2)) if d2 > 0 else -1
    return r1 - r2


def _newer_first(t1: float | None, t2: float | None, now: float, uid1: str, uid2: str) -> int:
    """Empty < newer < older, bucketed logarithmically; -1 when the first goes first."""
    if t1 is None or t2 is None:
        if t1 is None and t2 is None:
            return 0
        return -1 if t1 is None else 1
    diff = _log_rank_diff(t1, t2, now)
    if diff == 0:
        return (uid1 > uid2) - (uid1 < uid2)
    return -1 if diff < 0 else 1


def deletion_order(pods: list[Obj], ranks: list[int], now: float) -> list[Obj]:
    """Pods sorted so the ones to delete first come first (``ActivePodsWithRanks``):
    unassigned < assigned; Pending < Unknown < Running; not ready < ready; lower deletion cost;
    more co-located siblings; ready more recently; more restarts; created more recently."""
    by_id = {id(p): r for p, r in zip(pods, ranks, strict=True)}

    def cmp(a: Obj, b: Obj) -> int:
        na, nb = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
        if na != nb and (not na or not nb):
            return -1 if not na else 1
        pa, pb = _PHASE_ORDINAL.get(phase(a), 0), _PHASE_ORDINAL.get(phase(b), 0)
        if pa != pb:
            return -1 if pa < pb else 1
        ra, rb = is_pod_ready(a), is_pod_ready(b)
        if ra != rb:
            return -1 if not ra else 1
        ca, cb = deletion_cost(a), deletion_cost(b)
        if ca != cb:
            return -1 if ca < cb else 1
        ka, kb = by_id[id(a)], by_id[id(b)]
        if ka != kb:
            return -1 if ka > kb else 1
        uid_a, uid_b = str(_md(a).get("uid", "")), str(_md(b).get("uid", ""))
        if ra and rb:
            ta, tb = ready_since(a), ready_since(b)
            if ta != tb:
                order = _newer_first(ta, tb, now, uid_a, uid_b)
                if order:
                    return order
        xa, xb = max_container_restarts(a), max_container_restarts(b)
        if xa != xb:
            return -1 if xa > xb else 1
        ta, tb = parse_time(_md(a).get("creationTimestamp")), parse_time(_md(b).get("creationTimestamp"))
        if ta != tb:
            return _newer_first(ta, tb, now, uid_a, uid_b)
        return 0

    return sorted(pods, key=functools.cmp_to_key(cmp))
