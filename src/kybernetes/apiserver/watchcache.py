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
EXPECTED_LIMIT = 10_000  # written objects waiting for their change to reach the cache


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
    obj: dict[str, Any] = orjson.loads(kv.value)
    md = obj.get("metadata")
    if isinstance(md, dict):
        md["resourceVersion"] = str(kv.mod_revision)
    return obj


def _prefix_end(prefix: str) -> str | None:
    """The smallest string after every string that starts with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


@dataclass(slots=True, eq=False)
class Watcher:
    """One subscription: its pending changes (None ends it) and the task waiting for them."""

    prefix: str
    buf: collections.deque[Change | None] = field(default_factory=collections.deque)
    waiter: asyncio.Future[None] | None = None
    overflowed: bool = False

    def put(self, change: Change | None) -> None:
        self.buf.append(change)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


#: What ``Changes.poke`` makes a waiting reader get: not a change, a reason to look at the clock.
POKE = Change("POKE", "", 0, {}, None)


class WatchCache:
    def __init__(self, store: Store, root: str = "/registry/", window: int = WINDOW) -> None:
        self.store = store
        self.root = root
        self.revision = 0
        self._by_prefix: dict[str, dict[str, Entry]] = {}
        self._sorted_keys: dict[str, list[str]] = {}
        self._window: collections.deque[Change] = collections.deque(maxlen=window)
        self._watchers: set[Watcher] = set()
        # the same watchers by the resource prefix they are under ("" for broader prefixes), so
        # an event only visits the watchers of its own resource
        self._watchers_by_resource: dict[str, set[Watcher]] = {}
        self._revision_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._expected: dict[str, tuple[bytes, dict[str, Any]]] = {}  # key → (value, object), see ``expect``
        self._last_change: dict[str, int] = {}  # resource prefix → revision of its latest change
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
            w.put(None)

    async def _run(self, from_revision: int) -> None:
        try:
            async for ev in self.store.watch(self.root, from_revision):
                self._apply(ev)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watch cache feed failed")
            raise

    def _put(self, key: str, entry: Entry, prefix: str = "") -> None:
        prefix = prefix or self.resource_prefix(key)
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

    def expect(self, key: str, value: bytes, obj: dict[str, Any]) -> None:
        """A write is about to store ``value`` (the encoding of ``obj``) at ``key``: when its change
        arrives carrying that very bytes object, the feed takes ``obj`` (resourceVersion set)
        instead of decoding the bytes again. The caller must not change ``obj`` from here on,
        except to set the same resourceVersion: it may be shared like every cached object."""
        if len(self._expected) >= EXPECTED_LIMIT:  # writes that failed without withdrawing
            self._expected.clear()
        self._expected[key] = (value, obj)

    def withdraw(self, key: str, value: bytes) -> None:
        """The write ``expect`` announced did not happen."""
        pending = self._expected.get(key)
        if pending is not None and pending[0] is value:
            del self._expected[key]

    def _apply(self, ev: Event) -> None:
        kv = ev.kv
        prefix = self.resource_prefix(kv.key)
        if ev.type == "PUT":
            pending = self._expected.pop(kv.key, None) if self._expected else None
            if pending is not None and pending[0] is kv.value:
                obj = pending[1]
                obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
            else:
                obj = decode(kv)
            objs = self._by_prefix.get(prefix)
            old = objs.get(kv.key) if objs else None
            self._put(kv.key, Entry(kv.key, kv.mod_revision, obj), prefix)
            change = Change("PUT", kv.key, kv.mod_revision, obj, old.obj if old else None)
        else:
            old = self._remove(kv.key)
            obj = old.obj if old else decode(kv)
            obj = dict(obj)
            obj["metadata"] = dict(obj.get("metadata") or {})
            obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
            change = Change("DELETE", kv.key, kv.mod_revision, obj, old.obj if old else None)
        self.revision = self._last_change[prefix] = kv.mod_revision
        self._window.append(change)
        by_resource = self._watchers_by_resource
        for group in (by_resource.get(prefix), by_resource.get("")):
            if not group:
                continue
            for w in tuple(group):
                if kv.key.startswith(w.prefix):
                    if len(w.buf) >= WATCHER_QUEUE_LIMIT:
                        w.overflowed = True
                        self._drop(w)
                        w.put(None)
                    else:
                        w.put(change)
        self._notify()

    def _add(self, w: Watcher) -> None:
        self._watchers.add(w)
        self._watchers_by_resource.setdefault(self._resource_of(w.prefix), set()).add(w)

    def _drop(self, w: Watcher) -> None:
        self._watchers.discard(w)
        group = self._watchers_by_resource.get(self._resource_of(w.prefix))
        if group is not None:
            group.discard(w)
            if not group:
                del self._watchers_by_resource[self._resource_of(w.prefix)]

    @classmethod
    def _resource_of(cls, prefix: str) -> str:
        """The resource prefix every key under ``prefix`` shares, or "" if they span resources."""
        return cls.resource_prefix(prefix) if prefix.count("/") >= 4 else ""

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
    def last_change(self, resource_prefix: str) -> int:
        """The revision of the latest change the feed applied under ``resource_prefix`` (0: none
        since the cache started), e.g. to know when something derived from a resource is stale."""
        return self._last_change.get(resource_prefix, 0)

    def get(self, key: str) -> Entry | None:
        return self._by_prefix.get(self.resource_prefix(key), {}).get(key)

    def list(self, prefix: str, start_after: str = "") -> list[Entry]:
        """Entries under ``prefix`` (a resource prefix, optionally narrowed to a namespace),
        in key order, strictly after ``start_after``."""
        rprefix = self.resource_prefix(prefix + "x")
        keys = self._sorted_keys.get(rprefix, [])
        objs = self._by_prefix.get(rprefix, {})
        lo = bisect.bisect_left(keys, prefix)
        if start_after:
            lo = max(lo, bisect.bisect_right(keys, start_after))
        end = _prefix_end(prefix)
        hi = bisect.bisect_left(keys, end, lo) if end is not None else len(keys)
        return [objs[k] for k in keys[lo:hi]]  # the sorted keys with the prefix: one slice

    def count(self, prefix: str) -> int:
        return len(self._by_prefix.get(prefix, {}))

    # --- watches --------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def subscribe(self, prefix: str, from_revision: int | None) -> AsyncIterator[Changes]:
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
            yield _StoreChanges(store_iter)
            return
        self._add(watcher)
        try:
            yield _CachedChanges(watcher, backlog)
        finally:
            self._drop(watcher)


class Changes(AsyncIterator[Change]):
    """What ``WatchCache.subscribe`` yields: the changes in order, ending when the watch must end.

    Cancelling a pending ``__anext__`` (a timeout) loses nothing: the next call carries on.
    ``next_nowait`` returns a change that is already waiting, or None. If ``pokable``, ``poke``
    puts ``POKE`` after the changes already waiting: a cheaper way to wake the reader for
    bookmarks and deadlines than a timeout around every wait.
    """

    pokable = False

    def next_nowait(self) -> Change | None:
        return None

    def poke(self) -> None:
        raise NotImplementedError


class _CachedChanges(Changes):
    pokable = True

    def __init__(self, watcher: Watcher, backlog: list[Change]) -> None:
        self._watcher = watcher
        self._backlog = collections.deque(backlog)
        self._ended = False

    def next_nowait(self) -> Change | None:
        if self._backlog:
            return self._backlog.popleft()
        buf = self._watcher.buf
        if self._ended or not buf:
            return None
        change = buf.popleft()
        if change is None:
            self._ended = True
        return change

    def poke(self) -> None:
        self._watcher.put(POKE)

    async def __anext__(self) -> Change:
        if self._backlog:
            return self._backlog.popleft()
        watcher = self._watcher
        while not self._ended:
            if watcher.buf:
                change = watcher.buf.popleft()
                if change is None:
                    break
                return change
            watcher.waiter = asyncio.get_running_loop().create_future()
            try:
                await watcher.waiter  # the changes stay in ``buf``: cancelling here loses none
            finally:
                watcher.waiter = None
        self._ended = True
        raise StopAsyncIteration


class _StoreChanges(Changes):
    """A replay from the store (older than the window), decoded into changes."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self._events = events
        self._prev: dict[str, dict[str, Any]] = {}

    async def __anext__(self) -> Change:
        ev = await self._events.__anext__()  # the store's watch survives a cancelled anext
        obj = decode(ev.kv)
        p = decode(ev.prev) if ev.prev else self._prev.get(ev.kv.key)
        if ev.type == "DELETE":
            obj["metadata"]["resourceVersion"] = str(ev.kv.mod_revision)
            self._prev.pop(ev.kv.key, None)
        else:
            self._prev[ev.kv.key] = obj
        return Change(ev.type, ev.kv.key, ev.kv.mod_revision, obj, p)


class Follower:
    """Base of in-process consumers of the cache (service allocations, CRD serving): after a
    preload, every change under ``prefix`` goes to ``on_change`` in order; a failing change is
    logged and the next one still handled."""

    prefix = "/registry/"

    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache
        self._task: asyncio.Task[None] | None = None

    async def on_change(self, change: Change) -> None:
        raise NotImplementedError

    def follow(self, name: str) -> None:
        """Start following from the cache's current revision (call after preloading from it)."""
        self._task = asyncio.create_task(self._run(self.cache.revision), name=name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, revision: int) -> None:
        async with self.cache.subscribe(self.prefix, revision) as changes:
            async for change in changes:
                try:
                    await self.on_change(change)
                except Exception:
                    log.exception("%s: handling %s failed", type(self).__name__, change.key)

