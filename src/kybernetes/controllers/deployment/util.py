"""Deployment arithmetic and bookkeeping (``deployment/util`` in Kubernetes), pure functions.

Annotations the rollout commands read (revision, revision-history, desired/max replicas, change
cause), finding the new and old ReplicaSets by template equality, maxSurge/maxUnavailable
fenceposts, proportional scaling, and the Progressing/Available conditions with Kubernetes'
reasons. The sync, rolling, recreate and progress modules build on these.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from typing import Any

from kybernetes.api.printing import format_time, parse_time
from kybernetes.controllers.loop import Obj

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
POD_TEMPLATE_HASH = "pod-template-hash"
ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
MAX_INT32 = 2**31 - 1

# condition types and reasons
AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"


def md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


def replicas(obj: Obj) -> int:
    value = spec(obj).get("replicas")
    return 1 if value is None else int(value)


def annotations_of(obj: Obj) -> dict[str, str]:
    return md(obj).get("annotations") or {}


def revision(rs: Obj) -> int:
    try:
        return int(annotations_of(rs).get(REVISION, "0") or "0")
    except ValueError:
        return 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def by_creation(rss: list[Obj]) -> list[Obj]:
    """Oldest first; ties by name (``ReplicaSetsByCreationTimestamp``)."""
    return sorted(rss, key=lambda r: (parse_time(md(r).get("creationTimestamp")) or 0.0, md(r).get("name", "")))


def by_revision(rss: list[Obj]) -> list[Obj]:
    return sorted(by_creation(rss), key=revision)


def active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def _strip_empty(value: Any) -> Any:
    """Semantic equality treats nil and empty maps/lists alike."""
    if isinstance(value, dict):
        out = {k: _strip_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_strip_empty(v) for v in value]
    return value


def template_without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return t


def equal_ignore_hash(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return bool(_strip_empty(template_without_hash(a or {})) == _strip_empty(template_without_hash(b or {})))


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's (ignoring the hash label)."""
    template = spec(d).get("template")
    return next((rs for rs in by_creation(rss) if equal_ignore_hash(spec(rs).get("template"), template)), None)


