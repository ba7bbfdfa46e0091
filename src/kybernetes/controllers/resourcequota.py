"""ResourceQuota controller: keep each quota's ``status.hard`` equal to ``spec.hard`` and ``status.used``
the namespace's current usage of every limited resource.

``quota_usage`` is the pure calculation (evaluators in ``api/quota``): non-terminal pods' requests and
limits (``cpu``/``memory`` are requests), object counts (``pods``, ``services``, ``count/<resource>``,
``services.nodeports``…), PVC storage; scoped quotas count only the pods their scopes select.
The API server's quota admission (``apiserver/quota.py``) charges creates against ``status.used``; the controller recomputes a quota when objects it counts come
or go (callbacks enqueue every quota of the namespace) and resyncs each quota every five minutes.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kybernetes.api import quota as qe
from kybernetes.api.quantity import Quantity
from kybernetes.client.errors import NotFoundError
from kybernetes.client.informer import Informer
from kybernetes.client.rest import (
    CONFIGMAPS,
    PODS,
    PVCS,
    REPLICATIONCONTROLLERS,
    SECRETS,
    SERVICES,
    Client,
    Resource,
)
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

RESOURCEQUOTAS = Resource("", "v1", "resourcequotas", kind="ResourceQuota")
RESYNC_PERIOD = 300.0
UNSYNCED_RETRY = 1.0

InformerLookup = Callable[[str], Informer | None]


def _hard(quota: Obj) -> dict[str, Any]:
    return dict((quota.get("spec") or {}).get("hard") or (quota.get("status") or {}).get("hard") or {})


def quota_usage(quota: Obj, objects_by_resource: Mapping[str, list[Obj]], now: float | None = None) -> dict[str, str]:
    """``status.used`` for ``quota`` given the namespace's objects by collection (``pods``, ``services``,
    ``deployments.apps``…). Resource names no evaluator knows, or whose collection is absent from
    ``objects_by_resource``, are left out."""
    now = time.time() if now is None else now
    scopes = qe.scope_selectors(quota)
    by_collection: dict[str, list[str]] = {}
    for name in _hard(quota):
        collection = qe.resource_of(name)
        if collection is not None and collection in objects_by_resource:
            by_collection.setdefault(collection, []).append(name)
    used: dict[str, Quantity] = {}
    for collection, names in by_collection.items():
        totals = {name: Quantity() for name in names}
        if not scopes or collection == "pods":
            for obj in objects_by_resource[collection]:
                if scopes and not all(qe.pod_matches_scope(obj, s) for s in scopes):
                    continue
                usage = qe.object_usage(collection, obj, now)
                for name in names:
                    if name in usage:
                        totals[name] = totals[name] + usage[name]
        used.update(totals)
    return {name: str(q) for name, q in used.items()}


def _same(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    qa, qb = qe.quantities(a), qe.quantities(b)
    return qa.keys() == qb.keys() and all(qa[k] == qb[k] for k in qa) and len(qa) == len(a or {}) == len(b or {})


class ResourceQuotaController(loop.Controller):
    """``informers`` maps collections (``pods``, ``services``…) to informers watched from the start;
    ``informer_for`` finds informers for other ``count/<resource>`` collections when a quota names them."""

    name = "resourcequota"

    def __init__(self, quota_informer: Informer, informers: Mapping[str, Informer], client: Client,
                 recorder: loop.Recorder, *, informer_for: InformerLookup | None = None,
                 resync_period: float = RESYNC_PERIOD, clock: loop.Clock = time.time) -> None:
        super().__init__([quota_informer, *informers.values()])
        self.quota_informer = quota_informer
        self.client = client
        self.recorder = recorder
        self.resync_period = resync_period
        self.clock = clock
        self._informer_for = informer_for
        self._by_collection: dict[str, Informer | None] = {}
        quota_informer.add_handlers(self.enqueue, self._update_quota)
        for collection, inf in informers.items():
            self._watch(collection, inf)

    # --- callbacks: objects → quota keys ----------------------------------------------------------
    def _watch(self, collection: str, inf: Informer) -> None:
        self._by_collection[collection] = inf

        def changed(old: Obj, cur: Obj) -> None:
            if not self.quota_informer.list((cur.get("metadata") or {}).get("namespace", "")):
                return  # no quota here: skip working out usages
            now = self.clock()
            if qe.object_usage(collection, old, now) != qe.object_usage(collection, cur, now) or \
                    (collection == "pods" and _pod_scope_facts(old) != _pod_scope_facts(cur)):
                self._enqueue_namespace(cur)

        inf.add_handlers(self._enqueue_namespace, changed, self._enqueue_namespace)

    def _enqueue_namespace(self, obj: Obj) -> None:
        for quota in self.quota_informer.list((obj.get("metadata") or {}).get("namespace", "")):
            self.enqueue(quota)

    def _update_quota(self, old: Obj, cur: Obj) -> None:
        if (old.get("spec") or {}) != (cur.get("spec") or {}) or \
                not _same(_hard(cur), (cur.get("status") or {}).get("hard")):
            self.enqueue(cur)

    def _informer(self, collection: str) -> Informer | None:
        if collection not in self._by_collection:
            inf = self._informer_for(collection) if self._informer_for is not None else None
            self._by_collection[collection] = None
            if inf is not None:
                self._watch(collection, inf)
        return self._by_collection[collection]

    # --- sync --------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        quota = self.quota_informer.get(key)
        if quota is None:
            return
        ns = (quota.get("metadata") or {}).get("namespace", "")
        self.queue.add_after(key, self.resync_period)
        hard = _hard(quota)
        objects: dict[str, list[Obj]] = {}
        pending = False
        for collection in {c for n in hard if (c := qe.resource_of(n)) is not None}:
            inf = self._informer(collection)
            if inf is None:
                continue
            if not inf.has_synced:
                pending = True
                continue
            objects[collection] = inf.list(ns)
        if pending:
            self.queue.add_after(key, UNSYNCED_RETRY)
        status = quota.get("status") or {}
        old_used = status.get("used") or {}
        fresh = quota_usage(quota, objects, self.clock())
        used = {n: fresh.get(n, old_used.get(n)) for n in hard if n in fresh or n in old_used}
        if _same(hard, status.get("hard")) and _same(used, old_used):
            return
        updated = copy.deepcopy(quota)
        updated["status"] = {"hard": dict(hard), "used": used}
        log.debug("updating usage of quota %s: %s", key, used)
        try:
            await self.client.replace(RESOURCEQUOTAS, updated, ns, subresource="status")
        except NotFoundError:
            log.debug("quota %s is gone", key)


def _pod_scope_facts(pod: Obj) -> tuple[Any, ...]:
    spec = pod.get("spec") or {}
    return (spec.get("activeDeadlineSeconds"), spec.get("priorityClassName"))



def collection_name(res: Resource) -> str:
    """``pods``, ``jobs.batch``: how ``count/<…>`` quota names spell a resource."""
    return f"{res.plural}.{res.group}" if res.group else res.plural


def new_controller(informer: Callable[[Resource], Informer], served: Iterable[Resource], client: Client,
                   recorder: loop.Recorder) -> ResourceQuotaController:
    """The controller over a shared informer factory (``informer``): the core collections watched from the
    start, every other namespaced ``served`` resource watched once some quota counts it."""
    core = {"pods": PODS, "services": SERVICES, "persistentvolumeclaims": PVCS, "configmaps": CONFIGMAPS,
            "secrets": SECRETS, "replicationcontrollers": REPLICATIONCONTROLLERS, "resourcequotas": RESOURCEQUOTAS}
    others = {collection_name(r): r for r in served if r.namespaced and collection_name(r) not in core}

    def lookup(collection: str) -> Informer | None:
        res = others.get(collection)
        return informer(res) if res is not None else None

    return ResourceQuotaController(informer(RESOURCEQUOTAS), {n: informer(r) for n, r in core.items()}, client,
                                   recorder, informer_for=lookup)
