"""The scheduling loop: pop a pod, run one scheduling cycle against the cache (PreFilter, Filter over
an adaptive sample of nodes starting where the last cycle stopped, PostFilter/preemption on failure,
PreScore/Score, pick the best node at random among ties), assume it, and bind asynchronously.

Failures become a ``FailedScheduling`` event and a ``PodScheduled=False`` condition with Kubernetes'
aggregated message; successes a ``Scheduled`` event. ``eventhandlers.py`` feeds the cache and the
queue from informers. Upstream: pkg/scheduler/schedule_one.go.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kybernetes.api.printing import format_time
from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.rest import PODS
from kybernetes.scheduler import framework as fw
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import Code, CycleState, Diagnosis, Status
from kybernetes.scheduler.frameworkrunner import Framework
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo
from kybernetes.scheduler.profile import Profile, default_profile
from kybernetes.scheduler.queue import QueuedPodInfo, SchedulingQueue

if TYPE_CHECKING:
    from kybernetes.client.events import EventRecorder
    from kybernetes.client.rest import Client

log = logging.getLogger(__name__)

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
MAX_MESSAGE = 1024
SMP = "application/strategic-merge-patch+json"


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes are enough: all below 100 nodes, else an adaptive share
    (50% at 100 nodes, -1% per 125 nodes, at least 5%) but never fewer than 100."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    n = num_all_nodes * percentage // 100
    return max(n, MIN_FEASIBLE_NODES_TO_FIND)


class ScheduleFailure(Exception):
    """A cycle that ended without a node; ``status`` says whether it was a rejection or an error."""

    def __init__(self, status: Status, diagnosis: Diagnosis | None = None, num_nodes: int = 0) -> None:
        super().__init__(status.message())
        self.status = status
        self.diagnosis = diagnosis
        self.num_nodes = num_nodes


class Scheduler:
    def __init__(self, client: Client | None, recorder: EventRecorder | None = None,
                 profile: Profile | None = None, listers: dict[str, Any] | None = None,
                 bind_concurrency: int = 64, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.recorder = recorder
        self.profile = profile or default_profile()
        self.cache = Cache()
        self.listers: dict[str, Any] = listers if listers is not None else {}
        self.framework = Framework(self.profile, self.cache, client, recorder, self.listers)
        self.queue = SchedulingQueue(self.framework.run_pre_enqueue, self.framework.events(), clock=clock)
        self.framework.set_nominator(self.queue)
        self.next_start_node_index = 0
        self._rng = rng or random.Random()
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.pod_lookup: Any = None  # callable key → current pod dict (the informer), to drop deleted pods
        self.scheduled = 0

    # --- the loop ----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        log.info("Starting scheduler %s", self.profile.scheduler_name)
        flusher = asyncio.create_task(self.queue.run(stop), name="scheduler-queue-flush")
        try:
            while not stop.is_set():
                if not await self.schedule_one():
                    break
                await asyncio.sleep(0)  # let informers and bindings progress between cycles
        finally:
            self.queue.close()
            flusher.cancel()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(flusher, *self._tasks, return_exceptions=True)
            log.info("Shutting down scheduler")

    def _spawn(self, coro: Any, name: str) -> None:
        t = asyncio.create_task(coro, name=name)
        self._tasks.add(t)
        t.add_done_callback(self._task_done)

    def _task_done(self, t: asyncio.Task[None]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("scheduler task %s failed", t.get_name(), exc_info=t.exception())

    async def schedule_one(self) -> bool:
        """One pod through one scheduling cycle; False once the queue is closed."""
        info = await self.queue.pop()
        if info is None:
            return False
        pi = info.pod_info
        if pi.terminating or self.cache.is_assumed(pi.key):
            self.queue.done(pi.key)
            return True
        pod_cycle = self.queue.scheduling_cycle
        state = CycleState()
        try:
            node = self.schedule_pod(state, pi)
        except ScheduleFailure as failure:
            await self._on_cycle_failure(state, info, failure, pod_cycle)
            return True
        assumed = pi.assumed_on(node)
        self.cache.assume_pod(assumed, node)
        st = self.framework.run_reserve(state, assumed, node)
        if fw.is_success(st):
            st = self.framework.run_permit(state, assumed, node)
        if not fw.is_success(st):
            assert st is not None
            self.framework.run_unreserve(state, assumed, node)
            self.cache.forget_pod(pi.key)
            self._fail(info, st, REASON_SCHEDULER_ERROR if st.code == Code.ERROR else REASON_UNSCHEDULABLE,
                       st.message(), pod_cycle)
            return True
        await self._bind_slots.acquire()
        self._spawn(self._binding_cycle(state, info, assumed, node, pod_cycle), f"bind-{pi.key}")
        return True

    # --- the scheduling algorithm (synchronous: the cache cannot change underneath it) ----------------
    def schedule_pod(self, state: CycleState, pod: PodInfo) -> str:
        nodes = self.cache.list()
        if not nodes:
            raise ScheduleFailure(Status.unresolvable(ERR_NO_NODES_AVAILABLE))
        feasible, diagnosis = self.find_nodes_that_fit(state, pod, nodes)
        if not feasible:
            raise ScheduleFailure(Status(Code.UNSCHEDULABLE), diagnosis, len(nodes))
        if len(feasible) == 1:
            return feasible[0].name
        st = self.framework.run_pre_score(state, pod, feasible)
        if not fw.is_success(st):
            assert st is not None
            raise ScheduleFailure(Status.error(f"running PreScore plugin {st.plugin!r}: {st.message()}"))
        totals = self.framework.run_score(state, pod, feasible)
        return self.select_host(feasible, totals)

    def find_nodes_that_fit(self, state: CycleState, pod: PodInfo, all_nodes: list[NodeInfo]
                            ) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        pre_res, st, plugins = self.framework.run_pre_filter(state, pod)
        if st is not None:
            if st.code == Code.ERROR:
                raise ScheduleFailure(Status.error(f"running PreFilter plugin {st.plugin!r}: {st.message()}"))
            diagnosis.node_to_status.absent = st
            diagnosis.pre_filter_msg = st.message()
            diagnosis.unschedulable_plugins |= plugins
            return [], diagnosis
        nodes = all_nodes
        if pre_res is not None and pre_res.node_names is not None:
            nodes = [n for n in (self.cache.get(name) for name in sorted(pre_res.node_names)) if n is not None]
            diagnosis.node_to_status.absent = Status.unresolvable(
                f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(plugins))}]")
            diagnosis.unschedulable_plugins |= plugins
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            ni = self.cache.get(nominated)
            allowed = pre_res is None or pre_res.node_names is None or nominated in pre_res.node_names
            if ni is not None and allowed and fw.is_success(
                    self.framework.run_filter_plugins_with_nominated_pods(state, pod, ni)):
                return [ni], diagnosis
        return self._filter(state, pod, nodes, diagnosis), diagnosis

    def _filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], diagnosis: Diagnosis) -> list[NodeInfo]:
        n = len(nodes)
        want = num_feasible_nodes_to_find(n, self.profile.percentage_of_nodes_to_score)
        start = self.next_start_node_index % n
        filters = self.framework.filter_funcs(state)
        with_nominated = self.queue.has_nominated
        # verdicts of earlier cycles hold for nodes unchanged since (only without nominated pods,
        # whose filtering depends on other pods than the node's own)
        kid = None if with_nominated else self.framework.filter_memo_key(state, pod)
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status.statuses
        success = Code.SUCCESS
        error = Code.ERROR
        processed = 0
        order = nodes[start:] + nodes[:start] if start else nodes
        run_with_nominated = self.framework.run_filter_plugins_with_nominated_pods
        for processed, ni in enumerate(order, 1):  # noqa: B007 - ``processed`` is read after the loop
            if with_nominated:
                st = run_with_nominated(state, pod, ni)
                if st is not None and st.code == success:
                    st = None
            elif kid is not None and (m := ni.filter_verdict) is not None and m[0] == kid:
                st = m[1]
            else:
                st = None
                for name, f in filters:
                    st = f(state, pod, ni)
                    if st is not None and st.code != success:
                        st.plugin = name
                        break
                else:
                    st = None
                if kid is not None and (st is None or st.code != error):
                    ni.filter_verdict = (kid, st)
            if st is None:
                feasible.append(ni)
                if len(feasible) >= want:
                    break
                continue
            if st.code == error:
                raise ScheduleFailure(Status.error(f"running Filter plugin {st.plugin!r}: {st.message()}"))
            statuses[ni.name] = st
            diagnosis.unschedulable_plugins.add(st.plugin)
        self.next_start_node_index = (start + processed) % n
        return feasible

    def select_host(self, nodes: list[NodeInfo], totals: list[int]) -> str:
        """The highest total; ties broken uniformly at random (as upstream's reservoir sampling)."""
        best = max(totals)
        ties = [i for i, s in enumerate(totals) if s == best]
        return nodes[ties[self._rng.randrange(len(ties))] if len(ties) > 1 else ties[0]].name

    # --- failure handling --------------------------------------------------------------------------
    async def _on_cycle_failure(self, state: CycleState, info: QueuedPodInfo, failure: ScheduleFailure,
                                pod_cycle: int) -> None:
        st, diagnosis = failure.status, failure.diagnosis
        if diagnosis is None:  # no nodes at all, or a plugin error
            reason = REASON_UNSCHEDULABLE if st.is_rejected else REASON_SCHEDULER_ERROR
            self._fail(info, st, reason, st.message(), pod_cycle, nominated="")
            return
        nominated: str | None = None
        if self.framework.post_filter:
            result, pst = await self.framework.run_post_filter(state, info.pod_info, diagnosis.node_to_status)
            diagnosis.post_filter_msg = pst.message() if pst is not None else ""
            if result is not None:
                nominated = result.nominated_node_name
        info.unschedulable_plugins = set(diagnosis.unschedulable_plugins)
        info.pending_plugins = set(diagnosis.pending_plugins)
        message = fw.fit_error_message(failure.num_nodes, diagnosis)
        self._fail(info, st, REASON_UNSCHEDULABLE, message, pod_cycle, nominated)

    def _fail(self, info: QueuedPodInfo, st: Status, reason: str, message: str, pod_cycle: int,
              nominated: str | None = None) -> None:
        pi = info.pod_info
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE - 3] + "..."
        current = self.pod_lookup(pi.key) if self.pod_lookup is not None else pi.pod
        if current is None or (current.get("spec") or {}).get("nodeName"):
            self.queue.done(pi.key)  # deleted or bound meanwhile: nothing to retry
            return
        log.debug("unable to schedule %s: %s", pi.key, message)
        if st.code == Code.ERROR:
            self.queue.requeue_after_error(info)
        else:
            self.queue.add_unschedulable_if_not_present(info, pod_cycle)
        if nominated:
            self.queue.add_nominated(pi, nominated)
        elif nominated == "":
            self.queue.delete_nominated(pi.key)
        if self.recorder is not None:
            self.recorder.record(current, WARNING, "FailedScheduling", message)
        if self.client is not None:
            self._spawn(self._update_status(current, reason, message, nominated), f"status-{pi.key}")

    async def _update_status(self, pod: dict[str, Any], reason: str, message: str, nominated: str | None) -> None:
        assert self.client is not None
        status = pod.get("status") or {}
        old = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        patch: dict[str, Any] = {}
        if old is None or (old.get("status"), old.get("reason"), old.get("message")) != ("False", reason, message):
            transition = format_time() if old is None or old.get("status") != "False" else old.get(
                "lastTransitionTime")
            patch["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                                    "lastProbeTime": None, "lastTransitionTime": transition}]
        if nominated is not None and (status.get("nominatedNodeName") or "") != nominated:
            patch["nominatedNodeName"] = nominated or None
        if not patch:
            return
        md = pod.get("metadata") or {}
        try:
            await self.client.patch(PODS, md.get("name", ""), {"status": patch}, md.get("namespace"),
                                    subresource="status", patch_type=SMP)
        except NotFoundError:
            pass
        except ApiError as e:
            log.warning("updating PodScheduled of %s/%s: %s", md.get("namespace"), md.get("name"), e)

    # --- binding -----------------------------------------------------------------------------------
    async def _binding_cycle(self, state: CycleState, info: QueuedPodInfo, assumed: PodInfo, node: str,
                             pod_cycle: int) -> None:
        try:
            st = await self.framework.run_pre_bind(state, assumed, node)
            if fw.is_success(st):
                st = await self.framework.run_bind(state, assumed, node)
            if not fw.is_success(st):
                assert st is not None
                self.framework.run_unreserve(state, assumed, node)
                self.cache.forget_pod(assumed.key)
                self.queue.move_all_to_active_or_backoff(fw.ClusterEvent(fw.POD, fw.ActionType.DELETE,
                                                                          "AssignedPodDelete"))
                self._fail(info, st, REASON_SCHEDULER_ERROR, st.message(), pod_cycle)
                return
            self.cache.finish_binding(assumed.key)
            self.framework.run_post_bind(state, assumed, node)
            self.scheduled += 1
            if self.recorder is not None:
                self.recorder.record(assumed.pod, NORMAL, "Scheduled",
                                     f"Successfully assigned {assumed.namespace}/{assumed.name} to {node}")
            self.queue.done(assumed.key)
        finally:
            self._bind_slots.release()