def find_old_rss(d: Obj, rss: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with pods, all old ReplicaSets)."""
    new = find_new_rs(d, rss)
    old = [rs for rs in rss if new is None or md(rs).get("uid") != md(new).get("uid")]
    return [rs for rs in old if replicas(rs) != 0], old


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """``GetScaledValueFromIntOrPercent``: an int, or ``N%`` of ``total`` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"(\d+)%", str(value))
    if not m:
        raise ValueError(f"invalid value for IntOrString: invalid value {value!r}")
    scaled = int(m.group(1)) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def is_rolling(d: Obj) -> bool:
    return bool((spec(d).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate")


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods; both 0 would block the rollout, so unavailable becomes 1."""
    ru = (spec(d).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(resolve_fenceposts(d)[1], replicas(d))


def total_spec(rss: list[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def total_status(rss: list[Obj | None], field: str = "replicas") -> int:
    return sum(int(status(rs).get(field) or 0) for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How far the new ReplicaSet may grow now (``NewRSNewReplicas``)."""
    if not is_rolling(d):
        return replicas(d)
    surge = scaled_value(((spec(d).get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", "25%"),
                         replicas(d), True)
    current = total_spec(all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int(annotations_of(rs).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    return replicas(rs) == replicas(d) and desired == replicas(d) and \
        int(status(rs).get("availableReplicas") or 0) == replicas(d)


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    if new_rs is None and not old_rss:
        return None
    old_sorted = list(reversed(by_creation(old_rss)))
    live = active([*old_sorted, new_rs])
    if len(live) == 0:
        return new_rs if new_rs is not None else old_sorted[0]
    return live[0] if len(live) == 1 else None


def _max_replicas_annotation(rs: Obj) -> int | None:
    try:
        return int(annotations_of(rs)[MAX_REPLICAS])
    except (KeyError, ValueError):
        return None


def get_proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    """This ReplicaSet's share of a scaling event, clamped to what is left to add or remove."""
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas(d) == 0:
        fraction = -replicas(rs)
    else:
        before = _max_replicas_annotation(rs) or int(status(d).get("replicas") or 0)
        if before == 0:
            fraction = 0
        else:
            size = replicas(rs) * (replicas(d) + max_surge(d)) / before
            fraction = math.floor(size + 0.5) - replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _sort_by_size(rss: list[Obj], newer_first: bool) -> list[Obj]:
    def cmp(a: Obj, b: Obj) -> int:
        if replicas(a) != replicas(b):
            return -1 if replicas(a) > replicas(b) else 1
        ta, tb = parse_time(md(a).get("creationTimestamp")) or 0.0, parse_time(md(b).get("creationTimestamp")) or 0.0
        if ta == tb:
            na, nb = str(md(a).get("name", "")), str(md(b).get("name", ""))
            return (na > nb) - (na < nb)
        older = -1 if ta < tb else 1
        return -older if newer_first else older
    return sorted(rss, key=functools.cmp_to_key(cmp))


def by_size_newer(rss: list[Obj]) -> list[Obj]:
    return _sort_by_size(rss, True)


def by_size_older(rss: list[Obj]) -> list[Obj]:
    return _sort_by_size(rss, False)


# --- annotations ------------------------------------------------------------------------------------
def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def copy_annotations_to_rs(d: Obj, rs: Obj) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in annotations_of(d).items():
        if k in ANNOTATIONS_TO_SKIP or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations, raise the revision (keeping the old one in
    revision-history when a previous ReplicaSet is reused), and set replica annotations on create."""
    changed = copy_annotations_to_rs(d, rs)
    ann = rs["metadata"]["annotations"]
    old_text = ann.get(REVISION)
    try:
        old_rev = int(old_text) if old_text else 0
    except ValueError:
        return False
    if old_rev < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old_text:
            history = ann.get(REVISION_HISTORY, "")
            revisions = [r for r in history.split(",") if r] if history else []
            total = len(history) + len(old_text) + 1
            start = 0
            while total > MAX_REV_HISTORY_LENGTH_IN_CHARS and start < len(revisions):
                total -= len(revisions[start]) + 1
                start += 1
            if total <= MAX_REV_HISTORY_LENGTH_IN_CHARS:
                ann[REVISION_HISTORY] = ",".join([*revisions[start:], old_text])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_deployment_revision(d: Obj, rev: str) -> bool:
    ann = d.setdefault("metadata", {}).setdefault("annotations", {})
    if ann.get(REVISION) == rev:
        return False
    ann[REVISION] = rev
    return True


# --- conditions -------------------------------------------------------------------------------------
def new_condition(type_: str, status_: str, reason: str, message: str, now: float) -> dict[str, Any]:
    ts = format_time(now)
    return {"type": type_, "status": status_, "lastUpdateTime": ts, "lastTransitionTime": ts,
            "reason": reason, "message": message}


def get_condition(st: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in st.get("conditions") or [] if c.get("type") == type_), None)


def set_condition(st: dict[str, Any], cond: dict[str, Any]) -> None:
    current = get_condition(st, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    st["conditions"] = [*(c for c in st.get("conditions") or [] if c.get("type") != cond["type"]), cond]


def remove_condition(st: dict[str, Any], type_: str) -> None:
    kept = [c for c in st.get("conditions") or [] if c.get("type") != type_]
    if kept:
        st["conditions"] = kept
    else:
        st.pop("conditions", None)


def has_progress_deadline(d: Obj) -> bool:
    deadline = spec(d).get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def has_revision_history_limit(d: Obj) -> bool:
    limit = spec(d).get("revisionHistoryLimit")
    return limit is not None and limit != MAX_INT32


def deployment_complete(d: Obj, st: dict[str, Any]) -> bool:
    want = replicas(d)
    return int(st.get("updatedReplicas") or 0) == want and int(st.get("replicas") or 0) == want and \
        int(st.get("availableReplicas") or 0) == want and \
        int(st.get("observedGeneration") or 0) >= int(md(d).get("generation") or 0)


def deployment_progressing(d: Obj, new: dict[str, Any]) -> bool:
    old = status(d)

    def g(s: dict[str, Any], f: str) -> int:
        return int(s.get(f) or 0)

    return g(new, "updatedReplicas") > g(old, "updatedReplicas") or \
        g(new, "replicas") - g(new, "updatedReplicas") < g(old, "replicas") - g(old, "updatedReplicas") or \
        g(new, "readyReplicas") > g(old, "readyReplicas") or g(new, "availableReplicas") > g(old, "availableReplicas")


def deployment_timed_out(d: Obj, new: dict[str, Any], now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(new, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    return since is not None and since + int(spec(d)["progressDeadlineSeconds"]) < now
