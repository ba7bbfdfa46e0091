"""Disruption controller: the ``status`` of every PodDisruptionBudget, which the eviction API obeys.

For a PDB ``sync`` lists the pods its selector matches and works out how many must stay healthy:
``minAvailable: N`` wants N of the pods it sees; a ``minAvailable`` percentage or ``maxUnavailable``
scales by the replicas of the pods' owning controllers (Deployment, ReplicaSet, StatefulSet,
ReplicationController, found through controllerRefs), percentages rounding up. Ready pods that are
not being deleted and not recently evicted (``disruptedPods``, forgotten after two minutes) are
healthy; ``disruptionsAllowed = currentHealthy - desiredHealthy`` (never below 0) with the
``DisruptionAllowed`` condition (SufficientPods/InsufficientPods). When a sync fails, the fail-safe
still writes ``disruptionsAllowed: 0`` with reason SyncFailed. Events as the controller manager's.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any

from kybernetes.api import errors as api_errors
from kybernetes.api.printing import format_time, parse_time
from kybernetes.api.selectors import selector_from_label_selector
from kybernetes.client.errors import ConflictError, NotFoundError
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import PODDISRUPTIONBUDGETS, Client
from kybernetes.controllers import loop, podstate, refmanager
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

DELETION_TIMEOUT = 120.0
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"


class SyncError(Exception):
    """A PDB whose status cannot be computed (the fail-safe writes ``disruptionsAllowed: 0``)."""


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise SyncError("invalid type: string is not a percentage")
    try:
        pct = int(text[:-1])
    except ValueError as e:
        raise SyncError(f"invalid value for IntOrString: invalid value {text!r}") from e
    exact = pct * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def set_condition(conditions: list[dict[str, Any]], cond: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """``meta.SetStatusCondition``: the transition time moves only when the status changes."""
    out = [dict(c) for c in conditions]
    for c in out:
        if c.get("type") == cond["type"]:
            if c.get("status") != cond["status"]:
                c["lastTransitionTime"] = format_time(now)
            c.update({k: v for k, v in cond.items() if k != "lastTransitionTime"})
            return out
    out.append({**cond, "lastTransitionTime": format_time(now)})
    return out


class DisruptionController(loop.Controller):
    name = "disruption"

    def __init__(self, pdb_informer: Informer, pod_informer: Informer, rs_informer: Informer,
                 deployment_informer: Informer, sts_informer: Informer, rc_informer: Informer, client: Client,
                 recorder: loop.Recorder, *, clock: loop.Clock = time.time) -> None:
        super().__init__([pdb_informer, pod_informer, rs_informer, deployment_informer, sts_informer, rc_informer])
        self.pdb_informer = pdb_informer
        self.pod_informer = pod_informer
        self.rs_informer = rs_informer
        self.deployment_informer = deployment_informer
        self.sts_informer = sts_informer
        self.rc_informer = rc_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        pdb_informer.add_handlers(self.enqueue, lambda _old, cur: self.enqueue(cur), self.enqueue)
        pod_informer.add_handlers(self._add_pod, lambda _old, cur: self._enqueue_for_pod(cur), self._enqueue_for_pod)
        for inf in (rs_informer, deployment_informer, sts_informer, rc_informer):
            inf.add_handlers(on_update=self._scale_changed)

    # --- callbacks --------------------------------------------------------------------------------
    def _pdbs_for_pod(self, pod: Obj) -> list[Obj]:
        out = []
        labels = _md(pod).get("labels") or {}
        for pdb in self.pdb_informer.list(_md(pod).get("namespace", "")):
            try:
                sel = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
            except api_errors.StatusError:
                continue
            if sel is not None and sel.matches(labels):
                out.append(pdb)
        return sorted(out, key=lambda p: _md(p).get("name", ""))

    def _enqueue_for_pod(self, pod: Obj) -> None:
        for pdb in self._pdbs_for_pod(pod):
            self.enqueue(pdb)

    def _add_pod(self, pod: Obj) -> None:
        pdbs = self._pdbs_for_pod(pod)
        if len(pdbs) > 1:
            md = _md(pod)
            self.recorder.record(pod, WARNING, "MultiplePodDisruptionBudgets",
                                 f'Pod "{md.get("namespace")}"/"{md.get("name")}" matches multiple '
                                 f'PodDisruptionBudgets.  Chose "{_md(pdbs[0]).get("name")}" arbitrarily.')
        for pdb in pdbs:
            self.enqueue(pdb)

    def _scale_changed(self, old: Obj, cur: Obj) -> None:
        if _replicas(old) != _replicas(cur):
            for pdb in self.pdb_informer.list(_md(cur).get("namespace", "")):
                self.enqueue(pdb)

    # --- expected scale ---------------------------------------------------------------------------
    def _owner(self, inf: Informer, ns: str, ref: dict[str, Any], kind: str, groups: tuple[str, ...]) -> Obj | None:
        group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        if ref.get("kind") != kind or group not in groups:
            return None
        obj = inf.get(f"{ns}/{ref.get('name')}")
        return obj if obj is not None and _md(obj).get("uid") == ref.get("uid") else None

    def _controller_scale(self, ref: dict[str, Any], ns: str) -> tuple[str, int] | None:
        """(uid, replicas) of the controller a pod's controllerRef names, as the finders resolve it."""
        rc = self._owner(self.rc_informer, ns, ref, "ReplicationController", ("",))
        if rc is not None:
            return _md(rc).get("uid", ""), _replicas(rc)
        rs = self._owner(self.rs_informer, ns, ref, "ReplicaSet", ("apps", "extensions"))
        if rs is not None:
            rs_ref = refmanager.controller_ref_of(rs)
            if rs_ref is not None and rs_ref.get("kind") == "Deployment":
                dep = self._owner(self.deployment_informer, ns, rs_ref, "Deployment", ("apps", "extensions"))
                return (_md(dep).get("uid", ""), _replicas(dep)) if dep is not None else None
            return _md(rs).get("uid", ""), _replicas(rs)
        sts = self._owner(self.sts_informer, ns, ref, "StatefulSet", ("apps",))
        if sts is not None:
            return _md(sts).get("uid", ""), _replicas(sts)
        return None

    def _expected_scale(self, pods: list[Obj], ns: str) -> tuple[int, list[str]]:
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = refmanager.controller_ref_of(pod)
            if ref is None:
                unmanaged.append(_md(pod).get("name", ""))
                continue
            if ref.get("uid") in scales:
                continue
            found = self._controller_scale(ref, ns)
            if found is None:
                raise SyncError(f'found no controllers for pod "{_md(pod).get("name", "")}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    def expected_pod_count(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int, list[str]]:
        """(expectedPods, desiredHealthy, unmanaged pod names) — ``getExpectedPodCount``."""
        spec = pdb.get("spec") or {}
        ns = _md(pdb).get("namespace", "")
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = self._expected_scale(pods, ns)
            max_unavailable = scaled_value(spec["maxUnavailable"], expected, True)
            return expected, max(0, expected - max_unavailable), unmanaged
        min_available = spec.get("minAvailable")
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            return len(pods), min_available, []
        if min_available is not None:
            expected, unmanaged = self._expected_scale(pods, ns)
            return expected, scaled_value(min_available, expected, True), unmanaged
        return 0, 0, []

    # --- sync -------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        pdb = self.pdb_informer.get(key)
        if pdb is None:
            log.debug("PodDisruptionBudget %s has been deleted", key)
            return
        try:
            await self._try_sync(key, pdb)
        except ConflictError:
            raise
        except (SyncError, api_errors.StatusError) as e:
            log.info("failed to sync PodDisruptionBudget %s: %s", key, e)
            await self._fail_safe(pdb, str(e))
            raise

    def _pods(self, pdb: Obj) -> list[Obj]:
        try:
            sel = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
        except api_errors.StatusError as e:
            self.recorder.record(pdb, WARNING, "NoPods", f"Failed to get pods: {e}")
            raise
        if sel is None:
            return []
        return [p for p in self.pod_informer.list(_md(pdb).get("namespace", "")) if sel.matches(_md(p).get("labels"))]

    async def _try_sync(self, key: str, pdb: Obj) -> None:
        pods = self._pods(pdb)
        if not pods:
            self.recorder.record(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = self.expected_pod_count(pdb, pods)
        except SyncError as e:
            self.recorder.record(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                 f"Failed to calculate the number of expected pods: {e}")
            raise
        if unmanaged:
            log.debug("PDB %s selects unmanaged pods %s", key, unmanaged)
            selector = (pdb.get("spec") or {}).get("selector")
            self.recorder.record(pdb, WARNING, "UnmanagedPods",
                                 f"Pods selected by this PodDisruptionBudget (selector: {_go_selector(selector)}) were "
                                 "found to be unmanaged. As a result, the status of the PDB cannot be calculated "
                                 "correctly, which may result in undefined behavior. To account for these pods please "
                                 'set ".spec.minAvailable" field of the PDB to an integer value.')
        now = self.clock()
        disrupted, recheck = self._disrupted_pods(pdb, pods, now)
        healthy = sum(1 for p in pods if not _md(p).get("deletionTimestamp") and _md(p).get("name") not in disrupted
                      and podstate.is_pod_ready(p))
        await self._update_status(pdb, healthy, desired, expected, disrupted, now)
        if recheck is not None:
            self.queue.add_after(key, max(recheck - now, 0.0))

    def _disrupted_pods(self, pdb: Obj, pods: list[Obj], now: float) -> tuple[dict[str, str], float | None]:
        """``buildDisruptedPodMap``: evictions still expected to turn into deletions, and when to look again."""
        recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
        result: dict[str, str] = {}
        recheck: float | None = None
        for pod in pods:
            md = _md(pod)
            if md.get("deletionTimestamp") or md.get("name") not in recorded:
                continue
            when = parse_time(recorded[md["name"]]) or 0.0
            deadline = when + DELETION_TIMEOUT
            if deadline < now:
                self.recorder.record(pod, WARNING, "NotDeleted", "Pod was expected by PDB "
                                     f"{_md(pdb).get('namespace')}/{_md(pdb).get('namespace')} to be deleted but it wasn't")
                continue
            result[md["name"]] = recorded[md["name"]]
            recheck = deadline if recheck is None else min(recheck, deadline)
        return result, recheck

    async def _update_status(self, pdb: Obj, healthy: int, desired: int, expected: int, disrupted: dict[str, str],
                             now: float) -> None:
        allowed = healthy - desired if expected > 0 and healthy > desired else 0
        status = pdb.get("status") or {}
        generation = _md(pdb).get("generation") or 0
        cond = next((c for c in status.get("conditions") or [] if c.get("type") == DISRUPTION_ALLOWED), None)
        wanted_reason = SUFFICIENT_PODS if allowed > 0 else INSUFFICIENT_PODS
        if (status.get("currentHealthy"), status.get("desiredHealthy"), status.get("expectedPods"),
                status.get("disruptionsAllowed"), status.get("disruptedPods") or {}, status.get("observedGeneration")) \
                == (healthy, desired, expected, allowed, disrupted, generation) and cond is not None \
                and cond.get("observedGeneration") == generation and cond.get("reason") == wanted_reason:
            return
        new: dict[str, Any] = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                               "disruptionsAllowed": allowed, "observedGeneration": generation}
        if disrupted:
            new["disruptedPods"] = disrupted
        new["conditions"] = set_condition(status.get("conditions") or [], {
            "type": DISRUPTION_ALLOWED, "status": "True" if allowed > 0 else "False", "reason": wanted_reason,
            "message": "", "observedGeneration": generation}, now)
        await self._write(pdb, new)

    async def _fail_safe(self, pdb: Obj, message: str) -> None:
        status = copy.deepcopy(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        status["conditions"] = set_condition(status.get("conditions") or [], {
            "type": DISRUPTION_ALLOWED, "status": "False", "reason": SYNC_FAILED, "message": message,
            "observedGeneration": status.get("observedGeneration") or 0}, self.clock())
        await self._write(pdb, status)

    async def _write(self, pdb: Obj, status: dict[str, Any]) -> None:
        updated = copy.deepcopy(pdb)
        updated["status"] = status
        try:
            await self.client.replace(PODDISRUPTIONBUDGETS, updated, _md(pdb).get("namespace"), subresource="status")
        except NotFoundError:
            log.debug("PodDisruptionBudget %s is gone", key_of(pdb))


def _go_selector(selector: Any) -> str:
    """A LabelSelector as Go's ``%v`` prints the pointer's struct (``&LabelSelector{MatchLabels:map[…]}``)."""
    if not isinstance(selector, dict):
        return "nil"
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    exprs = "".join(f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
                    f"Values:[{' '.join(e.get('values') or [])}],}}," for e in selector.get("matchExpressions") or [])
    return f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
