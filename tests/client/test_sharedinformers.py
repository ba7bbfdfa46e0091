"""Shared informer factory: one informer per resource, started once, synced together; and the
``has_status_cause`` helper the controllers use for terminating namespaces."""

from __future__ import annotations

import asyncio

from kybernetes.client import errors
from kybernetes.client.rest import NAMESPACES, PODS
from kybernetes.client.sharedinformers import SharedInformerFactory
from tests.controllers import builders as b
from tests.controllers.fakes import FakeClient, as_client


async def test_one_informer_per_resource_and_sync() -> None:
    client = FakeClient()
    client.add(PODS, b.pod("p1"))
    factory = SharedInformerFactory(as_client(client))
    assert factory.informer(PODS) is factory.informer(PODS)
    factory.start()
    late = factory.informer(NAMESPACES)  # asked for after start: started at once
    await factory.wait_for_cache_sync()
    assert factory.informer(PODS).get("default/p1") is not None
    assert late.has_synced
    seen = asyncio.Event()
    factory.informer(PODS).add_handlers(lambda o: seen.set() if o["metadata"]["name"] == "p2" else None)
    client.add(PODS, b.pod("p2"))
    await asyncio.wait_for(seen.wait(), 5)  # delivered by the shared informer's watch
    await factory.stop()
    assert set(factory.informers) == {PODS, NAMESPACES}


def test_has_status_cause() -> None:
    err = errors.from_status(403, {"reason": "Forbidden", "details": {"causes": [{"reason": "NamespaceTerminating"}]}})
    assert errors.has_status_cause(err, "NamespaceTerminating")
    assert not errors.has_status_cause(err, "FieldValueInvalid")
    assert not errors.has_status_cause(ValueError("x"), "NamespaceTerminating")
