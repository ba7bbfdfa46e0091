"""The RollingUpdate strategy: grow the new ReplicaSet up to ``replicas + maxSurge`` pods in total,
shrink old ones while at least ``replicas - maxUnavailable`` pods stay available, unhealthy old
replicas first. One step per sync; ReplicaSet and pod events bring the next sync.
"""

from __future__ import annotations

from kybernetes.controllers.deployment import util
from kybernetes.controllers.deployment.progress import DeploymentProgress
from kybernetes.controllers.deployment.util import md, replicas, status
from kybernetes.controllers.loop import Obj


class DeploymentRolling(DeploymentProgress):
    async def rollout_rolling(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, True)
        assert new_rs is not None  # create=True either returns a ReplicaSet or raises
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        if await self.reconcile_new_rs(all_rss, new_rs, d):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if await self.reconcile_old_rss(all_rss, util.active(list(old_rss)), new_rs, d):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if util.deployment_complete(d, status(d)):
            await self.cleanup_deployment(old_rss, d)
        await self.sync_rollout_status(all_rss, new_rs, d)

    async def reconcile_new_rs(self, all_rss: list[Obj | None], new_rs: Obj, d: Obj) -> bool:
        if replicas(new_rs) == replicas(d):
            return False
        if replicas(new_rs) > replicas(d):
            scaled, _ = await self.scale_rs_and_record_event(new_rs, replicas(d), d)
            return scaled
        target = util.new_rs_new_replicas(d, all_rss, new_rs)
        scaled, _ = await self.scale_rs_and_record_event(new_rs, target, d)
        return scaled

    async def reconcile_old_rss(self, all_rss: list[Obj | None], old_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
        if util.total_spec(list(old_rss)) == 0:
            return False
        min_available = replicas(d) - util.max_unavailable(d)
        new_unavailable = replicas(new_rs) - int(status(new_rs).get("availableReplicas") or 0)
        max_scaled_down = util.total_spec(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = await self.cleanup_unhealthy_replicas(old_rss, d, max_scaled_down)
        scaled_down = await self.scale_down_old_rss_for_rolling_update([*old_rss, new_rs], old_rss, d)
        return cleaned + scaled_down > 0

    async def cleanup_unhealthy_replicas(self, old_rss: list[Obj], d: Obj, max_cleanup: int) -> tuple[list[Obj], int]:
        """Scale old ReplicaSets down by their unavailable replicas: that costs no availability."""
        old_rss = util.by_creation(old_rss)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            available = int(status(rs).get("availableReplicas") or 0)
            if replicas(rs) == 0 or replicas(rs) == available:
                continue
            count = min(max_cleanup - total, replicas(rs) - available)
            if count < 0:  # a status from before the last scale-down: the sync waits for a fresh one
                raise RuntimeError(f"when cleaning up unhealthy replicas, got invalid request to scale down "
                                   f"{md(rs).get('namespace')}/{md(rs)['name']} {replicas(rs)} -> "
                                   f"{replicas(rs) - count}")
            _, old_rss[i] = await self.scale_rs_and_record_event(rs, replicas(rs) - count, d)
            total += count
        return old_rss, total

    async def scale_down_old_rss_for_rolling_update(self, all_rss: list[Obj], old_rss: list[Obj], d: Obj) -> int:
        min_available = replicas(d) - util.max_unavailable(d)
        available = util.total_status(list(all_rss), "availableReplicas")
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in util.by_creation(old_rss):
            if total >= budget:
                break
            if replicas(rs) == 0:
                continue
            count = min(replicas(rs), budget - total)
            await self.scale_rs_and_record_event(rs, replicas(rs) - count, d)
            total += count
        return total
