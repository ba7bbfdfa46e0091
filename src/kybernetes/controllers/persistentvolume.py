"""PersistentVolume binder: binds claims to volumes, tracks both phases, reclaims released volumes.

Informer callbacks enqueue ``claim:<ns>/<name>`` and ``volume:<name>`` keys (a volume change also
wakes its claim, a deleted claim its volume); every key is resynced every ``resync`` seconds, as the
upstream controller does. ``sync`` dispatches:

- an unbound claim gets the smallest Available volume that fits (class, access modes, capacity,
  volume mode, selector) — or the volume it names in ``spec.volumeName``; without one it waits
  (``WaitForFirstConsumer`` classes until the scheduler picks a node), is handed to its class's
  provisioner (``volume.kubernetes.io/storage-provisioner`` + ``ExternalProvisioning``), or stays
  Pending (``FailedBinding``);
- binding writes the volume's ``claimRef``, its phase Bound, the claim's ``volumeName`` with
  ``pv.kubernetes.io/bind-completed``, and the claim's status (phase, capacity, access modes);
- a volume whose claim is gone turns Released and is reclaimed by its policy: Retain keeps it,
  Delete leaves it to the provisioner that made it (a volume no provisioner made turns Failed).

Upstream: pkg/controller/volume/persistentvolume (pv_controller.go, index.go). Used by the
controller manager as ``persistentvolume-binder``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from typing import Any

from kybernetes.api import persistentvolumes as pvmatch
from kybernetes.api.persistentvolumes import (
    ANN_BETA_STORAGE_PROVISIONER,
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_PROVISIONED_BY,
    ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER,
    NO_PROVISIONER,
    claim_class,
    is_bound_to,
)
from kybernetes.client.errors import NotFoundError
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import PVCS, PVS, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

RESYNC_SECONDS = 15.0

MSG_NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
MSG_WAIT_CONSUMER = "waiting for first consumer to be created before binding"
MSG_LOST_REFERENCE = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"
MSG_LOST_VOLUME = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
MSG_MISBOUND = "Two claims are bound to the same volume, this one is bound incorrectly"


def external_provisioning_message(provisioner: str) -> str:
    return (f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by "
            "the system administrator. If volume creation is delayed, please verify that the provisioner is "
            "running and correctly registered.")


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


class PersistentVolumeController(loop.Controller):
    name = "persistentvolume-binder"

    def __init__(self, pv_informer: Informer, pvc_informer: Informer, class_informer: Informer, client: Client,
                 recorder: loop.Recorder, *, resync: float = RESYNC_SECONDS) -> None:
        super().__init__([pv_informer, pvc_informer, class_informer])
        self.volumes = pv_informer
        self.claims = pvc_informer
        self.classes = class_informer
        self.client = client
        self.recorder = recorder
        self.resync = resync
        pv_informer.add_handlers(self._volume_changed, lambda _old, cur: self._volume_changed(cur),
                                 self._volume_deleted)
        pvc_informer.add_handlers(self._claim_changed, lambda _old, cur: self._claim_changed(cur),
                                  self._claim_deleted)

    # --- callbacks: objects → keys ------------------------------------------------------------------
    def _claim_changed(self, claim: Obj) -> None:
        self.queue.add("claim:" + key_of(claim))

    def _claim_deleted(self, claim: Obj) -> None:
        name = _spec(claim).get("volumeName")
        if name:
            self.queue.add("volume:" + name)
        for volume in self.volumes.list():
            if is_bound_to(volume, claim):
                self.queue.add("volume:" + key_of(volume))

    def _volume_changed(self, volume: Obj) -> None:
        self.queue.add("volume:" + key_of(volume))
        ref = _spec(volume).get("claimRef")
        if isinstance(ref, dict) and ref.get("name"):
            self.queue.add(f"claim:{ref.get('namespace') or ''}/{ref['name']}")

    def _volume_deleted(self, volume: Obj) -> None:
        ref = _spec(volume).get("claimRef")
        if isinstance(ref, dict) and ref.get("name"):
            self.queue.add(f"claim:{ref.get('namespace') or ''}/{ref['name']}")

    async def run(self, workers: int = 1) -> None:
        resyncer = asyncio.create_task(self._resync_forever(), name=f"{self.name}-resync")
        try:
            await super().run(workers)
        finally:
            resyncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resyncer

    async def _resync_forever(self) -> None:
        await self.wait_for_cache_sync()
        while True:
            await asyncio.sleep(self.resync)
            for claim in self.claims.list():
                self._claim_changed(claim)
            for volume in self.volumes.list():
                self.queue.add("volume:" + key_of(volume))

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            claim = self.claims.get(rest)
            if claim is not None:
                await self.sync_claim(copy.deepcopy(claim))
        elif kind == "volume":
            volume = self.volumes.get(rest)
            if volume is not None:
                await self.sync_volume(copy.deepcopy(volume))

    # --- claims -------------------------------------------------------------------------------------
    def _class(self, name: str) -> Obj | None:
        return self.classes.get(name) if name else None

    def delay_binding(self, claim: Obj) -> bool:
        sc = self._class(claim_class(claim))
        return sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"

    async def sync_claim(self, claim: Obj) -> None:
        if pvmatch.annotations_of(claim).get(ANN_BIND_COMPLETED):
            await self._sync_bound_claim(claim)
        else:
            await self._sync_unbound_claim(claim)

    async def _sync_unbound_claim(self, claim: Obj) -> None:
        name = _spec(claim).get("volumeName")
        if not name:
            delay = self.delay_binding(claim)
            volume = pvmatch.find_best_match(claim, self.volumes.list(), delay)
            if volume is None:
                if delay and not pvmatch.annotations_of(claim).get(ANN_SELECTED_NODE):
                    self.recorder.record(claim, NORMAL, "WaitForFirstConsumer", MSG_WAIT_CONSUMER)
                elif claim_class(claim):
                    await self._provision(claim)
                    return
                else:
                    self.recorder.record(claim, NORMAL, "FailedBinding", MSG_NO_CLASS)
                await self._claim_status(claim, "Pending", None)
                return
            await self._bind(copy.deepcopy(volume), claim)
            return
        cached = self.volumes.get(name)
        if cached is None:
            await self._claim_status(claim, "Pending", None)  # the user named a volume that does not exist (yet)
            return
        volume = copy.deepcopy(cached)
        if not _spec(volume).get("claimRef"):
            why = pvmatch.mismatch(volume, claim)
            if why:
                self.recorder.record(claim, WARNING, "VolumeMismatch", f'Cannot bind to requested volume "{name}": {why}')
                await self._claim_status(claim, "Pending", None)
                return
            await self._bind(volume, claim)
        elif is_bound_to(volume, claim):
            await self._bind(volume, claim)
        else:
            self.recorder.record(claim, WARNING, "FailedBinding", f'volume "{name}" already bound to a different claim.')
            await self._claim_status(claim, "Pending", None)

    async def _sync_bound_claim(self, claim: Obj) -> None:
        name = _spec(claim).get("volumeName")
        if not name:
            await self._claim_status(claim, "Lost", None, event=(WARNING, "ClaimLost", MSG_LOST_REFERENCE))
            return
        cached = self.volumes.get(name)
        if cached is None:
            await self._claim_status(claim, "Lost", None, event=(WARNING, "ClaimLost", MSG_LOST_VOLUME))
            return
        volume = copy.deepcopy(cached)
        if not _spec(volume).get("claimRef") or is_bound_to(volume, claim):
            await self._bind(volume, claim)  # finishes a binding interrupted half-way; no writes when complete
        else:
            await self._claim_status(claim, "Lost", None, event=(WARNING, "ClaimMisbound", MSG_MISBOUND))

    async def _provision(self, claim: Obj) -> None:
        """Hand the claim to its class's provisioner (every provisioner here is external to this controller)."""
        class_name = claim_class(claim)
        sc = self._class(class_name)
        if sc is None:
            self.recorder.record(claim, WARNING, "ProvisioningFailed",
                                 f'storageclass.storage.k8s.io "{class_name}" not found')
            await self._claim_status(claim, "Pending", None)
            return
        provisioner = sc.get("provisioner") or ""
        if provisioner == NO_PROVISIONER or provisioner.startswith("kubernetes.io/"):
            self.recorder.record(claim, WARNING, "ProvisioningFailed", f"no volume plugin matched name: {provisioner}")
            await self._claim_status(claim, "Pending", None)
            return
        annotations = pvmatch.annotations_of(claim)
        if annotations.get(ANN_STORAGE_PROVISIONER) != provisioner or \
                annotations.get(ANN_BETA_STORAGE_PROVISIONER) != provisioner:
            claim["metadata"]["annotations"] = {**annotations, ANN_STORAGE_PROVISIONER: provisioner,
                                                ANN_BETA_STORAGE_PROVISIONER: provisioner}
            claim = await self.client.replace(PVCS, claim, _md(claim).get("namespace"))
        self.recorder.record(claim, NORMAL, "ExternalProvisioning", external_provisioning_message(provisioner))
        await self._claim_status(claim, "Pending", None)

    async def _claim_status(self, claim: Obj, phase: str, volume: Obj | None,
                            event: tuple[str, str, str] | None = None) -> Obj:
        status = dict(claim.get("status") or {})
        wanted = {**status, "phase": phase}
        if volume is not None:
            wanted["accessModes"] = list(_spec(volume).get("accessModes") or [])
            wanted["capacity"] = dict(_spec(volume).get("capacity") or {})
        elif phase == "Pending":
            wanted.pop("accessModes", None)
            wanted.pop("capacity", None)
        if wanted == status:
            return claim
        if event is not None and status.get("phase") != phase:
            self.recorder.record(claim, *event)
        claim["status"] = wanted
        return await self.client.replace(PVCS, claim, _md(claim).get("namespace"), subresource="status")

    async def _bind(self, volume: Obj, claim: Obj) -> None:
        """Both halves of a binding, each written only when it differs; safe to repeat after a failure."""
        md = _md(claim)
        current = _spec(volume).get("claimRef")
        if not isinstance(current, dict) or current.get("uid") != md.get("uid"):
            if not isinstance(current, dict):  # a user's pre-binding (ref without uid) keeps its author
                volume["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
            volume.setdefault("spec", {})["claimRef"] = pvmatch.claim_ref(claim)
            volume = await self.client.replace(PVS, volume)
        volume = await self._volume_phase(volume, "Bound")
        vname = _md(volume)["name"]
        annotations = dict(md.get("annotations") or {})
        if _spec(claim).get("volumeName") != vname or annotations.get(ANN_BIND_COMPLETED) != "yes":
            if _spec(claim).get("volumeName") != vname:
                claim.setdefault("spec", {})["volumeName"] = vname
                annotations[ANN_BOUND_BY_CONTROLLER] = "yes"
            annotations[ANN_BIND_COMPLETED] = "yes"
            claim["metadata"]["annotations"] = annotations
            claim = await self.client.replace(PVCS, claim, md.get("namespace"))
        await self._claim_status(claim, "Bound", volume)
        log.debug("Bound claim %s to volume %s", key_of(claim), vname)

    # --- volumes ------------------------------------------------------------------------------------
    async def _volume_phase(self, volume: Obj, phase: str, message: str = "") -> Obj:
        status = volume.get("status") or {}
        if status.get("phase") == phase and (status.get("message") or "") == message:
            return volume
        new = {k: v for k, v in status.items() if k not in ("message", "reason")}
        new["phase"] = phase
        if message:
            new["message"] = message
        volume["status"] = new
        return await self.client.replace(PVS, volume, subresource="status")

    async def sync_volume(self, volume: Obj) -> None:
        ref = _spec(volume).get("claimRef")
        if not isinstance(ref, dict):
            await self._volume_phase(volume, "Available")
            return
        if not ref.get("uid"):  # pre-bound by a user: waiting for that claim to appear
            await self._volume_phase(volume, "Available")
            return
        claim_key = f"{ref.get('namespace') or ''}/{ref.get('name')}"
        claim = self.claims.get(claim_key)
        if claim is not None and _md(claim).get("uid") != ref.get("uid"):
            claim = None  # deleted and created again: a new claim that must not inherit the volume
        if claim is None and await self._claim_exists(ref):
            return  # the cache lags behind the API; a later sync sees the claim
        if claim is None:
            await self._release(volume)
            return
        claimed = _spec(claim).get("volumeName")
        if not claimed:
            self.queue.add("claim:" + claim_key)  # the claim's half of the binding is pending
            return
        if claimed == _md(volume)["name"]:
            await self._volume_phase(volume, "Bound")
            return
        annotations = pvmatch.annotations_of(volume)
        if annotations.get(ANN_PROVISIONED_BY) and _spec(volume).get("persistentVolumeReclaimPolicy") == "Delete":
            await self._release(volume)  # made for this claim, which went to another volume
        elif annotations.get(ANN_BOUND_BY_CONTROLLER):
            await self._unbind(volume)
        else:
            await self._volume_phase(volume, "Available")

    async def _claim_exists(self, ref: dict[str, Any]) -> bool:
        try:
            live = await self.client.get(PVCS, ref["name"], ref.get("namespace"))
        except NotFoundError:
            return False
        return _md(live).get("uid") == ref.get("uid")

    async def _unbind(self, volume: Obj) -> None:
        volume["metadata"].get("annotations", {}).pop(ANN_BOUND_BY_CONTROLLER, None)
        volume["spec"].pop("claimRef", None)
        volume = await self.client.replace(PVS, volume)
        await self._volume_phase(volume, "Available")

    async def _release(self, volume: Obj) -> None:
        phase = (volume.get("status") or {}).get("phase")
        if phase not in ("Released", "Failed"):
            volume = await self._volume_phase(volume, "Released")
        policy = _spec(volume).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain" or (volume.get("status") or {}).get("phase") == "Failed":
            return
        name, provisioner = _md(volume)["name"], pvmatch.annotations_of(volume).get(ANN_PROVISIONED_BY) or ""
        if policy == "Recycle":
            await self._failed(volume, "VolumeFailedRecycle", "No recycler plugin found for the volume!")
        elif provisioner and not provisioner.startswith("kubernetes.io/"):
            log.debug("Volume %s waits for deletion by its provisioner %s", name, provisioner)
        else:
            await self._failed(volume, "VolumeFailedDelete",
                               f'error getting deleter volume plugin for volume "{name}": no deletable volume '
                               "plugin matched")

    async def _failed(self, volume: Obj, reason: str, message: str) -> None:
        self.recorder.record(volume, WARNING, reason, message)
        await self._volume_phase(volume, "Failed", message)
