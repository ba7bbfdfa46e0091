"""Child process for the crash test: writes forever, printing each acknowledged write.

Run as ``python ackwriter.py DB_PATH``. Prints ``ready`` once open, then one line per acknowledged
write: ``<revision> <key> <value>``. The test kills it with SIGKILL and checks every printed write.
"""

from __future__ import annotations

import asyncio
import sys

from kybernetes.store import SQLiteStore


async def _writer(store: SQLiteStore, worker: int) -> None:
    n = 0
    while True:
        key = f"/crash/{worker}/{n % 50}"
        value = f"{worker}-{n}"
        current = await store.get(key)
        if current is None:
            kv = await store.create(key, value.encode())
        else:
            kv = await store.update(key, value.encode(), current.mod_revision)
        sys.stdout.write(f"{kv.mod_revision} {key} {value}\n")
        sys.stdout.flush()
        n += 1


async def main(path: str) -> None:
    store = SQLiteStore(path, compact_interval=0)
    await store.start()
    print("ready", flush=True)
    await asyncio.gather(*(_writer(store, w) for w in range(8)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
