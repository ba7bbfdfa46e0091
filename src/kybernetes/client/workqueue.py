"""Rate-limited work queue of object keys, with client-go's semantics.

Duplicate adds collapse; a key being processed is never handed to a second worker (an add during
processing re-queues it once ``done``); ``add_rate_limited`` backs off per key exponentially until
``forget``; ``add_after`` schedules timed re-syncs.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable

from kybernetes.client.errors import AlreadyExistsError, ApiError, ConflictError

log = logging.getLogger(__name__)


class WorkQueue:
    def __init__(self, base_delay: float = 0.005, max_delay: float = 300.0) -> None:
        self._queue: collections.deque[str] = collections.deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._cond = asyncio.Condition()
        self._shutdown = False
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None and existing.when() <= loop.time() + delay:
            return
        if existing is not None:
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_later(delay, fire)

    def add_rate_limited(self, key: str) -> None:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self.base_delay * (2 ** n), self.max_delay))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> str | None:
        """The next key, or None once shut down."""
        async with self._cond:
            await self._cond.wait_for(lambda: bool(self._queue) or self._shutdown)
            if not self._queue:
                return None
            key = self._queue.popleft()
            self._processing.add(key)
            self._dirty.discard(key)
            return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            asyncio.get_running_loop().create_task(self._notify())

    async def shutdown(self) -> None:
        self._shutdown = True
        for t in self._timers.values():
            t.cancel()
        async with self._cond:
            self._cond.notify_all()


SyncHandler = Callable[[str], Awaitable[None]]


async def process_queue(queue: WorkQueue, handler: SyncHandler, name: str) -> None:
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
        except (ConflictError, AlreadyExistsError) as e:  # a cache behind the server: not worth more than debug
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
