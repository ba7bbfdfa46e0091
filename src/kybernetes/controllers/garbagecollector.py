"""Garbage collector: deletes dependents whose owners are gone, runs foreground deletion and orphaning.

Informers over the owned kinds feed an ownership graph (uid → node, owner uid → dependent uids);
callbacks only update the graph and enqueue uids, on two queues as in Kubernetes:

* ``attempt_to_delete`` — a dependent that may have lost its owners (or whose owner waits for it),
  or an owner in foreground deletion. The item is re-read from the API; each owner reference is
  *solid* (owner seen alive), *dangling* (a live GET says the owner is gone or has another uid) or
  *waiting* (the owner is being deleted in the foreground). No solid owner → delete (Background,
  Foreground when an owner waits and it has dependents of its own); solid and dangling → drop the
  dangling references. An owner with the ``foregroundDeletion`` finalizer loses it once no
  dependent with ``blockOwnerDeletion`` is left.
* ``attempt_to_orphan`` — an owner with the ``orphan`` finalizer: its reference is stripped from
  every dependent, then the finalizer is removed.

Deletes carry a uid precondition, finalizer and reference edits a resourceVersion precondition.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kybernetes.client import workqueue
from kybernetes.client.errors import ConflictError, NotFoundError
from kybernetes.client.informer import Informer
from kybernetes.client.rest import Client, Resource
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
ABSENT_CACHE_SIZE = 500


@dataclass
class Node:
    uid: str
    resource: Resource
    namespace: str
    name: str
    owners: list[dict[str, Any]]
    being_deleted: bool
    finalizers: frozenset[str]

    @property
    def deleting_dependents(self) -> bool:
        return self.being_deleted and FOREGROUND in self.finalizers

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.resource.kind} {where} ({self.uid})"


def _node(resource: Resource, obj: Obj) -> Node:
    md = obj.get("metadata") or {}
    return Node(str(md.get("uid", "")), resource, str(md.get("namespace") or ""), str(md.get("name", "")),
                [r for r in md.get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")],
                bool(md.get("deletionTimestamp")), frozenset(md.get("finalizers") or ()))


class GarbageCollector:
    name = "garbagecollector"

    def __init__(self, informers: Iterable[Informer], client: Client, recorder: loop.Recorder, *,
                 kinds: dict[tuple[str, str], Resource] | None = None) -> None:
        self.client = client
        self.recorder = recorder
        self.nodes: dict[str, Node] = {}
        self.dependents: dict[str, set[str]] = {}
        self.attempt_to_delete = workqueue.WorkQueue()
        self.attempt_to_orphan = workqueue.WorkQueue()
        self.kinds: dict[tuple[str, str], Resource] = dict(kinds or {})
        self._absent: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._informers: list[Informer] = []
        self.delete_handler = self.attempt_to_delete_item
        self.orphan_handler = self.attempt_to_orphan_item
        for inf in informers:
            self.add_informer(inf)

    def add_informer(self, inf: Informer) -> None:
        res = inf.resource
        self.kinds.setdefault((res.api_version, res.kind), res)
        self._informers.append(inf)
        inf.add_handlers(functools.partial(self._upsert, res), functools.partial(self._update, res),
                         functools.partial(self._remove, res))

    # --- graph maintenance (informer callbacks) ---------------------------------------------------
    def _update(self, res: Resource, _old: Obj, cur: Obj) -> None:
        self._upsert(res, cur)

    def _upsert(self, res: Resource, obj: Obj) -> None:
        node = _node(res, obj)
        if not node.uid:
            return
        old = self.nodes.get(node.uid)
        self.nodes[node.uid] = node
        old_owners = {r["uid"] for r in old.owners} if old is not None else set()
        new_owners = {r["uid"] for r in node.owners}
        for u in old_owners - new_owners:
            self._unlink(u, node.uid)
        for u in new_owners:
            self.dependents.setdefault(u, set()).add(node.uid)
        for u in old_owners | new_owners:
            owner = self.nodes.get(u)
            if owner is not None and owner.deleting_dependents:
                self.attempt_to_delete.add(u)  # its set of blocking dependents may have changed
        if any((o := self.nodes.get(u)) is None or o.being_deleted for u in new_owners):
            self.attempt_to_delete.add(node.uid)
        if node.being_deleted and ORPHAN in node.finalizers:
            self.attempt_to_orphan.add(node.uid)
        if node.deleting_dependents:
            self.attempt_to_delete.add(node.uid)
            for dep in self.dependents.get(node.uid, ()):
                self.attempt_to_delete.add(dep)

    def _unlink(self, owner_uid: str, dep_uid: str) -> None:
        deps = self.dependents.get(owner_uid)
        if deps is not None:
            deps.discard(dep_uid)
            if not deps and owner_uid not in self.nodes:
                del self.dependents[owner_uid]

    def _remove(self, res: Resource, obj: Obj) -> None:
        uid = str((obj.get("metadata") or {}).get("uid", ""))
        node = self.nodes.pop(uid, None)
        if node is None:
            return
        for ref in node.owners:
            self._unlink(ref["uid"], uid)
            owner = self.nodes.get(ref["uid"])
            if owner is not None and owner.deleting_dependents:
                self.attempt_to_delete.add(owner.uid)
        for dep in self.dependents.get(uid, ()):
            self.attempt_to_delete.add(dep)
        if not self.dependents.get(uid):
            self.dependents.pop(uid, None)

    # --- running ---------------------------------------------------------------------------------
    async def run(self, workers: int = 2) -> None:
        log.info("Starting %s controller", self.name)
        try:
            await asyncio.gather(*(i.wait_synced() for i in self._informers))
            async with asyncio.TaskGroup() as tg:
                for i in range(workers):
                    tg.create_task(loop.process_queue(self.attempt_to_delete, self._delete, "gc-delete"),
                                   name=f"gc-delete-{i}")
                    tg.create_task(loop.process_queue(self.attempt_to_orphan, self._orphan, "gc-orphan"),
                                   name=f"gc-orphan-{i}")
        finally:
            await self.attempt_to_delete.shutdown()
            await self.attempt_to_orphan.shutdown()
            log.info("Shutting down %s controller", self.name)

    async def _delete(self, uid: str) -> None:
        await self.delete_handler(uid)

    async def _orphan(self, uid: str) -> None:
        await self.orphan_handler(uid)

    # --- attempt to delete -----------------------------------------------------------------------
    async def _latest(self, node: Node) -> Obj | None:
        try:
            latest = await self.client.get(node.resource, node.name, node.namespace or None)
        except NotFoundError:
            return None
        return latest if (latest.get("metadata") or {}).get("uid") == node.uid else None

    async def attempt_to_delete_item(self, uid: str) -> None:
        node = self.nodes.get(uid)
        if node is None:
            return
        latest = await self._latest(node)
        if latest is None:
            return
        md = latest.get("metadata") or {}
        finalizers = md.get("finalizers") or []
        if md.get("deletionTimestamp"):
            if FOREGROUND in finalizers:
                await self._process_deleting_dependents(node, latest)
            return
        refs = [r for r in md.get("ownerReferences") or [] if isinstance(r, dict)]
        if not refs:
            return
        solid: list[dict[str, Any]] = []
        dangling: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        for ref in refs:
            state = await self._owner_state(node, ref)
            {"solid": solid, "dangling": dangling, "waiting": waiting}[state].append(ref)
        if solid:
            if dangling or waiting:
                drop = {str(r.get("uid")) for r in (*dangling, *waiting)}
                log.info("removing dangling/waiting owner references %s from %s", sorted(drop), node)
                await self._patch_owner_refs(node, latest, [r for r in refs if r.get("uid") not in drop])
            return
        if waiting and self.dependents.get(uid):
            if any((d := self.nodes.get(dep)) is not None and d.deleting_dependents for dep in self.dependents[uid]):
                # a dependent of ours waits for us while our owner waits for us: unblock to avoid a deadlock
                await self._patch_owner_refs(node, latest, [{**r, "blockOwnerDeletion": False} for r in refs])
            await self._delete_object(node, "Foreground")
            return
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        await self._delete_object(node, policy)

    async def _owner_state(self, node: Node, ref: dict[str, Any]) -> str:
        owner_uid = str(ref.get("uid"))
        local = self.nodes.get(owner_uid)
        if local is not None and not local.being_deleted:
            return "solid"
        if owner_uid in self._absent:
            return "dangling"
        res = self.kinds.get((str(ref.get("apiVersion", "")), str(ref.get("kind", ""))))
        if res is None:
            log.debug("cannot resolve owner %s/%s of %s; treating it as present", ref.get("apiVersion"),
                      ref.get("kind"), node)
            return "solid"
        if res.namespaced and not node.namespace:
            return "dangling"  # a cluster-scoped object cannot be owned by a namespaced one
        try:
            owner = await self.client.get(res, str(ref.get("name", "")), node.namespace if res.namespaced else None)
        except NotFoundError:
            self._mark_absent(owner_uid)
            return "dangling"
        omd = owner.get("metadata") or {}
        if omd.get("uid") != owner_uid:
            self._mark_absent(owner_uid)
            return "dangling"
        if omd.get("deletionTimestamp") and FOREGROUND in (omd.get("finalizers") or []):
            return "waiting"
        return "solid"

    def _mark_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        while len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    async def _delete_object(self, node: Node, policy: str) -> None:
        log.info("deleting %s (propagationPolicy=%s)", node, policy)
        try:
            await self.client.delete(node.resource, node.name, node.namespace or None,
                                     preconditions={"uid": node.uid}, propagationPolicy=policy)
        except NotFoundError:
            pass
        except ConflictError:
            log.debug("%s was replaced before it could be deleted", node)

    async def _patch_owner_refs(self, node: Node, latest: Obj, refs: list[dict[str, Any]]) -> None:
        md = latest.get("metadata") or {}
        patch = {"metadata": {"ownerReferences": refs or None, "uid": node.uid,
                              "resourceVersion": md.get("resourceVersion")}}
        try:
            await self.client.patch(node.resource, node.name, patch, node.namespace or None)
        except NotFoundError:
            pass

    async def _process_deleting_dependents(self, node: Node, latest: Obj) -> None:
        blocking = []
        for dep_uid in self.dependents.get(node.uid, ()):
            dep = self.nodes.get(dep_uid)
            if dep is None:
                continue
            if any(r.get("uid") == node.uid and r.get("blockOwnerDeletion") for r in dep.owners):
                blocking.append(dep)
        if not blocking:
            log.info("all blocking dependents of %s are gone; removing the %s finalizer", node, FOREGROUND)
            await self._remove_finalizer(node, latest, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.attempt_to_delete.add(dep.uid)

    async def _remove_finalizer(self, node: Node, latest: Obj | None, finalizer: str) -> None:
        for _ in range(3):
            if latest is None:
                return
            md = latest.get("metadata") or {}
            finalizers = list(md.get("finalizers") or [])
            if finalizer not in finalizers:
                return
            kept = [f for f in finalizers if f != finalizer]
            patch = {"metadata": {"finalizers": kept or None, "resourceVersion": md.get("resourceVersion")}}
            try:
                await self.client.patch(node.resource, node.name, patch, node.namespace or None)
                return
            except NotFoundError:
                return
            except ConflictError:
                latest = await self._latest(node)
        raise ConflictError(409, {"message": f"could not remove the {finalizer} finalizer from {node}"})

    # --- attempt to orphan -----------------------------------------------------------------------
    async def attempt_to_orphan_item(self, uid: str) -> None:
        node = self.nodes.get(uid)
        if node is None:
            return
        latest = await self._latest(node)
        if latest is None:
            return
        md = latest.get("metadata") or {}
        if not md.get("deletionTimestamp") or ORPHAN not in (md.get("finalizers") or []):
            return
        for dep_uid in list(self.dependents.get(uid, ())):
            dep = self.nodes.get(dep_uid)
            if dep is not None:
                await self._strip_owner(dep, uid)
        log.info("orphaned the dependents of %s; removing the %s finalizer", node, ORPHAN)
        await self._remove_finalizer(node, latest, ORPHAN)

    async def _strip_owner(self, dep: Node, owner_uid: str) -> None:
        for _ in range(3):
            latest = await self._latest(dep)
            if latest is None:
                return
            refs = [r for r in (latest.get("metadata") or {}).get("ownerReferences") or [] if isinstance(r, dict)]
            kept = [r for r in refs if r.get("uid") != owner_uid]
            if len(kept) == len(refs):
                return
            try:
                await self._patch_owner_refs(dep, latest, kept)
                return
            except ConflictError:
                continue
        raise ConflictError(409, {"message": f"could not orphan {dep}"})
