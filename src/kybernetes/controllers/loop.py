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
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from kybernetes.client import workqueue
from kybernetes.client.errors import ApiError, ConflictError
from kybernetes.client.informer import Informer, key_of

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SyncHandler = Callable[[str], Awaitable[None]]
Clock = Callable[[], float]


class Recorder(Protocol):
    """What controllers need of ``client.events.EventRecorder`` (a fake in tests)."""

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


async def process_queue(queue: workqueue.WorkQueue, handler: SyncHandler, name: str) -> None:
    """Worker: take keys until the queue shuts down; failures requeue with backoff."""
    while True:
        key = await queue.get()
        if key is None:
            return
        start = time.monotonic()
        try:
            await handler(key)
            queue.forget(key)
        except asyncio.CancelledError:
            queue.done(key)
            raise
        except ConflictError as e:
            log.debug("%s: syncing %s hit a conflict, requeueing: %s", name, key, e)
            queue.add_rate_limited(key)
        except ApiError as e:
            log.info("%s: error syncing %s: %s", name, key, e)
            queue.add_rate_limited(key)
        except Exception:
            log.exception("%s: error syncing %s", name, key)
            queue.add_rate_limited(key)
        else:
            log.debug("%s: finished syncing %s (%.1f ms)", name, key, (time.monotonic() - start) * 1000)
        queue.done(key)


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
