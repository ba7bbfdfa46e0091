"""The generic object store: the one path every read and write of every kind goes through.

It plays the role of Kubernetes' ``registry/generic/registry.Store``: hooks of the kind's strategy
run in a fixed order, system metadata (uid, timestamps, generation, managedFields) is maintained
here, writes are compare-and-swap on the store's mod revision (retried when the client gave no
precondition), deletion honours grace periods and finalizers, and ``dryRun`` runs everything but
the store write. Handlers (``rest.py`` and the subresource modules) call it; it never sees HTTP.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.printing import format_time
from kybernetes.api.schema import Schemas
from kybernetes.api.strategy import ResourceInfo, Strategy, WriteContext
from kybernetes.apiserver.watchcache import Entry, WatchCache, decode
from kybernetes.store.interface import KeyExists, KeyNotFound, KeyValue, RevisionMismatch, Store

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
MAX_RETRIES = 16


@dataclass(slots=True)
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    subresource: str = ""
    #: the caller only serialises the object a write returns (an HTTP handler): that very dict may
    #: become the watch cache's entry instead of the store's bytes decoded again
    result_read_only: bool = False


@dataclass(slots=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None  # Foreground | Background | Orphan
    orphan_dependents: bool | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


@dataclass(slots=True)
class Allocations:
    """Allocators that remember what this request took, so a failed or dry-run write gives it back."""

    inner: dict[str, Any]
    taken: list[tuple[Any, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {name: _Tracking(a, self.taken) for name, a in self.inner.items()}

    def rollback(self) -> None:
        for allocator, value in reversed(self.taken):
            allocator.release(value)
        self.taken.clear()


class _Tracking:
    def __init__(self, inner: Any, taken: list[tuple[Any, Any]]) -> None:
        self.inner, self.taken = inner, taken

    def allocate(self, requested: Any = None) -> Any:
        value = self.inner.allocate(requested)
        self.taken.append((self.inner, value))
        return value

    def release(self, value: Any) -> None:
        self.inner.release(value)


class ObjectStore:
    def __init__(self, store: Store, cache: WatchCache, schemas: Schemas,
                 allocators: dict[str, Any] | None = None) -> None:
        self.store = store
        self.cache = cache
        self.schemas = schemas
        self.allocators = allocators or {}
        #: mutating admission run on creates after defaulting (see ``admission.py``)
        self.admit: Callable[[ResourceInfo, dict[str, Any]], None] | None = None
        #: validating admission run on creates just before storing (``quota.py``); gets ``dry_run``
        self.validate_create: Callable[[ResourceInfo, dict[str, Any], bool], Awaitable[None]] | None = None

    # --- conversion between served and stored forms ------------------------------------------
    def to_served(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        if info.from_storage is not None:
            obj = info.from_storage(obj)
        elif obj.get("apiVersion") != info.api_version or obj.get("kind") != info.kind:
            obj = dict(obj)
        obj["apiVersion"], obj["kind"] = info.api_version, info.kind
        return obj

    def encode(self, info: ResourceInfo, obj: dict[str, Any]) -> bytes:
        stored = info.to_storage(obj) if info.to_storage is not None else obj
        md = stored.get("metadata")
        if isinstance(md, dict) and "resourceVersion" in md:
            stored = dict(stored)
            stored["metadata"] = trimmed = dict(md)
            del trimmed["resourceVersion"]
        return orjson.dumps(stored)

    def served_from_kv(self, info: ResourceInfo, kv: KeyValue) -> dict[str, Any]:
        return self.to_served(info, decode(kv))

    # --- reads ----------------------------------------------------------------------------------
    async def get(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
        await self.cache.wait_fresh()
        entry = self.cache.get(info.key(namespace, name))
        if entry is None:
            raise errors.not_found(info.plural, info.group, name)
        return self.to_served(info, entry.obj)

    def cached(self, info: ResourceInfo, namespace: str, name: str) -> Entry | None:
        return self.cache.get(info.key(namespace, name))

    # --- create ---------------------------------------------------------------------------------
    def new_context(self, ctx: WriteContext, allocations: Allocations) -> WriteContext:
        if not ctx.now or not ctx.now_micro:
            now, now_micro = _timestamps(time.time())
            ctx.now = ctx.now or now
            ctx.now_micro = ctx.now_micro or now_micro
        ctx.allocators = allocations.view()
        return ctx

    def check_kind(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        """The body's kind/apiVersion must name this endpoint's type; missing ones default to it
        (the apiserver decodes with the endpoint's GroupVersionKind as default)."""
        kind, api_version = obj.get("kind") or info.kind, obj.get("apiVersion")
        obj["kind"] = kind
        if api_version and api_version != info.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                     f"API version ({info.api_version})")
        if kind != info.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({info.kind})")
        obj["apiVersion"] = info.api_version

    def check_namespace(self, info: ResourceInfo, obj: dict[str, Any], namespace: str) -> None:
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if info.namespaced:
            body_ns = md.get("namespace") or ""
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            md["namespace"] = body_ns or namespace
        else:
            md.pop("namespace", None)

    def namespace_admission(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        """NamespaceLifecycle: no new objects in missing or terminating namespaces."""
        if not info.namespaced:
            return
        md = obj["metadata"]
        ns = md.get("namespace", "")
        entry = self.cache.get(f"/registry/core/namespaces/{ns}")
        if entry is None:
            raise errors.namespace_not_found(ns)
        if (entry.obj.get("metadata") or {}).get("deletionTimestamp") or \
                (entry.obj.get("status") or {}).get("phase") == "Terminating":
            raise errors.namespace_terminating(info.plural, info.group, md.get("name") or md.get("generateName", ""), ns)

    async def create(self, info: ResourceInfo, obj: dict[str, Any], ctx: WriteContext, opts: WriteOptions,
                     strategy: Strategy | None = None,
                     on_prepared: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Create ``obj`` (already decoded, kind-checked and namespaced). Returns the stored object."""
        strategy = strategy or info.strategy
        md = obj["metadata"]
        for f in ("resourceVersion", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
            md.pop(f, None)
        self.namespace_admission(info, obj)
        allocations = Allocations(self.allocators)
        self.new_context(ctx, allocations)
        ctx.dry_run = opts.dry_run
        strategy.default(obj)
        if self.admit is not None:
            self.admit(info, obj)
        generated = not md.get("name") and bool(md.get("generateName"))
        for _attempt in range(8):
            if generated:
                md["name"] = md["generateName"] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
            md["uid"] = _UIDS.next()
            md["creationTimestamp"] = ctx.now
            if strategy.tracks_generation:
                md["generation"] = 1
            else:
                md.pop("generation", None)
            try:
                strategy.prepare_for_create(obj, ctx)
                self._validate(info, strategy, obj, strategy.validate(obj, ctx))
                ctx.warnings.extend(strategy.warnings_on_create(obj))
                strategy.canonicalize(obj)
                if on_prepared is not None:
                    on_prepared(obj)
                if self.validate_create is not None:
                    await self.validate_create(info, obj, opts.dry_run)
                if opts.dry_run:
                    allocations.rollback()
                    return self.to_served(info, obj)
                key = info.key(md.get("namespace"), md["name"])
                kv = await self._store_write(info, opts, key, obj, functools.partial(self.store.create, key))
            except KeyExists:
                allocations.rollback()
                if generated:
                    continue
                raise errors.already_exists(info.plural, info.group, md["name"]) from None
            except BaseException:
                allocations.rollback()
                raise
            md["resourceVersion"] = str(kv.mod_revision)
            return self.to_served(info, obj)
        raise errors.already_exists(info.plural, info.group, md.get("name", ""))

    async def _store_write(self, info: ResourceInfo, opts: WriteOptions, key: str, obj: dict[str, Any],
                           write: Callable[[bytes], Awaitable[KeyValue]]) -> KeyValue:
        """``write(encoded obj)``. When the caller will not touch ``obj`` again and it is stored in
        the form it is served, the watch cache is told to take ``obj`` for the change instead of
        decoding the store's bytes (``WatchCache.expect``)."""
        shared = opts.result_read_only and info.to_storage is None and info.from_storage is None
        if shared:
            obj["apiVersion"], obj["kind"] = info.api_version, info.kind
        value = self.encode(info, obj)
        if not shared:
            return await write(value)
        self.cache.expect(key, value, obj)
        try:
            return await write(value)
        except BaseException:
            self.cache.withdraw(key, value)
            raise

    def _validate(self, info: ResourceInfo, strategy: Strategy, obj: dict[str, Any],
                  errs: list[FieldError], old: dict[str, Any] | None = None) -> None:
        md_errs = validation.validate_object_meta(obj, info.namespaced, _name_validator(info))
        if old is not None:
            md_errs += validation.validate_object_meta_update(obj, old)
        # a kind may validate metadata.name itself more strictly; keep one error per path+type
        seen = {(e.path, e.type, e.detail) for e in errs}
        all_errs = [e for e in md_errs if (e.path, e.type, e.detail) not in seen] + errs
        if all_errs:
            name = (obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get("generateName", "")
            raise errors.invalid_object(info.kind, info.group, name, all_errs)

    # --- update ---------------------------------------------------------------------------------
    async def update(self, info: ResourceInfo, namespace: str, name: str,
                     mutate: Callable[[dict[str, Any] | None], dict[str, Any]],
                     ctx: WriteContext, opts: WriteOptions, strategy: Strategy | None = None,
                     precondition_rv: str | None = None, create_if_missing: bool = False,
                     is_patch: bool = False,
                     on_prepared: Callable[[dict[str, Any], dict[str, Any] | None], None] | None = None,
                     shared_current: bool = False) -> tuple[dict[str, Any], bool]:
        """Read-modify-write with compare-and-swap, like ``GuaranteedUpdate``.

        ``mutate(current_served_or_None)`` returns the desired new object (a fresh dict). If it
        carries ``metadata.resourceVersion`` (or ``precondition_rv`` is given) that is a
        precondition: a mismatch is 409 Conflict; otherwise a concurrent change is retried.
        Returns ``(object, created)``. ``shared_current`` (or the strategy's ``shares_old``): the
        current object is only read, and parts of it put into the new one are never changed, so the
        cache's own copy may serve (one decode less); the object returned for a no-op write is then
        that shared copy.
        """
        strategy = strategy or info.strategy
        key = info.key(namespace, name)
        shared_current = shared_current or strategy.shares_old
        for _ in range(MAX_RETRIES):
            revision, copies = await self._live(info, key, 2, shared_first=shared_current)
            if not copies and not create_if_missing:
                raise errors.not_found(info.plural, info.group, name)
            if not copies:
                new = mutate(None)
                self.check_namespace(info, new, namespace)
                return await self.create(info, new, ctx, opts, strategy=info.strategy,
                                         on_prepared=(lambda o: on_prepared(o, None)) if on_prepared else None), True
            current, mine = copies
            new = mutate(mine)
            md = new.setdefault("metadata", {})
            requested_rv = md.get("resourceVersion") or precondition_rv
            if requested_rv and requested_rv != str(revision):
                raise errors.stale(info.plural, info.group, name)
            if not requested_rv and not is_patch and not opts.subresource and \
                    not strategy.allow_unconditional_update():
                raise errors.invalid_object(info.kind, info.group, name, [errors.invalid(
                    "metadata.resourceVersion", 0, "must be specified for an update")])
            try:
                result = await self._write_update(info, strategy, key, revision, current, new, ctx, opts,
                                                  on_prepared)
            except RevisionMismatch:
                if requested_rv:
                    raise errors.stale(info.plural, info.group, name) from None
                continue
            except KeyNotFound:
                continue  # deleted meanwhile: the next read answers 404 (or creates, for apply)
            return result, False
        raise errors.conflict(info.plural, info.group, name, "too many concurrent updates; please try again")

    async def _live(self, info: ResourceInfo, key: str, copies: int, shared_first: bool = False,
                    ) -> tuple[int, list[dict[str, Any]]]:
        """The key's mod revision and ``copies`` independent served copies of its object (none
        when it does not exist), as of every write acknowledged so far; with ``shared_first`` the
        first may be the cache's own object, which the caller must not change.

        Like the apiserver's ``GuaranteedUpdate`` with a cached object, the current state comes
        from the watch cache once it has caught up with the store (no reader-thread round trip,
        and decoding the cached JSON is cheaper than a deep copy); a write that loses the race
        fails its compare-and-swap and reads again. Without a running (or a stalled) cache, from
        the store.
        """
        if self.cache.ready.is_set():
            try:
                await self.cache.wait_fresh()
            except TimeoutError:
                pass
            else:
                entry = self.cache.get(key)
                if entry is None:
                    return 0, []
                raw = entry.raw()
                shared = shared_first and info.from_storage is None and entry.obj.get("kind") == info.kind \
                    and entry.obj.get("apiVersion") == info.api_version  # served as cached
                fresh = [self.to_served(info, orjson.loads(raw)) for _ in range(copies - shared)]
                return entry.revision, [entry.obj, *fresh] if shared else fresh
        kv = await self.store.get(key)
        if kv is None:
            return 0, []
        return kv.mod_revision, [self.served_from_kv(info, kv) for _ in range(copies)]

    async def _write_update(self, info: ResourceInfo, strategy: Strategy, key: str, revision: int,
                            current: dict[str, Any], new: dict[str, Any], ctx: WriteContext, opts: WriteOptions,
                            on_prepared: Callable[[dict[str, Any], dict[str, Any] | None], None] | None,
                            ) -> dict[str, Any]:
        md, old_md = new["metadata"], current["metadata"]
        new["apiVersion"], new["kind"] = info.api_version, info.kind
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            if f in old_md:
                md[f] = old_md[f]
            else:
                md.pop(f, None)
        if "generation" in old_md:
            md["generation"] = old_md["generation"]
        if info.namespaced:
            md.setdefault("namespace", old_md.get("namespace"))
        allocations = Allocations(self.allocators)
        self.new_context(ctx, allocations)
        ctx.dry_run = opts.dry_run
        try:
            strategy.default(new)
            strategy.prepare_for_update(new, current, ctx)
            self._validate(info, strategy, new, strategy.validate_update(new, current, ctx), current)
            ctx.warnings.extend(strategy.warnings_on_update(new, current))
            strategy.canonicalize(new)
            if on_prepared is not None:
                on_prepared(new, current)
            md = new["metadata"]  # a strategy may have replaced the metadata dict
            md["resourceVersion"] = old_md.get("resourceVersion")
            if _same(new, current):
                allocations.rollback()
                return current
            if md.get("deletionTimestamp") and not strategy.blocks_deletion(new) and \
                    not md.get("deletionGracePeriodSeconds"):
                # the last finalizer went away: the object is gone now
                if opts.dry_run:
                    allocations.rollback()
                    return new
                deleted = await self.store.delete(key, revision)
                md["resourceVersion"] = str(deleted.mod_revision)
                return new
            if opts.dry_run:
                allocations.rollback()
                return new
            out = await self._store_write(info, opts, key, new,
                                           lambda value: self.store.update(key, value, revision))
        except BaseException:
            allocations.rollback()
            raise
        md["resourceVersion"] = str(out.mod_revision)
        return new

    # --- delete ---------------------------------------------------------------------------------
    async def delete(self, info: ResourceInfo, namespace: str, name: str, ctx: WriteContext,
                     opts: DeleteOptions) -> tuple[dict[str, Any], bool]:
        """Delete or mark for deletion. Returns ``(object, removed_now)``."""
        strategy = info.strategy
        key = info.key(namespace, name)
        for _ in range(MAX_RETRIES):
            revision, copies = await self._live(info, key, 1)
            if not copies:
                raise errors.not_found(info.plural, info.group, name)
            obj = copies[0]
            md = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != md.get("uid"):
                raise errors.conflict(info.plural, info.group, name,
                                      f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                                      f"UID in object meta: {md.get('uid')}")
            if opts.precondition_rv and opts.precondition_rv != md.get("resourceVersion"):
                raise errors.conflict(info.plural, info.group, name,
                                      f"Precondition failed: ResourceVersion in precondition: "
                                      f"{opts.precondition_rv}, ResourceVersion in object meta: "
                                      f"{md.get('resourceVersion')}")
            now = time.time()
            ctx.now = ctx.now or format_time(now)
            grace = strategy.check_graceful_delete(obj, opts.grace_period_seconds)
            finalizers = list(md.get("finalizers") or [])
            policy = opts.propagation_policy or ("Orphan" if opts.orphan_dependents else None)
            if policy == "Orphan" and "orphan" not in finalizers and not md.get("deletionTimestamp"):
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
                if "orphan" in finalizers:
                    finalizers.remove("orphan")
            marked = dict(obj)
            marked["metadata"] = dict(md)
            if finalizers:
                marked["metadata"]["finalizers"] = finalizers
            strategy.prepare_for_delete(marked, ctx)
            must_wait = strategy.blocks_deletion(marked)
            if not must_wait and not grace:
                if opts.dry_run:
                    return obj, True
                try:
                    deleted = await self.store.delete(key, revision)
                except (RevisionMismatch, KeyNotFound):
                    continue
                obj["metadata"]["resourceVersion"] = str(deleted.mod_revision)
                return obj, True
            mmd = marked["metadata"]
            if mmd.get("deletionTimestamp"):
                # already terminating: only a shorter grace period changes anything
                old_grace = mmd.get("deletionGracePeriodSeconds")
                if grace is None or old_grace is None or grace >= old_grace:
                    if marked == obj:
                        return obj, False
                else:
                    mmd["deletionGracePeriodSeconds"] = grace
                    mmd["deletionTimestamp"] = format_time(now + grace)
            else:
                mmd["deletionTimestamp"] = format_time(now + (grace or 0))
                mmd["deletionGracePeriodSeconds"] = grace or 0
            if opts.dry_run:
                return marked, False
            try:
                out = await self.store.update(key, self.encode(info, marked), revision)
            except RevisionMismatch:
                continue
            mmd["resourceVersion"] = str(out.mod_revision)
            return marked, False
        raise errors.conflict(info.plural, info.group, name, "too many concurrent updates; please try again")


class _UidPool:
    """Random (version 4) UUIDs like ``uuid.uuid4``, from one ``os.urandom`` call per 256: a
    syscall per object releases the GIL, and taking it back behind the store's threads cost more
    than the rest of the uid."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self.reset)  # a child must not repeat the parent's uids

    def reset(self) -> None:
        self._pool, self._at = b"", 0

    def next(self) -> str:
        at = self._at
        if at >= len(self._pool):
            self._pool, at = os.urandom(16 * 256), 0
        self._at = at + 16
        b = bytearray(self._pool[at:at + 16])
        b[6] = (b[6] & 0x0F) | 0x40  # version 4
        b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"  # str(uuid.UUID(bytes=b, version=4))


_UIDS = _UidPool()
_last_second: tuple[int, str] = (-1, "")


def _timestamps(epoch: float) -> tuple[str, str]:
    """``format_time(epoch)`` and ``format_time(epoch, micro=True)``, formatting each second once."""
    global _last_second
    second = int(epoch)
    if _last_second[0] != second:
        _last_second = (second, format_time(second))
    base = _last_second[1]
    return base, f"{base[:-1]}.{int((epoch % 1) * 1_000_000):06d}Z"


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal apart from managedFields timestamps (a no-op write changes nothing, as in Kubernetes)."""
    if a == b:
        return True
    if len(a) - ("metadata" in a) != len(b) - ("metadata" in b):
        return False
    for k, v in a.items():  # everything but metadata equal (without copying either object)
        if k != "metadata" and (k not in b or b[k] != v):
            return False
    am, bm = a.get("metadata") or {}, b.get("metadata") or {}
    skip = ("managedFields",)
    if {k: v for k, v in am.items() if k not in skip} != {k: v for k, v in bm.items() if k not in skip}:
        return False
    strip = [{k: v for k, v in e.items() if k != "time"} for e in am.get("managedFields") or []]
    return strip == [{k: v for k, v in e.items() if k != "time"} for e in bm.get("managedFields") or []]


def _name_validator(info: ResourceInfo) -> Callable[[str], list[str]]:
    return info.strategy.name_validator

