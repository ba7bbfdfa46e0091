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
checkpointer thread copies the WAL back into the database beside the writer (see ``_sqlite_writer.Checkpointer``).

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

Modules: this facade holds ``SQLiteStore`` (lifecycle, the loop side of reads, writes and
watches); ``_sqlite_db`` the SQL, connections and reader threads; ``_sqlite_writer`` the writer
and checkpointer threads; ``_sqlite_watch`` the watch streams.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from kybernetes.store import _sqlite_db as db
from kybernetes.store import _sqlite_watch as watching
from kybernetes.store import _sqlite_writer as writing
from kybernetes.store import interface
from kybernetes.store._sqlite_db import StoreClosed
from kybernetes.store._sqlite_watch import WatchOverflow

__all__ = ["SQLiteStore", "StoreClosed", "WatchOverflow"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


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
        self._writer: writing.Writer | None = None
        self._readers: db.Readers | None = None
        self._subs: set[watching.Subscription] = set()
        self._maintenance: asyncio.Task[None] | None = None
        self._open = False
        self.closing = False

    # lifecycle

    async def start(self) -> None:
        if self._writer is not None:
            raise interface.StoreError("store already started")
        loop = self._loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        self._writer = writing.Writer(self, loop, started)
        self._writer.start()
        try:
            await started
        except BaseException:
            self._writer = None
            raise
        self._readers = db.Readers(self.path, loop, self.readers)
        self._writer.checkpointer = writing.Checkpointer(self.path, self._writer)
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
        self._writer.ops.put(writing.Close(done))  # after every write queued before it
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
        return await self._readers_run(functools.partial(db.read_get, key=key, revision=revision))

    async def range(
        self, prefix: str, *, start: str = "", limit: int = 0, revision: int = 0
    ) -> interface.RangeResult:
        read = functools.partial(db.read_range, prefix=prefix, start=start, limit=limit, revision=revision)
        return await self._readers_run(read)

    # writes

    async def create(self, key: str, value: bytes) -> interface.KeyValue:
        return await self._write(writing.CREATE, key, value, 0)

    async def update(self, key: str, value: bytes, expected_mod_revision: int) -> interface.KeyValue:
        return await self._write(writing.UPDATE, key, value, expected_mod_revision)

    async def delete(self, key: str, expected_mod_revision: int = 0) -> interface.KeyValue:
        return await self._write(writing.DELETE, key, b"", expected_mod_revision)

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
        return watching.WatchStream(self, prefix, from_revision)

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
        self._writer.ops.put(writing.Write(kind, key, bytes(value), expected, fut))
        return await fut

    async def _submit_maintenance(self, target: int) -> None:
        assert self._writer is not None
        fut: asyncio.Future[None] = self.loop.create_future()
        self._writer.ops.put(writing.Maintain(target, fut))
        await fut

    async def _maintain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.compact_interval)
            try:
                await self._submit_maintenance(self._revision - self.keep_revisions)
            except interface.StoreError as exc:  # logged by the writer; retried next interval
                log.warning("Automatic compaction failed: %s", exc)

    def _subscribe(self, prefix: str) -> watching.Subscription:
        self._check_open()
        sub = watching.Subscription(prefix, self.watch_queue_limit)
        self._subs.add(sub)
        return sub

    def _unsubscribe(self, sub: watching.Subscription) -> None:
        self._subs.discard(sub)

    # callbacks from the writer thread, run on the loop

    def _on_started(self, started: asyncio.Future[None], revision: int, compacted: int) -> None:
        self._revision = revision
        self._compacted = compacted
        db.settle(started, None, None)

    def _on_commit(self, revision: int, results: list[writing.Result], events: list[interface.Event]) -> None:
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
