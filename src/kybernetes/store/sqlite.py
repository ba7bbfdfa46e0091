"""Embedded SQLite backend of the store: etcd-shaped MVCC on one file, the default ``Store``.

The apiserver opens one ``SQLiteStore`` at start (the composition root owns it) and reaches it only
through the ``Store`` contract in ``store/interface.py``.

Layout (kine-style MVCC). Every write appends one row to ``kv`` whose ``id`` *is* the new global
revision; a delete appends a tombstone row (``deleted = 1``, empty value). ``prev_revision`` links a
row to the row it superseded (0 for a create), so watch replays rebuild ``Event.prev`` with a join.
``meta`` holds the compaction point. The revision after a restart is ``MAX(id)``: compaction never
deletes the newest row.

Threads. All writing happens on one dedicated writer thread that owns the only writing connection.
Writers enqueue an operation and await a future; the writer thread drains the queue, checks every
create/CAS against the state left by the operations before it in the same batch, appends the rows
with one ``executemany`` in one transaction (group commit) and hands the whole batch back to the
loop with a single ``call_soon_threadsafe``: that callback bumps ``revision``, fans the events out
to watchers and resolves the futures, so a caller that sees its write acknowledged also sees it in
``revision`` and in every watch. Reads run on a small pool of reader threads with their own
connections; WAL gives them a consistent snapshot that a running write batch never blocks. A
checkpointer thread copies the WAL back into the database beside the writer (see ``_Checkpointer``).

Durability. WAL with ``synchronous=NORMAL``: a commit reaches the OS before it is acknowledged, so
acknowledged writes survive the process being killed (``kill -9``); an OS crash or power loss may
lose the last transactions (never corrupt the file).

Watch. A watcher first replays history from the database in bounded chunks, then subscribes to the
in-process fan-out and reads the few revisions committed in between from the database once more,
so it never misses or repeats an event. A subscribed watcher buffers at most ``watch_queue_limit``
undelivered events; beyond that it is dropped, its buffer discarded, and its next iteration raises
``WatchOverflow``: the consumer should watch again from the last revision it processed (for the
apiserver: end the HTTP watch; clients re-watch from their resourceVersion). The iterator ends when
the store closes or the consumer stops (``aclose()`` or dropping it). Cancelling a pending
``anext()`` (e.g. ``wait_for`` for bookmarks) loses nothing: the next call carries on.

Compaction and space. ``compact(rev)`` makes ``rev`` the oldest readable revision, as etcd does:
rows superseded before ``rev`` and tombstones older than ``rev`` are deleted, in chunks so that
writes keep flowing. Then ``PRAGMA incremental_vacuum`` returns free pages to the file system (the
file is created with ``auto_vacuum=INCREMENTAL``) and ``wal_checkpoint(TRUNCATE)`` empties the WAL.
A background task does this every ``compact_interval`` seconds keeping ``keep_revisions``. Between
those, the WAL restarts from its beginning every ``_WAL_RESTART_PAGES`` (32 MB) even under
sustained writes, so it stays below about twice that.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import os
import queue
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kybernetes.store import interface

__all__ = ["SQLiteStore", "StoreClosed", "WatchOverflow"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class WatchOverflow(interface.StoreError):
    """The watcher fell more than ``watch_queue_limit`` events behind and was dropped; watch again
    from the last revision you processed."""

    def __init__(self, prefix: str, limit: int) -> None:
        super().__init__(f"watch of {prefix!r} dropped: more than {limit} undelivered events")
        self.prefix = prefix
        self.limit = limit


class StoreClosed(interface.StoreError):
    """The store is closed (or was never started)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS kv_key_id ON kv (key, id);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""

