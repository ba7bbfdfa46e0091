"""The loop every controller runs: informer callbacks enqueue keys, workers call ``sync(key)``.

``Controller`` holds the work queue and the informers whose caches must be synced before any work
starts (client-go's ``WaitForCacheSync``). ``run(workers)`` starts that many workers; each takes a
key, calls ``self.sync_handler(key)`` (tests swap it), then forgets the key or requeues it with
per-key backoff. A key is never held by two workers (the queue guarantees it). ``process_queue`` is
the same worker for controllers with more than one queue (the garbage collector).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from kybernetes.client import workqueue
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.workqueue import SyncHandler, process_queue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Clock = Callable[[], float]


class Recorder(Protocol):
    """What controllers need of ``client.events.EventRecorder`` (a fake in tests)."""

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class Controller:
    """Base of the single-queue controllers; subclasses implement ``sync`` and the callbacks."""

    name = "controller"

    def __init__(self, informers: Iterable[Informer]) -> None:
        self.queue = workqueue.WorkQueue()
        self._informers = list(informers)
        self.sync_handler: SyncHandler = self.sync

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(key_of(obj))

    def enqueue_after(self, obj: Obj, delay: float) -> None:
        self.queue.add_after(key_of(obj), delay)

    async def wait_for_cache_sync(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers))

    async def run(self, workers: int = 1) -> None:
        log.info("Starting %s controller", self.name)
        try:
            await self.wait_for_cache_sync()
            log.debug("%s: caches synced, starting %d workers", self.name, workers)
            async with asyncio.TaskGroup() as tg:
                for i in range(workers):
                    tg.create_task(process_queue(self.queue, self._handle, self.name), name=f"{self.name}-{i}")
        finally:
            await self.queue.shutdown()
            log.info("Shutting down %s controller", self.name)

    async def _handle(self, key: str) -> None:
        await self.sync_handler(key)


def split_key(key: str) -> tuple[str, str]:
    """``ns/name`` → (ns, name); ``name`` → ("", name)."""
    ns, _, name = key.rpartition("/")
    return ns, name
