"""The scheduling queue: activeQ (priority, then time), backoffQ (per-pod exponential backoff
1 s → 10 s) and the unschedulable pods, which wait for a cluster event that one of the plugins
that rejected them registered for (or for the periodic 60 s flush).

The scheduler's informer handlers call ``add``/``update``/``delete`` and ``move_all_to_active_or_backoff``;
the scheduling loop calls ``pop`` and, on failure, ``add_unschedulable_if_not_present``; ``run``
flushes backoffQ every second and leftovers every 30 s. Upstream: pkg/scheduler/backend/queue.
Also holds the nominator (pods nominated to nodes by preemption).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.scheduler import framework
from kybernetes.scheduler.framework import ClusterEvent, Status
from kybernetes.scheduler.nodeinfo import PodInfo

log = logging.getLogger(__name__)

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE = 60.0
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0

PreEnqueue = Callable[[PodInfo], Status | None]


@dataclass(slots=True)
class QueuedPodInfo:
    pod_info: PodInfo
    timestamp: float
    initial_attempt_timestamp: float | None = None
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    gated: bool = False
    seq: int = 0

    @property
    def key(self) -> str:
        return self.pod_info.key


def _spec_view(pod: dict[str, Any]) -> dict[str, Any]:
    md = {k: v for k, v in (pod.get("metadata") or {}).items()
          if k not in ("resourceVersion", "generation", "managedFields")}
    return {"metadata": md, "spec": pod.get("spec")}


def pod_updated(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Did anything but status and bookkeeping change (``isPodUpdated``)?"""
    return _spec_view(old) != _spec_view(new)


