"""NodeResourcesFit (PreFilter, Filter, Score): the pod's requests (containers summed, init containers
as a running maximum, sidecars added, overhead; extended resources too) must fit the node's
allocatable minus what its pods request, and the pod count must stay under ``pods``. Scores by the
LeastAllocated strategy (default) or MostAllocated over cpu and memory, weight 1 each.
Upstream: plugins/noderesources/fit.go, least_allocated.go, most_allocated.go."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE,
    POD,
    ActionType,
    ClusterEvent,
    CycleState,
    Handle,
    PreFilterResult,
    Status,
)
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesFit"
ERR_REASON_TOO_MANY_PODS = "Too many pods"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"


def insufficient(resource: str) -> str:
    return f"Insufficient {resource}"


def fits_request(pod: PodInfo, node: NodeInfo, ignored: frozenset[str] = frozenset()) -> list[str]:
    """Every reason the pod does not fit (empty: it fits)."""
    reasons: list[str] = []
    alloc = node.allocatable
    if len(node.pods) + 1 > alloc.allowed_pod_number:
        reasons.append(ERR_REASON_TOO_MANY_PODS)
    req = pod.requests
    if not (req.milli_cpu or req.memory or req.ephemeral_storage or req.scalar):
        return reasons
    used = node.requested
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        reasons.append("Insufficient memory")
    if req.ephemeral_storage > 0 and req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name, q in req.scalar.items():
        if name in ignored:
            continue
        if q > 0 and q > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(insufficient(name))
    return reasons


def least_allocated(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_allocated(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


class Fit:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        args = args or {}
        strategy = (args.get("scoringStrategy") or {}).get("type", LEAST_ALLOCATED)
        if strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"NodeResourcesFit: scoring strategy {strategy!r} is not supported; "
                             f"use {LEAST_ALLOCATED} or {MOST_ALLOCATED}")
        self._least = strategy == LEAST_ALLOCATED
        self._memo: dict[str, tuple[int, int, int, int]] = {}
        self.ignored = frozenset(args.get("ignoredResources") or ())

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        return None, None  # requests are precomputed on PodInfo

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        # hot path: the common "fits" answer without building a list
        alloc, used, req = node.allocatable, node.requested, pod.requests
        if (len(node.pods) < alloc.allowed_pod_number
                and req.milli_cpu <= alloc.milli_cpu - used.milli_cpu and req.memory <= alloc.memory - used.memory
                and req.ephemeral_storage <= alloc.ephemeral_storage - used.ephemeral_storage and not req.scalar):
            return None
        reasons = fits_request(pod, node, self.ignored)
        return Status.unschedulable(*reasons) if reasons else None

    def filter_key(self, pod: PodInfo) -> tuple[Any, ...]:
        """The verdict depends on the pod's requests and the node alone (see ``Framework.filter_memo_key``)."""
        r = pod.requests
        return r.milli_cpu, r.memory, r.ephemeral_storage, tuple(sorted(r.scalar.items()))

    def score_key(self, pod: PodInfo) -> tuple[int, int]:
        return pod.non_zero_cpu, pod.non_zero_mem

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        # a burst of alike pods re-scores mostly unchanged nodes: remember (generation, request) → score
        memo = self._memo.get(node.name)
        if memo is not None and memo[0] == node.generation and memo[1] == pod.non_zero_cpu \
                and memo[2] == pod.non_zero_mem:
            return memo[3]
        s = self._score(pod, node)
        self._memo[node.name] = (node.generation, pod.non_zero_cpu, pod.non_zero_mem, s)
        return s

    def _score(self, pod: PodInfo, node: NodeInfo) -> int:
        alloc = node.allocatable
        cap_cpu, cap_mem = alloc.milli_cpu, alloc.memory
        if self._least:
            cpu = node.non_zero_cpu + pod.non_zero_cpu
            mem = node.non_zero_mem + pod.non_zero_mem
            s_cpu = (cap_cpu - cpu) * MAX_NODE_SCORE // cap_cpu if 0 < cap_cpu and cpu <= cap_cpu else 0
            s_mem = (cap_mem - mem) * MAX_NODE_SCORE // cap_mem if 0 < cap_mem and mem <= cap_mem else 0
            return (s_cpu + s_mem) // 2
        return (most_allocated(node.non_zero_cpu + pod.non_zero_cpu, cap_cpu)
                + most_allocated(node.non_zero_mem + pod.non_zero_mem, cap_mem)) // 2

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(POD, ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN),
                ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE
                             | ActionType.UPDATE_NODE_TAINT | ActionType.UPDATE_NODE_LABEL)]


def new(args: dict[str, Any] | None, handle: Handle) -> Fit:
    return Fit(args)
