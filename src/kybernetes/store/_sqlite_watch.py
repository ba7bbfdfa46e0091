"""The watch side of ``SQLiteStore``: replay from the database, then the in-process fan-out.

``SQLiteStore.watch`` returns a ``WatchStream``; the commit callback (``SQLiteStore._on_commit``)
offers each batch of events to every ``Subscription``. A subscription that falls more than its
limit behind is dropped and its stream raises ``WatchOverflow``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kybernetes.store import _sqlite_db as db
from kybernetes.store import interface

if TYPE_CHECKING:
    from kybernetes.store.sqlite import SQLiteStore


class WatchOverflow(interface.StoreError):
    """The watcher fell more than ``watch_queue_limit`` events behind and was dropped; watch again
    from the last revision you processed."""

    def __init__(self, prefix: str, limit: int) -> None:
        super().__init__(f"watch of {prefix!r} dropped: more than {limit} undelivered events")
        self.prefix = prefix
        self.limit = limit




@dataclass(eq=False, slots=True)
class Subscription:
    """A watcher's live feed: events pushed by the commit callback, bounded."""

    prefix: str
    limit: int
    buf: collections.deque[interface.Event] = field(default_factory=collections.deque)
    waiter: asyncio.Future[None] | None = None
    overflowed: bool = False
    closed: bool = False

    def offer(self, events: list[interface.Event]) -> bool:
        """Queue the matching events; False if this overflowed (and must be dropped)."""
        prefix = self.prefix
        if prefix:
            self.buf.extend(e for e in events if e.kv.key.startswith(prefix))
        else:
            self.buf.extend(events)
        if len(self.buf) > self.limit:
            self.buf.clear()
            self.overflowed = True
            self.wake()
            return False
        if self.buf:
            self.wake()
        return True

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class WatchStream(AsyncIterator[interface.Event]):
    """The iterator ``SQLiteStore.watch`` returns: replay from the database, then live events."""

    def __init__(self, store: SQLiteStore, prefix: str, from_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._last = from_revision  # every event up to here was delivered (or is in _pending)
        self._pending: collections.deque[interface.Event] = collections.deque()
        self._sub: Subscription | None = None
        self._target: int | None = None  # replay up to here before going live (None: snapshot's)
        self._live = False
        self._started = False
        self._done = False

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> interface.Event:
        if self._done:
            raise StopAsyncIteration
        try:
            return await self._next()
        except asyncio.CancelledError:  # e.g. wait_for(anext(w), timeout): no state was lost, go on later
            raise
        except BaseException:
            self._finish()
            raise

    async def aclose(self) -> None:
        self._finish()

    def _finish(self) -> None:
        self._done = True
        if self._sub is not None:
            self._store._unsubscribe(self._sub)
            self._sub = None

    def _subscribe(self) -> None:
        store = self._store
        if store.closing:
            raise StopAsyncIteration
        self._sub = store._subscribe(self._prefix)
        weakref.finalize(self, store._unsubscribe, self._sub)
        self._target = store.revision  # every later event reaches the subscription

    async def _next(self) -> interface.Event:
        store = self._store
        if not self._started:
            self._started = True
            if store.closing:
                raise StopAsyncIteration
            store._check_open()
            if self._last < store.compacted_revision - 1:
                raise interface.Compacted(self._last, store.compacted_revision)
            if self._last >= store.revision:  # nothing to replay: go live at once
                self._subscribe()
                self._live = True
        while not self._pending:
            if self._live:
                return await self._next_live()
            if store.closing:
                raise StopAsyncIteration
            read = functools.partial(db.read_events, prefix=self._prefix, after=self._last, upto=self._target)
            events, covered, complete = await store._readers_run(read)
            self._pending.extend(events)
            self._last = covered
            if complete:
                if self._sub is None:  # caught up with the database: read what lands meanwhile, then live
                    self._subscribe()
                    assert self._target is not None
                    if self._target <= self._last:
                        self._live = True
                else:
                    self._live = True
        event = self._pending.popleft()
        return event

    async def _next_live(self) -> interface.Event:
        sub = self._sub
        assert sub is not None
        while True:
            while sub.buf:
                event = sub.buf.popleft()
                if event.kv.mod_revision > self._last:
                    self._last = event.kv.mod_revision
                    return event
            if sub.overflowed:
                raise WatchOverflow(sub.prefix, sub.limit)
            if sub.closed:
                raise StopAsyncIteration
            sub.waiter = self._store.loop.create_future()
            try:
                await sub.waiter
            finally:
                sub.waiter = None


