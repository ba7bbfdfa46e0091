"""DefaultPreemption (PostFilter): when no node fits, find nodes where evicting lower-priority pods
would make room (dry runs on cloned NodeInfos, PodDisruptionBudgets respected where possible), pick
the best candidate, mark and delete its victims (``Preempted`` events) and nominate the node for the
pod. Upstream: plugins/defaultpreemption and framework/preemption."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

from kybernetes.api.printing import format_time, parse_time
from kybernetes.api.selectors import selector_from_label_selector
from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.events import NORMAL
from kybernetes.client.rest import PODS
from kybernetes.scheduler import framework as fw
from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    Handle,
    NodeToStatus,
    PostFilterResult,
    Status,
)
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
PDB = "PodDisruptionBudget"
MSG_NOT_HELPFUL = "Preemption is not helpful for scheduling"
MSG_NO_VICTIMS = "No preemption victims found for incoming pod"
MSG_POLICY_NEVER = "not eligible due to preemptionPolicy=Never."
MSG_TERMINATING = "not eligible due to a terminating pod on the nominated node."
SMP = "application/strategic-merge-patch+json"
_INT32 = 2 ** 31
YIELD_EVERY = 256


@dataclass(slots=True)
class Candidate:
    node: str
    victims: list[PodInfo]
    num_pdb_violations: int


def more_important(a: PodInfo) -> tuple[int, float]:
    """Sort key: higher priority first, then the earlier started."""
    started = parse_time((a.pod.get("status") or {}).get("startTime")) or float("inf")
    return (-a.priority, started)


class DefaultPreemption:
    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Handle) -> None:
        args = args or {}
        self.handle = handle
        self.min_candidate_nodes_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_candidate_nodes_absolute = int(args.get("minCandidateNodesAbsolute", 100))

    async def post_filter(self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
                          ) -> tuple[PostFilterResult | None, Status | None]:
        result, status = await self.preempt(state, pod, statuses)
        if status is not None and status.message():
            return result, Status(status.code, (f"preemption: {status.message()}",))
        return result, status

    # --- eligibility --------------------------------------------------------------------------------
    def eligible(self, pod: PodInfo, statuses: NodeToStatus) -> tuple[bool, str]:
        if pod.spec.get("preemptionPolicy") == "Never":
            return False, MSG_POLICY_NEVER
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName") or ""
        if nominated and statuses.get(nominated).code != Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            ni = self.handle.snapshot().get(nominated)
            if ni is not None and any(p.terminating and p.priority < pod.priority for p in ni.pods.values()):
                return False, MSG_TERMINATING
        return True, ""

    # --- the algorithm ------------------------------------------------------------------------------
    async def preempt(self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
                      ) -> tuple[PostFilterResult | None, Status | None]:
        ok, msg = self.eligible(pod, statuses)
        if not ok:
            return None, Status.unschedulable(msg)
        all_nodes = list(self.handle.snapshot().list())
        candidates, dry = await self.find_candidates(state, pod, all_nodes, statuses)
        if not candidates:
            dry.absent = Status.unresolvable(MSG_NOT_HELPFUL)
            message = fw.fit_error_message(len(all_nodes), Diagnosis(node_to_status=dry))
            return PostFilterResult(""), Status.unschedulable(message)
        best = select_candidate(candidates)
        st = await self.prepare_candidate(best, pod)
        if not fw.is_success(st):
            return None, st
        return PostFilterResult(best.node), None

    async def find_candidates(self, state: CycleState, pod: PodInfo, all_nodes: list[NodeInfo],
                              statuses: NodeToStatus) -> tuple[list[Candidate], NodeToStatus]:
        dry = NodeToStatus()
        potential = []
        for ni in all_nodes:
            if statuses.get(ni.name).code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                dry.statuses[ni.name] = Status.unresolvable(MSG_NOT_HELPFUL)
            else:
                potential.append(ni)
        if not potential:
            return [], NodeToStatus(absent=Status.unresolvable(MSG_NOT_HELPFUL))
        pdbs = [p for p in self.handle.lister(PDB).list() if (p.get("metadata") or {}).get("namespace")]
        n = len(potential)
        offset = random.randrange(n)
        wanted = min(n, max(n * self.min_candidate_nodes_percentage // 100, self.min_candidate_nodes_absolute))
        violating: list[Candidate] = []
        non_violating: list[Candidate] = []
        for i in range(n):
            if i and i % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # dry runs over thousands of nodes must not hold the event loop
            ni = potential[(offset + i) % n]
            victims, num_violations, st = self.select_victims_on_node(state.clone(), pod, ni.clone(), pdbs)
            if st is None and victims is not None:
                c = Candidate(ni.name, victims, num_violations)
                (non_violating if num_violations == 0 else violating).append(c)
                if non_violating and len(non_violating) + len(violating) >= wanted:
                    break
            elif st is not None:
                dry.statuses[ni.name] = st
        return non_violating + violating, dry

    def select_victims_on_node(self, state: CycleState, pod: PodInfo, node: NodeInfo, pdbs: list[dict[str, Any]]
                               ) -> tuple[list[PodInfo] | None, int, Status | None]:
        h = self.handle
        potential = [p for p in node.pods.values() if p.priority < pod.priority]
        for p in potential:
            node.remove_pod(p.key)
            st = h.run_pre_filter_extension_remove_pod(state, pod, p, node)
            if not fw.is_success(st):
                return None, 0, st
        if not potential:
            return None, 0, Status.unresolvable(MSG_NO_VICTIMS)
        st = h.run_filter_plugins_with_nominated_pods(state, pod, node)
        if not fw.is_success(st):
            return None, 0, st
        potential.sort(key=more_important)
        violating, non_violating = split_by_pdb_violation(potential, pdbs)
        victims: list[PodInfo] = []

        def reprieve(p: PodInfo) -> bool:
            node.add_pod(p)
            h.run_pre_filter_extension_add_pod(state, pod, p, node)
            if fw.is_success(h.run_filter_plugins_with_nominated_pods(state, pod, node)):
                return True
            node.remove_pod(p.key)
            h.run_pre_filter_extension_remove_pod(state, pod, p, node)
            victims.append(p)
            return False

        num_violations = sum(1 for p in violating if not reprieve(p))
        for p in non_violating:
            reprieve(p)
        return victims, num_violations, None

    # --- acting on the choice -----------------------------------------------------------------------
    async def prepare_candidate(self, c: Candidate, pod: PodInfo) -> Status | None:
        client = self.handle.client
        scheduler_name = pod.spec.get("schedulerName") or "default-scheduler"
        for victim in c.victims:
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                         "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
                         "lastTransitionTime": format_time()}
            try:
                await client.patch(PODS, victim.name, {"status": {"conditions": [condition]}}, victim.namespace,
                                   subresource="status", patch_type=SMP)
                await client.delete(PODS, victim.name, victim.namespace)
            except NotFoundError:
                continue
            except ApiError as e:
                return Status.error(f"preempting {victim.key}: {e}")
            log.info("preempted %s on %s for %s", victim.key, c.node, pod.key)
            self.handle.recorder.record(victim.pod, NORMAL, "Preempted",
                                        f"Preempted by pod {pod.uid} on node {c.node}")
        for other in self.handle.nominated_pods_for_node(c.node):
            if other.priority < pod.priority:
                await self._clear_nominated(other)
        return None

    async def _clear_nominated(self, pod: PodInfo) -> None:
        if not (pod.pod.get("status") or {}).get("nominatedNodeName"):
            return
        try:
            await self.handle.client.patch(PODS, pod.name, {"status": {"nominatedNodeName": None}}, pod.namespace,
                                           subresource="status", patch_type=SMP)
        except ApiError as e:
            log.debug("clearing nominatedNodeName of %s: %s", pod.key, e)

    def events_to_register(self) -> list[fw.ClusterEvent]:
        return []


def split_by_pdb_violation(pods: list[PodInfo], pdbs: list[dict[str, Any]]
                           ) -> tuple[list[PodInfo], list[PodInfo]]:
    """Pods whose eviction would exceed a budget's ``disruptionsAllowed``, and the rest (order kept)."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in pods:
        hit = False
        for i, pdb in enumerate(pdbs):
            if (pdb.get("metadata") or {}).get("namespace") != pod.namespace:
                continue
            sel_raw = (pdb.get("spec") or {}).get("selector")
            sel = selector_from_label_selector(sel_raw) if sel_raw else None
            if sel is None or sel.empty or not sel.matches(pod.labels):
                continue
            if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                hit = True
        (violating if hit else fine).append(pod)
    return violating, fine


def _earliest_start_of_top(victims: list[PodInfo]) -> float:
    top = max(v.priority for v in victims)
    return min((parse_time((v.pod.get("status") or {}).get("startTime")) or 0.0)
               for v in victims if v.priority == top)


def select_candidate(candidates: list[Candidate]) -> Candidate:
    """``pickOneNodeForPreemption``: fewest PDB violations, lowest top victim priority, lowest
    priority sum, fewest victims, latest start of the top-priority victims, then first."""
    pool = candidates
    for key in (lambda c: c.num_pdb_violations,
                lambda c: max((v.priority for v in c.victims), default=-_INT32),
                lambda c: sum(v.priority + _INT32 for v in c.victims),
                lambda c: len(c.victims),
                lambda c: -_earliest_start_of_top(c.victims) if c.victims else 0.0):
        best = min(key(c) for c in pool)
        pool = [c for c in pool if key(c) == best]
        if len(pool) == 1:
            break
    return pool[0]


def new(args: dict[str, Any] | None, handle: Handle) -> DefaultPreemption:
    return DefaultPreemption(args, handle)
