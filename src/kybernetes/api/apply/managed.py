"""``metadata.managedFields``: decoding, encoding and the bookkeeping of non-apply writes.

Every create, update and patch runs ``update_managed_fields`` (Kubernetes' field manager
"Update"): the writer becomes the owner of every field it added or changed, the other managers
lose those fields and any field the write removed, empty entries disappear. Entries are kept per
(manager, operation, apiVersion, subresource) for updates and per (manager, subresource) for
applies; at most ten update entries survive, older ones merge into ``ancient-changes``. The
object's own bookkeeping (``apiVersion``, ``kind``, ``metadata.name``/``uid``/
``resourceVersion``/…) is never owned. ``apply.server_side_apply`` shares this machinery.

Ownership of unchanged entries is edited directly on their ``fieldsV1`` JSON along the changed
paths only, and unchanged entry dicts are reused, so a write costs roughly the size of its change.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from kybernetes.api.apply import _walk
from kybernetes.api.apply._types import TypeNode, compile_root
from kybernetes.api.apply.fieldpath import FieldSet, go_json, subtract_fields_v1, union_fields_v1
from kybernetes.api.schema import Schema, Schemas
from kybernetes.api.types import Object

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"
BEFORE_FIRST_APPLY = "before-first-apply"
FIELD_MANAGER_MAX_LENGTH = 128

# Fields nobody owns (structured-merge-diff's stripped metadata and type meta).
STRIPPED = FieldSet.from_paths([
    ("f:apiVersion",), ("f:kind",), ("f:metadata",),
    *(("f:metadata", "f:" + name) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion")),
])

Identity = tuple[str, str, str, str]  # manager, operation, apiVersion ("" for Apply), subresource


class ManagedFieldsError(ValueError):
    """``metadata.managedFields`` that cannot be decoded."""


class Entry:
    """One manager's entry; the field set is decoded from ``fieldsV1`` only when needed."""

    __slots__ = ("_fields", "_raw", "api_version", "manager", "operation", "source", "subresource", "time")

    def __init__(self, manager: str, operation: str, api_version: str, subresource: str = "",
                 time: str | None = None, fields: FieldSet | None = None,
                 raw: dict[str, Any] | None = None, source: dict[str, Any] | None = None) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.subresource = subresource
        self.time = time
        self._fields = fields
        self._raw = raw
        self.source = source  # the wire dict this came from, reused while nothing changes

    @property
    def identity(self) -> Identity:
        return identity(self.manager, self.operation, self.api_version, self.subresource)

    @property
    def fields(self) -> FieldSet:
        if self._fields is None:
            self._fields = FieldSet.from_fields_v1(self._raw, canonicalize=False)
        return self._fields

    @property
    def raw(self) -> dict[str, Any]:
        if self._raw is None:
            self._raw = self.fields.to_fields_v1()
        return self._raw

    def set_fields(self, fields: FieldSet) -> None:
        self._fields, self._raw, self.source = fields, None, None

    def add(self, fields: FieldSet) -> None:
        """Own ``fields`` as well; on the ``fieldsV1`` JSON itself unless the set is decoded."""
        if self._fields is not None:
            self.set_fields(fields.union(self._fields))
        else:
            self._raw, self.source = union_fields_v1(self.raw, fields), None

    def subtract(self, remove: FieldSet) -> bool:
        """Drop ``remove`` from this entry; False when nothing is left."""
        raw = subtract_fields_v1(self.raw, remove)
        if raw is None:
            return False
        if raw is not self._raw:
            self._raw, self._fields, self.source = raw, None, None
        return True

    def to_dict(self) -> dict[str, Any]:
        if self.source is not None:
            return self.source
        d: dict[str, Any] = {}
        if self.manager:
            d["manager"] = self.manager
        d["operation"] = self.operation
        d["apiVersion"] = self.api_version
        if self.time:
            d["time"] = self.time
        d["fieldsType"] = "FieldsV1"
        d["fieldsV1"] = self.raw
        if self.subresource:
            d["subresource"] = self.subresource
        return d


Managed = dict[Identity, Entry]


