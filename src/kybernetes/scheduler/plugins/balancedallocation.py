"""NodeResourcesBalancedAllocation (PreScore, Score): prefers nodes whose cpu and memory would be used
in similar proportions after placing the pod (score = (1 - std of the fractions) * 100).
Upstream: plugins/noderesources/balanced_allocation.go."""

from __future__ import annotations

import math
from typing import Any

from kybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, ClusterEvent, CycleState, Handle, Status
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesBalancedAllocation"


def balanced_score(fractions: list[float]) -> int:
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        r = pod.requests
        if not (r.milli_cpu or r.memory):
            return SKIP  # a best-effort pod changes no balance
        return None

    def __init__(self) -> None:
        self._memo: dict[str, tuple[int, int, int, int]] = {}  # node → (generation, cpu, memory, score)

    def score_key(self, pod: PodInfo) -> tuple[int, int]:
        """The score depends on these requests and the node alone (see ``Framework.score_memo_key``)."""
        return pod.requests.milli_cpu, pod.requests.memory

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        req = pod.requests
        memo = self._memo.get(node.name)
        if memo is not None and memo[0] == node.generation and memo[1] == req.milli_cpu and memo[2] == req.memory:
            return memo[3]
        s = self._score(pod, node)
        self._memo[node.name] = (node.generation, req.milli_cpu, req.memory, s)
        return s

    def _score(self, pod: PodInfo, node: NodeInfo) -> int:
        alloc, used, req = node.allocatable, node.requested, pod.requests
        cap_cpu, cap_mem = alloc.milli_cpu, alloc.memory
        if cap_cpu and cap_mem:  # the usual two resources, inline
            f_cpu = (used.milli_cpu + req.milli_cpu) / cap_cpu
            f_mem = (used.memory + req.memory) / cap_mem
            return int((1 - abs((min(f_cpu, 1.0) - min(f_mem, 1.0)) / 2)) * MAX_NODE_SCORE)
        fractions = []
        if cap_cpu:
            fractions.append(min((used.milli_cpu + req.milli_cpu) / cap_cpu, 1.0))
        if cap_mem:
            fractions.append(min((used.memory + req.memory) / cap_mem, 1.0))
        return balanced_score(fractions)

    def events_to_register(self) -> list[ClusterEvent]:
        return []


def new(args: dict[str, Any] | None, handle: Handle) -> BalancedAllocation:
    return BalancedAllocation()
