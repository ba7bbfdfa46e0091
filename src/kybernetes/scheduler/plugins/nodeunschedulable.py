"""NodeUnschedulable (Filter): ``spec.unschedulable`` nodes (cordoned) take only pods tolerating the
``node.kubernetes.io/unschedulable:NoSchedule`` taint. Upstream: plugins/nodeunschedulable."""

from __future__ import annotations

from typing import Any

from kybernetes.api.nodeselection import tolerations_tolerate
from kybernetes.scheduler.framework import NODE, ActionType, ClusterEvent, CycleState, Handle, Status
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
_TAINT = {"key": TAINT_NODE_UNSCHEDULABLE, "effect": "NoSchedule"}
_REJECT = Status.unresolvable(ERR_REASON_UNSCHEDULABLE)


class NodeUnschedulable:
    name = NAME

    def filter_key(self, pod: PodInfo) -> bool:
        """The verdict depends on this and the node alone (see ``Framework.filter_memo_key``)."""
        return tolerations_tolerate(pod.tolerations, _TAINT)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable or tolerations_tolerate(pod.tolerations, _TAINT):
            return None
        return _REJECT

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT)]


def new(args: dict[str, Any] | None, handle: Handle) -> NodeUnschedulable:
    return NodeUnschedulable()
