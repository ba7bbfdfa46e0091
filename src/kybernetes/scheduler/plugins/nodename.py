"""NodeName (Filter): a pod naming ``spec.nodeName`` fits only that node. Upstream: plugins/nodename."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import (
    NODE,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    Handle,
    PreFilterResult,
    Status,
)
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = Status.unresolvable(ERR_REASON)


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        return None, (None if pod.node_name else SKIP)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not pod.node_name or pod.node_name == node.name:
            return None
        return _REJECT

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE)]


def new(args: dict[str, Any] | None, handle: Handle) -> NodeName:
    return NodeName()
