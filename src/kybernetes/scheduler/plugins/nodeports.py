"""NodePorts (PreFilter, Filter): a pod's ``hostPort``s must be free on the node (same protocol and
port, overlapping host IP). Upstream: plugins/nodeports."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import (
    NODE,
    POD,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    Handle,
    PreFilterResult,
    Status,
)
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo, ports_conflict

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = Status.unschedulable(ERR_REASON)


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        return None, (None if pod.host_ports else SKIP)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        used = node.used_ports
        if used:
            for want in pod.host_ports:
                for have in used:
                    if ports_conflict(want, have):
                        return _REJECT
        return None

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(POD, ActionType.DELETE), ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE)]


def new(args: dict[str, Any] | None, handle: Handle) -> NodePorts:
    return NodePorts()
