"""Informer helpers shared by the network components."""

from __future__ import annotations

import asyncio

from kybernetes.client.informer import Informer


async def until_synced(stop: asyncio.Event, *informers: Informer) -> bool:
    """Wait for the informers' first list, or for ``stop`` (then False)."""
    async def all_synced() -> None:
        await asyncio.gather(*(i.wait_synced() for i in informers))

    synced = asyncio.ensure_future(all_synced())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([synced, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not synced.done():
            synced.cancel()
    return synced.done() and not synced.cancelled()
