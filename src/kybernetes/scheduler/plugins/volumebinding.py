"""VolumeBinding (PreFilter, Filter, PreBind): every PersistentVolumeClaim the pod uses must exist; a
bound claim's PersistentVolume node affinity must match the node; an unbound claim is fine only if
its StorageClass binds WaitForFirstConsumer — then PreBind writes the ``selected-node`` annotation
for the provisioner and waits (up to ``bindTimeoutSeconds``) for the claim to be bound.
Simplification: static PV matching for delayed claims is left to the provisioner/PV controller.
Upstream: plugins/volumebinding."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.nodeselection import node_selector_matches
from kybernetes.client.errors import ApiError
from kybernetes.client.rest import PVCS
from kybernetes.scheduler.framework import (
    NODE,
    PV,
    PVC,
    SKIP,
    STORAGE_CLASS,
    ActionType,
    ClusterEvent,
    CycleState,
    Handle,
    PreFilterResult,
    Status,
)
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "VolumeBinding"
ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ANNOTATION_SELECTED_NODE = "volume.kubernetes.io/selected-node"
DEFAULT_BIND_TIMEOUT = 600.0
_KEY = "PreFilter" + NAME


def not_found(claim: str) -> str:
    return f'persistentvolumeclaim "{claim}" not found'


def being_deleted(claim: str) -> str:
    return f'persistentvolumeclaim "{claim}" is being deleted'


def waiting_for_ephemeral(claim: str) -> str:
    return f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{claim}"'


@dataclass(slots=True)
class _State:
    bound_affinities: list[dict[str, Any]] = field(default_factory=list)  # PV spec.nodeAffinity.required
    delayed: list[str] = field(default_factory=list)  # claim names to provision on the chosen node


class VolumeBinding:
    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Handle) -> None:
        self.handle = handle
        self.bind_timeout = float((args or {}).get("bindTimeoutSeconds", DEFAULT_BIND_TIMEOUT))

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.pvcs:
            return None, SKIP
        pvcs = self.handle.lister(PVC)
        pvs = self.handle.lister(PV)
        classes = self.handle.lister(STORAGE_CLASS)
        s = _State()
        for claim, ephemeral in pod.pvcs:
            pvc = pvcs.get(f"{pod.namespace}/{claim}")
            if pvc is None:
                return None, Status.unresolvable(waiting_for_ephemeral(claim) if ephemeral else not_found(claim))
            if (pvc.get("metadata") or {}).get("deletionTimestamp"):
                return None, Status.unresolvable(being_deleted(claim))
            volume = (pvc.get("spec") or {}).get("volumeName")
            if volume:
                pv = pvs.get(volume)
                required = (((pv or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required")
                if required:
                    s.bound_affinities.append(required)
                continue
            sc_name = (pvc.get("spec") or {}).get("storageClassName") or ""
            sc = classes.get(sc_name) if sc_name else None
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                s.delayed.append(claim)
                continue
            return None, Status.unresolvable(ERR_REASON_UNBOUND_IMMEDIATE)
        if not s.bound_affinities and not s.delayed:
            return None, SKIP
        state.write(_KEY, s)
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _State | None = state.read(_KEY)
        if s is None:
            return None
        for required in s.bound_affinities:
            if not node_selector_matches(required, node.labels, node.name):
                return Status.unresolvable(ERR_REASON_NODE_CONFLICT)
        return None

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        s: _State | None = state.read(_KEY)
        if s is None or not s.delayed:
            return None
        try:
            for claim in s.delayed:
                await self.handle.client.patch(PVCS, claim, {"metadata": {"annotations": {
                    ANNOTATION_SELECTED_NODE: node_name}}}, pod.namespace)
        except ApiError as e:
            return Status.error(f"binding volumes: {e}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.bind_timeout
        pvcs = self.handle.lister(PVC)
        delay = 0.05
        while True:
            pending = [c for c in s.delayed
                       if not ((pvcs.get(f"{pod.namespace}/{c}") or {}).get("spec") or {}).get("volumeName")]
            if not pending:
                return None
            if loop.time() >= deadline:
                return Status.error("binding volumes: context deadline exceeded")
            await asyncio.sleep(delay)  # the PVC informer updates the lister meanwhile
            delay = min(delay * 2, 1.0)

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(PVC, ActionType.ADD | ActionType.UPDATE), ClusterEvent(PV, ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(STORAGE_CLASS, ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]


def new(args: dict[str, Any] | None, handle: Handle) -> VolumeBinding:
    return VolumeBinding(args, handle)
