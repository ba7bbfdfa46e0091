"""Shared informers: list + watch one resource into a local cache and notify handlers.

The cache is the reader's truth (controllers read listers, never the API, in ``sync``); handlers
only turn changes into work-queue keys. A watch that ends is resumed from the last seen
resourceVersion; a 410 (too old) relists and reports the differences as adds/updates/deletes.
Objects in the cache are shared: callers must deep-copy before mutating.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from kybernetes.client.errors import ApiError, GoneError
from kybernetes.client.rest import Client, Resource

if TYPE_CHECKING:
    from kybernetes.client.events import EventRecorder

log = logging.getLogger(__name__)

Obj = dict[str, Any]
AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]
IndexFunc = Callable[[Obj], list[str]]


def key_of(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{ns}/{md['name']}" if ns else md["name"]


def namespace_index(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace", "")]


class Informer:
    def __init__(self, client: Client, resource: Resource, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {"namespace": namespace_index}
        self._indices: dict[str, dict[str, set[str]]] = {"namespace": {}}
        self._on_add: list[AddHandler] = []
        self._on_update: list[UpdateHandler] = []
        self._on_delete: list[DeleteHandler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.resource_version = ""

    # --- registration ---------------------------------------------------------------------------
    def add_handlers(self, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                     on_delete: DeleteHandler | None = None) -> None:
        if on_add:
            self._on_add.append(on_add)
            for obj in list(self.store.values()):
                on_add(obj)
        if on_update:
            self._on_update.append(on_update)
        if on_delete:
            self._on_delete.append(on_delete)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        self._indexers[name] = fn
        idx: dict[str, set[str]] = {}
        for k, obj in self.store.items():
            for v in fn(obj):
                idx.setdefault(v, set()).add(k)
        self._indices[name] = idx

    # --- reads ----------------------------------------------------------------------------------
    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self.store.values())
        return self.by_index("namespace", namespace)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:  # ``list`` is the method here
        return [self.store[k] for k in self._indices[name].get(value, ()) if k in self.store]

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer-{self.resource.plural}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _index_put(self, key: str, old: Obj | None, new: Obj | None) -> None:
        for name, fn in self._indexers.items():
            idx = self._indices[name]
            if old is not None:
                for v in fn(old):
                    s = idx.get(v)
                    if s is not None:
                        s.discard(key)
                        if not s:
                            del idx[v]
            if new is not None:
                for v in fn(new):
                    idx.setdefault(v, set()).add(key)

    def _apply(self, ev_type: str, obj: Obj) -> None:
        key = key_of(obj)
        old = self.store.get(key)
        if ev_type == "DELETED":
            if old is None:
                return
            del self.store[key]
            self._index_put(key, old, None)
            for h in self._on_delete:
                h(obj)
            return
        self.store[key] = obj
        self._index_put(key, old, obj)
        if old is None:
            for h in self._on_add:
                h(obj)
        else:
            for on_update in self._on_update:
                on_update(old, obj)

    async def _list(self) -> None:
        result = await self.client.list(self.resource, self.namespace, labelSelector=self.label_selector,
                                        fieldSelector=self.field_selector)
        fresh = {key_of(o): o for o in result.get("items") or []}
        for o in fresh.values():
            o.setdefault("apiVersion", self.resource.api_version)
            o.setdefault("kind", self.resource.kind)
        for key in [k for k in self.store if k not in fresh]:
            self._apply("DELETED", self.store[key])
        for o in fresh.values():
            old = self.store.get(key_of(o))
            if old is None or old.get("metadata", {}).get("resourceVersion") != o["metadata"].get("resourceVersion"):
                self._apply("ADDED" if old is None else "MODIFIED", o)
        self.resource_version = result.get("metadata", {}).get("resourceVersion", "")
        self._synced.set()

    async def _run(self) -> None:
        backoff = 0.2
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                async for ev in self.client.watch(self.resource, self.namespace, self.resource_version,
                                                  labelSelector=self.label_selector,
                                                  fieldSelector=self.field_selector):
                    t, obj = ev.get("type"), ev.get("object") or {}
                    if t == "ERROR":
                        if obj.get("code") == 410:
                            need_list = True
                            break
                        raise ApiError(int(obj.get("code") or 500), obj)
                    self.resource_version = (obj.get("metadata") or {}).get("resourceVersion", self.resource_version)
                    if t == "BOOKMARK":
                        continue
                    self._apply(str(t), obj)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except GoneError:
                need_list = True
            except (ApiError, OSError, TimeoutError, ValueError) as e:
                log.debug("watch %s failed: %s; retrying in %.1fs", self.resource.plural, e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


async def run_until_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, None], informers: Iterable[Informer],
                            recorder: EventRecorder | None = None) -> None:
    """A packaged controller's lifetime: start its event ``recorder`` and ``informers``, run
    ``work`` (its workers) until ``stop`` is set, then stop all of them again."""
    informers = list(informers)
    if recorder is not None:
        recorder.start()
    for informer in informers:
        informer.start()
    task = asyncio.create_task(work)
    try:
        await stop.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.gather(*(i.stop() for i in informers))
        if recorder is not None:
            await recorder.stop()
