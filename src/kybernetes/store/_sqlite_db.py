"""SQLite plumbing of ``SQLiteStore``: connections, key bounds and the read side (reader threads).

``sqlite.SQLiteStore`` runs the ``read_*`` functions on ``Readers`` (a few threads with
read-only connections, one job queue); ``_sqlite_writer`` owns the writing connection and
``_sqlite_watch`` replays history with ``read_events``. WAL gives every read a consistent
snapshot that a running write batch never blocks.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kybernetes.store import interface

log = logging.getLogger("kybernetes.store.sqlite")

_T = TypeVar("_T")


class StoreClosed(interface.StoreError):
    """The store is closed (or was never started)."""


SCHEMA = """
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

SQL_LATEST = "SELECT id, deleted, create_revision, value FROM kv WHERE key = ? ORDER BY id DESC LIMIT 1"
SQL_AT = (
    "SELECT id, deleted, create_revision, value FROM kv WHERE key = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)
SQL_STATE = "SELECT (SELECT value FROM meta WHERE name = 'compacted'), (SELECT MAX(id) FROM kv)"
REPLAY_CHUNK = 1_000  # rows per watch-replay read


def prefix_end(prefix: str) -> str | None:
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


def key_bounds(prefix: str, start: str, column: str = "key") -> tuple[str, tuple[Any, ...]]:
    """An SQL condition on ``column`` (and its parameters) for "has prefix, strictly after start"."""
    conds: list[str] = []
    params: list[Any] = []
    if start and start >= prefix:
        conds.append(f"{column} > ?")
        params.append(start)
    elif prefix:
        conds.append(f"{column} >= ?")
        params.append(prefix)
    end = prefix_end(prefix)
    if end is not None:
        conds.append(f"{column} < ?")
        params.append(end)
    return (" AND ".join(conds) or "1"), tuple(params)


def connect(path: str, *, reader: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA cache_size = -16000")
    conn.execute("PRAGMA temp_store = MEMORY")
    if reader:
        conn.execute("PRAGMA query_only = 1")
    return conn


def read_state(conn: sqlite3.Connection) -> tuple[int, int]:
    """(compacted revision, current revision) as of the connection's snapshot."""
    compacted, current = conn.execute(SQL_STATE).fetchone()
    return int(compacted or 0), int(current or 0)


def check_readable(conn: sqlite3.Connection, revision: int) -> int:
    """Raise unless ``revision`` can be read in this snapshot; return the current revision."""
    compacted, current = read_state(conn)
    if revision > current:
        raise interface.FutureRevision(
            f"required revision {revision} is a future revision (current {current})"
        )
    if revision < compacted:
        raise interface.Compacted(revision, compacted)
    return current

def kv_from_row(key: str, row: tuple[Any, ...] | None) -> interface.KeyValue | None:
    """A ``(id, deleted, create_revision, value)`` row as a live KeyValue, None if absent/deleted."""
    if row is None or row[1]:
        return None
    return interface.KeyValue(key, row[3], row[2], row[0])



# --- reads (reader threads) ------------------------------------------------------------------------


def read_get(conn: sqlite3.Connection, key: str, revision: int) -> interface.KeyValue | None:
    if revision == 0:
        return kv_from_row(key, conn.execute(SQL_LATEST, (key,)).fetchone())
    conn.execute("BEGIN")
    try:
        check_readable(conn, revision)
        return kv_from_row(key, conn.execute(SQL_AT, (key, revision)).fetchone())
    finally:
        conn.execute("COMMIT")


def read_range(
    conn: sqlite3.Connection, prefix: str, start: str, limit: int, revision: int
) -> interface.RangeResult:
    where, params = key_bounds(prefix, start)
    # The newest row per key at the revision (an index-only scan of kv_key_id in key order), then
    # its value by rowid; tombstones drop out.
    latest = f"SELECT MAX(id) AS mid FROM kv WHERE {where} AND id <= ? GROUP BY key"
    conn.execute("BEGIN")
    try:
        if revision == 0:
            revision = read_state(conn)[1]
        else:
            check_readable(conn, revision)
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


def read_events(
    conn: sqlite3.Connection, prefix: str, after: int, upto: int | None
) -> tuple[list[interface.Event], int, bool]:
    """Events under ``prefix`` with after < revision <= upto (None = the snapshot's revision).

    Returns (events, covered, complete): every event up to ``covered`` is in ``events``;
    ``complete`` says covered reached ``upto``.
    """
    where, params = key_bounds(prefix, "", "+c.key")  # unary +: walk ids in order, not the key index
    conn.execute("BEGIN")
    try:
        compacted, current = read_state(conn)
        if after < compacted - 1:
            raise interface.Compacted(after, compacted)
        hi = current if upto is None else min(upto, current)
        rows = conn.execute(
            "SELECT c.id, c.key, c.deleted, c.create_revision, c.value, p.id, p.create_revision, p.value "
            "FROM kv AS c LEFT JOIN kv AS p ON p.id = c.prev_revision AND c.prev_revision > 0 "
            f"WHERE c.id > ? AND c.id <= ? AND {where} ORDER BY c.id LIMIT ?",
            (after, hi, *params, REPLAY_CHUNK),
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
    if len(rows) == REPLAY_CHUNK:
        return events, rows[-1][0], False
    return events, max(hi, after), True


class Readers:
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
        conn = connect(self._path, reader=True)
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
                    self._loop.call_soon_threadsafe(settle, fut, result, error)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    return
        finally:
            conn.close()


def settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # the waiter was cancelled
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