_SQL_LATEST = "SELECT id, deleted, create_revision, value FROM kv WHERE key = ? ORDER BY id DESC LIMIT 1"
_SQL_AT = (
    "SELECT id, deleted, create_revision, value FROM kv WHERE key = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)
_SQL_INSERT = (
    "INSERT INTO kv (id, key, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?)"
)
# The newest row of each of N keys (one index seek per key), for the writer's per-batch lookup.
_SQL_LOOKUP = (
    "SELECT key, id, deleted, create_revision, value FROM kv WHERE id IN (SELECT "
    "(SELECT x.id FROM kv AS x WHERE x.key = k.column1 ORDER BY x.id DESC LIMIT 1) FROM (VALUES {}) AS k)"
)
_LOOKUP_SIZES = (8, 64)  # keys per lookup statement; shorter lists are padded, so few statements exist
_SQL_STATE = "SELECT (SELECT value FROM meta WHERE name = 'compacted'), (SELECT MAX(id) FROM kv)"
_SQL_SET_COMPACTED = "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted', ?)"
# Rows superseded by a row in [lo, hi), then tombstones in [lo, hi): what compacting from lo to hi frees.
_SQL_COMPACT_SUPERSEDED = (
    "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv WHERE id >= ? AND id < ? AND prev_revision > 0)"
)
_SQL_COMPACT_TOMBSTONES = "DELETE FROM kv WHERE id >= ? AND id < ? AND deleted = 1"

_CREATE, _UPDATE, _DELETE = 1, 2, 3
_COMPACT_CHUNK = 20_000  # revisions per compaction transaction
_VACUUM_CHUNK = 2_048  # pages per incremental_vacuum step
_VACUUM_MIN_PAGES = 64  # do not bother returning less than this
_REPLAY_CHUNK = 1_000  # rows per watch-replay read
_CHECKPOINT_BYTES = 4 << 20  # WAL growth (estimated) that wakes the checkpointer
_WAL_RESTART_PAGES = 8_192  # a WAL longer than this (32 MB of 4 KiB pages) is restarted


def _prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None = no bound).

    SQLite compares TEXT by its UTF-8 bytes, which orders like code points, like Python.
    """
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates have no UTF-8 form; skip them
                nxt = 0xE000
            return prefix[:-1] + chr(nxt)
        prefix = prefix[:-1]
    return None


def _key_bounds(prefix: str, start: str, column: str = "key") -> tuple[str, tuple[Any, ...]]:
    """An SQL condition on ``column`` (and its parameters) for "has prefix, strictly after start"."""
    conds: list[str] = []
    params: list[Any] = []
    if start and start >= prefix:
        conds.append(f"{column} > ?")
        params.append(start)
    elif prefix:
        conds.append(f"{column} >= ?")
        params.append(prefix)
    end = _prefix_end(prefix)
    if end is not None:
        conds.append(f"{column} < ?")
        params.append(end)
    return (" AND ".join(conds) or "1"), tuple(params)


def _connect(path: str, *, reader: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA cache_size = -16000")
    conn.execute("PRAGMA temp_store = MEMORY")
    if reader:
        conn.execute("PRAGMA query_only = 1")
    return conn


def _read_state(conn: sqlite3.Connection) -> tuple[int, int]:
    """(compacted revision, current revision) as of the connection's snapshot."""
    compacted, current = conn.execute(_SQL_STATE).fetchone()
    return int(compacted or 0), int(current or 0)


def _check_readable(conn: sqlite3.Connection, revision: int) -> int:
    """Raise unless ``revision`` can be read in this snapshot; return the current revision."""
    compacted, current = _read_state(conn)
    if revision > current:
        raise interface.FutureRevision(
            f"required revision {revision} is a future revision (current {current})"
        )
    if revision < compacted:
        raise interface.Compacted(revision, compacted)
    return current


def _lookup(conn: sqlite3.Connection, keys: list[str]) -> dict[str, interface.KeyValue | None]:
    """The live value of each key (None if absent or deleted), in few statements."""
    found: dict[str, interface.KeyValue | None] = dict.fromkeys(keys)
    if len(keys) == 1:
        found[keys[0]] = _kv_from_row(keys[0], conn.execute(_SQL_LATEST, (keys[0],)).fetchone())
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


def _kv_from_row(key: str, row: tuple[Any, ...] | None) -> interface.KeyValue | None:
    """A ``(id, deleted, create_revision, value)`` row as a live KeyValue, None if absent/deleted."""
    if row is None or row[1]:
        return None
    return interface.KeyValue(key, row[3], row[2], row[0])


# --- reads (reader threads) ------------------------------------------------------------------------


def _read_get(conn: sqlite3.Connection, key: str, revision: int) -> interface.KeyValue | None:
    if revision == 0:
        return _kv_from_row(key, conn.execute(_SQL_LATEST, (key,)).fetchone())
    conn.execute("BEGIN")
    try:
        _check_readable(conn, revision)
        return _kv_from_row(key, conn.execute(_SQL_AT, (key, revision)).fetchone())
    finally:
        conn.execute("COMMIT")