def identity(manager: str, operation: str, api_version: str, subresource: str = "") -> Identity:
    return (manager, operation, "" if operation == APPLY else api_version, subresource)


def identifier_json(ident: Identity) -> str:
    """The JSON manager identifier Kubernetes keys entries by (sorts conflicts by it)."""
    manager, operation, api_version, subresource = ident
    parts = [f'"manager":{go_json(manager)}'] if manager else []
    parts.append(f'"operation":{go_json(operation)}')
    if api_version:
        parts.append(f'"apiVersion":{go_json(api_version)}')
    if subresource:
        parts.append(f'"subresource":{go_json(subresource)}')
    return "{" + ",".join(parts) + "}"


def decode(entries: Any, canonicalize: bool = False) -> Managed:
    """Wire entries → ``Managed``; ``canonicalize`` re-serializes user-written elements."""
    managed: Managed = {}
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ManagedFieldsError("managedFields must be a list")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ManagedFieldsError(f"managed fields entry {i} must be an object")
        operation = e.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        if not e.get("apiVersion"):
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = e.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {i}" if not fields_type else
                                     f"invalid fieldsType {fields_type!r} in managed fields entry {i}")
        raw = e.get("fieldsV1")
        if raw is not None and not isinstance(raw, dict):
            raise ManagedFieldsError(f"error decoding set: fieldsV1 of entry {i} must be an object")
        entry = Entry(e.get("manager") or "", operation, e["apiVersion"], e.get("subresource") or "",
                      e.get("time") or None, raw=raw or {}, source=e)
        if canonicalize:
            try:
                entry.set_fields(FieldSet.from_fields_v1(raw))
            except ValueError as err:
                raise ManagedFieldsError(f"error decoding set: {err}") from None
        managed[entry.identity] = entry
    return managed


@functools.lru_cache(maxsize=4096)
def time_seconds(t: str | None) -> float:
    if not t:
        return 0.0
    try:
        return int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0.0


def encode(managed: Managed) -> list[dict[str, Any]]:
    """``Managed`` → wire entries in Kubernetes' order (operation, time, manager, …)."""
    entries = sorted(managed.values(), key=lambda e: (e.operation, time_seconds(e.time), e.manager,
                                                      e.api_version, e.subresource))
    return [e.to_dict() for e in entries]


