"""PV protection: a volume bound to a claim is not removed while it is bound.

The API server gives every new PersistentVolume the ``kubernetes.io/pv-protection`` finalizer
(StorageObjectInUseProtection admission). For a volume being deleted, ``sync`` removes it once the
volume is no longer ``Bound`` (its claim went away and the binder released it); volumes without
the finalizer get it.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.persistentvolumes import PV_PROTECTION
from kybernetes.client.informer import Informer
from kybernetes.client.rest import PVS, Client
from kybernetes.controllers import loop, protection
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def in_use(pv: Obj) -> bool:
    return (pv.get("status") or {}).get("phase") == "Bound"


class PVProtectionController(loop.Controller):
    name = "pv-protection"

    def __init__(self, pv_informer: Informer, client: Client, recorder: loop.Recorder) -> None:
        super().__init__([pv_informer])
        self.pv_informer = pv_informer
        self.client = client
        self.recorder = recorder
        pv_informer.add_handlers(self._changed, lambda _old, cur: self._changed(cur))

    def _changed(self, pv: Obj) -> None:
        md = _md(pv)
        protected = PV_PROTECTION in (md.get("finalizers") or [])
        if (protected and md.get("deletionTimestamp") and not in_use(pv)) or \
                (not protected and not md.get("deletionTimestamp")):
            self.enqueue(pv)

    async def sync(self, key: str) -> None:
        pv = self.pv_informer.get(key)
        if pv is None:
            return

        async def bound() -> bool:
            return in_use(pv)

        if await protection.sync_protection(self.client, PVS, pv, PV_PROTECTION, bound):
            log.info("Removed protection from PersistentVolume %s: not bound", key)
