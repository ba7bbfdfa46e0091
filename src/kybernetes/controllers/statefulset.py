"""StatefulSet controller: ordered, named pods with stable storage, rolled between ControllerRevisions.

Set and pod callbacks enqueue ``ns/name`` keys. ``sync`` adopts orphan revisions, claims the
member pods (``<set>-<ordinal>`` that the selector matches), finds or creates the update revision
(``history``), then — as ``stateful_set_control.go`` does — walks the ordinals: failed or
succeeded pods are deleted to be recreated, missing ones created at the revision the partition
gives them (claims before pod), and with ``OrderedReady`` each step waits for the previous pod to
be Running and Ready; surplus ordinals are deleted highest first, one at a time; a RollingUpdate
then deletes the highest ordinal (≥ partition) not at the update revision and waits for its
replacement to be healthy. ``Parallel`` does all of it at once in slow-start batches. Status is
written every pass, then old revisions beyond ``revisionHistoryLimit`` are deleted.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.api import errors as api_errors
from kybernetes.api.selectors import LabelSelector, selector_from_label_selector
from kybernetes.client.errors import ApiError, ConflictError, NotFoundError
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import PODS, STATEFULSETS, Client
from kybernetes.controllers import history, loop, podcontrol, podstate, refmanager
from kybernetes.controllers import statefulset_util as su
from kybernetes.controllers.loop import Obj
from kybernetes.controllers.statefulpodcontrol import StatefulPodControl

log = logging.getLogger(__name__)

_STATUS_FIELDS = ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
                  "currentRevision", "updateRevision", "collisionCount")


class StatefulSetController(loop.Controller):
    name = "statefulset"

    def __init__(self, set_informer: Informer, pod_informer: Informer, pvc_informer: Informer,
                 revision_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 clock: loop.Clock = time.time) -> None:
        super().__init__([set_informer, pod_informer, pvc_informer, revision_informer])
        self.set_informer = set_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.pod_control = StatefulPodControl(client, pvc_informer, recorder)
        self.history = history.History(client, revision_informer, su.API_VERSION, su.KIND)
        set_informer.add_handlers(self.enqueue, lambda _old, cur: self.enqueue(cur), self.enqueue)
        pod_informer.add_handlers(self._add_pod, self._update_pod, self._delete_pod)

    # --- callbacks: objects → keys --------------------------------------------------------------
    def _resolve(self, pod: Obj) -> Obj | None:
        ref = refmanager.controller_ref_of(pod)
        if ref is None or ref.get("kind") != su.KIND:
            return None
        st = self.set_informer.get(f"{su.md(pod).get('namespace', '')}/{ref.get('name')}")
        return st if st is not None and su.md(st).get("uid") == ref.get("uid") else None

    def _selecting(self, pod: Obj) -> list[Obj]:
        labels = su.md(pod).get("labels") or {}
        out = []
        for st in self.set_informer.list(su.md(pod).get("namespace", "")):
            try:
                sel = selector_from_label_selector(su.spec(st).get("selector"))
            except api_errors.StatusError:
                continue
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append(st)
        return out

    def _add_pod(self, pod: Obj) -> None:
        if su.md(pod).get("deletionTimestamp"):
            self._delete_pod(pod)
            return
        if refmanager.controller_ref_of(pod) is not None:
            st = self._resolve(pod)
            if st is not None:
                self.enqueue(st)
            return
        for st in self._selecting(pod):
            self.enqueue(st)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if su.md(old).get("resourceVersion") == su.md(cur).get("resourceVersion"):
            return
        old_ref, cur_ref = refmanager.controller_ref_of(old), refmanager.controller_ref_of(cur)
        if old_ref != cur_ref and old_ref is not None and (old_st := self._resolve(old)) is not None:
            self.enqueue(old_st)
        if cur_ref is not None:
            st = self._resolve(cur)
            if st is None:
                return
            self.enqueue(st)
            min_ready = int(su.spec(st).get("minReadySeconds") or 0)
            if min_ready > 0 and not podstate.is_pod_ready(old) and podstate.is_pod_ready(cur):
                self.enqueue_after(st, min_ready + 1)
            return
        if (su.md(old).get("labels") or {}) != (su.md(cur).get("labels") or {}) or old_ref != cur_ref:
            for st in self._selecting(cur):
                self.enqueue(st)

    def _delete_pod(self, pod: Obj) -> None:
        st = self._resolve(pod)
        if st is not None:
            self.enqueue(st)

    # --- sync ----------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.set_informer.get(key)
        if cached is None:
            log.debug("StatefulSet %s has been deleted", key)
            return
        try:
            selector = selector_from_label_selector(su.spec(cached).get("selector"))
        except api_errors.StatusError as e:
            log.warning("error converting StatefulSet %s selector: %s", key, e)
            return
        if selector is None:
            return
        st = copy.deepcopy(cached)
        revisions = self.history.owned(st, selector)
        await self.history.adopt_orphans(st, selector, revisions, self._fresh(st))
        pods = await self._claim_pods(st, selector)
        status = await self._reconcile(st, pods, history.sort_revisions(revisions))
        min_ready = int(su.spec(st).get("minReadySeconds") or 0)
        if min_ready > 0 and status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            self.queue.add_after(key, min_ready)

    def _fresh(self, st: Obj) -> Callable[[], Awaitable[Obj]]:
        async def get() -> Obj:
            return await self.client.get(STATEFULSETS, su.md(st)["name"], su.md(st).get("namespace"))
        return get

    async def _claim_pods(self, st: Obj, selector: LabelSelector) -> list[Obj]:
        manager = refmanager.ControllerRefManager(self.client, PODS, st, selector, su.API_VERSION, su.KIND,
                                                  refmanager.recheck_deletion_timestamp(self._fresh(st), st))
        pods = self.pod_informer.list(su.md(st).get("namespace", ""))
        return await manager.claim(pods, match=lambda p: su.is_member(st, p))

    async def _reconcile(self, st: Obj, pods: list[Obj], revisions: list[Obj]) -> dict[str, Any]:
        """``UpdateStatefulSet``: revisions → pods → status → history truncation."""
        current, update, collisions = await self._revisions(st, revisions)
        status, error = await self._update_pods(st, current, update, collisions, pods)
        try:
            status = await self._write_status(st, status)
        finally:
            await self._truncate_history(st, pods, revisions, current, update)
        if error is not None:
            raise error
        return status

    async def _revisions(self, st: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """The current and update revisions (creating or renumbering the update revision)."""
        collisions = int((st.get("status") or {}).get("collisionCount") or 0)
        template = su.spec(st).get("template") or {}
        candidate = history.new_revision(st, su.API_VERSION, su.KIND, (template.get("metadata") or {}).get("labels"),
                                         history.revision_data(template), history.next_revision(revisions), collisions)
        if su.md(st).get("annotations"):
            candidate["metadata"]["annotations"] = dict(su.md(st)["annotations"])
        equal = [r for r in revisions if history.equal_revision(r, candidate)]
        if equal and history.equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            update = await self.history.update_revision(equal[-1], int(candidate["revision"]))
        else:
            update, collisions = await self.history.create(st, candidate, collisions)
        wanted = (st.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if su.md(r).get("name") == wanted), update)
        return current, update, collisions

    async def _update_pods(self, st: Obj, current: Obj, update: Obj, collisions: int,
                           pods: list[Obj]) -> tuple[dict[str, Any], Exception | None]:
        """``updateStatefulSet``: returns the status to write and the first error."""
        cur_name, upd_name = su.md(current)["name"], su.md(update)["name"]
        cur_tmpl, upd_tmpl = history.template_of(current), history.template_of(update)
        n, start = su.replicas(st), su.start_ordinal(st)
        replicas: list[Obj | None] = [None] * n
        condemned: list[Obj] = []
        for pod in pods:
            if su.in_ordinal_range(pod, st):
                replicas[su.ordinal_of(pod) - start] = pod
            elif su.ordinal_of(pod) >= 0:
                condemned.append(pod)
        members = [p if p is not None else su.versioned_pod(st, cur_tmpl, upd_tmpl, cur_name, upd_name, start + i)
                   for i, p in enumerate(replicas)]
        condemned.sort(key=su.ordinal_of, reverse=True)
        unhealthy = [p for p in members if not su.is_healthy(p)] + \
            [p for p in reversed(condemned) if not su.is_healthy(p)]
        first_unhealthy = unhealthy[0] if unhealthy else None
        min_ready = int(su.spec(st).get("minReadySeconds") or 0)
        generation = int(su.md(st).get("generation") or 0)

        def status() -> dict[str, Any]:
            counts = su.replica_counts(members + condemned, min_ready, self.clock(), cur_name, upd_name)
            return su.status_body(counts, generation, cur_name, upd_name, collisions, st.get("status") or {})

        if su.md(st).get("deletionTimestamp"):
            return status(), None
        monotonic = su.spec(st).get("podManagementPolicy") != "Parallel"
        try:
            if await self._run_for_all(len(members), lambda i: self._process_replica(st, members, i, monotonic),
                                       monotonic):
                return status(), None
            if await self._run_for_all(len(condemned), lambda i: self._fix_claims(st, condemned[i]), monotonic):
                return status(), None
            if await self._run_for_all(len(condemned), lambda i: self._process_condemned(
                    st, condemned[i], first_unhealthy, monotonic), monotonic):
                return status(), None
        except Exception as e:
            return status(), e
        result = status()
        strategy = su.spec(st).get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return result, None
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for target in range(len(members) - 1, partition - 1, -1):
            pod = members[target]
            if su.revision_of(pod) != upd_name and not su.is_terminating(pod):
                log.info("Pod %s of StatefulSet %s is terminating for update", su.md(pod).get("name"), key_of(st))
                try:
                    await self.pod_control.delete(st, pod)
                except NotFoundError:
                    pass
                except ApiError as e:
                    return result, e
                if result.get("currentReplicas"):
                    result["currentReplicas"] -= 1
                return result, None
            if not su.is_healthy(pod):
                return result, None
        return result, None

    @staticmethod
    async def _run_for_all(count: int, fn: Callable[[int], Awaitable[bool]], monotonic: bool) -> bool:
        """In order, stopping at the first blocked item (monotonic), or all at once in slow-start
        batches. True when the pass must end here; errors propagate."""
        if monotonic:
            for i in range(count):
                if await fn(i):
                    return True
            return False
        indexes = iter(range(count))

        async def one() -> None:
            await fn(next(indexes))

        _, error = await podcontrol.slow_start_batch(count, 1, one)
        if error is not None:
            raise error
        return False

    async def _process_replica(self, st: Obj, members: list[Obj], i: int, monotonic: bool) -> bool:
        pod = members[i]
        if podstate.is_pod_terminal(pod):
            if not su.is_terminating(pod):
                await self.pod_control.delete(st, pod)
            return True  # recreated on the next pass, once it is gone
        if not su.is_created(pod):
            if self.pod_control.claim_is_stale(st, pod):
                return True
            await self.pod_control.create(st, pod)
            return monotonic
        if podstate.phase(pod) == "Pending":
            await self.pod_control.create_missing_claims(st, pod)
        if monotonic and (su.is_terminating(pod) or not su.is_running_and_ready(pod) or not podstate.is_pod_available(
                pod, int(su.spec(st).get("minReadySeconds") or 0), self.clock())):
            return True
        if su.identity_matches(st, pod) and su.storage_matches(st, pod) and \
                self.pod_control.claims_match_policy(st, pod):
            return False
        await self.pod_control.update(st, copy.deepcopy(pod))
        return False

    async def _fix_claims(self, st: Obj, pod: Obj) -> bool:
        if not self.pod_control.claims_match_policy(st, pod):
            await self.pod_control.update_claims_for_policy(st, pod)
        return False

    async def _process_condemned(self, st: Obj, pod: Obj, first_unhealthy: Obj | None, monotonic: bool) -> bool:
        if su.is_terminating(pod):
            return monotonic
        if monotonic and pod is not first_unhealthy and (not su.is_running_and_ready(pod) or not
                                                         podstate.is_pod_available(
                                                             pod, int(su.spec(st).get("minReadySeconds") or 0),
                                                             self.clock())):
            return True
        log.info("Pod %s of StatefulSet %s is terminating for scale down", su.md(pod).get("name"), key_of(st))
        await self.pod_control.delete(st, pod)
        return True

    async def _write_status(self, st: Obj, status: dict[str, Any]) -> dict[str, Any]:
        su.complete_rolling_update(st, status)
        old = st.get("status") or {}
        if (old.get("observedGeneration") or 0) >= status["observedGeneration"] and \
                all(old.get(f) == status.get(f) for f in _STATUS_FIELDS):
            return status
        target = copy.deepcopy(st)
        for attempt in range(2):
            target["status"] = status
            try:
                await self.client.replace(STATEFULSETS, target, su.md(target).get("namespace"), subresource="status")
                return status
            except ConflictError:
                if attempt:
                    raise
                target = await self.client.get(STATEFULSETS, su.md(st)["name"], su.md(st).get("namespace"))
        return status  # pragma: no cover - the loop returns or raises

    async def _truncate_history(self, st: Obj, pods: list[Obj], revisions: list[Obj], current: Obj,
                                update: Obj) -> None:
        """Delete non-live revisions, oldest first, beyond ``revisionHistoryLimit``."""
        live = {su.md(current).get("name"), su.md(update).get("name")} | {su.revision_of(p) for p in pods}
        old = [r for r in revisions if su.md(r).get("name") not in live]
        limit = su.spec(st).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        for rev in old[:max(0, len(old) - limit)]:
            await self.history.delete(rev)
