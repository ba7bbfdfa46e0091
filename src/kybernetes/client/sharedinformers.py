"""Shared informer factory: one ``Informer`` per resource, shared by every controller that asks.

The controller manager creates one factory; each controller takes ``factory.informer(PODS)`` in its
constructor, then the manager calls ``start()`` once and the controllers await their caches.
Informers asked for after ``start()`` are started at once.
"""

from __future__ import annotations

import asyncio

from kybernetes.client.informer import Informer
from kybernetes.client.rest import Client, Resource


class SharedInformerFactory:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._informers: dict[Resource, Informer] = {}
        self._started = False

    def informer(self, resource: Resource) -> Informer:
        inf = self._informers.get(resource)
        if inf is None:
            inf = self._informers[resource] = Informer(self.client, resource)
            if self._started:
                inf.start()
        return inf

    @property
    def informers(self) -> dict[Resource, Informer]:
        return dict(self._informers)

    def start(self) -> None:
        self._started = True
        for inf in self._informers.values():
            inf.start()

    async def wait_for_cache_sync(self) -> None:
        await asyncio.gather(*(inf.wait_synced() for inf in self._informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
        self._started = False