class SchedulingQueue:
    def __init__(self, pre_enqueue: PreEnqueue | None = None,
                 events: dict[str, list[ClusterEvent]] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 max_in_unschedulable: float = MAX_IN_UNSCHEDULABLE) -> None:
        self._pre_enqueue = pre_enqueue
        self._events = events or {}  # plugin name → events it registered for
        self._clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._active: list[tuple[int, float, int, str]] = []
        self._active_keys: dict[str, QueuedPodInfo] = {}
        self._backoff: list[tuple[float, int, str]] = []
        self._backoff_keys: dict[str, QueuedPodInfo] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._seq = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._nominated: dict[str, dict[str, PodInfo]] = {}  # node → key → pod
        self._nominated_node: dict[str, str] = {}  # key → node

    # --- sizes (tests, metrics) ---------------------------------------------------------------------
    def pending(self) -> tuple[int, int, int]:
        return len(self._active_keys), len(self._backoff_keys), len(self._unschedulable)

    def __contains__(self, key: str) -> bool:
        return key in self._active_keys or key in self._backoff_keys or key in self._unschedulable

    def where(self, key: str) -> str:
        for name, d in (("active", self._active_keys), ("backoff", self._backoff_keys),
                        ("unschedulable", self._unschedulable), ("in-flight", self._in_flight)):
            if key in d:
                return name
        return ""

    # --- internal moves -----------------------------------------------------------------------------
    def _push_active(self, info: QueuedPodInfo) -> None:
        self._seq += 1
        info.seq = self._seq
        self._active_keys[info.key] = info
        heapq.heappush(self._active, (-info.pod_info.priority, info.timestamp, info.seq, info.key))
        self._wakeup.set()

    def _push_backoff(self, info: QueuedPodInfo) -> None:
        self._seq += 1
        info.seq = self._seq
        self._backoff_keys[info.key] = info
        heapq.heappush(self._backoff, (self.backoff_expiry(info), info.seq, info.key))

    def _remove(self, key: str) -> QueuedPodInfo | None:
        return self._active_keys.pop(key, None) or self._backoff_keys.pop(key, None) or \
            self._unschedulable.pop(key, None)

    def backoff_duration(self, info: QueuedPodInfo) -> float:
        d = self.initial_backoff
        for _ in range(1, info.attempts):
            d *= 2
            if d >= self.max_backoff:
                return self.max_backoff
        return min(d, self.max_backoff)

    def backoff_expiry(self, info: QueuedPodInfo) -> float:
        return info.timestamp + self.backoff_duration(info)

    def _gate(self, info: QueuedPodInfo) -> bool:
        """Run PreEnqueue plugins; a rejected pod parks in unschedulable as gated."""
        status = self._pre_enqueue(info.pod_info) if self._pre_enqueue else None
        info.gated = not framework.is_success(status)
        if info.gated:
            assert status is not None
            info.unschedulable_plugins = {status.plugin} if status.plugin else set()
            self._unschedulable[info.key] = info
        return info.gated

    # --- informer-facing API ------------------------------------------------------------------------
    def add(self, pod: dict[str, Any]) -> None:
        pi = PodInfo(pod)
        if pi.key in self or pi.key in self._in_flight:
            self.update(None, pod)
            return
        info = QueuedPodInfo(pi, self._clock())
        if not self._gate(info):
            self._push_active(info)
        self._nominate_from_status(pi)

    def update(self, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        pi = PodInfo(new)
        key = pi.key
        self._nominate_from_status(pi)
        for d in (self._active_keys, self._backoff_keys, self._in_flight):
            info = d.get(key)
            if info is not None:
                old_priority = info.pod_info.priority
                info.pod_info = pi
                if d is self._active_keys and pi.priority != old_priority:
                    self._push_active(info)  # re-sort; the old heap entry becomes stale
                return
        info = self._unschedulable.get(key)
        if info is None:
            self.add(new)
            return
        changed = old is None or pod_updated(old, new)
        info.pod_info = pi
        if not changed:
            return
        del self._unschedulable[key]
        if self._gate(info):
            return
        if info.attempts and self._clock() < self.backoff_expiry(info):
            self._push_backoff(info)
        else:
            self._push_active(info)

    def delete(self, pod: dict[str, Any]) -> None:
        md = pod.get("metadata") or {}
        key = f"{md.get('namespace', '')}/{md.get('name', '')}"
        self._remove(key)
        self.delete_nominated(key)

    # --- scheduling-loop API ------------------------------------------------------------------------
    async def pop(self) -> QueuedPodInfo | None:
        """The highest-priority pod, waiting if there is none; None once closed."""
        while True:
            while self._active:
                _, _, seq, key = heapq.heappop(self._active)
                info = self._active_keys.get(key)
                if info is None or info.seq != seq:
                    continue  # stale entry
                del self._active_keys[key]
                info.attempts += 1
                if info.initial_attempt_timestamp is None:
                    info.initial_attempt_timestamp = self._clock()
                self.scheduling_cycle += 1
                self._in_flight[key] = info
                return info
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        self._in_flight.pop(key, None)

    def add_unschedulable_if_not_present(self, info: QueuedPodInfo, pod_cycle: int) -> None:
        """A failed attempt: backoffQ if the cluster changed meanwhile (or it was an error), else
        unschedulable until an event one of the rejecting plugins cares about."""
        key = info.key
        self._in_flight.pop(key, None)
        if key in self:
            return
        info.timestamp = self._clock()
        if self.move_request_cycle >= pod_cycle or not (info.unschedulable_plugins or info.pending_plugins):
            self._push_backoff(info)
        else:
            self._unschedulable[key] = info

    def requeue_after_error(self, info: QueuedPodInfo) -> None:
        self._in_flight.pop(info.key, None)
        if info.key not in self:
            info.timestamp = self._clock()
            self._push_backoff(info)

    def move_all_to_active_or_backoff(self, event: ClusterEvent) -> None:
        """A cluster event happened: wake the unschedulable pods it may help."""
        moved = [info for info in self._unschedulable.values() if not info.gated and self._helps(info, event)]
        self._move(moved, event)
        self.move_request_cycle = self.scheduling_cycle

    def _helps(self, info: QueuedPodInfo, event: ClusterEvent) -> bool:
        if event in (framework.UNSCHEDULABLE_TIMEOUT, framework.FORCE_ACTIVATE):
            return True
        plugins = info.unschedulable_plugins | info.pending_plugins
        if not plugins:
            return True
        return any(reg.matches(event) for p in plugins for reg in self._events.get(p, ()))

    def _move(self, infos: Iterable[QueuedPodInfo], event: ClusterEvent) -> None:
        now = self._clock()
        n = 0
        for info in infos:
            del self._unschedulable[info.key]
            n += 1
            if now < self.backoff_expiry(info):
                self._push_backoff(info)
            else:
                self._push_active(info)
        if n:
            log.debug("moved %d unschedulable pods on %s", n, event.label or event)

    def flush_backoff_completed(self) -> None:
        now = self._clock()
        while self._backoff:
            expiry, seq, key = self._backoff[0]
            info = self._backoff_keys.get(key)
            if info is None or info.seq != seq:
                heapq.heappop(self._backoff)
                continue
            if expiry > now:
                break
            heapq.heappop(self._backoff)
            del self._backoff_keys[key]
            self._push_active(info)

    def flush_unschedulable_leftover(self) -> None:
        now = self._clock()
        stale = [i for i in self._unschedulable.values()
                 if not i.gated and now - i.timestamp > self.max_in_unschedulable]
        self._move(stale, framework.UNSCHEDULABLE_TIMEOUT)

    async def run(self, stop: asyncio.Event) -> None:
        """Periodic flushes until ``stop``; then wake ``pop`` waiters with None."""
        last_leftover = self._clock()
        try:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), BACKOFF_FLUSH_PERIOD)
                except TimeoutError:
                    pass
                self.flush_backoff_completed()
                if self._clock() - last_leftover >= UNSCHEDULABLE_FLUSH_PERIOD:
                    last_leftover = self._clock()
                    self.flush_unschedulable_leftover()
        finally:
            self.close()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # --- nominator ----------------------------------------------------------------------------------
    def _nominate_from_status(self, pi: PodInfo) -> None:
        node = (pi.pod.get("status") or {}).get("nominatedNodeName") or ""
        if node:
            self.add_nominated(pi, node)
        elif pi.key in self._nominated_node:
            self.delete_nominated(pi.key)

    def add_nominated(self, pi: PodInfo, node: str) -> None:
        self.delete_nominated(pi.key)
        self._nominated.setdefault(node, {})[pi.key] = pi
        self._nominated_node[pi.key] = node

    def delete_nominated(self, key: str) -> None:
        node = self._nominated_node.pop(key, None)
        if node is not None:
            pods = self._nominated.get(node)
            if pods is not None:
                pods.pop(key, None)
                if not pods:
                    del self._nominated[node]

    def nominated_pods_for_node(self, node: str) -> list[PodInfo]:
        pods = self._nominated.get(node)
        return list(pods.values()) if pods else []

    @property
    def has_nominated(self) -> bool:
        return bool(self._nominated)