def _read_range(
    conn: sqlite3.Connection, prefix: str, start: str, limit: int, revision: int
) -> interface.RangeResult:
    where, params = _key_bounds(prefix, start)
    # The newest row per key at the revision (an index-only scan of kv_key_id in key order), then
    # its value by rowid; tombstones drop out.
    latest = f"SELECT MAX(id) AS mid FROM kv WHERE {where} AND id <= ? GROUP BY key"
    conn.execute("BEGIN")
    try:
        if revision == 0:
            revision = _read_state(conn)[1]
        else:
            _check_readable(conn, revision)
        select = (
            f"SELECT kv.key, kv.value, kv.create_revision, kv.id FROM ({latest}) AS m "
            "CROSS JOIN kv ON kv.id = m.mid WHERE kv.deleted = 0"
        )
        args = (*params, revision, limit + 1 if limit > 0 else -1)
        rows = conn.execute(f"{select} LIMIT ?", args).fetchall()
        if any(a[0] >= b[0] for a, b in itertools.pairwise(rows)):
            # The grouped index scan yields keys in order on every SQLite we know of; should a
            # planner ever differ, sort explicitly (slower: no early stop at the limit).
            rows = conn.execute(f"{select} ORDER BY kv.key LIMIT ?", args).fetchall()
        more = 0 < limit < len(rows)
        if more:
            del rows[limit:]
            count = conn.execute(
                f"SELECT COUNT(*) FROM ({latest}) AS m CROSS JOIN kv ON kv.id = m.mid WHERE kv.deleted = 0",
                (*params, revision),
            ).fetchone()[0]
        else:
            count = len(rows)
    finally:
        conn.execute("COMMIT")
    kvs = [interface.KeyValue(r[0], r[1], r[2], r[3]) for r in rows]
    return interface.RangeResult(kvs=kvs, more=more, revision=revision, count=count)


def _read_events(
    conn: sqlite3.Connection, prefix: str, after: int, upto: int | None
) -> tuple[list[interface.Event], int, bool]:
    """Events under ``prefix`` with after < revision <= upto (None = the snapshot's revision).

    Returns (events, covered, complete): every event up to ``covered`` is in ``events``;
    ``complete`` says covered reached ``upto``.
    """
    where, params = _key_bounds(prefix, "", "+c.key")  # unary +: walk ids in order, not the key index
    conn.execute("BEGIN")
    try:
        compacted, current = _read_state(conn)
        if after < compacted - 1:
            raise interface.Compacted(after, compacted)
        hi = current if upto is None else min(upto, current)
        rows = conn.execute(
            "SELECT c.id, c.key, c.deleted, c.create_revision, c.value, p.id, p.create_revision, p.value "
            "FROM kv AS c LEFT JOIN kv AS p ON p.id = c.prev_revision AND c.prev_revision > 0 "
            f"WHERE c.id > ? AND c.id <= ? AND {where} ORDER BY c.id LIMIT ?",
            (after, hi, *params, _REPLAY_CHUNK),
        ).fetchall()
    finally:
        conn.execute("COMMIT")
    events: list[interface.Event] = []
    for rev, key, deleted, create_rev, value, p_rev, p_create, p_value in rows:
        prev = None if p_rev is None else interface.KeyValue(key, p_value, p_create, p_rev)
        if deleted:
            kv = interface.KeyValue(key, b"" if prev is None else prev.value, create_rev, rev)
            events.append(interface.Event("DELETE", kv, prev))
        else:
            events.append(interface.Event("PUT", interface.KeyValue(key, value, create_rev, rev), prev))
    if len(rows) == _REPLAY_CHUNK:
        return events, rows[-1][0], False
    return events, max(hi, after), True


class _Readers:
    """A few threads, each with its own read-only connection, serving read jobs from one queue."""

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._path = path
        self._loop = loop
        self._jobs: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"kyb-sqlite-reader-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        fut: asyncio.Future[_T] = self._loop.create_future()
        self._jobs.put((fn, fut))
        return await fut

    def stop(self) -> list[threading.Thread]:
        for _ in self._threads:
            self._jobs.put(None)
        return self._threads

    def _serve(self) -> None:
        conn = _connect(self._path, reader=True)
        try:
            while (job := self._jobs.get()) is not None:
                fn, fut = job
                result: Any = None
                error: Exception | None = None
                try:
                    result = fn(conn)
                except interface.StoreError as exc:
                    error = exc
                except sqlite3.Error as exc:
                    log.error("SQLite read failed: %s", exc)
                    error = interface.StoreError(f"read failed: {exc}")
                    error.__cause__ = exc
                except Exception as exc:
                    error = exc
                if error is not None and conn.in_transaction:
                    conn.execute("ROLLBACK")
                try:
                    self._loop.call_soon_threadsafe(_settle, fut, result, error)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    return
        finally:
            conn.close()


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # the waiter was cancelled
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


