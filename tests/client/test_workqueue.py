from __future__ import annotations

import asyncio

from kybernetes.client.workqueue import WorkQueue


async def test_duplicates_collapse_and_order() -> None:
    q = WorkQueue()
    for k in ("a", "b", "a", "c", "b"):
        q.add(k)
    assert len(q) == 3
    got = [await q.get() for _ in range(3)]
    assert got == ["a", "b", "c"]


async def test_key_not_handed_out_twice_while_processing() -> None:
    q = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # re-added while processing: held back until done
    assert len(q) == 0
    assert key is not None
    q.done(key)
    assert await asyncio.wait_for(q.get(), 1) == "a"


async def test_rate_limited_backoff_and_forget() -> None:
    q = WorkQueue(base_delay=0.01)
    q.add_rate_limited("x")
    q.add_rate_limited("x")
    assert q.num_requeues("x") == 2
    assert await asyncio.wait_for(q.get(), 1) == "x"
    q.forget("x")
    assert q.num_requeues("x") == 0


async def test_add_after_fires_and_shutdown_releases_getters() -> None:
    q = WorkQueue()
    q.add_after("later", 0.02)
    assert len(q) == 0
    assert await asyncio.wait_for(q.get(), 1) == "later"
    waiter = asyncio.create_task(q.get())
    await q.shutdown()
    assert await asyncio.wait_for(waiter, 1) is None
