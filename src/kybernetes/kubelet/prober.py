"""Probe workers: one task per (pod, container, probe type) that runs the probe every ``periodSeconds``.

Role: after every sync the pod worker hands :meth:`ProbeManager.update` the pod and its runtime view;
the manager starts workers for containers with liveness/readiness/startup probes and stops the ones
no longer needed. Results live per container ID: readiness starts False, liveness True, startup
unknown (False). A result changes only after ``successThreshold``/``failureThreshold`` consecutive
outcomes; every failed probe records the kubelet's Unhealthy event; liveness and startup stop probing
after a failure until a new container (a restart) appears. Any change calls ``on_change(uid)`` so the
pod worker syncs (restart the container, post Ready). Liveness and readiness wait for the startup
probe to succeed. Upstream: pkg/kubelet/prober/worker.go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.kubelet import containerref, podstate, probes
from kybernetes.kubelet.containerref import EventSink
from kybernetes.kubelet.podstate import PodRuntime
from kybernetes.runtime import cri

__all__ = ["LIVENESS", "PROBE_TYPES", "READINESS", "STARTUP", "ProbeManager"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
PROBE_TYPES = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}


@dataclass
class _Worker:
    uid: str
    container: str
    kind: str
    task: asyncio.Task[None] | None = None
    container_id: str = ""
    on_hold: bool = False
    last: bool | None = None
    run: int = 0


@dataclass
class _PodView:
    pod: Obj
    rt: PodRuntime
    workers: dict[tuple[str, str], _Worker] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


class ProbeManager:
    """All probe workers of a node and their results."""

    def __init__(self, runtime: cri.RuntimeClient, record: EventSink, on_change: Callable[[str], None], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.record = record
        self.on_change = on_change
        self.clock = clock
        self.results: dict[str, dict[str, bool]] = {LIVENESS: {}, READINESS: {}, STARTUP: {}}
        self._pods: dict[str, _PodView] = {}
        self._kill: dict[str, str] = {}  # container ID → the probe that failed

    # ---- results ----------------------------------------------------------------------------------

    @property
    def readiness(self) -> dict[str, bool]:
        return self.results[READINESS]

    @property
    def startup(self) -> dict[str, bool]:
        return self.results[STARTUP]

    def failed(self, container_id: str) -> str | None:
        """``liveness`` or ``startup`` when that probe has failed for this container (kill it), else None."""
        return self._kill.get(container_id)

    def _set(self, uid: str, kind: str, container_id: str, value: bool) -> None:
        if self.results[kind].get(container_id) != value:
            self.results[kind][container_id] = value
            self.on_change(uid)

    # ---- workers ----------------------------------------------------------------------------------

    def update(self, pod: Obj, rt: PodRuntime) -> None:
        """Track ``pod``: start workers for its probed containers, stop the others."""
        uid = pod["metadata"]["uid"]
        view = self._pods.get(uid)
        if view is None:
            view = self._pods[uid] = _PodView(pod, rt)
        view.pod, view.rt = pod, rt
        spec = pod.get("spec") or {}
        wanted: set[tuple[str, str]] = set()
        for ctr in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            for kind, key in PROBE_TYPES.items():
                if ctr.get(key):
                    wanted.add((ctr.get("name", ""), kind))
        for wkey in list(view.workers):
            if wkey not in wanted:
                self._stop_worker(view.workers.pop(wkey))
        for name, kind in wanted:
            if (name, kind) not in view.workers:
                w = view.workers[(name, kind)] = _Worker(uid, name, kind)
                w.task = asyncio.create_task(self._loop(w), name=f"probe-{kind}-{uid[:8]}-{name}")
        live = {c.id for c in rt.containers if c.state == podstate.RUNNING}
        for gone in [cid for cid in view.seen if cid not in live]:
            for kind in self.results:
                self.results[kind].pop(gone, None)
            self._kill.pop(gone, None)
        view.seen = live

    def _stop_worker(self, w: _Worker) -> None:
        if w.task is not None:
            w.task.cancel()

    async def stop_pod(self, uid: str) -> None:
        """Stop probing pod ``uid`` and forget its results."""
        view = self._pods.pop(uid, None)
        if view is None:
            return
        tasks = [w.task for w in view.workers.values() if w.task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for cid in {c.id for c in view.rt.containers} | view.seen:
            for kind in self.results:
                self.results[kind].pop(cid, None)
            self._kill.pop(cid, None)

    async def stop(self) -> None:
        for uid in list(self._pods):
            await self.stop_pod(uid)

    async def _loop(self, w: _Worker) -> None:
        while True:
            period = 10.0
            try:
                period = await self._probe_once(w)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s probe of %s/%s failed to run", w.kind, w.uid, w.container)
            await asyncio.sleep(period)

    def _spec(self, w: _Worker) -> tuple[Obj, Obj, Obj] | None:
        view = self._pods.get(w.uid)
        if view is None:
            return None
        spec = view.pod.get("spec") or {}
        for ctr in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            if ctr.get("name") == w.container and ctr.get(PROBE_TYPES[w.kind]):
                return view.pod, ctr, ctr[PROBE_TYPES[w.kind]]
        return None

    async def _probe_once(self, w: _Worker) -> float:
        """One tick of a worker; returns the seconds until the next."""
        found = self._spec(w)
        if found is None:
            return 1.0
        pod, ctr, probe = found
        period = float(probe.get("periodSeconds") or 10)
        view = self._pods[w.uid]
        cur = view.rt.latest(w.container)
        if cur is None:
            return min(period, 1.0)
        if cur.id != w.container_id:
            w.container_id, w.on_hold, w.last, w.run = cur.id, False, None, 0
            initial = {LIVENESS: True, READINESS: False, STARTUP: False}[w.kind]
            self.results[w.kind].setdefault(cur.id, initial)
        if w.on_hold:
            return period
        if cur.state != podstate.RUNNING:
            if w.kind != LIVENESS:
                self._set(w.uid, w.kind, cur.id, False)
            return min(period, 1.0)
        if w.kind == STARTUP and self.results[STARTUP].get(cur.id):
            return period
        if w.kind != STARTUP and ctr.get("startupProbe") and not self.results[STARTUP].get(cur.id):
            return min(period, 1.0)
        delay = float(probe.get("initialDelaySeconds") or 0)
        elapsed = self.clock() - (cur.started_at or cur.created_at)
        if elapsed < delay:
            return max(min(delay - elapsed, period), 0.05)
        result = await probes.run_handler(probe, runtime=self.runtime, container_id=cur.id, container=ctr,
                                          pod_ip=view.rt.pod_ip or (pod.get("status") or {}).get("podIP", ""),
                                          seconds=float(probe.get("timeoutSeconds") or 1))
        if not result.ok:
            verb = "errored" if result.error else "failed"
            self.record(pod, "Warning", "Unhealthy", f"{w.kind.capitalize()} probe {verb}: {result.output}",
                        containerref.field_path(pod, ctr.get("name", "")))
        if w.last == result.ok:
            w.run += 1
        else:
            w.last, w.run = result.ok, 1
        threshold = int(probe.get("successThreshold") or 1) if result.ok else int(probe.get("failureThreshold") or 3)
        if w.run < threshold:
            return period
        if w.kind in (LIVENESS, STARTUP) and not result.ok:
            w.on_hold, w.run = True, 0
            self._kill[cur.id] = w.kind
        self._set(w.uid, w.kind, cur.id, result.ok)
        return period
