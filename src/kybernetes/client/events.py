"""Event recorder: ``record()`` is synchronous and never blocks; a background poster writes
core/v1 Events, aggregating repeats of the same (object, field path, type, reason, message) into one
Event with a growing ``count`` — what ``kubectl describe`` and ``kubectl get events`` show. A field
path names the part of the object the event is about (``involvedObject.fieldPath``), as the kubelet
does for containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import time
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.rest import EVENTS, Client

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
QUEUE_LIMIT = 1000


def object_reference(obj: dict[str, Any], field_path: str = "") -> dict[str, Any]:
    md = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "namespace": md.get("namespace", ""), "name": md.get("name", ""),
           "uid": md.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": md.get("resourceVersion", "")}
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host or socket.gethostname()
        self._queue: asyncio.Queue[tuple[dict[str, Any], str, str, str]] = asyncio.Queue(QUEUE_LIMIT)
        self._seen: dict[str, tuple[str, int]] = {}  # aggregation key → (event name, count)
        self._task: asyncio.Task[None] | None = None
        self._extra: list[asyncio.Task[None]] = []  # further posters (``start(workers=N)``)

    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None:
        """Queue an event about ``obj`` (about its part ``field_path``, e.g. ``spec.containers{web}``, if
        given); dropped (and logged) if the poster is far behind."""
        try:
            self._queue.put_nowait((object_reference(obj, field_path), type_, reason, message))
        except asyncio.QueueFull:
            log.warning("dropping event %s %s: queue full", reason, message)

    def start(self, workers: int = 1) -> None:
        """Start posting; ``workers`` > 1 posts that many events concurrently (busy components)."""
        if self._task is None:
            self._task = asyncio.create_task(self._post_loop(), name=f"events-{self.component}")
            self._extra = [asyncio.create_task(self._post_loop(), name=f"events-{self.component}-{i}")
                           for i in range(1, workers)]

    async def stop(self) -> None:
        if self._task:
            for t in (self._task, *self._extra):
                t.cancel()
            for t in (self._task, *self._extra):
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    async def flush(self) -> None:
        """Wait until every queued event has been posted (tests use this instead of sleeping)."""
        await self._queue.join()

    async def _post_loop(self) -> None:
        while True:
            ref, type_, reason, message = await self._queue.get()
            try:
                await self._post(ref, type_, reason, message)
            except ApiError as e:
                log.debug("posting event %s failed: %s", reason, e)
            except Exception:
                log.exception("posting event %s failed", reason)
            finally:
                self._queue.task_done()

    async def _post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        ns = ref.get("namespace") or "default"
        now = format_time()
        agg = "|".join((ref.get("uid", ""), ref.get("fieldPath", ""), type_, reason, message))
        seen = self._seen.get(agg)
        if seen is not None:
            name, count = seen
            try:
                await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": now}, ns)
                self._seen[agg] = (name, count + 1)
                return
            except NotFoundError:
                self._seen.pop(agg, None)
        suffix = hashlib.sha1(f"{agg}{time.time_ns()}".encode()).hexdigest()[:16]
        name = f"{ref.get('name', 'unknown')}.{suffix}"
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref, "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component, "host": self.host},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        await self.client.create(EVENTS, event, ns)
        if len(self._seen) > 4096:
            self._seen.clear()
        self._seen[agg] = (name, 1)
