"""Rollout status with progress estimation: the Progressing condition (ReplicaSetUpdated,
NewReplicaSetAvailable, ProgressDeadlineExceeded), ReplicaFailure copied from the ReplicaSets, and
a timed requeue so a stuck rollout is noticed when ``progressDeadlineSeconds`` passes.

``kubectl rollout status`` reads what this writes (see the research notes §8).
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.printing import parse_time
from kybernetes.client.informer import key_of
from kybernetes.controllers.deployment import util
from kybernetes.controllers.deployment.sync import DeploymentSync, calculate_status, normalized_status
from kybernetes.controllers.deployment.util import md, spec, status
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)


def replica_failure(all_rss: list[Obj | None], new_rs: Obj | None) -> dict[str, Any] | None:
    """The new ReplicaSet's ReplicaFailure condition, else an old one's, as a Deployment condition."""
    for rs in [new_rs, *all_rss]:
        if rs is None:
            continue
        for c in status(rs).get("conditions") or []:
            if c.get("type") == util.REPLICA_FAILURE:
                return {"type": util.REPLICA_FAILURE, "status": c.get("status"),
                        "lastUpdateTime": c.get("lastTransitionTime"), "lastTransitionTime": c.get("lastTransitionTime"),
                        "reason": c.get("reason", ""), "message": c.get("message", "")}
    return None


class DeploymentProgress(DeploymentSync):
    async def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        now = self.clock()
        new_status = calculate_status(all_rss, new_rs, d, now)
        if not util.has_progress_deadline(d):
            util.remove_condition(new_status, util.PROGRESSING)
        current = util.get_condition(status(d), util.PROGRESSING)
        complete = (new_status.get("replicas") or 0) == (new_status.get("updatedReplicas") or 0) and \
            current is not None and current.get("reason") == util.NEW_RS_AVAILABLE_REASON
        subject = f'ReplicaSet "{md(new_rs)["name"]}"' if new_rs is not None else f'Deployment "{md(d)["name"]}"'
        if util.has_progress_deadline(d) and not complete:
            if util.deployment_complete(d, new_status):
                util.set_condition(new_status, util.new_condition(
                    util.PROGRESSING, "True", util.NEW_RS_AVAILABLE_REASON, f"{subject} has successfully progressed.", now))
            elif util.deployment_progressing(d, new_status):
                cond = util.new_condition(util.PROGRESSING, "True", util.RS_UPDATED_REASON,
                                          f"{subject} is progressing.", now)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    util.remove_condition(new_status, util.PROGRESSING)
                util.set_condition(new_status, cond)
            elif util.deployment_timed_out(d, new_status, now):
                util.set_condition(new_status, util.new_condition(
                    util.PROGRESSING, "False", util.TIMED_OUT_REASON, f"{subject} has timed out progressing.", now))
        failure = replica_failure(all_rss, new_rs)
        if failure is not None:
            util.set_condition(new_status, failure)
        else:
            util.remove_condition(new_status, util.REPLICA_FAILURE)
        new_status = normalized_status(new_status)
        if normalized_status(status(d)) == new_status:
            self.requeue_stuck_deployment(d, new_status, now)
            return
        d["status"] = new_status
        await self.update_deployment_status(d)

    def requeue_stuck_deployment(self, d: Obj, new_status: dict[str, Any], now: float) -> float:
        """Come back when the progress deadline would pass; -1 when there is nothing to watch."""
        current = util.get_condition(status(d), util.PROGRESSING)
        if not util.has_progress_deadline(d) or current is None:
            return -1
        if util.deployment_complete(d, new_status) or current.get("reason") == util.TIMED_OUT_REASON:
            return -1
        last = parse_time(current.get("lastUpdateTime")) or now
        after = last + int(spec(d)["progressDeadlineSeconds"]) - now
        if after < 1:
            self.queue.add_rate_limited(key_of(d))
            return 0
        self.queue.add_after(key_of(d), after + 1)
        return after
