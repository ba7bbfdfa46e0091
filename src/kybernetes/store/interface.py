"""The versioned key-value store the API server needs, shaped like etcd v3.

Only the apiserver talks to a ``Store``. Keys are strings (``/registry/apps/deployments/ns/name``),
values are opaque bytes. Every successful write bumps one global ``revision``; each key remembers
the revision that created it and the one that last modified it (``mod_revision``, which the API
server exposes as ``metadata.resourceVersion``). Watches deliver every change after a revision, in
revision order, exactly once. Old revisions are compacted away; asking for them raises
``Compacted``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """One change. ``type`` is "PUT" or "DELETE"; for DELETE ``kv.value`` is the last value and
    ``kv.mod_revision`` the revision of the delete. ``prev`` is the value before the change."""

    type: str
    kv: KeyValue
    prev: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    more: bool  # more keys matched beyond ``limit``
    revision: int  # the store revision the range was read at
    count: int  # total number of keys matching the range (ignoring limit)


class StoreError(Exception):
    pass


class KeyExists(StoreError):
    """create() of a key that exists."""


class KeyNotFound(StoreError):
    """update()/delete() of a key that does not exist."""


class RevisionMismatch(StoreError):
    """CAS failed: the key's mod_revision differs; ``current`` holds the live value."""

    def __init__(self, current: KeyValue | None) -> None:
        super().__init__("revision mismatch")
        self.current = current


class Compacted(StoreError):
    """The requested revision is older than the compaction point."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (oldest {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StoreError):
    """The requested revision is newer than the store's current revision."""


class Store(Protocol):
    """The store contract. All methods are coroutines safe to call concurrently from one loop."""

    async def start(self) -> None:
        """Open (and recover) the store; after this ``revision`` is the last committed revision."""

    async def close(self) -> None: ...

    @property
    def revision(self) -> int:
        """Last committed revision (0 for an empty store)."""

    @property
    def compacted_revision(self) -> int:
        """Oldest revision still readable/watchable; earlier ones raise ``Compacted``."""

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        """The key's value at ``revision`` (0 = latest), or None."""

    async def range(self, prefix: str, *, start: str = "", limit: int = 0, revision: int = 0) -> RangeResult:
        """Keys with ``prefix``, in key order, strictly after ``start`` if given, at most ``limit``
        (0 = all), as of ``revision`` (0 = latest)."""

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Create a key that must not exist (``KeyExists``). Returns the stored KeyValue."""

    async def update(self, key: str, value: bytes, expected_mod_revision: int) -> KeyValue:
        """Replace the value iff the key's mod_revision equals ``expected_mod_revision``
        (``RevisionMismatch`` with the current value otherwise, ``KeyNotFound`` if absent)."""

    async def delete(self, key: str, expected_mod_revision: int = 0) -> KeyValue:
        """Delete the key (CAS if ``expected_mod_revision`` is non-zero). Returns the deleted
        value with ``mod_revision`` = the delete's revision."""

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        """Every change to keys under ``prefix`` with revision > ``from_revision``, in order.
        Raises ``Compacted`` (on first iteration) if ``from_revision`` < compacted_revision - 1.
        The iterator ends only when the store closes or the consumer stops iterating."""

    async def compact(self, revision: int) -> None:
        """Forget history at or before ``revision`` (the latest value of each key is kept)."""
