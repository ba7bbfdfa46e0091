"""GET handlers: get one object, list (with selectors, chunking, resourceVersion semantics), watch.

Lists and watches are served from the watch cache; a list that continues an earlier chunk or asks
for an exact past resourceVersion reads the store at that revision, so chunks of one list are a
consistent snapshot. Watch streams are newline-delimited JSON, flushed per event; the first Table
event alone carries column definitions, as the apiserver does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import time
import weakref
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api import errors, selectors
from kybernetes.api.strategy import ResourceInfo, Strategy
from kybernetes.apiserver import tables
from kybernetes.apiserver.objects import ObjectStore
from kybernetes.apiserver.request import Accept, RequestInfo, json_response, query_bool, query_int
from kybernetes.apiserver.watchcache import POKE, Change, Changes, Entry, decode
from kybernetes.store.interface import Compacted

BOOKMARK_INTERVAL = 30.0
MAX_EVENTS_PER_WRITE = 256  # events a watch sends in one write when many are queued
CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this response "
                    "to retrieve the remainder of the results. Continuing with the provided token results in an "
                    "inconsistent list - objects that were created, modified, or deleted between the time the "
                    "first chunk was returned and now may show up in the list.")

Predicate = Callable[[dict[str, Any]], bool]
Items = list[Any]  # cache entries or decoded objects (``list`` itself is a method name in ``Reads``)


class _SelectableFields:
    """The field-selector values of a kind's recent objects, shared by all its watchers.

    Every watcher with a field selector matches each change (object and previous object) against
    its own selector; the values are computed once per object instead. Objects served to watchers
    and lists are never changed, so an entry stays right for as long as it holds its object (which
    also keeps the ``id`` from being reused).
    """

    def __init__(self, strategy: Strategy, size: int = 256) -> None:
        self._strategy = strategy
        self._size = size
        self._memo: dict[int, tuple[dict[str, Any], dict[str, str]]] = {}

    def of(self, obj: dict[str, Any]) -> dict[str, str]:
        hit = self._memo.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        fields = self._strategy.field_selectors(obj)
        if len(self._memo) >= self._size:
            del self._memo[next(iter(self._memo))]
        self._memo[id(obj)] = (obj, fields)
        return fields


_selectable: weakref.WeakKeyDictionary[Strategy, _SelectableFields] = weakref.WeakKeyDictionary()


def make_predicate(info: ResourceInfo, request: web.Request) -> tuple[Predicate | None, selectors.FieldSelector]:
    label_sel = selectors.parse_label_selector(request.query.get("labelSelector"))
    field_sel = selectors.parse_field_selector(request.query.get("fieldSelector"))
    if not field_sel.empty:
        probe = info.strategy.field_selectors({"metadata": {}})
        selectors.check_field_labels(field_sel, set(probe))
    if label_sel.empty and field_sel.empty:
        return None, field_sel
    fields = _selectable.get(info.strategy)
    if fields is None:
        fields = _selectable[info.strategy] = _SelectableFields(info.strategy)
    fields_of = fields.of

    def pred(obj: dict[str, Any]) -> bool:
        if not label_sel.empty and not label_sel.matches((obj.get("metadata") or {}).get("labels")):
            return False
        return field_sel.empty or field_sel.matches(fields_of(obj))

    return pred, field_sel


def encode_continue(rv: int, start: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        return int(data["rv"]), str(data["start"]).rstrip("\x00")
    except Exception:
        raise errors.bad_request("continue key is not valid: illegal base64 data or json") from None


class _FrameMemo:
    """Watch events of the latest changes as sent on the wire, shared by every watcher (bounded).

    A change's plain JSON event is the same bytes for all watchers of its kind, so a fan-out to
    N watchers encodes it once instead of N times. Keyed by (revision, event type): a revision
    names one stored object version.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._frames: dict[tuple[int, str], bytes] = {}

    def get(self, change: Change, ev_type: str, obj: dict[str, Any]) -> bytes:
        key = (change.revision, ev_type)
        data = self._frames.get(key)
        if data is None:
            data = orjson.dumps({"type": ev_type, "object": obj}) + b"\n"
            if len(self._frames) >= self._size:
                del self._frames[next(iter(self._frames))]
            self._frames[key] = data
        return data


