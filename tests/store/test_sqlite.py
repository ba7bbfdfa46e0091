"""Tests for ``kybernetes.store.sqlite``: the embedded store against the ``Store`` contract."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.store import (
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    SQLiteStore,
    Store,
    StoreClosed,
    StoreError,
    WatchOverflow,
)
from kybernetes.store import _sqlite_db as sqlite_db
from kybernetes.store import _sqlite_writer as sqlite_writer
from tests.store.conftest import Until

_ACKWRITER = str(Path(__file__).with_name("ackwriter.py"))
_SRC = str(Path(__file__).resolve().parents[2] / "src")


def _db_rows(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0])
    finally:
        conn.close()


def _wal_size(path: str) -> int:
    wal = path + "-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


def _disk_size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


async def _next(it: AsyncIterator[Event]) -> Event:
    return await anext(it)


async def _take(it: AsyncIterator[Event], n: int, within: float = 10.0) -> list[Event]:
    async def go() -> list[Event]:
        return [await anext(it) for _ in range(n)]

    return await asyncio.wait_for(go(), within)


def _pragma(path: str, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


# --- CRUD ----------------------------------------------------------------------------------------


async def test_satisfies_store_protocol(db_path: str) -> None:
    store: Store = SQLiteStore(db_path)
    assert store.revision == 0
    assert store.compacted_revision == 0


async def test_open_failure_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SQLiteStore(":memory:")
    with pytest.raises(ValueError):
        SQLiteStore(str(tmp_path / "db"), readers=0)
    broken = SQLiteStore(str(tmp_path))  # a directory is no database
    with pytest.raises(StoreError, match="cannot open"):
        await broken.start()
    with pytest.raises(StoreClosed):
        await broken.get("/r/a")


def _journal_mode(path: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


async def test_file_is_created_in_wal_mode_with_incremental_vacuum(store: SQLiteStore) -> None:
    await store.create("/r/a", b"x")
    assert await asyncio.to_thread(_pragma, store.path, "auto_vacuum") == 2  # INCREMENTAL
    assert await asyncio.to_thread(_pragma, store.path, "page_count") > 0
    assert await asyncio.to_thread(_journal_mode, store.path) == "wal"


async def test_create_and_get(store: SQLiteStore) -> None:
    assert store.revision == 0
    kv = await store.create("/r/a", b"one")
    assert kv == KeyValue("/r/a", b"one", create_revision=1, mod_revision=1)
    assert store.revision == 1
    assert await store.get("/r/a") == kv
    assert await store.get("/r/missing") is None
    with pytest.raises(KeyExists):
        await store.create("/r/a", b"again")
    assert store.revision == 1  # a failed write does not bump the revision
    kv2 = await store.create("/r/b", b"two")
    assert kv2.mod_revision == 2


async def test_update_is_compare_and_swap(store: SQLiteStore) -> None:
    kv = await store.create("/r/a", b"v1")
    kv2 = await store.update("/r/a", b"v2", kv.mod_revision)
    assert kv2 == KeyValue("/r/a", b"v2", create_revision=1, mod_revision=2)
    with pytest.raises(RevisionMismatch) as err:
        await store.update("/r/a", b"v3", kv.mod_revision)
    assert err.value.current == kv2
    with pytest.raises(RevisionMismatch) as err:
        await store.update("/r/a", b"v3", 0)
    assert err.value.current == kv2
    with pytest.raises(KeyNotFound):
        await store.update("/r/missing", b"x", 1)
    assert (await store.get("/r/a")) == kv2
    assert store.revision == 2


async def test_delete_cas_and_recreate(store: SQLiteStore) -> None:
    kv = await store.create("/r/a", b"v1")
    kv2 = await store.update("/r/a", b"v2", kv.mod_revision)
    with pytest.raises(RevisionMismatch) as err:
        await store.delete("/r/a", expected_mod_revision=kv.mod_revision)
    assert err.value.current == kv2
    gone = await store.delete("/r/a", expected_mod_revision=kv2.mod_revision)
    assert gone == KeyValue("/r/a", b"v2", create_revision=1, mod_revision=3)
    assert await store.get("/r/a") is None
    with pytest.raises(KeyNotFound):
        await store.delete("/r/a")
    with pytest.raises(KeyNotFound):
        await store.update("/r/a", b"x", 3)
    again = await store.create("/r/a", b"v3")
    assert again == KeyValue("/r/a", b"v3", create_revision=4, mod_revision=4)
    unconditional = await store.delete("/r/a")
    assert unconditional.mod_revision == 5 and unconditional.create_revision == 4


async def test_get_at_past_revision(store: SQLiteStore) -> None:
    kv1 = await store.create("/r/a", b"v1")
    kv2 = await store.update("/r/a", b"v2", 1)
    await store.create("/r/other", b"x")
    await store.delete("/r/a")
    assert await store.get("/r/a", revision=1) == kv1
    assert await store.get("/r/a", revision=2) == kv2
    assert await store.get("/r/a", revision=3) == kv2
    assert await store.get("/r/a", revision=4) is None
    assert await store.get("/r/other", revision=2) is None
    with pytest.raises(FutureRevision):
        await store.get("/r/a", revision=5)


# --- group commit ---------------------------------------------------------------------------------


async def test_concurrent_writes_get_consecutive_unique_revisions(store: SQLiteStore) -> None:
    kvs = await asyncio.gather(*(store.create(f"/r/k{i:04d}", b"v") for i in range(500)))
    assert sorted(kv.mod_revision for kv in kvs) == list(range(1, 501))
    assert store.revision == 500
    result = await store.range("/r/")
    assert result.count == 500 and [kv.key for kv in result.kvs] == sorted(f"/r/k{i:04d}" for i in range(500))


async def test_cas_inside_one_batch_sees_earlier_ops(store: SQLiteStore) -> None:
    # Queued together, these land in one batch: later ops must see the earlier ones.
    creates = await asyncio.gather(
        *(store.create("/r/same", str(i).encode()) for i in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, KeyValue) for r in creates) == 1
    assert sum(isinstance(r, KeyExists) for r in creates) == 19
    base = await store.get("/r/same")
    assert base is not None
    updates = await asyncio.gather(
        *(store.update("/r/same", b"u", base.mod_revision) for _ in range(20)), return_exceptions=True
    )
    winners = [r for r in updates if isinstance(r, KeyValue)]
    assert len(winners) == 1
    assert all(
        isinstance(r, RevisionMismatch) and r.current == winners[0] for r in updates if r is not winners[0]
    )
    # create, update and delete of one key in the same batch
    results = await asyncio.gather(
        store.create("/r/chain", b"1"),
        store.update("/r/chain", b"2", store.revision + 1),
        store.delete("/r/chain", store.revision + 2),
        store.create("/r/chain", b"3"),
    )
    assert [kv.mod_revision - store.revision for kv in results] == [-3, -2, -1, 0]
    assert results[2].value == b"2" and results[3].create_revision == results[3].mod_revision


async def test_big_mixed_batches(store: SQLiteStore) -> None:
    for i in range(150):
        await store.create(f"/r/k{i:03d}", b"0")
    for i in range(0, 150, 2):
        await store.delete(f"/r/k{i:03d}")
    hot = await store.create("/r/hot", b"0")
    for n in range(200):
        hot = await store.update("/r/hot", str(n).encode(), hot.mod_revision)
    # One burst: >64 distinct keys, half of them deleted (create succeeds), half live (create fails).
    results = await asyncio.gather(
        *(store.create(f"/r/k{i:03d}", b"1") for i in range(150)),
        store.update("/r/hot", b"last", hot.mod_revision),
        return_exceptions=True,
    )
    assert [isinstance(r, KeyValue) for r in results[:150]] == [i % 2 == 0 for i in range(150)]
    assert all(isinstance(r, KeyExists) for r in results[1:150:2])
    assert isinstance(results[150], KeyValue) and results[150].value == b"last"
    assert (await store.range("/r/k")).count == 150


async def test_cancelled_writer_does_not_disturb_others(store: SQLiteStore) -> None:
    task = asyncio.create_task(store.create("/r/cancelled", b"v"))
    others = [asyncio.create_task(store.create(f"/r/o{i}", b"v")) for i in range(10)]
    await asyncio.sleep(0)  # let every task enqueue its write
    task.cancel()
    results = await asyncio.gather(*others)
    assert len({kv.mod_revision for kv in results}) == 10
    with pytest.raises(asyncio.CancelledError):
        await task


# --- range ----------------------------------------------------------------------------------------


async def test_range_prefix_limit_start_count_more(store: SQLiteStore) -> None:
    for i in range(10):
        await store.create(f"/r/pods/ns/p{i}", str(i).encode())
    await store.create("/r/podsx/ns/q", b"sibling")  # shares the string prefix "/r/pods" only
    await store.create("/r/a", b"before")
    await store.delete("/r/pods/ns/p5")

    full = await store.range("/r/pods/")
    assert [kv.key for kv in full.kvs] == [f"/r/pods/ns/p{i}" for i in range(10) if i != 5]
    assert (full.count, full.more, full.revision) == (9, False, store.revision)

    page1 = await store.range("/r/pods/", limit=4)
    assert [kv.key[-2:] for kv in page1.kvs] == ["p0", "p1", "p2", "p3"]
    assert (page1.count, page1.more) == (9, True)
    page2 = await store.range("/r/pods/", start=page1.kvs[-1].key, limit=4, revision=page1.revision)
    assert [kv.key[-2:] for kv in page2.kvs] == ["p4", "p6", "p7", "p8"]
    assert (page2.count, page2.more, page2.revision) == (5, True, page1.revision)
    page3 = await store.range("/r/pods/", start=page2.kvs[-1].key, limit=4, revision=page1.revision)
    assert [kv.key[-2:] for kv in page3.kvs] == ["p9"]
    assert (page3.count, page3.more) == (1, False)

    exact = await store.range("/r/pods/", limit=9)
    assert (len(exact.kvs), exact.more, exact.count) == (9, False, 9)
    everything = await store.range("")
    assert everything.count == 11
    assert (await store.range("/nothing/")).kvs == []


async def test_range_at_past_revision(store: SQLiteStore) -> None:
    a = await store.create("/r/a", b"a1")
    await store.create("/r/b", b"b1")
    rev = store.revision
    await store.update("/r/a", b"a2", a.mod_revision)
    await store.delete("/r/b")
    await store.create("/r/c", b"c1")
    past = await store.range("/r/", revision=rev)
    assert [(kv.key, kv.value) for kv in past.kvs] == [("/r/a", b"a1"), ("/r/b", b"b1")]
    assert past.revision == rev
    now = await store.range("/r/")
    assert [(kv.key, kv.value) for kv in now.kvs] == [("/r/a", b"a2"), ("/r/c", b"c1")]
    with pytest.raises(FutureRevision):
        await store.range("/r/", revision=store.revision + 1)


async def test_prefix_bounds_with_unusual_characters(store: SQLiteStore) -> None:
    for key in ["/u/é", "/u/\U0010ffff", "/u\U0010ffff/x", "/v/", "/u/\ud7ff", "/u/\ue000"]:
        await store.create(key, b"v")
    keys = [kv.key for kv in (await store.range("/u/")).kvs]
    assert keys == sorted(["/u/é", "/u/\U0010ffff", "/u/\ud7ff", "/u/\ue000"])
    assert sqlite_db.prefix_end("a\U0010ffff") == "b"
    assert sqlite_db.prefix_end("\U0010ffff") is None
    assert sqlite_db.prefix_end("a\ud7ff") == "a\ue000"


# --- watch ----------------------------------------------------------------------------------------


async def test_watch_live_events_with_prev(store: SQLiteStore) -> None:
    watch = store.watch("/r/", store.revision)
    first = asyncio.create_task(_next(watch))
    await asyncio.sleep(0)
    kv = await store.create("/r/a", b"1")
    kv2 = await store.update("/r/a", b"2", kv.mod_revision)
    gone = await store.delete("/r/a")
    events = [await first, *await _take(watch, 2)]
    assert events == [
        Event("PUT", kv, None),
        Event("PUT", kv2, kv),
        Event("DELETE", gone, kv2),
    ]
    assert gone.value == b"2"
    # A replay of the same history yields identical events.
    assert await _take(store.watch("/r/", 0), 3) == events


async def test_watch_replays_then_continues_without_gap_or_duplicate(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_db, "REPLAY_CHUNK", 7)  # replay in many small chunks
    total = 1500
    for i in range(300):
        await store.create(f"/w/k{i}", b"0")
    stop = asyncio.Event()
    written: list[int] = []

    async def writer(worker: int) -> None:
        i = 0
        while not stop.is_set() and len(written) < total:
            key = f"/w/k{(worker * 37 + i) % 300}"
            cur = await store.get(key)
            assert cur is not None
            try:
                kv = await store.update(key, str(i).encode(), cur.mod_revision)
            except RevisionMismatch:
                continue
            written.append(kv.mod_revision)
            i += 1
            if i % 10 == 0:
                await asyncio.sleep(0)

    writers = [asyncio.create_task(writer(w)) for w in range(8)]
    try:
        watchers = [store.watch("/w/", 0), store.watch("/w/", 150)]
        seen: list[list[int]] = [[], []]

        async def consume(n: int) -> None:
            async for event in watchers[n]:
                seen[n].append(event.kv.mod_revision)
                if len(seen[n]) == total + 300 - (150 if n else 0):
                    return

        await asyncio.wait_for(asyncio.gather(consume(0), consume(1)), 30)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    expected = list(range(1, total + 301))
    assert seen[0] == expected
    assert seen[1] == expected[150:]


async def test_watch_of_prefix_excludes_other_prefixes(store: SQLiteStore) -> None:
    await store.create("/r/a/1", b"x")
    await store.create("/r/ab/1", b"x")
    await store.create("/r/b/1", b"x")
    watch = store.watch("/r/a/", 0)
    (replayed,) = await _take(watch, 1)
    assert replayed.kv.key == "/r/a/1"
    await store.create("/r/ab/2", b"x")
    await store.create("/r/b/2", b"x")
    kv = await store.create("/r/a/2", b"x")
    (live,) = await _take(watch, 1)
    assert live.kv == kv


async def test_watch_from_future_revision_waits_for_it(store: SQLiteStore) -> None:
    watch = store.watch("", 3)
    for i in range(5):
        await store.create(f"/r/{i}", b"x")
    events = await _take(watch, 2)
    assert [e.kv.mod_revision for e in events] == [4, 5]


async def test_watch_ends_when_store_closes(db_path: str) -> None:
    store = SQLiteStore(db_path, compact_interval=0)
    await store.start()
    await store.create("/r/a", b"x")
    watch = store.watch("/r/", 1)
    pending = asyncio.create_task(_next(watch))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 5)
    with pytest.raises(StopAsyncIteration):
        await anext(store.watch("/r/", 0))


async def test_slow_watcher_is_dropped_with_overflow(db_path: str) -> None:
    store = SQLiteStore(db_path, compact_interval=0, watch_queue_limit=10)
    await store.start()
    try:
        slow = store.watch("/r/", 0)
        fast = store.watch("/r/", 0)
        first_slow = asyncio.create_task(_next(slow))
        await store.create("/r/0", b"x")
        assert (await first_slow).kv.mod_revision == 1
        got: list[Event] = []

        async def consume() -> None:
            async for event in fast:
                got.append(event)
                if len(got) == 30:
                    return

        consumer = asyncio.create_task(consume())
        for i in range(1, 30):
            await store.create(f"/r/{i}", b"x")
        await asyncio.wait_for(consumer, 10)  # a watcher that keeps up is unaffected
        with pytest.raises(WatchOverflow):
            await _take(slow, 30)
        assert isinstance(WatchOverflow("/r/", 10), StoreError)
        assert len(store._subs) == 1  # the dropped subscription is gone
    finally:
        await store.close()


async def test_dropped_watch_iterator_unsubscribes(store: SQLiteStore, until: Until) -> None:
    watch = store.watch("/r/", 0)
    task = asyncio.create_task(_next(watch))
    await store.create("/r/a", b"x")
    await task
    assert len(store._subs) == 1
    del watch, task
    gc.collect()
    await until(lambda: not store._subs, what="the subscription to be released")


async def test_cancelled_next_keeps_the_watch(store: SQLiteStore) -> None:
    watch = store.watch("/r/", store.revision)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(watch), 0.01)  # like a bookmark/heartbeat timer
    kv = await store.create("/r/a", b"x")
    assert (await _take(watch, 1))[0].kv == kv
    await watch.aclose()  # type: ignore[attr-defined]
    assert not store._subs
    with pytest.raises(StopAsyncIteration):
        await anext(watch)


# --- compaction -----------------------------------------------------------------------------------


async def test_compaction_forgets_history_but_keeps_latest(store: SQLiteStore) -> None:
    a = await store.create("/r/a", b"a1")
    for i in range(2, 6):
        a = await store.update("/r/a", f"a{i}".encode(), a.mod_revision)
    b = await store.create("/r/b", b"b1")
    await store.create("/r/gone", b"x")
    await store.delete("/r/gone")
    c = await store.create("/r/c", b"c1")
    c2 = await store.update("/r/c", b"c2", c.mod_revision)  # superseded exactly at the compact point
    point = c2.mod_revision
    tail = await store.update("/r/b", b"b2", b.mod_revision)
    rows_before = await asyncio.to_thread(_db_rows, store.path)

    await store.compact(point)
    assert store.compacted_revision == point
    with pytest.raises(Compacted) as err:
        await store.get("/r/a", revision=point - 1)
    assert (err.value.requested, err.value.compacted) == (point - 1, point)
    with pytest.raises(Compacted):
        await store.range("/r/", revision=point - 1)
    at_point = await store.range("/r/", revision=point)
    assert [(kv.key, kv.value) for kv in at_point.kvs] == [("/r/a", b"a5"), ("/r/b", b"b1"), ("/r/c", b"c2")]
    latest = await store.range("/r/")
    assert [kv for kv in latest.kvs] == [a, tail, c2]
    # a watch may start right before the compaction point, with full prev values
    events = await _take(store.watch("/r/", point - 1), 2)
    assert events == [Event("PUT", c2, c), Event("PUT", tail, b)]
    with pytest.raises(Compacted):
        await anext(store.watch("/r/", point - 2))
    rows_after = await asyncio.to_thread(_db_rows, store.path)
    # Kept: a5, b1 (prev of b2), b2, c1 (prev of c2), c2.
    assert (rows_before, rows_after) == (11, 5)

    await store.compact(point - 3)  # older than the compaction point: nothing to do
    assert store.compacted_revision == point
    with pytest.raises(FutureRevision):
        await store.compact(store.revision + 1)
    await store.compact(store.revision)
    assert (await store.range("/r/")).kvs == [a, tail, c2]


async def test_compaction_in_chunks_with_concurrent_writes(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_writer, "_COMPACT_CHUNK", 50)
    for i in range(20):
        await store.create(f"/r/{i}", b"0")
    for round_ in range(1, 30):
        await asyncio.gather(
            *(store.update(f"/r/{i}", str(round_).encode(), round_ * 20 - 19 + i) for i in range(20))
        )
    point = store.revision - 20
    writes = asyncio.gather(*(store.create(f"/new/{i}", b"x") for i in range(200)))
    await asyncio.gather(store.compact(point), writes)
    assert store.compacted_revision == point
    result = await store.range("/r/")
    assert [kv.value for kv in result.kvs] == [b"29"] * 20
    assert (await store.range("/new/")).count == 200


async def test_automatic_compaction(db_path: str, until: Until) -> None:
    store = SQLiteStore(db_path, compact_interval=0.02, keep_revisions=10)
    await store.start()
    try:
        for i in range(100):
            await store.create(f"/r/{i % 7}/{i}", b"x")
        await until(lambda: store.compacted_revision == store.revision - 10, what="automatic compaction")
        with pytest.raises(Compacted):
            await store.get("/r/0/0", revision=5)
        assert (await store.range("/r/")).count == 100
    finally:
        await store.close()


async def test_file_size_stays_bounded_under_churn(db_path: str) -> None:
    store = SQLiteStore(db_path, compact_interval=0, keep_revisions=100)
    await store.start()
    keys, value_size = 100, 4096
    try:
        sizes: list[int] = []
        live = {f"/churn/{i:03d}": 0 for i in range(keys)}
        for i in range(keys):
            await store.create(f"/churn/{i:03d}", os.urandom(value_size))
        written = keys * value_size
        for cycle in range(8):
            for _ in range(5):
                results = await asyncio.gather(
                    *(
                        store.update(k, os.urandom(value_size), store.revision - keys + 1 + n)
                        for n, k in enumerate(live)
                    )
                )
                written += len(results) * value_size
            before = _disk_size(db_path)
            await store.compact(store.revision - 100)
            sizes.append(_disk_size(db_path))
            assert sizes[-1] < before, (cycle, before, sizes[-1])
        live_bytes = keys * value_size
        # 5 MB written over ~400 KB of live data (twice that within the kept window): the file must
        # stay within a small multiple of the live data and stop growing from cycle to cycle.
        assert written > 12 * live_bytes
        assert max(sizes) < 4 * live_bytes, sizes
        assert sizes[-1] <= sizes[0] * 1.25, sizes
    finally:
        await store.close()


async def test_wal_restarts_under_sustained_writes(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Scaled down: checkpoint every 256 KiB, restart the WAL beyond 1 MiB (256 pages).
    monkeypatch.setattr(sqlite_writer, "_CHECKPOINT_BYTES", 256 << 10)
    monkeypatch.setattr(sqlite_writer, "_WAL_RESTART_PAGES", 256)
    store = SQLiteStore(db_path, compact_interval=0)
    await store.start()
    try:
        value, written, wal_sizes = os.urandom(2048), 0, []
        for round_ in range(40):  # never idle: each round is one burst of concurrent writes
            await asyncio.gather(*(store.create(f"/w/{round_}/{i}", value) for i in range(100)))
            written += 100 * len(value)
            wal_sizes.append(_wal_size(db_path))
        # Without restarts the WAL would hold every page written: ~17 MB here. Each burst adds
        # ~0.45 MB; noticing the 1 MB threshold and handing over to the writer take a burst or two.
        restart_bytes = 256 * 4096
        assert max(wal_sizes) < 6 * restart_bytes < written, wal_sizes
        assert (await store.range("/w/")).count == 4000
    finally:
        await store.close()
    assert _wal_size(db_path) == 0


# --- restart and durability -----------------------------------------------------------------------


async def test_restart_recovers_revision_compaction_and_data(db_path: str) -> None:
    store = SQLiteStore(db_path, compact_interval=0)
    await store.start()
    a = await store.create("/r/a", b"1")
    a2 = await store.update("/r/a", b"2", a.mod_revision)
    await store.create("/r/b", b"x")
    await store.compact(store.revision)
    gone = await store.delete("/r/b")  # the newest row is a tombstone
    await store.close()
    with pytest.raises(StoreClosed):
        await store.get("/r/a")
    with pytest.raises(StoreClosed):
        await store.create("/r/z", b"x")

    again = SQLiteStore(db_path, compact_interval=0)
    await again.start()
    try:
        assert again.revision == gone.mod_revision == 4
        assert again.compacted_revision == 3
        assert await again.get("/r/a") == a2
        assert await again.get("/r/b") is None
        assert await again.get("/r/b", revision=3) is not None
        with pytest.raises(Compacted):
            await again.get("/r/a", revision=1)
        kv = await again.create("/r/c", b"y")
        assert kv.mod_revision == 5
        assert await _take(again.watch("/r/", 3), 2) == [
            Event("DELETE", gone, await again.get("/r/b", 3)),
            Event("PUT", kv),
        ]
    finally:
        await again.close()


async def test_acknowledged_writes_survive_sigkill(db_path: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([_SRC, os.environ.get("PYTHONPATH", "")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, _ACKWRITER, db_path, stdout=asyncio.subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    acked: list[tuple[int, str, str]] = []
    try:
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
        while len(acked) < 3000:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            rev, key, value = line.decode().split()
            acked.append((int(rev), key, value))
    finally:
        proc.send_signal(signal.SIGKILL)
    rest = await asyncio.wait_for(proc.stdout.read(), 30)
    await proc.wait()
    for text in rest.decode().splitlines(keepends=True):
        if text.endswith("\n"):  # a torn last line was never fully acknowledged
            rev, key, value = text.split()
            acked.append((int(rev), key, value))

    store = SQLiteStore(db_path, compact_interval=0)
    await store.start()
    try:
        assert store.revision >= max(a[0] for a in acked)
        for revision, k, v in acked:
            kv = await store.get(k, revision=revision)
            assert kv is not None and kv.mod_revision == revision and kv.value == v.encode(), (revision, k)
    finally:
        await store.close()
