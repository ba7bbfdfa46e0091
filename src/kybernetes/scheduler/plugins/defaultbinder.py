"""DefaultBinder (Bind): ``POST pods/<name>/binding`` with the chosen node. Upstream: plugins/defaultbinder."""

from __future__ import annotations

from typing import Any

from kybernetes.client.errors import ApiError
from kybernetes.client.rest import PODS
from kybernetes.scheduler.framework import ClusterEvent, CycleState, Handle, Status
from kybernetes.scheduler.nodeinfo import PodInfo

NAME = "DefaultBinder"


def binding(pod: PodInfo, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


class DefaultBinder:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        try:
            await self.handle.client.create(PODS, binding(pod, node_name), pod.namespace, subresource="binding",
                                            name=pod.name)
        except (ApiError, OSError, TimeoutError) as e:  # unbound either way: the pod is tried again
            return Status.error(str(e) or type(e).__name__)
        return None

    def events_to_register(self) -> list[ClusterEvent]:
        return []


def new(args: dict[str, Any] | None, handle: Handle) -> DefaultBinder:
    return DefaultBinder(handle)
