"""The versioned key-value store behind the API server: the ``Store`` contract and its backends.

``interface`` defines the contract (etcd v3 shaped); ``sqlite`` is the embedded default backend.
Only the apiserver imports this package; the composition root opens the store it hands over.
"""

from kybernetes.store.interface import (
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RangeResult,
    RevisionMismatch,
    Store,
    StoreError,
)
from kybernetes.store.sqlite import SQLiteStore, StoreClosed, WatchOverflow

__all__ = [
    "Compacted",
    "Event",
    "FutureRevision",
    "KeyExists",
    "KeyNotFound",
    "KeyValue",
    "RangeResult",
    "RevisionMismatch",
    "SQLiteStore",
    "Store",
    "StoreClosed",
    "StoreError",
    "WatchOverflow",
]
