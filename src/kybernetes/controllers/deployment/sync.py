"""Deployment sync steps shared by every strategy: find or create the new ReplicaSet (syncing the
revision annotations), scale ReplicaSets with ``ScalingReplicaSet`` events, proportional scaling
for scale events mid-rollout, revision-history cleanup, and the status calculation.

``progress.py`` adds the Progressing condition; ``rolling.py`` and ``recreate.py`` are the two
strategies; ``controller.py`` dispatches between them.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kybernetes.client.errors import AlreadyExistsError, ApiError, NotFoundError, has_status_cause
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer
from kybernetes.client.rest import DEPLOYMENTS, REPLICASETS, Client
from kybernetes.controllers import loop, refmanager, templatehash
from kybernetes.controllers.deployment import util
from kybernetes.controllers.deployment.util import md, replicas, spec, status
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

SCALING_REPLICA_SET = "ScalingReplicaSet"
_COUNTS = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
           "unavailableReplicas")


def normalized_status(st: dict[str, Any]) -> dict[str, Any]:
    """Zero counts are omitted on the wire (``omitempty``); compare statuses without them."""
    return {k: v for k, v in st.items() if not (k in _COUNTS and not v) and not (k == "conditions" and not v)}


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, now: float) -> dict[str, Any]:
    available = util.total_status(all_rss, "availableReplicas")
    st: dict[str, Any] = {
        "observedGeneration": md(d).get("generation") or 0,
        "replicas": util.total_status(all_rss),
        "updatedReplicas": util.total_status([new_rs]),
        "readyReplicas": util.total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(util.total_spec(all_rss) - available, 0),
    }
    if status(d).get("collisionCount") is not None:
        st["collisionCount"] = status(d)["collisionCount"]
    st["conditions"] = copy.deepcopy(status(d).get("conditions") or [])
    if available >= replicas(d) - util.max_unavailable(d):
        cond = util.new_condition(util.AVAILABLE, "True", util.MINIMUM_REPLICAS_AVAILABLE,
                                  "Deployment has minimum availability.", now)
    else:
        cond = util.new_condition(util.AVAILABLE, "False", util.MINIMUM_REPLICAS_UNAVAILABLE,
                                  "Deployment does not have minimum availability.", now)
    util.set_condition(st, cond)
    return normalized_status(st)


class DeploymentSync(loop.Controller):
    client: Client
    recorder: loop.Recorder
    rs_informer: Informer
    clock: loop.Clock

    async def update_deployment_status(self, d: Obj) -> None:
        """``UpdateStatus``; the written resourceVersion is kept so later writes in this sync apply."""
        out = await self.client.replace(DEPLOYMENTS, d, md(d).get("namespace"), subresource="status")
        d["metadata"]["resourceVersion"] = md(out).get("resourceVersion", md(d).get("resourceVersion"))

    async def get_all_rss_and_sync_revision(self, d: Obj, rss: list[Obj], create: bool
                                            ) -> tuple[Obj | None, list[Obj]]:
        _, all_old = util.find_old_rss(d, rss)
        return await self.get_new_rs(d, rss, all_old, create), all_old

    async def get_new_rs(self, d: Obj, rss: list[Obj], old_rss: list[Obj], create: bool) -> Obj | None:
        existing = util.find_new_rs(d, rss)
        new_revision = util.max_revision(old_rss) + 1
        ns = md(d).get("namespace", "")
        now = self.clock()
        if existing is not None:
            rs = copy.deepcopy(existing)
            annotations_updated = util.set_new_rs_annotations(d, rs, new_revision, exists=True)
            min_ready = spec(d).get("minReadySeconds") or 0
            if annotations_updated or (spec(rs).get("minReadySeconds") or 0) != min_ready:
                if min_ready:
                    rs["spec"]["minReadySeconds"] = min_ready
                else:
                    rs["spec"].pop("minReadySeconds", None)
                updated = await self.client.replace(REPLICASETS, rs, ns)
                rss[:] = [updated if x is existing else x for x in rss]
                return updated
            needs_update = util.set_deployment_revision(d, util.annotations_of(rs).get(util.REVISION, ""))
            st = d.setdefault("status", {})
            if util.has_progress_deadline(d) and util.get_condition(st, util.PROGRESSING) is None:
                util.set_condition(st, util.new_condition(util.PROGRESSING, "True", util.FOUND_NEW_RS_REASON,
                                                          f'Found new replica set "{md(rs)["name"]}"', now))
                needs_update = True
            if needs_update:
                await self.update_deployment_status(d)
            return rs
        if not create:
            return None
        return await self._create_new_rs(d, old_rss, new_revision, now)

    async def _create_new_rs(self, d: Obj, old_rss: list[Obj], new_revision: int, now: float) -> Obj:
        ns, st = md(d).get("namespace", ""), d.setdefault("status", {})
        template = copy.deepcopy(spec(d).get("template") or {})
        pod_hash = templatehash.compute_hash(template, st.get("collisionCount"))
        tmd = template.setdefault("metadata", {})
        tmd["labels"] = {**(tmd.get("labels") or {}), util.POD_TEMPLATE_HASH: pod_hash}
        selector = copy.deepcopy(spec(d).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), util.POD_TEMPLATE_HASH: pod_hash}
        name = f"{md(d)['name']}-{pod_hash}"
        new: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": name, "namespace": ns, "labels": dict(tmd["labels"]),
                                 "ownerReferences": [refmanager.new_controller_ref(d, "apps/v1", "Deployment")]},
                    "spec": {"replicas": 0, "selector": selector, "template": template}}
        if spec(d).get("minReadySeconds"):
            new["spec"]["minReadySeconds"] = spec(d)["minReadySeconds"]
        new_replicas = util.new_rs_new_replicas(d, [*old_rss, new], new)
        new["spec"]["replicas"] = new_replicas
        util.set_new_rs_annotations(d, new, new_revision, exists=False)
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, new, ns)
        except AlreadyExistsError:
            already_exists = True
            rs = self.rs_informer.get(f"{ns}/{name}")
            if rs is None:
                raise
            ref = refmanager.controller_ref_of(rs)
            if ref is None or ref.get("uid") != md(d).get("uid") or \
                    not util.equal_ignore_hash(spec(d).get("template"), spec(rs).get("template")):
                st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
                try:
                    await self.update_deployment_status(d)
                    log.info("hash collision for deployment %s/%s: collisionCount is now %d", ns, md(d)["name"],
                             st["collisionCount"])
                except ApiError as e:
                    log.debug("could not record the collision count: %s", e)
                raise
            created = rs
        except ApiError as e:
            if has_status_cause(e, "NamespaceTerminating"):
                raise
            msg = f'Failed to create new replica set "{name}": {e}'
            if util.has_progress_deadline(d):
                util.set_condition(st, util.new_condition(util.PROGRESSING, "False", util.FAILED_RS_CREATE_REASON,
                                                          msg, now))
                try:
                    await self.update_deployment_status(d)
                except ApiError:
                    pass  # the create error is the one to report
            self.recorder.record(d, WARNING, util.FAILED_RS_CREATE_REASON, msg)
            raise
        if not already_exists and new_replicas > 0:
            self.recorder.record(d, NORMAL, SCALING_REPLICA_SET,
                                 f"Scaled up replica set {md(created)['name']} from 0 to {new_replicas}")
        needs_update = util.set_deployment_revision(d, str(new_revision))
        if not already_exists and util.has_progress_deadline(d):
            util.set_condition(st, util.new_condition(util.PROGRESSING, "True", util.NEW_RS_REASON,
                                                      f'Created new replica set "{md(created)["name"]}"', now))
            needs_update = True
        if needs_update:
            await self.update_deployment_status(d)
        return created

    # --- scaling -----------------------------------------------------------------------------------
    async def scale_rs_and_record_event(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if replicas(rs) == new_scale:
            return False, rs
        return await self.scale_rs(rs, new_scale, d, "up" if replicas(rs) < new_scale else "down")

    async def scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        size_changed = replicas(rs) != new_scale
        max_total = replicas(d) + util.max_surge(d)
        if not size_changed and not util.replicas_annotations_need_update(rs, replicas(d), max_total):
            return False, rs
        old_scale = replicas(rs)
        updated = copy.deepcopy(rs)
        updated["spec"]["replicas"] = new_scale
        util.set_replicas_annotations(updated, replicas(d), max_total)
        out = await self.client.replace(REPLICASETS, updated, md(rs).get("namespace"))
        if size_changed:
            self.recorder.record(d, NORMAL, SCALING_REPLICA_SET,
                                 f"Scaled {operation} replica set {md(rs)['name']} from {old_scale} to {new_scale}")
        return size_changed, out

    async def scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        """Scale events: one active ReplicaSet takes all; otherwise spread proportionally."""
        target = util.find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if replicas(target) != replicas(d):
                await self.scale_rs_and_record_event(target, replicas(d), d)
            return
        if util.is_saturated(d, new_rs):
            for old in util.active(list(old_rss)):
                await self.scale_rs_and_record_event(old, 0, d)
            return
        if not util.is_rolling(d):
            return
        live = util.active([*old_rss, new_rs])
        allowed = replicas(d) + util.max_surge(d) if replicas(d) > 0 else 0
        to_add = allowed - util.total_spec(list(live))
        operation = ""
        if to_add > 0:
            live, operation = util.by_size_newer(live), "up"
        elif to_add < 0:
            live, operation = util.by_size_older(live), "down"
        added = 0
        sizes: dict[str, int] = {}
        for rs in live:
            if to_add:
                share = util.get_proportion(rs, d, to_add, added)
                sizes[md(rs)["name"]] = replicas(rs) + share
                added += share
            else:
                sizes[md(rs)["name"]] = replicas(rs)
        for i, rs in enumerate(live):
            name = md(rs)["name"]
            if i == 0 and to_add:
                sizes[name] = max(sizes[name] + to_add - added, 0)
            await self.scale_rs(rs, sizes[name], d, operation)

    # --- housekeeping ------------------------------------------------------------------------------
    async def cleanup_deployment(self, old_rss: list[Obj], d: Obj) -> None:
        """Delete the oldest unused ReplicaSets beyond ``revisionHistoryLimit``."""
        if not util.has_revision_history_limit(d):
            return
        alive = [rs for rs in old_rss if not md(rs).get("deletionTimestamp")]
        diff = len(alive) - int(spec(d)["revisionHistoryLimit"])
        if diff <= 0:
            return
        for rs in util.by_revision(alive)[:diff]:
            if status(rs).get("replicas") or replicas(rs) or md(rs).get("deletionTimestamp") or \
                    int(md(rs).get("generation") or 0) > int(status(rs).get("observedGeneration") or 0):
                continue
            log.debug("deleting old replica set %s/%s", md(rs).get("namespace"), md(rs)["name"])
            try:
                await self.client.delete(REPLICASETS, md(rs)["name"], md(rs).get("namespace"))
            except NotFoundError:
                pass

    async def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        new_status = calculate_status(all_rss, new_rs, d, self.clock())
        if normalized_status(status(d)) == new_status:
            return
        d["status"] = new_status
        await self.update_deployment_status(d)

    async def sync_scaling(self, d: Obj, rss: list[Obj]) -> None:
        """Paused deployments and scale events: no rollout, only sizes, cleanup and status."""
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, False)
        await self.scale(d, new_rs, old_rss)
        if spec(d).get("paused"):
            await self.cleanup_deployment(old_rss, d)
        await self.sync_deployment_status([*old_rss, new_rs], new_rs, d)