# --- writes (the writer thread) --------------------------------------------------------------------


@dataclass(slots=True)
class _Write:
    kind: int
    key: str
    value: bytes
    expected: int
    future: asyncio.Future[interface.KeyValue]


@dataclass(slots=True)
class _Maintain:
    """Compact to ``target`` (if above the current point), vacuum, checkpoint: one step at a time."""

    target: int
    future: asyncio.Future[None]
    stage: int = 0


@dataclass(slots=True)
class _Close:
    future: asyncio.Future[None]


_Op = _Write | _Maintain | _Close
_Result = tuple[asyncio.Future[Any], Any]


class _Writer(threading.Thread):
    """Owns the only writing connection: group-commits batches of writes, runs maintenance."""

    def __init__(
        self, store: SQLiteStore, loop: asyncio.AbstractEventLoop, started: asyncio.Future[None]
    ) -> None:
        super().__init__(name="kyb-sqlite-writer", daemon=True)
        self.ops: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._store = store
        self._loop = loop
        self._ready = started
        self._path = store.path
        self._max_batch = store.max_batch
        self.checkpointer: _Checkpointer | None = None
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
            self._post(_settle, self._ready, None, error)
            return
        self._post(self._store._on_started, self._ready, self.revision, self.compacted)
        try:
            self._loop_ops()
        except Exception:
            log.exception("SQLite writer stopped: failing every further operation")
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
            if isinstance(op, _Close):
                self._post(_settle, op.future, None, None)
                return
            self._post(_settle, op.future, None, error)

    def _open(self) -> None:
        parent = os.path.dirname(os.path.abspath(self._path))
        os.makedirs(parent, exist_ok=True)
        conn = self._conn = _connect(self._path, reader=False)
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints run on the checkpointer thread
        conn.executescript(_SCHEMA)
        self.compacted, self.revision = _read_state(conn)
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
            if isinstance(op, _Write):
                batch = [op]
                follow: _Op | None = None
                while len(batch) < self._max_batch:
                    try:
                        nxt = self.ops.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(nxt, _Write):
                        batch.append(nxt)
                    else:
                        follow = nxt
                        break
                if not self._commit(batch):
                    return
                if follow is None:
                    continue
                op = follow
            if isinstance(op, _Write):  # unreachable: a batch ends at the first other operation
                continue
            if isinstance(op, _Close):
                self._drain(StoreClosed("store is closed"), wait_close=False)  # re-queued maintenance
                self._checkpoint()
                self._post(_settle, op.future, None, None)
                return
            self._maintain(op)

    def _commit(self, batch: list[_Write]) -> bool:
        conn = self._conn
        assert conn is not None
        rev = self.revision
        rows: list[tuple[int, str, int, int, int, bytes]] = []
        results: list[_Result] = []
        events: list[interface.Event] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Each key's live value, then kept current as the batch goes: later ops see earlier ones.
            live = _lookup(conn, list(dict.fromkeys(op.key for op in batch)))
            for op in batch:
                key = op.key
                cur = live[key]
                if op.kind == _CREATE:
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
                elif (op.expected or op.kind == _UPDATE) and cur.mod_revision != op.expected:
                    results.append((op.future, interface.RevisionMismatch(cur)))
                    continue
                elif op.kind == _UPDATE:
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
            log.error("SQLite write batch of %d operations failed: %s", len(batch), exc)
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
        """Wake the checkpointer every few MB; finish its checkpoint when it asks (see _Checkpointer)."""
        ckpt = self.checkpointer
        if self.finish_checkpoint and ckpt is not None and ckpt.lock.acquire(blocking=False):
            assert self._conn is not None
            try:  # nobody else writes, so this completes and the next transaction restarts the WAL
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed: %s", exc)
            finally:
                self.finish_checkpoint = False
                ckpt.lock.release()
        self._wal_bytes += wal_bytes
        if self._wal_bytes >= _CHECKPOINT_BYTES and ckpt is not None:
            self._wal_bytes = 0
            ckpt.kick()

    def _maintain(self, op: _Maintain) -> None:
        conn = self._conn
        assert conn is not None
        try:
            done = self._maintain_step(conn, op)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.error("SQLite maintenance failed: %s", exc)
            self._post(_settle, op.future, None, interface.StoreError(f"maintenance failed: {exc}"))
            return
        if done:
            self._post(_settle, op.future, None, None)
        else:
            self._after_commit(_CHECKPOINT_BYTES)  # a compaction/vacuum step writes plenty of pages
            self.ops.put(op)  # let the writes queued meanwhile go first

    def _maintain_step(self, conn: sqlite3.Connection, op: _Maintain) -> bool:
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
                log.debug("WAL checkpoint incomplete: readers active")
        finally:
            if ckpt is not None:
                ckpt.lock.release()
            self._conn.execute("PRAGMA busy_timeout = 5000")


