"""DaemonSet revisions and rolling updates (``pkg/controller/daemon/update.go``).

``construct_history`` finds the ControllerRevision whose data equals the current template (or
snapshots one named ``<ds>-<pod-template-hash>``, labelled ``controller-revision-hash``) and gives
it the highest revision number; ``cleanup_history`` deletes old revisions no live pod uses beyond
``revisionHistoryLimit``. ``rolling_update`` replaces old pods node by node: without surge it
deletes old pods while fewer than ``maxUnavailable`` nodes are unavailable (unavailable old pods
go at once), and the manage loop recreates them; with ``maxSurge`` it creates the new pod first
on up to ``maxSurge`` nodes and deletes the old one once the new one is available. Mixed into
``DaemonSetController``; every call goes through its ``sync_nodes``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kybernetes.client.errors import AlreadyExistsError
from kybernetes.client.informer import Informer
from kybernetes.client.rest import CONTROLLERREVISIONS, DAEMONSETS, Client
from kybernetes.controllers import daemonset_util as du
from kybernetes.controllers import history, loop, podstate, refmanager, templatehash
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)


class StaleCollisionCountError(RuntimeError):
    """The collision count this sync used is out of date; the next sync retries."""


class DaemonSetUpdater:
    """Revision bookkeeping and the RollingUpdate strategy of the DaemonSet controller."""

    client: Client
    clock: loop.Clock
    history: history.History
    pod_informer: Informer

    async def controlled_revisions(self, ds: Obj) -> list[Obj]:
        raise NotImplementedError

    async def nodes_to_pods(self, ds: Obj, include_deleted_terminal: bool = False) -> dict[str, list[Obj]]:
        raise NotImplementedError

    async def sync_nodes(self, ds: Obj, delete: list[str], create_on: list[str], hash_: str) -> None:
        raise NotImplementedError

    async def construct_history(self, ds: Obj) -> tuple[Obj, list[Obj]]:
        """(current revision, old revisions), creating or renumbering the current one."""
        revisions = await self.controlled_revisions(ds)
        data = history.revision_data(du.spec(ds).get("template") or {})
        current: list[Obj] = []
        old: list[Obj] = []
        for rev in revisions:
            labels = du.md(rev).get("labels") or {}
            if du.HASH_LABEL not in labels:
                fresh = copy.deepcopy(rev)
                fresh["metadata"].setdefault("labels", {})[du.HASH_LABEL] = du.md(rev)["name"]
                rev = await self.client.replace(CONTROLLERREVISIONS, fresh, du.md(ds).get("namespace"))
            (current if history.canonical(rev.get("data")) == history.canonical(data) else old).append(rev)
        number = max((int(r.get("revision") or 0) for r in old), default=0) + 1
        if not current:
            return await self._snapshot(ds, data, number), old
        cur = await self._dedup(ds, current)
        if int(cur.get("revision") or 0) < number:
            bumped = copy.deepcopy(cur)
            bumped["revision"] = number
            cur = await self.client.replace(CONTROLLERREVISIONS, bumped, du.md(ds).get("namespace"))
        return cur, old

    async def _snapshot(self, ds: Obj, data: dict[str, Any], number: int) -> Obj:
        collision = (ds.get("status") or {}).get("collisionCount")
        template = du.spec(ds).get("template") or {}
        hash_ = templatehash.compute_hash(template, collision)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), du.HASH_LABEL: hash_}
        rev_md: dict[str, Any] = {"name": f"{du.md(ds)['name']}-{hash_}", "namespace": du.md(ds).get("namespace"),
                                  "labels": labels,
                                  "ownerReferences": [refmanager.new_controller_ref(ds, du.API_VERSION, du.KIND)]}
        if du.md(ds).get("annotations"):
            rev_md["annotations"] = dict(du.md(ds)["annotations"])
        rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rev_md, "data": data,
               "revision": number}
        ns = du.md(ds).get("namespace")
        try:
            return await self.client.create(CONTROLLERREVISIONS, rev, ns)
        except AlreadyExistsError:
            existing = await self.client.get(CONTROLLERREVISIONS, rev_md["name"], ns)
            if history.canonical(existing.get("data")) == history.canonical(data):
                return existing
            fresh = await self.client.get(DAEMONSETS, du.md(ds)["name"], ns)
            if (fresh.get("status") or {}).get("collisionCount") != collision:
                raise StaleCollisionCountError(f"found a stale collision count ({collision}) of DaemonSet "
                                               f"{du.md(ds)['name']!r} while processing; will retry until it is "
                                               "updated") from None
            fresh.setdefault("status", {})["collisionCount"] = int(collision or 0) + 1
            await self.client.replace(DAEMONSETS, fresh, ns, subresource="status")
            log.info("hash collision for DaemonSet %s/%s: bumping collisionCount", ns, du.md(ds)["name"])
            raise

    async def _dedup(self, ds: Obj, current: list[Obj]) -> Obj:
        """Keep the highest-numbered of several equal revisions; relabel pods, delete the rest."""
        if len(current) == 1:
            return current[0]
        keep = history.sort_revisions(current)[-1]
        keep_hash = (du.md(keep).get("labels") or {}).get(du.HASH_LABEL, "")
        for rev in current:
            if rev is keep:
                continue
            dup_hash = (du.md(rev).get("labels") or {}).get(du.HASH_LABEL)
            for pods in (await self.nodes_to_pods(ds, include_deleted_terminal=True)).values():
                for pod in pods:
                    if (du.md(pod).get("labels") or {}).get(du.HASH_LABEL) == dup_hash:
                        await self.client.patch(self.pod_informer.resource, du.md(pod)["name"],
                                                {"metadata": {"labels": {du.HASH_LABEL: keep_hash}}},
                                                du.md(pod).get("namespace"))
            await self.history.delete(rev)
        return keep

    async def cleanup_history(self, ds: Obj, old: list[Obj]) -> None:
        limit = du.spec(ds).get("revisionHistoryLimit")
        to_kill = len(old) - (10 if limit is None else int(limit))
        if to_kill <= 0:
            return
        live = {(du.md(p).get("labels") or {}).get(du.HASH_LABEL)
                for pods in (await self.nodes_to_pods(ds, include_deleted_terminal=True)).values() for p in pods}
        for rev in history.sort_revisions(old):
            if to_kill <= 0:
                break
            if (du.md(rev).get("labels") or {}).get(du.HASH_LABEL) in live:
                continue
            await self.history.delete(rev)
            to_kill -= 1

    def desired_counts(self, ds: Obj, nodes: list[Obj]) -> tuple[int, int, int]:
        """(maxSurge, maxUnavailable, desiredNumberScheduled); 1 unavailable when both are zero."""
        desired = sum(1 for n in nodes if du.should_run(n, ds)[0])
        rolling = (du.spec(ds).get("updateStrategy") or {}).get("rollingUpdate") or {}
        surge = du.scaled_value(rolling.get("maxSurge", 0), desired)
        unavailable = du.scaled_value(rolling.get("maxUnavailable", 1), desired)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable, desired

    async def rolling_update(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        by_node = await self.nodes_to_pods(ds)
        surge, max_unavailable, _ = self.desired_counts(ds, nodes)
        generation = du.template_generation(ds)
        now = self.clock()
        min_ready = int(du.spec(ds).get("minReadySeconds") or 0)

        def available(pod: Obj) -> bool:
            return podstate.is_pod_available(pod, min_ready, now)

        if surge == 0:
            unavailable = 0
            replace_now: list[str] = []
            candidates: list[str] = []
            for pods in by_node.values():
                new, old, ok = du.updated_pods_on_node(pods, hash_, generation)
                if not ok or (new is None) == (old is None):
                    unavailable += 1  # the manage loop fixes this node
                elif new is not None:
                    unavailable += not available(new)
                elif old is not None and not available(old):
                    replace_now.append(du.md(old)["name"])
                elif unavailable < max_unavailable and old is not None:
                    candidates.append(du.md(old)["name"])
            room = max(0, min(max_unavailable - unavailable, len(candidates)))
            await self.sync_nodes(ds, replace_now + candidates[:room], [], hash_)
            return

        node_by_name = {du.md(n).get("name"): n for n in nodes}
        delete_old: list[str] = []
        not_wanted: list[str] = []
        candidate_nodes: list[str] = []
        allowed_nodes: list[str] = []
        surging = 0
        for node_name, pods in by_node.items():
            new, old, ok = du.updated_pods_on_node(pods, hash_, generation)
            if not ok:
                surging += 1
                continue
            node = node_by_name.get(node_name)
            if node is None or not du.should_run(node, ds)[0]:
                if old is not None:
                    not_wanted.append(du.md(old)["name"])
                continue
            if old is None:
                continue
            if new is None:
                (candidate_nodes if available(old) else allowed_nodes).append(node_name)
            elif not available(new):
                surging += 1
            else:
                delete_old.append(du.md(old)["name"])
        room = max(0, min(surge - surging, len(candidate_nodes)))
        await self.sync_nodes(ds, delete_old + not_wanted, allowed_nodes + candidate_nodes[:room], hash_)
