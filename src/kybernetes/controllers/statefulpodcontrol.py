"""Creating, updating and deleting a StatefulSet's pods and claims, with the events Kubernetes records.

``create`` makes the pod's missing PVCs first, then the pod, then (once the claims are in the
cache) sets their retention ownerRefs; ``update`` restores a pod's identity and storage;
``delete`` removes one pod. Events are on the set: ``SuccessfulCreate`` "create Pod web-0 in
StatefulSet web successful", ``SuccessfulCreate`` "create Claim data-web-0 Pod web-0 in
StatefulSet web success", and the ``Failed<Verb>`` warnings with "… failed error: <err>"
(``stateful_pod_control.go``). Claims are read from the PVC informer, written through the client.
Caller: ``statefulset.py``.
"""

from __future__ import annotations

import copy
import logging

from kybernetes.client.errors import AlreadyExistsError, ApiError, NotFoundError
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer
from kybernetes.client.rest import PODS, PVCS, Client
from kybernetes.controllers import statefulset_util as su
from kybernetes.controllers.loop import Obj, Recorder

log = logging.getLogger(__name__)


class ClaimError(Exception):
    """One or more of a pod's claims could not be made ready."""


class StatefulPodControl:
    def __init__(self, client: Client, pvc_informer: Informer, recorder: Recorder) -> None:
        self.client = client
        self.pvc_informer = pvc_informer
        self.recorder = recorder

    # --- events ----------------------------------------------------------------------------------
    def _pod_event(self, verb: str, st: Obj, pod: Obj, err: Exception | None) -> None:
        name, set_name = su.md(pod).get("name"), su.md(st).get("name")
        if err is None:
            self.recorder.record(st, NORMAL, f"Successful{verb.title()}",
                                 f"{verb} Pod {name} in StatefulSet {set_name} successful")
        else:
            self.recorder.record(st, WARNING, f"Failed{verb.title()}",
                                 f"{verb} Pod {name} in StatefulSet {set_name} failed error: {err}")

    def _claim_event(self, st: Obj, pod: Obj, claim: Obj, err: Exception | None) -> None:
        claim_name, pod_name, set_name = su.md(claim).get("name"), su.md(pod).get("name"), su.md(st).get("name")
        if err is None:
            self.recorder.record(st, NORMAL, "SuccessfulCreate",
                                 f"create Claim {claim_name} Pod {pod_name} in StatefulSet {set_name} success")
        else:
            self.recorder.record(st, WARNING, "FailedCreate", f"create Claim {claim_name} for Pod {pod_name} in "
                                                              f"StatefulSet {set_name} failed error: {err}")

    # --- claims ----------------------------------------------------------------------------------
    def _cached_claim(self, namespace: str, name: str) -> Obj | None:
        return self.pvc_informer.get(f"{namespace}/{name}")

    async def create_missing_claims(self, st: Obj, pod: Obj) -> None:
        """Create the claims ``pod`` needs that the cache does not have (``createPersistentVolumeClaims``)."""
        errors: list[str] = []
        for claim in su.claims_for(st, pod):
            cmd = su.md(claim)
            existing = self._cached_claim(cmd["namespace"], cmd["name"])
            if existing is not None:
                if su.md(existing).get("deletionTimestamp"):
                    errors.append(f"pvc {cmd['name']} is being deleted")
                continue
            try:
                await self.client.create(PVCS, claim, cmd["namespace"])
            except AlreadyExistsError:
                continue  # the cache lags; the claim is there
            except ApiError as e:
                errors.append(f"failed to create PVC {cmd['name']}: {e}")
                self._claim_event(st, pod, claim, e)
                continue
            self._claim_event(st, pod, claim, None)
        if errors:
            raise ClaimError(", ".join(errors))

    def claim_is_stale(self, st: Obj, pod: Obj) -> bool:
        """With ``whenScaled: Delete`` a claim still owned by an older pod of that name must be
        collected before the new pod may use it (``PodClaimIsStale``)."""
        if su.retention_policy(st)[1] == su.RETAIN:
            return False
        for claim in su.claims_for(st, pod):
            cached = self._cached_claim(su.md(claim)["namespace"], su.md(claim)["name"])
            if cached is not None and su.has_stale_owner(cached, pod, "v1", "Pod"):
                return True
        return False

    def claims_match_policy(self, st: Obj, pod: Obj) -> bool:
        for claim in su.claims_for(st, pod):
            cached = self._cached_claim(su.md(claim)["namespace"], su.md(claim)["name"])
            if cached is not None and not su.claim_owner_up_to_date(cached, st, pod):
                return False
        return True

    async def update_claims_for_policy(self, st: Obj, pod: Obj) -> None:
        """Set the claims' ownerRefs as the retention policy says (``UpdatePodClaimForRetentionPolicy``)."""
        for claim in su.claims_for(st, pod):
            cached = self._cached_claim(su.md(claim)["namespace"], su.md(claim)["name"])
            if cached is None or su.claim_owner_up_to_date(cached, st, pod):
                continue  # missing claims are picked up on a later pass
            fresh = copy.deepcopy(cached)
            su.update_claim_owner_refs(fresh, st, pod)
            await self.client.replace(PVCS, fresh, su.md(fresh).get("namespace"))

    # --- pods ------------------------------------------------------------------------------------
    async def create(self, st: Obj, pod: Obj) -> None:
        """Claims first, then the pod; an AlreadyExists pod is reported to the caller silently."""
        try:
            await self.create_missing_claims(st, pod)
        except ClaimError as e:
            self._pod_event("create", st, pod, e)
            raise
        try:
            created = await self.client.create(PODS, pod, su.md(pod).get("namespace"))
        except AlreadyExistsError:
            raise
        except ApiError as e:
            self._pod_event("create", st, pod, e)
            raise
        try:
            await self.update_claims_for_policy(st, created)
        except ApiError as e:
            self._pod_event("update", st, pod, e)
            raise
        self._pod_event("create", st, pod, None)

    async def update(self, st: Obj, pod: Obj) -> None:
        """Restore identity and storage of a pod (a deep copy the caller owns) and fix claim refs."""
        consistent = True
        if not su.identity_matches(st, pod):
            su.update_identity(st, pod)
            consistent = False
        try:
            if not su.storage_matches(st, pod):
                su.update_storage(st, pod)
                consistent = False
                await self.create_missing_claims(st, pod)
            if not self.claims_match_policy(st, pod):
                await self.update_claims_for_policy(st, pod)
        except (ClaimError, ApiError) as e:
            self._pod_event("update", st, pod, e)
            raise
        if consistent:
            return
        try:
            await self.client.replace(PODS, pod, su.md(pod).get("namespace"))
        except ApiError as e:
            self._pod_event("update", st, pod, e)
            raise
        self._pod_event("update", st, pod, None)

    async def delete(self, st: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(PODS, su.md(pod)["name"], su.md(pod).get("namespace"))
        except NotFoundError:
            raise
        except ApiError as e:
            self._pod_event("delete", st, pod, e)
            raise
        self._pod_event("delete", st, pod, None)
