"""Micro benchmark of the embedded SQLite store: prints writes/s, reads/s, ranges/s and file sizes.

Run: ``python3 bench/store.py [--writers 32] [--writes 20000] [--value-size 1024] [--no-uvloop]``.
Everything happens in a temporary directory with bounded loops; it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable

from kybernetes.store import SQLiteStore


def _size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


async def _workers(count: int, total: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Run ``op(i)`` for i in range(total) from ``count`` concurrent workers; return ops/s."""
    per = total // count

    async def worker(w: int) -> None:
        for i in range(w * per, (w + 1) * per):
            await op(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(count)))
    return per * count / (time.perf_counter() - t0)


async def run(args: argparse.Namespace) -> None:
    value = os.urandom(args.value_size // 2).hex().encode()
    with tempfile.TemporaryDirectory(prefix="kyb-store-bench-") as tmp:
        path = os.path.join(tmp, "db.sqlite")
        store = SQLiteStore(path, compact_interval=0, keep_revisions=1000)
        await store.start()
        try:
            n, c = args.writes, args.writers
            rate = await _workers(c, n, lambda i: store.create(f"/registry/pods/ns{i % 10}/p{i:07d}", value))
            print(f"create:  {rate:10,.0f} writes/s  ({n} single-key creates, {c} concurrent writers)")

            revs = {kv.key: kv.mod_revision for kv in (await store.range("/registry/pods/")).kvs}
            keys = sorted(revs)

            async def cas_update(i: int) -> None:
                key = keys[i]
                revs[key] = (await store.update(key, value, revs[key])).mod_revision

            rate = await _workers(c, n, cas_update)
            print(f"update:  {rate:10,.0f} writes/s  ({n} CAS updates, {c} concurrent writers)")

            rate = await _workers(args.readers, n, lambda i: store.get(keys[i]))
            print(
                f"get:     {rate:10,.0f} reads/s   ({n} gets of the latest value, {args.readers} concurrent)"
            )

            pods = [f"/registry/range/ns/p{i:05d}" for i in range(args.range_keys)]
            await asyncio.gather(*(store.create(k, value) for k in pods))
            t0 = time.perf_counter()
            for _ in range(args.ranges):
                result = await store.range("/registry/range/")
                assert len(result.kvs) == args.range_keys
            dt = time.perf_counter() - t0
            print(
                f"range:   {args.ranges / dt:10,.1f} ranges/s  of {args.range_keys} keys "
                f"({args.ranges * args.range_keys / dt:,.0f} keys/s)"
            )
            t0 = time.perf_counter()
            pages, start = 0, ""
            while True:
                page = await store.range("/registry/range/", start=start, limit=500)
                pages += 1
                if not page.more:
                    break
                start = page.kvs[-1].key
            print(f"paged:   {pages / (time.perf_counter() - t0):10,.1f} pages/s  of 500 keys with count")

            await store.compact(store.revision)
            before = _size(path)
            churn = args.churn_rounds * len(pods)
            for _ in range(args.churn_rounds):
                cur = await store.range("/registry/range/")
                await asyncio.gather(*(store.update(kv.key, value, kv.mod_revision) for kv in cur.kvs))
            grown = _size(path)
            t0 = time.perf_counter()
            await store.compact(store.revision - store.keep_revisions)
            dt = time.perf_counter() - t0
            after = _size(path)
            print(
                f"size:    {_mb(before)} live -> {_mb(grown)} after {churn:,} churn writes -> "
                f"{_mb(after)} after compaction + vacuum + checkpoint ({dt:.2f}s)"
            )
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--range-keys", type=int, default=2000)
    parser.add_argument("--ranges", type=int, default=50)
    parser.add_argument("--churn-rounds", type=int, default=20)
    parser.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    args = parser.parse_args()
    if args.no_uvloop:
        asyncio.run(run(args))
    else:
        import uvloop

        uvloop.run(run(args))


if __name__ == "__main__":
    main()
