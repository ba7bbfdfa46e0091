"""Deployment controller: callbacks and the sync dispatcher.

Deployment, ReplicaSet and pod callbacks enqueue the owning Deployment's key. ``sync`` claims the
ReplicaSets the selector matches (adopting orphans, releasing strays), then picks one path, as
Kubernetes does: deleted → status only; paused or a pure scale event → ``sync_scaling``;
otherwise the Recreate or RollingUpdate rollout. ``kubectl rollout undo`` needs no special path:
it writes an old template back, ``find_new_rs`` finds that old ReplicaSet by template, and
``get_new_rs`` raises its revision (the old number moves to revision-history) — no new ReplicaSet.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from kybernetes.api import errors as api_errors
from kybernetes.api.selectors import selector_from_label_selector
from kybernetes.client.events import WARNING
from kybernetes.client.informer import Informer
from kybernetes.client.rest import DEPLOYMENTS, REPLICASETS, Client
from kybernetes.controllers import loop, refmanager
from kybernetes.controllers.deployment import util
from kybernetes.controllers.deployment.recreate import DeploymentRecreate
from kybernetes.controllers.deployment.rolling import DeploymentRolling
from kybernetes.controllers.deployment.util import md, replicas, spec
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

SELECTING_ALL = "SelectingAll"


def _selector_empty(selector: Any) -> bool:
    return not isinstance(selector, dict) or (not selector.get("matchLabels") and not selector.get("matchExpressions"))


class DeploymentController(DeploymentRolling, DeploymentRecreate):
    name = "deployment"

    def __init__(self, d_informer: Informer, rs_informer: Informer, pod_informer: Informer, client: Client,
                 recorder: loop.Recorder, *, clock: loop.Clock = time.time) -> None:
        loop.Controller.__init__(self, [d_informer, rs_informer, pod_informer])
        self.d_informer = d_informer
        self.rs_informer = rs_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        d_informer.add_handlers(self.enqueue, lambda _old, cur: self.enqueue(cur), self.enqueue)
        rs_informer.add_handlers(self._add_rs, self._update_rs, self._delete_rs)
        pod_informer.add_handlers(on_delete=self._delete_pod)

    # --- callbacks -------------------------------------------------------------------------------
    def _resolve(self, namespace: str, ref: dict[str, Any] | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(f"{namespace}/{ref.get('name')}")
        return d if d is not None and md(d).get("uid") == ref.get("uid") else None

    def _selecting(self, rs: Obj) -> list[Obj]:
        labels = md(rs).get("labels") or {}
        if not labels:
            return []
        out = []
        for d in self.d_informer.list(md(rs).get("namespace", "")):
            try:
                sel = selector_from_label_selector(spec(d).get("selector"))
            except api_errors.StatusError:
                continue
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append(d)
        return out

    def _add_rs(self, rs: Obj) -> None:
        if md(rs).get("deletionTimestamp"):
            self._delete_rs(rs)
            return
        ref = refmanager.controller_ref_of(rs)
        if ref is not None:
            d = self._resolve(md(rs).get("namespace", ""), ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in self._selecting(rs):
            self.enqueue(d)

    def _update_rs(self, old: Obj, cur: Obj) -> None:
        if md(old).get("resourceVersion") == md(cur).get("resourceVersion"):
            return
        ns = md(cur).get("namespace", "")
        cur_ref, old_ref = refmanager.controller_ref_of(cur), refmanager.controller_ref_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            old_d = self._resolve(ns, old_ref)
            if old_d is not None:
                self.enqueue(old_d)
        if cur_ref is not None:
            d = self._resolve(ns, cur_ref)
            if d is not None:
                self.enqueue(d)
            return
        if ref_changed or md(old).get("labels") != md(cur).get("labels"):
            for d in self._selecting(cur):
                self.enqueue(d)

    def _delete_rs(self, rs: Obj) -> None:
        d = self._resolve(md(rs).get("namespace", ""), refmanager.controller_ref_of(rs))
        if d is not None:
            self.enqueue(d)

    def _delete_pod(self, pod: Obj) -> None:
        """A Recreate rollout waits for old pods to go away."""
        ns = md(pod).get("namespace", "")
        ref = refmanager.controller_ref_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{ns}/{ref.get('name')}")
        if rs is None or md(rs).get("uid") != ref.get("uid"):
            return
        d = self._resolve(ns, refmanager.controller_ref_of(rs))
        if d is not None and (spec(d).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(d)

    # --- sync ------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.d_informer.get(key)
        if cached is None:
            log.debug("deployment %s has been deleted", key)
            return
        d = copy.deepcopy(cached)
        if _selector_empty(spec(d).get("selector")):
            self.recorder.record(d, WARNING, SELECTING_ALL,
                                 "This deployment is selecting all pods. A non-empty selector is required.")
            st = d.setdefault("status", {})
            if int(st.get("observedGeneration") or 0) < int(md(d).get("generation") or 0):
                st["observedGeneration"] = md(d).get("generation")
                await self.update_deployment_status(d)
            return
        rss = await self.replica_sets_for(d)
        pod_map = self.pod_map(d, rss)
        if md(d).get("deletionTimestamp"):
            new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, False)
            await self.sync_deployment_status([*old_rss, new_rs], new_rs, d)
            return
        await self.check_paused_conditions(d)
        if spec(d).get("paused") or await self.is_scaling_event(d, rss):
            await self.sync_scaling(d, rss)
        elif (spec(d).get("strategy") or {}).get("type") == "Recreate":
            await self.rollout_recreate(d, rss, pod_map)
        else:
            await self.rollout_rolling(d, rss)

    async def replica_sets_for(self, d: Obj) -> list[Obj]:
        """The ReplicaSets this Deployment controls, after adoption and release."""
        ns, name = md(d).get("namespace", ""), md(d)["name"]
        selector = selector_from_label_selector(spec(d).get("selector"))

        async def fresh() -> Obj:
            return await self.client.get(DEPLOYMENTS, name, ns)

        if selector is None:
            return []
        manager = refmanager.ControllerRefManager(self.client, REPLICASETS, d, selector, "apps/v1", "Deployment",
                                                  refmanager.recheck_deletion_timestamp(fresh, d))
        return await manager.claim(self.rs_informer.list(ns))

    def pod_map(self, d: Obj, rss: list[Obj]) -> dict[str, list[Obj]]:
        """Pods the selector matches, grouped by the uid of the claimed ReplicaSet controlling them."""
        selector = selector_from_label_selector(spec(d).get("selector"))
        out: dict[str, list[Obj]] = {md(rs).get("uid", ""): [] for rs in rss}
        if selector is None:
            return out
        for pod in self.pod_informer.list(md(d).get("namespace", "")):
            ref = refmanager.controller_ref_of(pod)
            if ref is not None and ref.get("uid") in out and selector.matches(md(pod).get("labels")):
                out[ref["uid"]].append(pod)
        return out

    async def check_paused_conditions(self, d: Obj) -> None:
        """Mark Progressing Unknown (DeploymentPaused / DeploymentResumed) when pausing or resuming."""
        if not util.has_progress_deadline(d):
            return
        st = d.setdefault("status", {})
        cond = util.get_condition(st, util.PROGRESSING)
        if cond is not None and cond.get("reason") == util.TIMED_OUT_REASON:
            return
        paused_cond = cond is not None and cond.get("reason") == util.PAUSED_REASON
        now = self.clock()
        if spec(d).get("paused") and not paused_cond:
            util.set_condition(st, util.new_condition(util.PROGRESSING, "Unknown", util.PAUSED_REASON,
                                                      "Deployment is paused", now))
        elif not spec(d).get("paused") and paused_cond:
            util.set_condition(st, util.new_condition(util.PROGRESSING, "Unknown", util.RESUMED_REASON,
                                                      "Deployment is resumed", now))
        else:
            return
        await self.update_deployment_status(d)

    async def is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        """Some active ReplicaSet was sized for a different ``replicas`` than the spec's now."""
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, False)
        for rs in util.active([*old_rss, new_rs]):
            desired = util.annotations_of(rs).get(util.DESIRED_REPLICAS)
            if desired is None:
                continue
            try:
                if int(desired) != replicas(d):
                    return True
            except ValueError:
                continue
        return False
