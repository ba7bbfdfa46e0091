"""The writer side of ``SQLiteStore``: one thread owns the only writing connection.

Writers on the loop enqueue a ``Write`` and await its future (``sqlite.SQLiteStore._write``);
``Writer`` drains the queue, checks every create/CAS against the state left by the operations
before it in the same batch, appends the rows with one ``executemany`` in one transaction (group
commit) and hands the whole batch back to the loop with a single ``call_soon_threadsafe``
(``SQLiteStore._on_commit``). It also runs maintenance (compaction, vacuum, checkpoints) between
batches; ``Checkpointer`` copies the WAL back into the database beside it.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kybernetes.store import _sqlite_db as db
from kybernetes.store import interface

if TYPE_CHECKING:
    from kybernetes.store.sqlite import SQLiteStore

_SQL_INSERT = (
    "INSERT INTO kv (id, key, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?)"
)
# The newest row of each of N keys (one index seek per key), for the writer's per-batch lookup.
_SQL_LOOKUP = (
    "SELECT key, id, deleted, create_revision, value FROM kv WHERE id IN (SELECT "
    "(SELECT x.id FROM kv AS x WHERE x.key = k.column1 ORDER BY x.id DESC LIMIT 1) FROM (VALUES {}) AS k)"
)
_LOOKUP_SIZES = (8, 64)  # keys per lookup statement; shorter lists are padded, so few statements exist
_SQL_SET_COMPACTED = "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted', ?)"
# Rows superseded by a row in [lo, hi), then tombstones in [lo, hi): what compacting from lo to hi frees.
_SQL_COMPACT_SUPERSEDED = (
    "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv WHERE id >= ? AND id < ? AND prev_revision > 0)"
)
_SQL_COMPACT_TOMBSTONES = "DELETE FROM kv WHERE id >= ? AND id < ? AND deleted = 1"

CREATE, UPDATE, DELETE = 1, 2, 3
_COMPACT_CHUNK = 20_000  # revisions per compaction transaction
_VACUUM_CHUNK = 2_048  # pages per incremental_vacuum step
_VACUUM_MIN_PAGES = 64  # do not bother returning less than this
_CHECKPOINT_BYTES = 4 << 20  # WAL growth (estimated) that wakes the checkpointer
_WAL_RESTART_PAGES = 8_192  # a WAL longer than this (32 MB of 4 KiB pages) is restarted


def _lookup(conn: sqlite3.Connection, keys: list[str]) -> dict[str, interface.KeyValue | None]:
    """The live value of each key (None if absent or deleted), in few statements."""
    found: dict[str, interface.KeyValue | None] = dict.fromkeys(keys)
    if len(keys) == 1:
        found[keys[0]] = db.kv_from_row(keys[0], conn.execute(db.SQL_LATEST, (keys[0],)).fetchone())
        return found
    small, big = _LOOKUP_SIZES
    for i in range(0, len(keys), big):
        chunk = keys[i : i + big]
        size = small if len(chunk) <= small else big
        sql = _SQL_LOOKUP.format(", ".join(["(?)"] * size))
        for key, rev, deleted, create_rev, value in conn.execute(
            sql, chunk + chunk[:1] * (size - len(chunk))
        ):
            if not deleted:
                found[key] = interface.KeyValue(key, value, create_rev, rev)
    return found





@dataclass(slots=True)
class Write:
    kind: int
    key: str
    value: bytes
    expected: int
    future: asyncio.Future[interface.KeyValue]


@dataclass(slots=True)
class Maintain:
    """Compact to ``target`` (if above the current point), vacuum, checkpoint: one step at a time."""

    target: int
    future: asyncio.Future[None]
    stage: int = 0


@dataclass(slots=True)
class Close:
    future: asyncio.Future[None]


Op = Write | Maintain | Close
Result = tuple[asyncio.Future[Any], Any]


class Writer(threading.Thread):
    """Owns the only writing connection: group-commits batches of writes, runs maintenance."""

    def __init__(
        self, store: SQLiteStore, loop: asyncio.AbstractEventLoop, started: asyncio.Future[None]
    ) -> None:
        super().__init__(name="kyb-sqlite-writer", daemon=True)
        self.ops: queue.SimpleQueue[Op] = queue.SimpleQueue()
        self._store = store
        self._loop = loop
        self._ready = started
        self._path = store.path
        self._max_batch = store.max_batch
        self.checkpointer: Checkpointer | None = None
        self.finish_checkpoint = False  # set by the checkpointer when the WAL should restart
        self._wal_bytes = 0
        self._conn: sqlite3.Connection | None = None
        self.revision = 0
        self.compacted = 0

    def run(self) -> None:
        try:
            self._open()
        except (sqlite3.Error, OSError) as exc:
            if self._conn is not None:
                self._conn.close()
            error = interface.StoreError(f"cannot open SQLite store {self._path}: {exc}")
            error.__cause__ = exc
            self._post(db.settle, self._ready, None, error)
            return
        self._post(self._store._on_started, self._ready, self.revision, self.compacted)
        try:
            self._loop_ops()
        except Exception:
            db.log.exception("SQLite writer stopped: failing every further operation")
            self._drain(interface.StoreError("the store's writer thread failed"), wait_close=True)
        finally:
            assert self._conn is not None
            self._conn.close()

    def _drain(self, error: interface.StoreError, *, wait_close: bool) -> None:
        """Fail queued operations (until a close request if ``wait_close``, else until empty)."""
        while True:
            if wait_close:
                op = self.ops.get()
            else:
                try:
                    op = self.ops.get_nowait()
                except queue.Empty:
                    return
            if isinstance(op, Close):
                self._post(db.settle, op.future, None, None)
                return
            self._post(db.settle, op.future, None, error)

    def _open(self) -> None:
        parent = os.path.dirname(os.path.abspath(self._path))
        os.makedirs(parent, exist_ok=True)
        conn = self._conn = db.connect(self._path, reader=False)
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints run on the checkpointer thread
        conn.executescript(db.SCHEMA)
        self.compacted, self.revision = db.read_state(conn)
        self.revision = max(self.revision, self.compacted)

    def _post(self, callback: Callable[..., None], *args: Any) -> bool:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # loop closed without closing the store
            return False
        return True

    def _loop_ops(self) -> None:
        while True:
            op = self.ops.get()
            if isinstance(op, Write):
                batch = [op]
                follow: Op | None = None
                while len(batch) < self._max_batch:
                    try:
                        nxt = self.ops.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(nxt, Write):
                        batch.append(nxt)
                    else:
                        follow = nxt
                        break
                if not self._commit(batch):
                    return
                if follow is None:
                    continue
                op = follow
            if isinstance(op, Write):  # unreachable: a batch ends at the first other operation
                continue
            if isinstance(op, Close):
                self._drain(db.StoreClosed("store is closed"), wait_close=False)  # re-queued maintenance
                self._checkpoint()
                self._post(db.settle, op.future, None, None)
                return
            self._maintain(op)

    def _commit(self, batch: list[Write]) -> bool:
        conn = self._conn
        assert conn is not None
        rev = self.revision
        rows: list[tuple[int, str, int, int, int, bytes]] = []
        results: list[Result] = []
        events: list[interface.Event] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Each key's live value, then kept current as the batch goes: later ops see earlier ones.
            live = _lookup(conn, list(dict.fromkeys(op.key for op in batch)))
            for op in batch:
                key = op.key
                cur = live[key]
                if op.kind == CREATE:
                    if cur is not None:
                        results.append((op.future, interface.KeyExists(f"key already exists: {key}")))
                        continue
                    rev += 1
                    kv = interface.KeyValue(key, op.value, rev, rev)
                    rows.append((rev, key, 0, rev, 0, op.value))
                    events.append(interface.Event("PUT", kv))
                    live[key] = kv
                elif cur is None:
                    results.append((op.future, interface.KeyNotFound(f"key not found: {key}")))
                    continue
                elif (op.expected or op.kind == UPDATE) and cur.mod_revision != op.expected:
                    results.append((op.future, interface.RevisionMismatch(cur)))
                    continue
                elif op.kind == UPDATE:
                    rev += 1
                    kv = interface.KeyValue(key, op.value, cur.create_revision, rev)
                    rows.append((rev, key, 0, cur.create_revision, cur.mod_revision, op.value))
                    events.append(interface.Event("PUT", kv, cur))
                    live[key] = kv
                else:
                    rev += 1
                    kv = interface.KeyValue(key, cur.value, cur.create_revision, rev)
                    rows.append((rev, key, 1, cur.create_revision, cur.mod_revision, b""))
                    events.append(interface.Event("DELETE", kv, cur))
                    live[key] = None
                results.append((op.future, kv))
            if rows:
                conn.executemany(_SQL_INSERT, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            db.log.error("SQLite write batch of %d operations failed: %s", len(batch), exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = interface.StoreError(f"write failed: {exc}")
            return self._post(self._store._on_commit, self.revision, [(op.future, error) for op in batch], [])
        self.revision = rev
        posted = self._post(self._store._on_commit, rev, results, events)
        # A commit rewrites whole pages: roughly twice the row bytes plus a few index/tail pages.
        self._after_commit(2 * sum(len(r[1]) + len(r[5]) for r in rows) + 4 * 4096)
        return posted

    def _after_commit(self, wal_bytes: int) -> None:
        """Wake the checkpointer every few MB; finish its checkpoint when it asks (see Checkpointer)."""
        ckpt = self.checkpointer
        if self.finish_checkpoint and ckpt is not None and ckpt.lock.acquire(blocking=False):
            assert self._conn is not None
            try:  # nobody else writes, so this completes and the next transaction restarts the WAL
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                db.log.warning("WAL checkpoint failed: %s", exc)
            finally:
                self.finish_checkpoint = False
                ckpt.lock.release()
        self._wal_bytes += wal_bytes
        if self._wal_bytes >= _CHECKPOINT_BYTES and ckpt is not None:
            self._wal_bytes = 0
            ckpt.kick()

    def _maintain(self, op: Maintain) -> None:
        conn = self._conn
        assert conn is not None
        try:
            done = self._maintain_step(conn, op)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            db.log.error("SQLite maintenance failed: %s", exc)
            self._post(db.settle, op.future, None, interface.StoreError(f"maintenance failed: {exc}"))
            return
        if done:
            self._post(db.settle, op.future, None, None)
        else:
            self._after_commit(_CHECKPOINT_BYTES)  # a compaction/vacuum step writes plenty of pages
            self.ops.put(op)  # let the writes queued meanwhile go first

    def _maintain_step(self, conn: sqlite3.Connection, op: Maintain) -> bool:
        """One bounded step of maintenance; True when all of it is done."""
        if op.stage == 0:
            if op.target <= self.compacted:
                op.stage = 1
                return False
            lo = self.compacted
            hi = min(op.target, lo + _COMPACT_CHUNK)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_SQL_COMPACT_SUPERSEDED, (lo, hi))
            conn.execute(_SQL_COMPACT_TOMBSTONES, (lo, hi))
            conn.execute(_SQL_SET_COMPACTED, (hi,))
            conn.execute("COMMIT")
            self.compacted = hi
            self._post(self._store._on_compacted, hi)
            return False
        if op.stage == 1:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            excess = free - pages // 10  # keep a little slack for the next writes
            if excess >= _VACUUM_MIN_PAGES:
                conn.execute(f"PRAGMA incremental_vacuum({min(excess, _VACUUM_CHUNK)})").fetchall()
                return False
            op.stage = 2
            return False
        self._checkpoint()
        return True

    def _checkpoint(self) -> None:
        """Checkpoint everything and truncate the WAL file (after maintenance, at close)."""
        assert self._conn is not None
        ckpt = self.checkpointer
        self._conn.execute("PRAGMA busy_timeout = 100")  # do not stall writes behind long readers
        if ckpt is not None:
            ckpt.lock.acquire()  # wait out a background checkpoint (bounded: tens of ms)
        try:
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                db.log.debug("WAL checkpoint incomplete: readers active")
        finally:
            if ckpt is not None:
                ckpt.lock.release()
            self._conn.execute("PRAGMA busy_timeout = 5000")


class Checkpointer(threading.Thread):
    """Copies the WAL back into the database on its own connection, off the writer thread.

    A checkpoint inline in the writer (SQLite's default auto-checkpoint) would stall every write
    batch behind page copying; here it overlaps with writing. But a checkpoint that runs while the
    writer appends cannot reach the end of the WAL, so under sustained load the WAL would never
    restart. When it exceeds ``_WAL_RESTART_PAGES``, this thread checkpoints once more to catch up
    with what was appended meanwhile, then asks the writer to checkpoint the remainder itself
    between two batches (which completes: nothing else writes), and the next transaction restarts
    the WAL. Under full-speed writes that costs the writer a pause of some tens of milliseconds
    (mostly an fsync) every ``_WAL_RESTART_PAGES`` pages; the WAL stays around twice that size.
    """

    def __init__(self, path: str, writer: Writer) -> None:
        super().__init__(name="kyb-sqlite-checkpointer", daemon=True)
        self._path = path
        self._writer = writer
        self._wake = threading.Event()
        self._stopping = False
        self.lock = threading.Lock()  # one checkpoint at a time: this thread's or the writer's

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def run(self) -> None:
        conn = db.connect(self._path, reader=False)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                if self._writer.finish_checkpoint:  # the writer is about to finish; stand back
                    continue
                try:
                    self._checkpoint(conn)
                except sqlite3.Error as exc:
                    db.log.warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        with self.lock:
            _, wal_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if wal_pages <= _WAL_RESTART_PAGES:
            return
        with self.lock:  # catch up with what was appended meanwhile: less for the writer to do
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._writer.finish_checkpoint = True