class Reads:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self.cache = objects.cache
        self._watches: set[asyncio.Task[Any]] = set()
        self._frames = _FrameMemo()

    def end_watches(self) -> None:
        """Shutdown: end every open watch now, so the server does not wait for their timeouts."""
        for task in list(self._watches):
            task.cancel()

    # --- get ------------------------------------------------------------------------------------
    async def get(self, request: web.Request, ri: RequestInfo, info: ResourceInfo, accept: Accept) -> web.Response:
        rv = request.query.get("resourceVersion", "")
        if rv not in ("", "0"):
            await self._wait_rv(rv)
        elif rv == "":
            await self.cache.wait_fresh()
        entry = self.cache.get(info.key(ri.namespace, ri.name))
        if entry is None:
            raise errors.not_found(info.plural, info.group, ri.name)
        obj = self.objects.to_served(info, entry.obj)
        if accept.table:
            include = tables.include_object(request.query.get("includeObject"))
            return json_response(tables.table(info.strategy, [obj], include,
                                              {"resourceVersion": obj["metadata"].get("resourceVersion", "")}))
        if accept.partial_metadata:
            return json_response(tables.partial_metadata(obj))
        if info.from_storage is None and entry.obj.get("apiVersion") == info.api_version:
            return json_response(entry.raw())
        return json_response(obj)

    async def _wait_rv(self, rv: str) -> int:
        try:
            n = int(rv)
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{rv}"') from None
        if n > self.cache.revision:
            try:
                await self.cache.wait_for(n)
            except TimeoutError:
                raise errors.StatusError(504, "Timeout", f"Too large resource version: {n}, current: "
                                         f"{self.cache.revision}",
                                         {"causes": [{"reason": "ResourceVersionTooLarge",
                                                      "message": "Too large resource version"}],
                                          "retryAfterSeconds": 1}) from None
        return n

    # --- list -----------------------------------------------------------------------------------
    async def list(self, request: web.Request, ri: RequestInfo, info: ResourceInfo, accept: Accept) -> web.Response:
        pred, _ = make_predicate(info, request)
        limit = query_int(request, "limit") or 0
        token = request.query.get("continue", "")
        rv = request.query.get("resourceVersion", "")
        match = request.query.get("resourceVersionMatch", "")
        prefix = info.namespace_prefix(ri.namespace)
        if token and rv not in ("",):
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        if match and not rv:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if token:
            rev, start = decode_continue(token)
            objs, more_key, remaining = await self._list_store(prefix, pred, limit, rev, start)
            revision = rev
        elif match == "Exact" and rv not in ("0",):
            rev = int(rv) if rv.isdigit() else 0
            objs, more_key, remaining = await self._list_store(prefix, pred, limit, rev, "")
            revision = rev
        else:
            if rv == "":
                await self.cache.wait_fresh()
            elif rv != "0":
                await self._wait_rv(rv)
            revision = self.cache.revision
            objs, more_key, remaining = self._list_cache(prefix, pred, limit)
        list_meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if more_key is not None:
            list_meta["continue"] = encode_continue(revision, more_key)
            if remaining is not None:
                list_meta["remainingItemCount"] = remaining
        return self._render_list(request, info, accept, objs, list_meta)

    def _list_cache(self, prefix: str, pred: Predicate | None, limit: int
                    ) -> tuple[Items, str | None, int | None]:
        entries = self.cache.list(prefix)
        if pred is None:
            if limit and len(entries) > limit:
                return entries[:limit], entries[limit - 1].key, len(entries) - limit
            return entries, None, None
        out = []
        for i, e in enumerate(entries):
            if pred(e.obj):
                out.append(e)
                if limit and len(out) == limit:
                    rest = entries[i + 1:]
                    if any(pred(x.obj) for x in rest):
                        return out, e.key, None
                    return out, None, None
        return out, None, None

    async def _list_store(self, prefix: str, pred: Predicate | None, limit: int, revision: int, start: str
                          ) -> tuple[Items, str | None, int | None]:
        out: list[Any] = []
        cursor = start
        batch = max(limit, 500) if limit else 0
        try:
            while True:
                res = await self.objects.store.range(prefix, start=cursor, limit=batch, revision=revision)
                for kv in res.kvs:
                    obj = decode(kv)
                    cursor = kv.key
                    if pred is None or pred(obj):
                        out.append(obj)
                        if limit and len(out) == limit:
                            more = res.more or kv is not res.kvs[-1]
                            return out, (kv.key if more else None), None
                if not res.more:
                    return out, None, None
        except Compacted:
            raise errors.gone(CONTINUE_EXPIRED) from None

    def _render_list(self, request: web.Request, info: ResourceInfo, accept: Accept, items: Items,
                     list_meta: dict[str, Any]) -> web.Response:
        fast = info.from_storage is None
        if accept.table or accept.partial_metadata or not fast:
            objs = [self.objects.to_served(info, e.obj if hasattr(e, "obj") else e) for e in items]
            if accept.table:
                include = tables.include_object(request.query.get("includeObject"))
                return json_response(tables.table(info.strategy, objs, include, list_meta))
            if accept.partial_metadata:
                return json_response(tables.partial_list(objs, list_meta))
            return json_response({"kind": info.list_kind_name, "apiVersion": info.api_version,
                                  "metadata": list_meta, "items": objs})
        api_version = info.api_version
        parts = []
        for e in items:
            if type(e) is Entry and e.obj.get("apiVersion") == api_version:
                parts.append(e.raw())
            else:
                parts.append(orjson.dumps(self.objects.to_served(info, e.obj if hasattr(e, "obj") else e)))
        head = orjson.dumps({"kind": info.list_kind_name, "apiVersion": info.api_version, "metadata": list_meta})
        body = head[:-1] + b',"items":[' + b",".join(parts) + b"]}"
        return json_response(body)

    # --- watch ----------------------------------------------------------------------------------
    async def watch(self, request: web.Request, ri: RequestInfo, info: ResourceInfo, accept: Accept
                    ) -> web.StreamResponse:
        pred, _ = make_predicate(info, request)
        prefix = info.key(ri.namespace, ri.name) if ri.name else info.namespace_prefix(ri.namespace)
        rv = request.query.get("resourceVersion", "")
        bookmarks = query_bool(request, "allowWatchBookmarks")
        timeout_s = query_int(request, "timeoutSeconds")
        if timeout_s is None:
            timeout_s = int(1800 * (1 + random.random()))
        include = tables.include_object(request.query.get("includeObject")) if accept.table else ""
        initial: list[Entry] = []
        from_rev: int | None
        send_initial = request.query.get("sendInitialEvents")
        initial_end = False
        if send_initial is not None:
            if request.query.get("resourceVersionMatch") != "NotOlderThan":
                raise errors.invalid_object("ListOptions", "meta.k8s.io", "", [errors.forbidden(
                    "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to "
                    "NotOlderThan")])
            if not bookmarks and query_bool(request, "sendInitialEvents"):
                raise errors.invalid_object("ListOptions", "meta.k8s.io", "", [errors.forbidden(
                    "allowWatchBookmarks", "sendInitialEvents requires setting allowWatchBookmarks to true")])
        if send_initial is not None and query_bool(request, "sendInitialEvents"):
            # watch-list: the current state as ADDED events, then a bookmark marking their end
            if rv == "":
                await self.cache.wait_fresh()
            elif rv != "0":
                await self._wait_rv(rv)
            from_rev = self.cache.revision
            initial = [e for e in self.cache.list(prefix) if (pred is None or pred(e.obj))
                       and (not ri.name or e.key == prefix)]
            initial_end = True
        elif rv in ("", "0"):
            if rv == "":
                await self.cache.wait_fresh()
            from_rev = self.cache.revision
            initial = [e for e in self.cache.list(prefix) if (pred is None or pred(e.obj))
                       and (not ri.name or e.key == prefix)]
        else:
            from_rev = await self._wait_rv(rv)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                        "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        sent_headers = False

        def frame(ev_type: str, obj: dict[str, Any]) -> bytes:
            nonlocal sent_headers
            if accept.table and ev_type in ("ADDED", "MODIFIED", "DELETED"):
                obj = tables.table(info.strategy, [obj], include, {"resourceVersion":
                                   (obj.get("metadata") or {}).get("resourceVersion", "")}, headers=not sent_headers)
                sent_headers = True
            elif accept.partial_metadata and ev_type in ("ADDED", "MODIFIED", "DELETED"):
                obj = tables.partial_metadata(obj)
            return orjson.dumps({"type": ev_type, "object": obj}) + b"\n"

        # Plain JSON of an object stored in the served version: the same bytes for every watcher,
        # encoded once per change (``self._frames``), and the cache's JSON for initial events.
        plain = not accept.table and not accept.partial_metadata and info.from_storage is None

        def event(ev_type: str, change: Change, obj: dict[str, Any]) -> bytes:
            if not plain or obj.get("apiVersion") != info.api_version or obj.get("kind") != info.kind:
                return frame(ev_type, self.objects.to_served(info, obj))
            return self._frames.get(change, ev_type, obj)

        task = asyncio.current_task()
        if task is not None:
            self._watches.add(task)
        try:
            async with self.cache.subscribe(prefix, from_rev) as changes:
                await resp.prepare(request)
                for e in initial:
                    if plain and e.obj.get("apiVersion") == info.api_version and e.obj.get("kind") == info.kind:
                        await resp.write(b'{"type":"ADDED","object":' + e.raw() + b"}\n")
                    else:
                        await resp.write(frame("ADDED", self.objects.to_served(info, e.obj)))
                if initial_end:
                    await resp.write(frame("BOOKMARK", {
                        "kind": info.kind, "apiVersion": info.api_version,
                        "metadata": {"resourceVersion": str(from_rev),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}))
                last_rev = from_rev or 0

                def bookmark() -> bytes:
                    return frame("BOOKMARK", {"kind": info.kind, "apiVersion": info.api_version,
                                              "metadata": {"resourceVersion": str(max(last_rev, self.cache.revision))}})

                pacer = _Pacer(changes, time.monotonic() + timeout_s, bookmarks)
                try:
                    while True:
                        if pacer.expired():
                            break
                        change = changes.next_nowait()
                        if change is None:
                            try:
                                change = await pacer.wait()
                            except StopAsyncIteration:
                                break
                            if change is None:  # a quiet interval went by
                                if pacer.bookmark_due():
                                    await resp.write(bookmark())
                                continue
                        # everything already queued goes out in one write (one TLS record, one syscall)
                        out: list[bytes] = []
                        while change is not None:
                            if change is POKE:
                                pacer.poked()
                            else:
                                pacer.active()  # any change (sent or filtered out) restarts the quiet time
                                last_rev = change.revision
                                if not ri.name or change.key == prefix:
                                    out.extend(event(ev_type, change, obj) for ev_type, obj in translate(change, pred))
                            change = changes.next_nowait() if len(out) < MAX_EVENTS_PER_WRITE else None
                        if out:
                            await resp.write(b"".join(out))
                        if pacer.bookmark_due():
                            await resp.write(bookmark())
                finally:
                    pacer.close()
        except Compacted as exc:
            err = errors.too_old_resource_version(exc.requested, exc.compacted)
            if not resp.prepared:
                await resp.prepare(request)
            await resp.write(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")
        except ConnectionResetError:
            return resp  # the client went away
        finally:
            if task is not None:
                self._watches.discard(task)
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp


class _Pacer:
    """When a watch looks at the clock: at its deadline, and with bookmarks after every quiet
    ``BOOKMARK_INTERVAL`` (no event sent), when it sends one.

    With a cache subscription one timer per watch pokes the reader (``Changes.poke``); only a
    replay from the store waits with a timeout, as a timer around every wait costs more than
    the rest of sending an event to a watcher.
    """

    def __init__(self, changes: Changes, deadline: float, bookmarks: bool) -> None:
        self._changes = changes
        self._deadline = deadline
        self._bookmarks = bookmarks
        self._quiet_since = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._due = False  # a quiet interval ended (a poke or a timeout arrived)
        if changes.pokable:
            self._arm()

    def expired(self) -> bool:
        return time.monotonic() >= self._deadline

    def _next_check(self) -> float:
        if self._bookmarks:
            return min(self._deadline, self._quiet_since + BOOKMARK_INTERVAL)
        return self._deadline

    def _arm(self) -> None:
        self._timer = self._loop.call_later(max(0.0, self._next_check() - time.monotonic()), self._changes.poke)

    async def wait(self) -> Change | None:
        """The next change; None when it is time to look at the clock."""
        if self._changes.pokable:
            change = await self._changes.__anext__()
            if change is POKE:
                self.poked()
                return None
            return change
        remaining = self._next_check() - time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                return await self._changes.__anext__()
        except TimeoutError:
            self._due = True
            return None

    def poked(self) -> None:
        self._due = True
        self._arm()

    def active(self) -> None:
        self._quiet_since = time.monotonic()

    def bookmark_due(self) -> bool:
        """True (once) when a bookmark should go out now."""
        if not self._due:
            return False
        self._due = False
        now = time.monotonic()
        if self._bookmarks and now < self._deadline and now - self._quiet_since >= BOOKMARK_INTERVAL - 0.001:
            self._quiet_since = now
            return True
        return False

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def translate(change: Change, pred: Predicate | None) -> list[tuple[str, dict[str, Any]]]:
    """Store change → watch events, honouring a filter like the apiserver (enter → ADDED, leave → DELETED)."""
    if change.type == "DELETE":
        if pred is None or pred(change.prev or change.obj):
            return [("DELETED", change.obj)]
        return []
    now_ok = pred is None or pred(change.obj)
    was_ok = change.prev is not None and (pred is None or pred(change.prev))
    if change.prev is None:
        return [("ADDED", change.obj)] if now_ok else []
    if now_ok and was_ok:
        return [("MODIFIED", change.obj)]
    if now_ok:
        return [("ADDED", change.obj)]
    if was_ok:  # it left the filter: as upstream's cacher, the content the watcher last matched, at this revision
        assert change.prev is not None
        md = change.prev.get("metadata")
        left = {**change.prev, "metadata": {**md, "resourceVersion": str(change.revision)}} \
            if isinstance(md, dict) else change.prev
        return [("DELETED", left)]
    return []
