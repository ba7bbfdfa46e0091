"""Wiring the scheduler to the cluster: informers → cache (assigned pods, nodes) and queue (pending
pods of this scheduler), cluster events → moving unschedulable pods; and ``run_scheduler``, the
entry point (informers always warm, the scheduling loop only while holding the ``kube-scheduler``
Lease). Upstream: pkg/scheduler/eventhandler.go, cmd/kube-scheduler/app/server.go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kybernetes.client import leaderelection
from kybernetes.client.errors import ApiError
from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer
from kybernetes.client.rest import (
    NAMESPACES,
    NODES,
    PODDISRUPTIONBUDGETS,
    PODS,
    PVCS,
    PVS,
    STORAGECLASSES,
    Client,
)
from kybernetes.scheduler import framework as fw
from kybernetes.scheduler.framework import ActionType, ClusterEvent
from kybernetes.scheduler.profile import Profile, default_profile
from kybernetes.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

Obj = dict[str, Any]
LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-scheduler"
NON_TERMINAL = "status.phase!=Succeeded,status.phase!=Failed"
EVENT_POSTERS = 64  # one Scheduled event per pod, posted concurrently (upstream: one goroutine each)

ASSIGNED_POD_ADD = ClusterEvent(fw.POD, ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_DELETE = ClusterEvent(fw.POD, ActionType.DELETE, "AssignedPodDelete")
NODE_ADD = ClusterEvent(fw.NODE, ActionType.ADD, "NodeAdd")
NODE_DELETE = ClusterEvent(fw.NODE, ActionType.DELETE, "NodeDelete")


def _assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _conditions(node: Obj) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in (node.get("status") or {}).get("conditions") or []}


def node_change(old: Obj, new: Obj) -> ActionType:
    """Which scheduling-relevant parts of a node changed (heartbeats alone change nothing)."""
    act = ActionType(0)
    os_, ns = old.get("status") or {}, new.get("status") or {}
    if os_.get("allocatable") != ns.get("allocatable"):
        act |= ActionType.UPDATE_NODE_ALLOCATABLE
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    if om.get("labels") != nm.get("labels"):
        act |= ActionType.UPDATE_NODE_LABEL
    ospec, nspec = old.get("spec") or {}, new.get("spec") or {}
    if ospec.get("taints") != nspec.get("taints") or bool(ospec.get("unschedulable")) != bool(nspec.get("unschedulable")):
        act |= ActionType.UPDATE_NODE_TAINT
    if _conditions(old) != _conditions(new):
        act |= ActionType.UPDATE_NODE_CONDITION
    if om.get("annotations") != nm.get("annotations"):
        act |= ActionType.UPDATE_NODE_ANNOTATION
    return act


def pod_change(old: Obj, new: Obj) -> ActionType:
    act = ActionType(0)
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        act |= ActionType.UPDATE_POD_LABEL
    if (old.get("spec") or {}).get("containers") != (new.get("spec") or {}).get("containers"):
        act |= ActionType.UPDATE_POD_SCALE_DOWN
    return act


class EventHandlers:
    """Informer callbacks for one scheduler: they only route objects, never schedule."""

    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.scheduler_name = sched.profile.scheduler_name

    def responsible(self, pod: Obj) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or "default-scheduler") == self.scheduler_name

    def _move(self, event: ClusterEvent) -> None:
        self.sched.queue.move_all_to_active_or_backoff(event)

    # pods
    def on_pod_add(self, pod: Obj) -> None:
        if _terminal(pod):
            return
        if _assigned(pod):
            self.sched.cache.add_pod(pod)
            self._move(ASSIGNED_POD_ADD)
        elif self.responsible(pod):
            self.sched.queue.add(pod)

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        if _terminal(new):
            self.on_pod_delete(old)
            return
        if _assigned(new):
            if not _assigned(old):
                self.sched.queue.delete(old)
                self.sched.cache.add_pod(new)
                self._move(ASSIGNED_POD_ADD)
                return
            self.sched.cache.update_pod(old, new)
            act = pod_change(old, new)
            if act:
                self._move(ClusterEvent(fw.POD, act))
        elif self.responsible(new):
            self.sched.queue.update(old, new)

    def on_pod_delete(self, pod: Obj) -> None:
        if _assigned(pod):
            self.sched.cache.remove_pod(pod)
            self._move(ASSIGNED_POD_DELETE)
        else:
            self.sched.queue.delete(pod)

    # nodes
    def on_node_add(self, node: Obj) -> None:
        self.sched.cache.add_node(node)
        self._move(NODE_ADD)

    def on_node_update(self, old: Obj, new: Obj) -> None:
        self.sched.cache.update_node(new)
        act = node_change(old, new)
        if act:
            self._move(ClusterEvent(fw.NODE, act))

    def on_node_delete(self, node: Obj) -> None:
        self.sched.cache.remove_node((node.get("metadata") or {}).get("name", ""))
        self._move(NODE_DELETE)

    # everything else a plugin may wait for
    def on_other(self, resource: str) -> tuple[Any, Any, Any]:
        def add(obj: Obj) -> None:
            self._move(ClusterEvent(resource, ActionType.ADD))

        def update(old: Obj, new: Obj) -> None:
            self._move(ClusterEvent(resource, ActionType.UPDATE))

        def delete(obj: Obj) -> None:
            self._move(ClusterEvent(resource, ActionType.DELETE))

        return add, update, delete


async def _pod_field_selector(client: Client) -> str | None:
    """Upstream watches only non-terminal pods; fall back to all pods if the server refuses it."""
    try:
        await client.list(PODS, fieldSelector=NON_TERMINAL, limit=1)
        return NON_TERMINAL
    except ApiError as e:
        log.warning("pods cannot be listed with %s (%s); watching all pods", NON_TERMINAL, e)
        return None


async def build(client: Client, profile: Profile | None = None, recorder: EventRecorder | None = None
                ) -> tuple[Scheduler, list[Informer]]:
    """A scheduler with its informers wired (not started)."""
    pods = Informer(client, PODS, field_selector=await _pod_field_selector(client))
    nodes = Informer(client, NODES)
    others = {fw.PVC: Informer(client, PVCS), fw.PV: Informer(client, PVS),
              fw.STORAGE_CLASS: Informer(client, STORAGECLASSES),
              "PodDisruptionBudget": Informer(client, PODDISRUPTIONBUDGETS), "Namespace": Informer(client, NAMESPACES)}
    sched = Scheduler(client, recorder, profile or default_profile(), listers=dict(others))
    sched.pod_lookup = pods.get
    h = EventHandlers(sched)
    pods.add_handlers(h.on_pod_add, h.on_pod_update, h.on_pod_delete)
    nodes.add_handlers(h.on_node_add, h.on_node_update, h.on_node_delete)
    for resource in (fw.PVC, fw.PV, fw.STORAGE_CLASS):
        others[resource].add_handlers(*h.on_other(resource))
    return sched, [nodes, pods, *others.values()]


async def run_scheduler(client: Client, stop: asyncio.Event, identity: str, profile: Profile | None = None,
                        leader_elect: bool = True) -> None:
    """Run a scheduler until ``stop``: informers at once, scheduling while leader."""
    profile = profile or default_profile()
    recorder = EventRecorder(client, profile.scheduler_name, host=identity)
    recorder.start(workers=EVENT_POSTERS)
    sched, informers = await build(client, profile, recorder)
    for inf in informers:
        inf.start()
    try:
        for inf in informers:
            await inf.wait_synced()
        log.info("Running kube-scheduler as %s (%d nodes, %d pods cached)", identity, sched.cache.node_count,
                 sched.cache.pod_count())

        async def lead(lost: asyncio.Event) -> None:
            halt = asyncio.Event()
            waiters = [asyncio.create_task(e.wait()) for e in (stop, lost)]
            relay = asyncio.create_task(_first_then_set(waiters, halt))
            try:
                await sched.run(halt)
            finally:
                relay.cancel()
                for w in waiters:
                    w.cancel()

        if leader_elect:
            elector = leaderelection.LeaderElector(client, LEASE_NAMESPACE, LEASE_NAME, identity)
            await elector.run(lead, stop)
        else:
            await lead(asyncio.Event())
    finally:
        for inf in informers:
            await inf.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder.stop()


async def _first_then_set(waiters: list[asyncio.Task[Any]], halt: asyncio.Event) -> None:
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    halt.set()