def cap_update_managers(managed: Managed, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Merge the oldest update entries into per-version ``ancient-changes`` buckets."""
    updaters = [e for e in managed.values() if e.operation == UPDATE]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda e: (time_seconds(e.time), identifier_json(e.identity)))
    first_of_version: dict[str, Entry] = {}
    length = len(updaters)
    for entry in updaters:
        if length <= limit:
            break
        version = entry.api_version
        bucket_id = identity(ANCIENT_CHANGES, UPDATE, version)
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = entry
            continue
        bucket = managed.get(bucket_id)
        if bucket is None:
            del managed[first.identity]
            bucket = managed[bucket_id] = Entry(ANCIENT_CHANGES, UPDATE, version, "", first.time,
                                                fields=first.fields)
        bucket.set_fields(entry.fields.union(bucket.fields))
        bucket.time = entry.time
        del managed[entry.identity]
        length -= 1


def object_view(obj: Object | None) -> Object:
    """``obj`` without ``metadata.managedFields`` (shallow; ``{}`` for None)."""
    if obj is None:
        return {}
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    view = dict(obj)
    view["metadata"] = trimmed = dict(meta)
    del trimmed["managedFields"]
    return view


def record_update(managed: Managed, old: Any, new: Any, t: TypeNode, manager: str, api_version: str,
                  subresource: str, time: str | None, reset_fields: FieldSet | None) -> None:
    """Kubernetes' Update bookkeeping on ``managed`` (raises ``_walk.SchemaMismatch``)."""
    cmp = _walk.compare(old, new, t)
    cmp.exclude(reset_fields)
    current = cmp.modified  # the comparison is ours: its sets are changed in place, never shared further
    current.absorb(cmp.added)
    removed = None if cmp.removed.is_empty() else cmp.removed
    for key, entry in list(managed.items()):
        if not entry.subtract(current) or (removed is not None and not entry.subtract(removed)) or not entry.raw:
            del managed[key]
    current.difference_update(STRIPPED)
    if current.is_empty():
        return
    ident = identity(manager or "unknown", UPDATE, api_version, subresource)
    own = managed.get(ident)
    if own is None:
        own = managed[ident] = Entry(ident[0], UPDATE, api_version, subresource)
        own.set_fields(current)
    else:
        own.add(current)
    # The scale subresource hands its entries back to the parent without their time.
    own.time = None if subresource == "scale" else time


def _is_reset(entries: Any) -> bool:
    return isinstance(entries, list) and (not entries or (len(entries) == 1 and entries[0] == {}))


def _decode_or_empty(entries: Any) -> Managed:
    try:
        return decode(entries)
    except ManagedFieldsError:
        return {}


def _live_or_new(live: Any, new: Any, subresource: str) -> Managed:
    if subresource:
        return _decode_or_empty(live)
    if _is_reset(new):
        return {}
    if new is not None and new is not live and new != live:
        try:
            managed = decode(new, canonicalize=True)
        except ManagedFieldsError:
            managed = {}
        if managed:
            return managed
    return _decode_or_empty(live)


def compute_fields(obj: Object, schema_root: Schema | None, schemas: Schemas) -> FieldSet:
    """The fields ``obj`` specifies (as an applied configuration would own them).

    List-maps contribute ``k:`` items, sets ``v:`` items, atomic lists and maps just the field;
    ``managedFields`` and the other stripped metadata are left out.
    """
    t = compile_root(schemas, schema_root)
    return _walk.to_field_set(object_view(obj), t).difference(STRIPPED)


def update_managed_fields(old_obj: Object | None, new_obj: Object, manager: str, operation: str,
                          api_version: str, time: str, schemas: Schemas, schema_root: Schema | None,
                          subresource: str = "", *, reset_fields: FieldSet | None = None) -> Object:
    """Update ``new_obj``'s ``metadata.managedFields`` for a create (``old_obj`` None) or update.

    ``new_obj`` is modified in place and returned; call it after defaulting, before the
    strategy's prepare hooks. ``reset_fields`` are the strategy's reset fields for this
    (sub)resource (e.g. ``status`` for the main resource), which nobody gains or loses here.
    A request carrying its own ``managedFields`` replaces the stored ones (``[]`` or ``[{}]``
    clears them; an existing object without entries is then no longer tracked), except on
    subresources. If the object cannot be typed, the stored entries are kept unchanged.
    """
    if operation != UPDATE:
        raise ValueError(f"update_managed_fields handles {UPDATE!r} operations, not {operation!r}")
    meta = new_obj.get("metadata")
    if not isinstance(meta, dict):
        return new_obj
    old_meta = old_obj.get("metadata") if old_obj is not None else None
    live_entries = old_meta.get("managedFields") if isinstance(old_meta, dict) else None
    managed = _live_or_new(live_entries, meta.get("managedFields"), subresource)
    is_create = old_obj is None or not (isinstance(old_meta, dict) and old_meta.get("uid"))
    if not managed and not is_create:
        meta.pop("managedFields", None)
        return new_obj
    t = compile_root(schemas, schema_root)
    try:
        record_update(managed, object_view(old_obj), object_view(new_obj), t, manager, api_version,
                      subresource, time, reset_fields)
    except _walk.SchemaMismatch:
        if live_entries:
            meta["managedFields"] = live_entries
        else:
            meta.pop("managedFields", None)
        return new_obj
    cap_update_managers(managed)
    store(meta, managed)
    return new_obj


def store(meta: dict[str, Any], managed: Managed) -> None:
    if managed:
        meta["managedFields"] = encode(managed)
    else:
        meta.pop("managedFields", None)


def manager_from_user_agent(user_agent: str) -> str:
    """Default field manager: the user agent up to its first ``/``, printable, ≤128 bytes."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        n = len(ch.encode())
        if size + n > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)
