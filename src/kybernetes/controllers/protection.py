"""The finalizer bookkeeping the PVC and PV protection controllers share: a live object gets its
protection finalizer, and one being deleted loses it once nothing uses it any more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.client.errors import NotFoundError
from kybernetes.client.rest import Client, Resource
from kybernetes.controllers.loop import Obj


async def sync_protection(client: Client, res: Resource, obj: Obj, finalizer: str,
                          in_use: Callable[[], Awaitable[bool]]) -> bool:
    """Add ``finalizer`` to a live ``obj`` without it, or remove it from ``obj`` being deleted when
    ``in_use()`` says nothing holds it; True when it was removed. The patch carries the object's
    resourceVersion, so a stale informer copy gets a conflict (and a retry), not a lost update."""
    md = obj.get("metadata") or {}
    finalizers = list(md.get("finalizers") or [])
    if not md.get("deletionTimestamp"):
        if finalizer not in finalizers:
            await _set_finalizers(client, res, md, [*finalizers, finalizer])
        return False
    if finalizer not in finalizers or await in_use():
        return False
    await _set_finalizers(client, res, md, [f for f in finalizers if f != finalizer])
    return True


async def _set_finalizers(client: Client, res: Resource, md: dict[str, Any], finalizers: list[str]) -> None:
    body = {"metadata": {"finalizers": finalizers or None, "resourceVersion": md.get("resourceVersion")}}
    try:
        await client.patch(res, md.get("name", ""), body, md.get("namespace"))
    except NotFoundError:
        pass  # gone already
