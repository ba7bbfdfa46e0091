"""VolumeBinding (PreFilter, Filter, PreBind): every PersistentVolumeClaim the pod uses must exist; a
bound claim's PersistentVolume node affinity must match the node; an unbound claim is fine only if
its StorageClass binds WaitForFirstConsumer. For such a claim Filter looks for an Available static
volume that fits and is reachable from the node (the PV binder's matching rules), else accepts the
node when the class has a provisioner. PreBind then points the chosen static volume's ``claimRef``
at the claim, or writes the claim's ``selected-node`` annotation for the provisioner, and waits (up
to ``bindTimeoutSeconds``) until the PV binder has bound the claim. Upstream: plugins/volumebinding."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import persistentvolumes as pvmatch
from kybernetes.api.nodeselection import node_selector_matches
from kybernetes.client.errors import ApiError
from kybernetes.client.rest import PVCS, PVS
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
ANNOTATION_SELECTED_NODE = pvmatch.ANN_SELECTED_NODE
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
    delayed: list[str] = field(default_factory=list)  # claim names bound once the node is chosen
    claims: list[dict[str, Any]] = field(default_factory=list)  # those claims
    provisionable: set[str] = field(default_factory=set)  # of those, the ones a provisioner can serve
    static: dict[str, dict[str, str]] = field(default_factory=dict)  # node → claim → static volume found


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
                s.claims.append(pvc)
                if sc.get("provisioner") != pvmatch.NO_PROVISIONER:
                    s.provisionable.add(claim)
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
        if s.claims:
            volumes = self.handle.lister(PV).list()
            found: dict[str, str] = {}
            for pvc in s.claims:
                claim = pvc["metadata"]["name"]
                pv = pvmatch.find_best_match(pvc, volumes, True, node.node, skip=frozenset(found.values()))
                if pv is not None:
                    found[claim] = pv["metadata"]["name"]
                elif claim not in s.provisionable:
                    return Status.unresolvable(ERR_REASON_BIND_CONFLICT)
            s.static[node.name] = found
        return None

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        s: _State | None = state.read(_KEY)
        if s is None or not s.delayed:
            return None
        static = s.static.get(node_name) or {}
        pvs = self.handle.lister(PV)
        try:
            for pvc in s.claims:
                claim = pvc["metadata"]["name"]
                volume = pvs.get(static[claim]) if claim in static else None
                if volume is not None:
                    await self._bind_static(volume, pvc)
                else:
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

    async def _bind_static(self, volume: dict[str, Any], claim: dict[str, Any]) -> None:
        """Reserve ``volume`` for ``claim`` as the PV binder would; the binder completes the binding.
        The cached resourceVersion makes a volume taken meanwhile fail with a conflict."""
        if pvmatch.is_bound_to(volume, claim):
            return
        volume = copy.deepcopy(volume)
        volume["metadata"].setdefault("annotations", {})[pvmatch.ANN_BOUND_BY_CONTROLLER] = "yes"
        volume.setdefault("spec", {})["claimRef"] = pvmatch.claim_ref(claim)
        await self.handle.client.replace(PVS, volume)

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(PVC, ActionType.ADD | ActionType.UPDATE), ClusterEvent(PV, ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(STORAGE_CLASS, ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]


def new(args: dict[str, Any] | None, handle: Handle) -> VolumeBinding:
    return VolumeBinding(args, handle)
