"""SchedulingGates (PreEnqueue): a pod with ``spec.schedulingGates`` stays out of the activeQ until
its gates are removed. Upstream: plugins/schedulinggates."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import POD as POD_RESOURCE
from kybernetes.scheduler.framework import ActionType, ClusterEvent, Handle, Status
from kybernetes.scheduler.nodeinfo import PodInfo

NAME = "SchedulingGates"


class SchedulingGates:
    name = NAME

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        gates = pod.spec.get("schedulingGates") or []
        if not gates:
            return None
        names = " ".join(g.get("name", "") for g in gates)
        return Status.unresolvable(f"waiting for scheduling gates: [{names}]")

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(POD_RESOURCE, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)]


def new(args: dict[str, Any] | None, handle: Handle) -> SchedulingGates:
    return SchedulingGates()
