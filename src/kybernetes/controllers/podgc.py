"""Pod garbage collector: deletes pods nothing else will ever clean up, every 20 seconds.

``gc`` (``PodGCController.gc``) force-deletes: terminated pods beyond
``--terminated-pod-gc-threshold`` (12500; evicted ones first, then oldest); terminating pods on
NotReady nodes tainted ``node.kubernetes.io/out-of-service``; pods bound to nodes that no longer
exist — once the node has been missing for a 40 s quarantine and a direct GET confirms it, with a
``DisruptionTarget`` condition (``DeletionByPodGC``, "PodGC: node no longer exists"); and
terminating pods that were never scheduled. A pod not yet terminal is first marked ``Failed`` by a
server-side apply of its status (field manager ``PodGC``), then deleted with a zero grace period.
Reads the pod and node informers; the clock is injectable for the quarantine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kybernetes.api.printing import format_time, parse_time
from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import NODES, PODS, Client
from kybernetes.controllers import loop, podstate
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

TERMINATED_POD_GC_THRESHOLD = 12500
GC_PERIOD = 20.0
QUARANTINE = 40.0
FIELD_MANAGER = "PodGC"
APPLY_PATCH = "application/apply-patch+yaml"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _node_of(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def is_terminated(pod: Obj) -> bool:
    return podstate.phase(pod) not in ("Pending", "Running", "Unknown")


def eviction_then_age(pods: list[Obj]) -> list[Obj]:
    """Evicted pods first, then by creation time and name (``byEvictionAndCreationTimestamp``)."""
    def key(p: Obj) -> tuple[bool, float, str]:
        evicted = podstate.phase(p) == "Failed" and (p.get("status") or {}).get("reason") == "Evicted"
        return not evicted, parse_time(_md(p).get("creationTimestamp")) or 0.0, _md(p).get("name", "")
    return sorted(pods, key=key)


def _node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


class PodGCController:
    name = "podgc"

    def __init__(self, pod_informer: Informer, node_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 terminated_pod_threshold: int = TERMINATED_POD_GC_THRESHOLD, gc_period: float = GC_PERIOD,
                 quarantine: float = QUARANTINE, clock: loop.Clock = time.time) -> None:
        self.pod_informer = pod_informer
        self.node_informer = node_informer
        self.client = client
        self.recorder = recorder
        self.threshold = terminated_pod_threshold
        self.gc_period = gc_period
        self.quarantine = quarantine
        self.clock = clock
        self._missing_since: dict[str, float] = {}  # node name → when a pod first pointed at it while absent

    async def run(self, workers: int = 1) -> None:
        log.info("Starting GC controller")
        try:
            await asyncio.gather(self.pod_informer.wait_synced(), self.node_informer.wait_synced())
            while True:
                try:
                    await self.gc()
                except ApiError as e:
                    log.info("pod GC pass failed: %s", e)
                await asyncio.sleep(self.gc_period)
        finally:
            log.info("Shutting down GC controller")

    async def gc(self) -> None:
        pods, nodes = self.pod_informer.list(), self.node_informer.list()
        if self.threshold > 0:
            await self._gc_terminated(pods)
        await self._gc_out_of_service(pods)
        await self._gc_orphaned(pods, nodes)
        await self._gc_unscheduled_terminating(pods)

    async def _gc_terminated(self, pods: list[Obj]) -> None:
        terminated = [p for p in pods if is_terminated(p)]
        count = len(terminated) - self.threshold
        if count <= 0:
            return
        log.info("garbage collecting %d terminated pods", count)
        await self._delete_all(eviction_then_age(terminated)[:count])

    async def _gc_out_of_service(self, pods: list[Obj]) -> None:
        victims = []
        for pod in pods:
            if not _md(pod).get("deletionTimestamp"):
                continue
            node = self.node_informer.get(_node_of(pod))
            if node is None:
                continue
            taints = (node.get("spec") or {}).get("taints") or []
            if not _node_ready(node) and any(t.get("key") == OUT_OF_SERVICE_TAINT for t in taints):
                victims.append(pod)
        await self._delete_all(eviction_then_age(victims))

    async def _gc_orphaned(self, pods: list[Obj], nodes: list[Obj]) -> None:
        existing = {_md(n).get("name") for n in nodes}
        now = self.clock()
        for pod in pods:
            name = _node_of(pod)
            if name and name not in existing:
                self._missing_since.setdefault(name, now)
        deleted: set[str] = set()
        for name, since in list(self._missing_since.items()):
            if name in existing:
                del self._missing_since[name]
            elif now - since >= self.quarantine:
                del self._missing_since[name]
                try:
                    await self.client.get(NODES, name)
                except NotFoundError:
                    deleted.add(name)
                except ApiError as e:
                    log.info("checking whether node %s exists: %s", name, e)
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                     "message": "PodGC: node no longer exists", "lastTransitionTime": format_time(now)}
        await self._delete_all([p for p in pods if _node_of(p) in deleted], condition)

    async def _gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        await self._delete_all([p for p in pods if _md(p).get("deletionTimestamp") and not _node_of(p)])

    async def _delete_all(self, pods: list[Obj], condition: dict[str, Any] | None = None) -> None:
        results = await asyncio.gather(*(self.mark_failed_and_delete(p, condition) for p in pods),
                                       return_exceptions=True)
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                log.info("force deleting pod %s failed: %s", key_of(pod), result)

    async def mark_failed_and_delete(self, pod: Obj, condition: dict[str, Any] | None = None) -> None:
        """Mark a not-yet-terminal pod Failed (and add ``condition``), then delete it with no grace."""
        md = _md(pod)
        log.info("PodGC is force deleting Pod %s", key_of(pod))
        if podstate.phase(pod) not in ("Succeeded", "Failed"):
            status: dict[str, Any] = {"phase": "Failed"}
            if condition is not None:
                status["conditions"] = [condition]
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": md["name"], "namespace": md["namespace"]},
                    "status": status}
            try:
                await self.client.patch(PODS, md["name"], body, md["namespace"], subresource="status",
                                        patch_type=APPLY_PATCH, fieldManager=FIELD_MANAGER, force=True)
            except NotFoundError:
                return
        try:
            await self.client.delete(PODS, md["name"], md["namespace"], gracePeriodSeconds=0)
        except NotFoundError:
            pass
