"""In-memory watch cache: every object of the store, plus a window of recent changes.

One store watch on ``/registry/`` feeds it (started from the revision the initial range was read
at, so nothing is missed or seen twice). Lists are served from it, and watches subscribe to it:
each watcher has a bounded queue; a watcher that falls too far behind is ended (its client
re-lists), so one slow reader can never grow memory without bound. Watches from a revision older
than the window go to the store, which replays its history (or says it was compacted → 410).
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.store.interface import Event, KeyValue, Store

log = logging.getLogger(__name__)

WINDOW = 20_000  # recent events kept for watches that resume from a resourceVersion
WATCHER_QUEUE_LIMIT = 50_000


@dataclass(slots=True)
class Entry:
    """One live object: its store metadata and decoded form with resourceVersion set."""

    key: str
    revision: int
    obj: dict[str, Any]
    _raw: bytes | None = None

    def raw(self) -> bytes:
        """The object serialised as JSON (cached: lists join these bytes)."""
        if self._raw is None:
            self._raw = orjson.dumps(self.obj)
        return self._raw


@dataclass(slots=True)
class Change:
    """A change as watchers see it: type PUT/DELETE, the new object (or the deleted one), the previous."""

    type: str
    key: str
    revision: int
    obj: dict[str, Any]
    prev: dict[str, Any] | None


def decode(kv: KeyValue) -> dict[str, Any]:
    obj = orjson.loads(kv.value)
    md = obj.get("metadata")
    if isinstance(md, dict):
        md["resourceVersion"] = str(kv.mod_revision)
    return obj


@dataclass(slots=True, eq=False)
class Watcher:
    prefix: str
    queue: asyncio.Queue[Change | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False


class WatchCache:
    def __init__(self, store: Store, root: str = "/registry/", window: int = WINDOW) -> None:
        self.store = store
        self.root = root
        self.revision = 0
        self._by_prefix: dict[str, dict[str, Entry]] = {}
        self._sorted_keys: dict[str, list[str]] = {}
        self._window: collections.deque[Change] = collections.deque(maxlen=window)
        self._watchers: set[Watcher] = set()
        self._revision_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    @staticmethod
    def resource_prefix(key: str) -> str:
        """``/registry/apps/deployments/ns/name`` → ``/registry/apps/deployments/``."""
        parts = key.split("/", 4)  # ['', 'registry', group, plural, rest]
        return "/".join(parts[:4]) + "/"

    async def start(self) -> None:
        result = await self.store.range(self.root)
        for kv in result.kvs:
            self._put(kv.key, Entry(kv.key, kv.mod_revision, decode(kv)))
        self.revision = result.revision
        self._task = asyncio.create_task(self._run(result.revision), name="watchcache")
        self.ready.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for w in list(self._watchers):
            w.queue.put_nowait(None)

    async def _run(self, from_revision: int) -> None:
        try:
            async for ev in self.store.watch(self.root, from_revision):
                self._apply(ev)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watch cache feed failed")
            raise

    def _put(self, key: str, entry: Entry) -> None:
        prefix = self.resource_prefix(key)
        objs = self._by_prefix.setdefault(prefix, {})
        if key not in objs:
            bisect.insort(self._sorted_keys.setdefault(prefix, []), key)
        objs[key] = entry

    def _remove(self, key: str) -> Entry | None:
        prefix = self.resource_prefix(key)
        objs = self._by_prefix.get(prefix)
        if not objs or key not in objs:
            return None
        keys = self._sorted_keys[prefix]
        del keys[bisect.bisect_left(keys, key)]
        return objs.pop(key)

    def _apply(self, ev: Event) -> None:
        kv = ev.kv
        if ev.type == "PUT":
            obj = decode(kv)
            prefix = self.resource_prefix(kv.key)
            old = self._by_prefix.get(prefix, {}).get(kv.key)
            self._put(kv.key, Entry(kv.key, kv.mod_revision, obj))
            change = Change("PUT", kv.key, kv.mod_revision, obj, old.obj if old else None)
        else:
            old = self._remove(kv.key)
            obj = old.obj if old else decode(kv)
            obj = dict(obj)
            obj["metadata"] = dict(obj.get("metadata") or {})
            obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
            change = Change("DELETE", kv.key, kv.mod_revision, obj, old.obj if old else None)
        self.revision = kv.mod_revision
        self._window.append(change)
        for w in tuple(self._watchers):
            if kv.key.startswith(w.prefix):
                if w.queue.qsize() >= WATCHER_QUEUE_LIMIT:
                    w.overflowed = True
                    self._watchers.discard(w)
                    w.queue.put_nowait(None)
                else:
                    w.queue.put_nowait(change)
        self._notify()

    def _notify(self) -> None:
        if not self._revision_waiters:
            return
        waiting = []
        for rev, fut in self._revision_waiters:
            if rev <= self.revision:
                if not fut.done():
                    fut.set_result(None)
            else:
                waiting.append((rev, fut))
        self._revision_waiters = waiting

    async def wait_for(self, revision: int) -> None:
        """Wait until the cache has applied ``revision`` (a consistent read after a write)."""
        if self.revision >= revision:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._revision_waiters.append((revision, fut))
        async with asyncio.timeout(5.0):
            await fut

    async def wait_fresh(self) -> None:
        """Wait until the cache reflects every write committed so far (``resourceVersion=""`` reads)."""
        await self.wait_for(self.store.revision)

    # --- reads ----------------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        return self._by_prefix.get(self.resource_prefix(key), {}).get(key)

    def list(self, prefix: str, start_after: str = "") -> list[Entry]:
        """Entries under ``prefix`` (a resource prefix, optionally narrowed to a namespace),
        in key order, strictly after ``start_after``."""
        rprefix = self.resource_prefix(prefix + "x")
        keys = self._sorted_keys.get(rprefix, [])
        objs = self._by_prefix.get(rprefix, {})
        lo = bisect.bisect_right(keys, start_after) if start_after else bisect.bisect_left(keys, prefix)
        out = []
        for i in range(lo, len(keys)):
            k = keys[i]
            if not k.startswith(prefix):
                if k > prefix:
                    break
                continue
            out.append(objs[k])
        return out

    def count(self, prefix: str) -> int:
        return len(self._by_prefix.get(prefix, {}))

    # --- watches --------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def subscribe(self, prefix: str, from_revision: int | None) -> AsyncIterator[AsyncIterator[Change]]:
        """Changes under ``prefix`` after ``from_revision`` (None: from now).

        Raises ``Compacted`` when the revision is older than the cache window and the store no
        longer has it either.
        """
        watcher = Watcher(prefix)
        backlog: list[Change] = []
        store_iter: AsyncIterator[Event] | None = None
        if from_revision is not None and from_revision < self.revision:
            oldest = self._window[0].revision if self._window else self.revision + 1
            if from_revision >= oldest - 1:
                backlog = [c for c in self._window if c.revision > from_revision and c.key.startswith(prefix)]
            else:
                store_iter = self.store.watch(prefix, from_revision)
        if store_iter is not None:
            yield self._from_store(store_iter)
            return
        self._watchers.add(watcher)
        try:
            yield self._iterate(watcher, backlog)
        finally:
            self._watchers.discard(watcher)

    async def _iterate(self, watcher: Watcher, backlog: list[Change]) -> AsyncIterator[Change]:
        for c in backlog:
            yield c
        while True:
            change = await watcher.queue.get()
            if change is None:
                return
            yield change

    async def _from_store(self, events: AsyncIterator[Event]) -> AsyncIterator[Change]:
        prev: dict[str, dict[str, Any]] = {}
        async for ev in events:
            obj = decode(ev.kv)
            p = decode(ev.prev) if ev.prev else prev.get(ev.kv.key)
            if ev.type == "DELETE":
                obj["metadata"]["resourceVersion"] = str(ev.kv.mod_revision)
                prev.pop(ev.kv.key, None)
            else:
                prev[ev.kv.key] = obj
            yield Change(ev.type, ev.kv.key, ev.kv.mod_revision, obj, p)

