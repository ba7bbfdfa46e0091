"""Pod workers: one task per pod UID that syncs it, terminates it, and removes it when it is gone.

Role: the agent feeds :meth:`PodWorkers.update` (pod added/changed in the API) and
:meth:`PodWorkers.remove` (pod gone from the API); the PLEG and the probe manager call
:meth:`PodWorkers.wake`. A pod's syncs never overlap. Each sync (:mod:`.syncpod`) starts from the status
this kubelet last posted (the informer's copy may lag) and its result is PATCHed to
``pods/<name>/status`` by :class:`StatusManager` when it changed. A pod with a ``deletionTimestamp`` is
terminated (:mod:`.termination`, grace from the deletion), its final status posted, its volumes torn
down, and then the kubelet deletes it for good (``DELETE …?gracePeriodSeconds=0`` with a UID
precondition) and cleans up after it. Orphans (runtime pods no API pod claims) go the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.client.errors import ApiError, ConflictError, NotFoundError
from kybernetes.client.rest import PODS
from kybernetes.kubelet import lifecycle, termination
from kybernetes.kubelet.context import KubeletContext
from kybernetes.kubelet.syncpod import PodSyncer
from kybernetes.runtime import errors

__all__ = ["PodWorkers", "StatusManager"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
ERROR_RETRY = 2.0


class PodClient(Protocol):
    """The API calls the pod workers make (``kybernetes.client.rest.Client`` or a fake)."""

    async def patch(self, res: Any, name: str, patch: Any, namespace: str | None = None,
                    subresource: str | None = None, patch_type: str = ..., **params: Any) -> Obj: ...

    async def delete(self, res: Any, name: str, namespace: str | None = None, **options: Any) -> Obj: ...


class StatusManager:
    """Posts pod statuses, skipping unchanged ones; remembers what it posted."""

    def __init__(self, client: PodClient) -> None:
        self.client = client
        self.last: dict[str, Obj] = {}

    def cached(self, pod: Obj) -> Obj:
        """``pod`` with the status this kubelet last posted (when the API copy may not show it yet)."""
        last = self.last.get(pod["metadata"]["uid"])
        if last is None:
            return pod
        api_status = pod.get("status") or {}
        merged = dict(last)
        for key in ("conditions",):
            own = {c.get("type") for c in last.get(key) or []}
            merged[key] = [*(last.get(key) or []), *(c for c in api_status.get(key) or [] if c.get("type") not in own)]
        return {**pod, "status": merged}

    async def post(self, pod: Obj, status: Obj) -> None:
        md = pod["metadata"]
        uid = md["uid"]
        if self.last.get(uid) == status:
            return
        body = dict(status)
        for key in (pod.get("status") or {}):
            body.setdefault(key, None)
        for key in ("nominatedNodeName",):
            body.pop(key, None)
        await self.client.patch(PODS, md["name"], {"metadata": {"uid": uid}, "status": body}, md.get("namespace"),
                                subresource="status")
        self.last[uid] = status

    def forget(self, uid: str) -> None:
        self.last.pop(uid, None)


@dataclass
class _Worker:
    uid: str
    pod: Obj
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False
    terminal: bool = False
    task: asyncio.Task[None] | None = None


def _differs_for_sync(old: Obj, new: Obj) -> bool:
    """Whether an update asks for a sync: spec, labels, annotations or deletion changed (upstream's
    ``checkAndUpdatePod``); status written by anyone is not a reason."""
    if old.get("spec") != new.get("spec"):
        return True
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return any(om.get(k) != nm.get(k) for k in ("labels", "annotations", "deletionTimestamp",
                                                "deletionGracePeriodSeconds"))


class PodWorkers:
    """All pod workers of a node."""

    def __init__(self, kc: KubeletContext, client: PodClient) -> None:
        self.kc = kc
        self.client = client
        self.syncer = PodSyncer(kc)
        self.status = StatusManager(client)
        self.workers: dict[str, _Worker] = {}
        self.synced = asyncio.Event()  # set by the agent once the pod informer has listed

    # ---- inputs -----------------------------------------------------------------------------------

    def update(self, pod: Obj) -> None:
        """The API's latest version of a pod bound to this node."""
        uid = pod["metadata"]["uid"]
        w = self.workers.get(uid)
        if w is None:
            w = self.workers[uid] = _Worker(uid, pod)
            w.task = asyncio.create_task(self._run(w), name=f"pod-worker-{pod['metadata'].get('name')}")
        elif not w.gone:
            old, w.pod = w.pod, pod
            if not _differs_for_sync(old, pod):
                return  # a status-only change (often our own write): no sync, as the kubelet's pod config
        w.wake.set()

    def remove(self, pod: Obj) -> None:
        """The pod is gone from the API: terminate what is left of it."""
        w = self.workers.get(pod["metadata"]["uid"])
        if w is not None:
            w.gone = True
            w.wake.set()

    def wake(self, uid: str) -> None:
        """Sync pod ``uid`` soon (its containers or probe results changed)."""
        w = self.workers.get(uid)
        if w is not None:
            w.wake.set()

    def adopt_orphan(self, uid: str, name: str = "", namespace: str = "") -> None:
        """A runtime pod no API pod claims: stop and remove it."""
        if uid in self.workers:
            return
        stub = {"metadata": {"uid": uid, "name": name, "namespace": namespace,
                             "deletionGracePeriodSeconds": lifecycle.MIN_GRACE_PERIOD}, "spec": {}}
        w = self.workers[uid] = _Worker(uid, stub, gone=True)
        w.task = asyncio.create_task(self._run(w), name=f"pod-worker-orphan-{uid[:8]}")
        w.wake.set()

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        """The pod (with the latest status this kubelet posted) for the kubelet server."""
        for w in self.workers.values():
            md = w.pod.get("metadata") or {}
            if md.get("name") == name and md.get("namespace") == namespace and not w.gone:
                return self.status.cached(w.pod)
        return None

    async def shutdown(self) -> None:
        """Stop every worker task (pods keep running in the runtime)."""
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.workers.clear()

    # ---- the worker loop --------------------------------------------------------------------------

    async def _run(self, w: _Worker) -> None:
        delay: float | None = None
        failures = 0
        while True:
            if delay is None:
                await w.wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(w.wake.wait(), delay)
            w.wake.clear()
            try:
                if w.gone or (w.pod.get("metadata") or {}).get("deletionTimestamp"):
                    await self._terminate(w)
                    self.workers.pop(w.uid, None)
                    return
                delay = await self._sync(w)
                failures = 0
            except asyncio.CancelledError:
                raise
            except (ApiError, errors.CRIError, OSError, TimeoutError) as e:
                failures += 1
                delay = min(ERROR_RETRY * 2 ** min(failures - 1, 5), 60.0)
                log.warning("syncing pod %s failed (retry in %.0fs): %s", lifecycle.format_pod(w.pod), delay, e)
            except Exception:
                failures += 1
                delay = min(ERROR_RETRY * 2 ** min(failures - 1, 5), 60.0)
                log.exception("syncing pod %s failed", lifecycle.format_pod(w.pod))

    async def _sync(self, w: _Worker) -> float | None:
        if w.terminal:
            return None
        pod = self.status.cached(w.pod)
        result = await self.syncer.sync(pod)
        if result.status is not None:
            await self._post(w.pod, result.status)
        if result.terminal:
            w.terminal = True
            await self.kc.volumes.teardown(w.uid)
            await self.kc.probes.stop_pod(w.uid)
            return None
        return result.requeue_after if result.requeue_after is not None else self.kc.cfg.resync_period

    async def _post(self, pod: Obj, status: Obj) -> None:
        try:
            await self.status.post(pod, status)
        except (NotFoundError, ConflictError) as e:
            log.debug("status of %s not posted: %s", lifecycle.format_pod(pod), e)

    async def _terminate(self, w: _Worker) -> None:
        pod, uid = w.pod, w.uid
        log.info("Terminating pod %s", lifecycle.format_pod(pod))
        rt = await termination.kill_pod(self.kc, pod)
        await self.kc.probes.stop_pod(uid)
        if not w.gone and pod.get("spec"):
            cached = self.status.cached(pod)
            await self._post(pod, self.syncer.build_status(cached, rt, terminal=True))
        await self.kc.volumes.teardown(uid)
        if not w.gone:
            md = pod["metadata"]
            with contextlib.suppress(NotFoundError, ConflictError):
                await self.client.delete(PODS, md["name"], md.get("namespace"), gracePeriodSeconds=0,
                                         preconditions={"uid": uid})
        await termination.cleanup_pod(self.kc, uid, pod if pod.get("spec") else None)
        self.syncer.forget(uid)
        self.status.forget(uid)
        log.info("Pod %s terminated and cleaned up", lifecycle.format_pod(pod))