class _Checkpointer(threading.Thread):
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

    def __init__(self, path: str, writer: _Writer) -> None:
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
        conn = _connect(self._path, reader=False)
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
                    log.warning("WAL checkpoint failed: %s", exc)
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


# --- watch -----------------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Subscription:
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


class _WatchStream(AsyncIterator[interface.Event]):
    """The iterator ``SQLiteStore.watch`` returns: replay from the database, then live events."""

    def __init__(self, store: SQLiteStore, prefix: str, from_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._last = from_revision  # every event up to here was delivered (or is in _pending)
        self._pending: collections.deque[interface.Event] = collections.deque()
        self._sub: _Subscription | None = None
        self._target: int | None = None  # replay up to here before going live (None: snapshot's)
        self._live = False
        self._started = False
        self._done = False

    def __aiter__(self) -> _WatchStream:
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
            read = functools.partial(_read_events, prefix=self._prefix, after=self._last, upto=self._target)
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


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Task %s failed", task.get_name(), exc_info=task.exception())


# --- the store -------------------------------------------------------------------------------------


class SQLiteStore:
    """The embedded ``Store``: MVCC rows in one SQLite file (see the module docstring).

    ``path`` is the database file (its directory is created). ``compact_interval`` seconds between
    automatic compactions (0 disables them), which keep the last ``keep_revisions`` revisions.
    ``readers`` threads serve reads; ``max_batch`` bounds one group commit; ``watch_queue_limit``
    bounds each watcher's undelivered events (see ``WatchOverflow``).
    """

    def __init__(
        self,
        path: str,
        *,
        compact_interval: float = 60.0,
        keep_revisions: int = 1000,
        readers: int = 2,
        max_batch: int = 1000,
        watch_queue_limit: int = 10_000,
    ) -> None:
        if path == ":memory:" or path.startswith("file:"):
            raise ValueError("SQLiteStore needs a file path (its connections share the file)")
        if keep_revisions < 0 or readers < 1 or max_batch < 1 or watch_queue_limit < 1:
            raise ValueError("keep_revisions >= 0, readers >= 1, max_batch >= 1, watch_queue_limit >= 1")
        self.path = path
        self.compact_interval = compact_interval
        self.keep_revisions = keep_revisions
        self.readers = readers
        self.max_batch = max_batch
        self.watch_queue_limit = watch_queue_limit
        self._revision = 0
        self._compacted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: _Writer | None = None
        self._readers: _Readers | None = None
        self._subs: set[_Subscription] = set()
        self._maintenance: asyncio.Task[None] | None = None
        self._open = False
        self.closing = False

    # lifecycle

    async def start(self) -> None:
        if self._writer is not None:
            raise interface.StoreError("store already started")
        loop = self._loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        self._writer = _Writer(self, loop, started)
        self._writer.start()
        try:
            await started
        except BaseException:
            self._writer = None
            raise
        self._readers = _Readers(self.path, loop, self.readers)
        self._writer.checkpointer = _Checkpointer(self.path, self._writer)
        self._writer.checkpointer.start()
        self._open = True
        if self.compact_interval > 0:
            self._maintenance = asyncio.create_task(self._maintain_forever(), name="sqlite-store-maintenance")
            self._maintenance.add_done_callback(_log_task_failure)
        log.info(
            "Opened SQLite store %s at revision %d (compacted %d)", self.path, self._revision, self._compacted
        )

    async def close(self) -> None:
        if not self._open or self.closing:
            return
        self.closing = True
        if self._maintenance is not None:
            self._maintenance.cancel()
            try:
                await self._maintenance
            except asyncio.CancelledError:
                pass
            self._maintenance = None
        assert self._writer is not None and self._readers is not None
        checkpointer = self._writer.checkpointer
        if checkpointer is not None:
            checkpointer.stop()
            await asyncio.to_thread(checkpointer.join)
        done: asyncio.Future[None] = self.loop.create_future()
        self._writer.ops.put(_Close(done))  # after every write queued before it
        await done
        threads = [self._writer, *self._readers.stop()]
        for thread in threads:
            await asyncio.to_thread(thread.join)
        self._open = False
        for sub in self._subs:
            sub.closed = True
            sub.wake()
        self._subs.clear()
        log.info("Closed SQLite store %s at revision %d", self.path, self._revision)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise StoreClosed("store not started")
        return self._loop

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    # reads

    async def get(self, key: str, revision: int = 0) -> interface.KeyValue | None:
        return await self._readers_run(functools.partial(_read_get, key=key, revision=revision))

    async def range(
        self, prefix: str, *, start: str = "", limit: int = 0, revision: int = 0
    ) -> interface.RangeResult:
        read = functools.partial(_read_range, prefix=prefix, start=start, limit=limit, revision=revision)
        return await self._readers_run(read)

    # writes

    async def create(self, key: str, value: bytes) -> interface.KeyValue:
        return await self._write(_CREATE, key, value, 0)

    async def update(self, key: str, value: bytes, expected_mod_revision: int) -> interface.KeyValue:
        return await self._write(_UPDATE, key, value, expected_mod_revision)

    async def delete(self, key: str, expected_mod_revision: int = 0) -> interface.KeyValue:
        return await self._write(_DELETE, key, b"", expected_mod_revision)

    async def compact(self, revision: int) -> None:
        """Make ``revision`` the oldest readable one (a no-op if it already is older), then vacuum
        and checkpoint. ``FutureRevision`` if it is beyond the current revision."""
        self._check_open()
        if revision > self._revision:
            raise interface.FutureRevision(
                f"cannot compact to {revision}: current revision is {self._revision}"
            )
        await self._submit_maintenance(revision)

    # watch

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[interface.Event]:
        return _WatchStream(self, prefix, from_revision)

    # internals (loop side)

    def _check_open(self) -> None:
        if not self._open or self.closing:
            raise StoreClosed("store is closed" if self._open or self.closing else "store not started")

    async def _readers_run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        self._check_open()
        assert self._readers is not None
        return await self._readers.run(fn)

    async def _write(self, kind: int, key: str, value: bytes, expected: int) -> interface.KeyValue:
        self._check_open()
        assert self._writer is not None
        fut: asyncio.Future[interface.KeyValue] = self.loop.create_future()
        self._writer.ops.put(_Write(kind, key, bytes(value), expected, fut))
        return await fut

    async def _submit_maintenance(self, target: int) -> None:
        assert self._writer is not None
        fut: asyncio.Future[None] = self.loop.create_future()
        self._writer.ops.put(_Maintain(target, fut))
        await fut

    async def _maintain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.compact_interval)
            try:
                await self._submit_maintenance(self._revision - self.keep_revisions)
            except interface.StoreError as exc:  # logged by the writer; retried next interval
                log.warning("Automatic compaction failed: %s", exc)

    def _subscribe(self, prefix: str) -> _Subscription:
        self._check_open()
        sub = _Subscription(prefix, self.watch_queue_limit)
        self._subs.add(sub)
        return sub

    def _unsubscribe(self, sub: _Subscription) -> None:
        self._subs.discard(sub)

    # callbacks from the writer thread, run on the loop

    def _on_started(self, started: asyncio.Future[None], revision: int, compacted: int) -> None:
        self._revision = revision
        self._compacted = compacted
        _settle(started, None, None)

    def _on_commit(self, revision: int, results: list[_Result], events: list[interface.Event]) -> None:
        self._revision = revision
        if events and self._subs:
            for sub in tuple(self._subs):
                if not sub.offer(events):
                    self._subs.discard(sub)
                    log.warning("Dropped watch of %r: more than %d undelivered events", sub.prefix, sub.limit)
        for fut, result in results:
            if fut.done():  # the writer was cancelled; the write stands
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    def _on_compacted(self, compacted: int) -> None:
        self._compacted = compacted
