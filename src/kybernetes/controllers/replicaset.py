"""ReplicaSet controller: keep ``spec.replicas`` pods matching the selector, and report them.

Pod and ReplicaSet callbacks turn changes into ``ns/name`` keys (a pod counts for its controller, or
for every ReplicaSet selecting it when it is an orphan) and lower the create/delete expectations.
``sync`` claims pods (adopt/release via ``refmanager``), creates missing pods in slow-start batches
or deletes surplus ones ranked by ``podstate.deletion_order`` — only while expectations are met —
then always writes ``status`` (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
observedGeneration, ReplicaFailure). ``replicationcontroller.py`` reuses all of it for core/v1
ReplicationControllers; the Deployment controller drives ReplicaSets through their spec.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
import time
from typing import Any

from kybernetes.api import errors as api_errors
from kybernetes.api.printing import format_time
from kybernetes.api.selectors import LabelSelector, selector_from_label_selector
from kybernetes.client.errors import ApiError, NotFoundError, has_status_cause
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import PODS, REPLICASETS, Client, Resource
from kybernetes.controllers import loop, podcontrol, podstate, refmanager
from kybernetes.controllers.expectations import UIDTrackingControllerExpectations
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH_SIZE = 1
REPLICA_FAILURE = "ReplicaFailure"


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Obj) -> dict[str, str]:
    return _md(obj).get("labels") or {}


def spec_replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def pods_to_delete(pods: list[Obj], related: list[Obj], diff: int, now: float) -> list[Obj]:
    """The ``diff`` pods to delete first; pods sharing a node with more siblings go first."""
    if diff < len(pods):
        on_node = collections.Counter((p.get("spec") or {}).get("nodeName") or "" for p in related
                                      if podstate.is_pod_active(p))
        ranks = [on_node[(p.get("spec") or {}).get("nodeName") or ""] for p in pods]
        pods = podstate.deletion_order(pods, ranks, now)
    return pods[:diff]


def calculate_status(rs: Obj, pods: list[Obj], manage_error: Exception | None, now: float) -> dict[str, Any]:
    spec = rs.get("spec") or {}
    status = copy.deepcopy(rs.get("status") or {})
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully = ready = available = 0
    for pod in pods:
        labels = _labels(pod)
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully += 1
        if podstate.is_pod_ready(pod):
            ready += 1
            if podstate.is_pod_available(pod, min_ready, now):
                available += 1
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != REPLICA_FAILURE]
    failure = next((c for c in status.get("conditions") or [] if c.get("type") == REPLICA_FAILURE), None)
    if manage_error is not None and failure is None:
        diff = len(pods) - spec_replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        conditions.append({"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": format_time(now),
                           "reason": reason, "message": str(manage_error)})
    elif manage_error is not None and failure is not None:
        conditions.append(failure)
    status["replicas"] = len(pods)
    for field, value in (("fullyLabeledReplicas", fully), ("readyReplicas", ready), ("availableReplicas", available)):
        if value:
            status[field] = value
        else:
            status.pop(field, None)
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    return status


def _same_counts(a: dict[str, Any], b: dict[str, Any]) -> bool:
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "conditions")
    return all((a.get(f) or 0) == (b.get(f) or 0) for f in fields)


class ReplicaSetController(loop.Controller):
    name = "replicaset"
    resource: Resource = REPLICASETS
    api_version = "apps/v1"
    kind = "ReplicaSet"

    def __init__(self, rs_informer: Informer, pod_informer: Informer, client: Client, recorder: loop.Recorder,
                 *, burst_replicas: int = BURST_REPLICAS, clock: loop.Clock = time.time) -> None:
        super().__init__([rs_informer, pod_informer])
        self.rs_informer = rs_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        self.pod_control = podcontrol.PodControl(client, recorder)
        self.expectations = UIDTrackingControllerExpectations()
        self.burst_replicas = burst_replicas
        self.clock = clock
        rs_informer.add_handlers(self.enqueue, self._update_rs, self._delete_rs)
        pod_informer.add_handlers(self._add_pod, self._update_pod, self._delete_pod)

    # --- what a ReplicationController does differently ---------------------------------------------
    def selector(self, rs: Obj) -> LabelSelector | None:
        """The pods ``rs`` selects; None selects nothing. Raises StatusError when invalid."""
        return selector_from_label_selector((rs.get("spec") or {}).get("selector"))

    # --- callbacks: objects → keys --------------------------------------------------------------
    def _update_rs(self, old: Obj, cur: Obj) -> None:
        if _md(old).get("uid") != _md(cur).get("uid"):
            self._delete_rs(old)
        self.enqueue(cur)

    def _delete_rs(self, rs: Obj) -> None:
        key = key_of(rs)
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    def _resolve(self, namespace: str, ref: dict[str, Any]) -> Obj | None:
        if ref.get("kind") != self.kind:
            return None
        rs = self.rs_informer.get(f"{namespace}/{ref.get('name')}")
        return rs if rs is not None and _md(rs).get("uid") == ref.get("uid") else None

    def _selecting(self, pod: Obj) -> list[Obj]:
        """Replica sets whose (non-empty) selector matches an orphan pod."""
        labels = _labels(pod)
        if not labels:
            return []
        out = []
        for rs in self.rs_informer.list(_md(pod).get("namespace", "")):
            try:
                sel = self.selector(rs)
            except api_errors.StatusError:
                continue
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append(rs)
        return out

    def _add_pod(self, pod: Obj) -> None:
        if _md(pod).get("deletionTimestamp"):
            self._delete_pod(pod)
            return
        ref = refmanager.controller_ref_of(pod)
        if ref is not None:
            rs = self._resolve(_md(pod).get("namespace", ""), ref)
            if rs is not None:
                self.expectations.creation_observed(key_of(rs))
                self.enqueue(rs)
            return
        for rs in self._selecting(pod):
            self.enqueue(rs)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if _md(old).get("resourceVersion") == _md(cur).get("resourceVersion"):
            return
        labels_changed = _labels(old) != _labels(cur)
        if _md(cur).get("deletionTimestamp"):
            self._delete_pod(cur)
            if labels_changed:
                self._delete_pod(old)
            return
        ns = _md(cur).get("namespace", "")
        cur_ref, old_ref = refmanager.controller_ref_of(cur), refmanager.controller_ref_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            old_rs = self._resolve(ns, old_ref)
            if old_rs is not None:
                self.enqueue(old_rs)
        if cur_ref is not None:
            rs = self._resolve(ns, cur_ref)
            if rs is None:
                return
            self.enqueue(rs)
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not podstate.is_pod_ready(old) and podstate.is_pod_ready(cur):
                self.enqueue_after(rs, min_ready + 1)
            return
        if labels_changed or ref_changed:
            for rs in self._selecting(cur):
                self.enqueue(rs)

    def _delete_pod(self, pod: Obj) -> None:
        ref = refmanager.controller_ref_of(pod)
        if ref is None:
            return
        rs = self._resolve(_md(pod).get("namespace", ""), ref)
        if rs is None:
            return
        key = key_of(rs)
        self.expectations.pod_deletion_observed(key, key_of(pod))
        self.queue.add(key)

    # --- sync ----------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, _ = loop.split_key(key)
        cached = self.rs_informer.get(key)
        if cached is None:
            log.debug("%s %s has been deleted", self.kind, key)
            self.expectations.delete_expectations(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.selector(cached)
        except api_errors.StatusError as e:
            log.warning("error converting pod selector of %s %s: %s", self.kind, key, e)
            return
        active = [p for p in self.pod_informer.list(ns) if podstate.is_pod_active(p)]
        pods = await self._claim_pods(cached, selector, active)
        manage_error: Exception | None = None
        if needs_sync and not _md(cached).get("deletionTimestamp"):
            try:
                await self._manage_replicas(pods, cached)
            except Exception as e:
                manage_error = e
        rs = copy.deepcopy(cached)
        now = self.clock()
        updated = await self._update_status(rs, calculate_status(rs, pods, manage_error, now))
        if manage_error is not None:
            raise manage_error
        spec, status = updated.get("spec") or {}, updated.get("status") or {}
        replicas = spec_replicas(updated)
        min_ready = int(spec.get("minReadySeconds") or 0)
        if min_ready > 0 and (status.get("readyReplicas") or 0) == replicas and \
                (status.get("availableReplicas") or 0) != replicas:
            self.queue.add_after(key, min_ready)

    async def _claim_pods(self, rs: Obj, selector: LabelSelector | None, pods: list[Obj]) -> list[Obj]:
        md = _md(rs)

        async def fresh() -> Obj:
            return await self.client.get(self.resource, md["name"], md.get("namespace"))

        manager = refmanager.ControllerRefManager(
            self.client, PODS, rs, selector or LabelSelector(), self.api_version, self.kind,
            refmanager.recheck_deletion_timestamp(fresh, rs))
        if selector is None:
            return await manager.claim(pods, match=lambda _p: False)
        return await manager.claim(pods)

    async def _manage_replicas(self, pods: list[Obj], rs: Obj) -> None:
        spec = rs.get("spec") or {}
        wanted = spec_replicas(rs)
        diff = len(pods) - wanted
        key, ns = key_of(rs), _md(rs).get("namespace", "")
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, count)
            log.debug("too few replicas for %s %s: need %d, creating %d", self.kind, key, wanted, count)
            ref = refmanager.new_controller_ref(rs, self.api_version, self.kind)
            template = spec.get("template") or {}

            async def create_one() -> None:
                try:
                    await self.pod_control.create_pods(ns, template, rs, ref)
                except ApiError as e:
                    if has_status_cause(e, podcontrol.NAMESPACE_TERMINATING):
                        return
                    raise

            successes, error = await podcontrol.slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE, create_one)
            for _ in range(count - successes):
                self.expectations.creation_observed(key)  # never attempted or failed: won't be observed
            if error is not None:
                raise error
        elif diff > 0:
            count = min(diff, self.burst_replicas)
            log.debug("too many replicas for %s %s: need %d, deleting %d", self.kind, key, wanted, count)
            victims = pods_to_delete(pods, self._related_pods(rs), count, self.clock())
            self.expectations.expect_pod_deletions(key, [key_of(p) for p in victims])
            results = await asyncio.gather(*(self._delete_one(rs, key, p) for p in victims), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r

    async def _delete_one(self, rs: Obj, key: str, pod: Obj) -> None:
        md = _md(pod)
        try:
            await self.pod_control.delete_pod(md.get("namespace", ""), md["name"], rs)
        except Exception as e:
            self.expectations.pod_deletion_observed(key, key_of(pod))
            if not isinstance(e, NotFoundError):
                raise

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet with the same controller as ``rs`` (its Deployment's other RSes)."""
        ns = _md(rs).get("namespace", "")
        ref = refmanager.controller_ref_of(rs)
        if ref is None:
            uids = {_md(rs).get("uid")}
        else:
            uids = {_md(o).get("uid") for o in self.rs_informer.list(ns)
                    if (r := refmanager.controller_ref_of(o)) is not None and r.get("uid") == ref.get("uid")}
            uids.add(_md(rs).get("uid"))
        return [p for p in self.pod_informer.list(ns)
                if (r := refmanager.controller_ref_of(p)) is not None and r.get("uid") in uids]

    async def _update_status(self, rs: Obj, status: dict[str, Any]) -> Obj:
        current = rs.get("status") or {}
        generation = _md(rs).get("generation") or 0
        if _same_counts(current, status) and (current.get("observedGeneration") or 0) == generation:
            return rs
        for attempt in range(2):
            status["observedGeneration"] = _md(rs).get("generation") or 0
            rs["status"] = status
            md = _md(rs)
            try:
                return await self.client.replace(self.resource, rs, md.get("namespace"), subresource="status")
            except ApiError:
                if attempt:
                    raise
                rs = await self.client.get(self.resource, md["name"], md.get("namespace"))
        return rs  # pragma: no cover - the loop returns or raises
