"""TaintToleration (Filter, PreScore, Score): NoSchedule/NoExecute taints must be tolerated; nodes
with fewer untolerated PreferNoSchedule taints score higher. Upstream: plugins/tainttoleration."""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.api.nodeselection import (
    do_not_schedule,
    find_untolerated_taint,
    tolerations_tolerate,
)
from kybernetes.scheduler.framework import (
    NODE,
    POD,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    Handle,
    Status,
    default_normalize_score,
)
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "TaintToleration"
ERR_REASON_UNTOLERATED = "node(s) had untolerated taint {{{key}: {value}}}"
_PRE_SCORE_KEY = "PreScore" + NAME


def untolerated_reason(taint: dict[str, Any]) -> str:
    return ERR_REASON_UNTOLERATED.format(key=taint.get("key", ""), value=taint.get("value", ""))


class TaintToleration:
    name = NAME

    def __init__(self, handle: Handle | None = None) -> None:
        self.handle = handle

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        taint = find_untolerated_taint(node.taints, pod.tolerations, do_not_schedule)
        return None if taint is None else Status.unresolvable(untolerated_reason(taint))

    def filter_key(self, pod: PodInfo) -> bytes:
        """The verdict depends on the pod's tolerations and the node alone (``Framework.filter_memo_key``)."""
        return orjson.dumps(pod.tolerations, option=orjson.OPT_SORT_KEYS)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if self.handle is not None and not self.handle.snapshot().prefer_no_schedule_nodes:
            return SKIP  # no node in the cluster has one: every node would score the same
        if not any(t.get("effect") == "PreferNoSchedule" for n in nodes if n.taints for t in n.taints):
            return SKIP  # every node would score the same
        state.write(_PRE_SCORE_KEY, [t for t in pod.tolerations
                                     if t.get("effect", "") in ("", "PreferNoSchedule")])
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state.read(_PRE_SCORE_KEY) or []
        return sum(1 for t in node.taints
                   if t.get("effect") == "PreferNoSchedule" and not tolerations_tolerate(tolerations, t))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                ClusterEvent(POD, ActionType.UPDATE_POD_TOLERATIONS)]


def new(args: dict[str, Any] | None, handle: Handle) -> TaintToleration:
    return TaintToleration(handle)
