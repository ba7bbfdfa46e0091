"""Namespace controller: empties a terminating namespace, then finalizes it.

When a namespace gets a deletionTimestamp (``kubectl delete ns``), ``sync`` discovers every
namespaced resource the server serves, deletes each collection (``deletecollection`` where
supported, else one by one; propagation Background), and lists again. While content remains it
requeues after about half the estimated time (pods' grace periods, 15 s for finalizers). Once empty
it removes ``kubernetes`` from ``spec.finalizers`` through ``PUT …/namespaces/<ns>/finalize`` and
the API server deletes the namespace. Progress is reported in the namespace's conditions
(NamespaceDeletionDiscoveryFailure, NamespaceDeletionContentFailure, NamespaceContentRemaining,
NamespaceFinalizersRemaining…) with Kubernetes' reasons and messages.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client import discovery
from kybernetes.client.errors import ApiError, ConflictError, NotFoundError
from kybernetes.client.informer import Informer
from kybernetes.client.rest import NAMESPACES, PODS, Client, Resource
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"
DELETION_GRACE = 5.0  # let every apiserver see the deletion before content is purged
FINALIZER_ESTIMATE_SECONDS = 15
Discover = Callable[[Client], Awaitable[discovery.DiscoveryResult]]

CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
_OK = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


@dataclass
class _Content:
    estimate: int = 0
    remaining: dict[str, int] = field(default_factory=dict)  # "<resource>.<group>" → count
    finalizers: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # condition type → (reason, message)


def update_conditions(status: dict[str, Any], failures: dict[str, tuple[str, str]], now: float) -> bool:
    """Set each deletion condition to its failure or its "ok" variant; True when anything changed."""
    conditions = status.setdefault("conditions", [])
    changed = False
    for type_ in CONDITION_TYPES:
        st, (reason, message) = ("True", failures[type_]) if type_ in failures else ("False", _OK[type_])
        old = next((c for c in conditions if c.get("type") == type_), None)
        if old is None:
            conditions.append({"type": type_, "status": st, "lastTransitionTime": format_time(now),
                               "reason": reason, "message": message})
            changed = True
        elif (old.get("status"), old.get("reason"), old.get("message")) != (st, reason, message):
            if old.get("status") != st:
                old["lastTransitionTime"] = format_time(now)
            old.update(status=st, reason=reason, message=message)
            changed = True
    return changed


class NamespaceController(loop.Controller):
    name = "namespace"

    def __init__(self, ns_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 discover: Discover = discovery.discover, deletion_grace: float = DELETION_GRACE,
                 clock: loop.Clock = time.time) -> None:
        super().__init__([ns_informer])
        self.ns_informer = ns_informer
        self.client = client
        self.recorder = recorder
        self.discover = discover
        self.deletion_grace = deletion_grace
        self.clock = clock
        self._unsupported: set[tuple[Resource, str]] = set()
        ns_informer.add_handlers(self._changed, lambda _old, cur: self._changed(cur))

    def _changed(self, ns: Obj) -> None:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.add_after(ns["metadata"]["name"], self.deletion_grace)

    async def sync(self, key: str) -> None:
        cached = self.ns_informer.get(key)
        if cached is None or not (cached.get("metadata") or {}).get("deletionTimestamp"):
            return
        try:
            ns = await self.client.get(NAMESPACES, key)
        except NotFoundError:
            return
        if not (ns.get("metadata") or {}).get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        content = await self._delete_all_content(key)
        status = copy.deepcopy(ns.get("status") or {})
        status["phase"] = "Terminating"
        if update_conditions(status, self._failures(content), self.clock()):
            ns = await self._put(ns, status)
        if content.errors:
            raise RuntimeError(f"failed to delete all content of namespace {key}: {'; '.join(content.errors)}")
        if content.estimate > 0:
            log.debug("namespace %s: content remains, estimate %d s", key, content.estimate)
            self.queue.add_after(key, content.estimate / 2 + 1)
            return
        await self._finalize(ns)

    async def _put(self, ns: Obj, status: dict[str, Any]) -> Obj:
        body = {**ns, "status": status}
        try:
            return await self.client.replace(NAMESPACES, body, subresource="status")
        except ConflictError:
            fresh = await self.client.get(NAMESPACES, ns["metadata"]["name"])
            return await self.client.replace(NAMESPACES, {**fresh, "status": status}, subresource="status")

    async def _finalize(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        for _ in range(3):
            finalizers = sorted({f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != FINALIZER})
            body = {**ns, "spec": {**(ns.get("spec") or {}), "finalizers": finalizers}}
            try:
                await self.client.replace(NAMESPACES, body, subresource="finalize")
                log.info("namespace %s finalized", name)
                return
            except NotFoundError:
                return
            except ConflictError:
                ns = await self.client.get(NAMESPACES, name)
        raise ConflictError(409, {"message": f"could not finalize namespace {name}"})

    def _failures(self, content: _Content) -> dict[str, tuple[str, str]]:
        failures = dict(content.failures)
        if content.errors:
            msgs = sorted(content.errors)
            failures["NamespaceDeletionContentFailure"] = (
                "ContentDeletionFailed", f"Failed to delete all resource types, {len(msgs)} remaining: {', '.join(msgs)}")
        if content.remaining:
            items = sorted(f"{gr} has {n} resource instances" for gr, n in content.remaining.items() if n)
            failures["NamespaceContentRemaining"] = ("SomeResourcesRemain",
                                                     f"Some resources are remaining: {', '.join(items)}")
        if content.finalizers:
            items = sorted(f"{f} in {n} resource instances" for f, n in content.finalizers.items() if n)
            failures["NamespaceFinalizersRemaining"] = (
                "SomeFinalizersRemain", f"Some content in the namespace has finalizers remaining: {', '.join(items)}")
        return failures

    async def _delete_all_content(self, namespace: str) -> _Content:
        content = _Content()
        found = await self.discover(self.client)
        if found.failed:
            detail = ", ".join(f"{gv}: {err}" for gv, err in sorted(found.failed.items()))
            content.failures["NamespaceDeletionDiscoveryFailure"] = (
                "DiscoveryFailed", f"Discovery failed for some groups, {len(found.failed)} failing: {detail}")
        for d in found.namespaced("delete"):
            res = d.resource
            try:
                await self._delete_resource(d, namespace, content)
            except ApiError as e:
                content.errors.append(f"{res.plural}.{res.group}: {e}")
        return content

    async def _delete_resource(self, d: discovery.DiscoveredResource, namespace: str, content: _Content) -> None:
        res = d.resource
        if not d.supports("list"):
            return
        estimate = 0
        if (res.group, res.plural) == ("", "pods"):
            estimate = await self._pod_grace_estimate(namespace)
        opts = {"propagationPolicy": "Background"}
        if d.supports("deletecollection") and (res, "deletecollection") not in self._unsupported:
            try:
                await self.client.delete_collection(res, namespace, opts)
            except NotFoundError:
                self._unsupported.add((res, "deletecollection"))
        if not d.supports("deletecollection") or (res, "deletecollection") in self._unsupported:
            for item in (await self.client.list(res, namespace)).get("items") or []:
                try:
                    await self.client.delete(res, item["metadata"]["name"], namespace, **opts)
                except NotFoundError:
                    pass
        items = (await self.client.list(res, namespace)).get("items") or []
        if not items:
            return
        group_resource = f"{res.plural}.{res.group}"
        content.remaining[group_resource] = len(items)
        for item in items:
            for f in (item.get("metadata") or {}).get("finalizers") or []:
                content.finalizers[f] = content.finalizers.get(f, 0) + 1
        if estimate == 0 and content.finalizers:
            estimate = FINALIZER_ESTIMATE_SECONDS
        if estimate == 0:
            estimate = 1  # deleted but still listed: the store has not caught up yet
        content.estimate = max(content.estimate, estimate)

    async def _pod_grace_estimate(self, namespace: str) -> int:
        estimate = 0
        for pod in (await self.client.list(PODS, namespace)).get("items") or []:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if isinstance(grace, int) and grace > estimate:
                estimate = grace
        return estimate
