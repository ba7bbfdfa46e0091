"""The Recreate strategy: scale every old ReplicaSet to zero, wait until none of their pods is
still running, then create (or reuse) the new ReplicaSet at full size.
"""

from __future__ import annotations

from kybernetes.controllers import podstate
from kybernetes.controllers.deployment import util
from kybernetes.controllers.deployment.progress import DeploymentProgress
from kybernetes.controllers.deployment.util import md, replicas, status
from kybernetes.controllers.loop import Obj


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    if util.total_status(list(old_rss)) > 0:
        return True
    new_uid = md(new_rs).get("uid") if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        if any(not podstate.is_pod_terminal(p) for p in pods):
            return True
    return False


class DeploymentRecreate(DeploymentProgress):
    async def rollout_recreate(self, d: Obj, rss: list[Obj], pod_map: dict[str, list[Obj]]) -> None:
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, False)
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        scaled_down = False
        for rs in util.active(list(old_rss)):
            scaled, _ = await self.scale_rs_and_record_event(rs, 0, d)
            scaled_down = scaled_down or scaled
        if scaled_down or old_pods_running(new_rs, old_rss, pod_map):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, True)
            all_rss = [*old_rss, new_rs]
        assert new_rs is not None
        await self.scale_rs_and_record_event(new_rs, replicas(d), d)
        if util.deployment_complete(d, status(d)):
            await self.cleanup_deployment(old_rss, d)
        await self.sync_rollout_status(all_rss, new_rs, d)
