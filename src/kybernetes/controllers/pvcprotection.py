"""PVC protection: a claim a pod still uses is not removed until no pod does.

The API server gives every new claim the ``kubernetes.io/pvc-protection`` finalizer
(StorageObjectInUseProtection admission). For a claim being deleted, ``sync`` removes it once no
scheduled, not yet terminated pod of the namespace mounts the claim — by ``claimName`` or as the
generic ephemeral volume ``<pod>-<volume>``; the informer's answer is confirmed with a live list of
the namespace's pods before the finalizer goes, as the informer may lag. Claims without the
finalizer (made before, or admitted elsewhere) get it. A pod that terminates or goes away
enqueues the claims it used; nothing else needs to happen while a pod keeps a claim.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.persistentvolumes import PVC_PROTECTION, pod_claims
from kybernetes.client.informer import Informer
from kybernetes.client.rest import PODS, PVCS, Client
from kybernetes.controllers import loop, podstate, protection
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def claims_of(pod: Obj) -> list[str]:
    """Names of the claims ``pod`` mounts (generic ephemeral volumes as ``<pod>-<volume>``)."""
    return [name for name, _ in pod_claims(pod)]


def uses(pod: Obj, claim: str) -> bool:
    """Whether ``pod`` holds ``claim``: only scheduled pods count (a kubelet starts nothing with a
    claim being deleted), and only until they have terminated."""
    return bool((pod.get("spec") or {}).get("nodeName")) and podstate.phase(pod) not in ("Succeeded", "Failed") \
        and claim in claims_of(pod)


class PVCProtectionController(loop.Controller):
    name = "pvc-protection"

    def __init__(self, pvc_informer: Informer, pod_informer: Informer, client: Client,
                 recorder: loop.Recorder) -> None:
        super().__init__([pvc_informer, pod_informer])
        self.pvc_informer = pvc_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        pvc_informer.add_handlers(self._claim_changed, lambda _old, cur: self._claim_changed(cur))
        pod_informer.add_handlers(self._pod_changed, lambda _old, cur: self._pod_changed(cur), self._pod_gone)

    def _claim_changed(self, pvc: Obj) -> None:
        md = _md(pvc)
        if (PVC_PROTECTION in (md.get("finalizers") or [])) == (not md.get("deletionTimestamp")):
            return  # protected and live, or being deleted without our finalizer: nothing to do
        self.enqueue(pvc)

    def _pod_changed(self, pod: Obj) -> None:
        if podstate.phase(pod) in ("Succeeded", "Failed") or _md(pod).get("deletionTimestamp"):
            self._pod_gone(pod)

    def _pod_gone(self, pod: Obj) -> None:
        ns = _md(pod).get("namespace", "")
        for claim in claims_of(pod):
            self.queue.add(f"{ns}/{claim}")

    async def sync(self, key: str) -> None:
        pvc = self.pvc_informer.get(key)
        if pvc is None:
            return
        md = _md(pvc)
        if await protection.sync_protection(self.client, PVCS, pvc, PVC_PROTECTION,
                                            lambda: self._in_use(md.get("namespace", ""), md.get("name", ""))):
            log.info("Removed protection from PersistentVolumeClaim %s: no pod uses it", key)

    async def _in_use(self, namespace: str, name: str) -> bool:
        if any(uses(p, name) for p in self.pod_informer.list(namespace)):
            return True
        live = (await self.client.list(PODS, namespace)).get("items") or []
        return any(uses(p, name) for p in live)
