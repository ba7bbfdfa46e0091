"""TTL-after-finished controller: delete finished Jobs ``ttlSecondsAfterFinished`` after they finished.

Job callbacks enqueue Jobs that have a TTL and a Complete or Failed condition. ``sync`` computes
when the TTL expires (the finishing condition's ``lastTransitionTime`` plus the TTL) and requeues
the key until then; at expiry it re-reads the Job from the API (the TTL may just have changed)
and deletes it with foreground propagation and a uid precondition, so its pods go first — as
``ttlafterfinished_controller.go`` does. No events are recorded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kybernetes.api.printing import parse_time
from kybernetes.client.errors import NotFoundError
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import JOBS, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def finish_time(job: Obj) -> float | None:
    """When the Job finished: the transition time of its true Complete or Failed condition."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return parse_time(c.get("lastTransitionTime"))
    return None


def needs_cleanup(job: Obj) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or [])


class FinishTimeUnknownError(RuntimeError):
    """A finished Job whose finishing condition has no transition time."""


class TTLAfterFinishedController(loop.Controller):
    name = "ttl-after-finished"

    def __init__(self, job_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 clock: loop.Clock = time.time) -> None:
        super().__init__([job_informer])
        self.job_informer = job_informer
        self.client = client
        self.recorder = recorder
        self.clock = clock
        job_informer.add_handlers(self._maybe_enqueue, lambda _old, cur: self._maybe_enqueue(cur))

    def _maybe_enqueue(self, job: Obj) -> None:
        if not _md(job).get("deletionTimestamp") and needs_cleanup(job):
            self.enqueue(job)

    async def sync(self, key: str) -> None:
        job = self.job_informer.get(key)
        if job is None or not needs_cleanup(job):
            return
        if not self._expired(job):
            return
        md = _md(job)
        try:
            fresh = await self.client.get(JOBS, md["name"], md.get("namespace"))
        except NotFoundError:
            return
        if not self._expired(fresh):
            return  # the TTL changed meanwhile
        log.debug("Cleaning up Job %s", key)
        await self.client.delete(JOBS, md["name"], md.get("namespace"), propagationPolicy="Foreground",
                                 preconditions={"uid": _md(fresh).get("uid")})

    def _expired(self, job: Obj) -> bool:
        """Whether the TTL has run out; if not, requeue the key for when it will."""
        if _md(job).get("deletionTimestamp") or not needs_cleanup(job):
            return False
        finished = finish_time(job)
        if finished is None:
            raise FinishTimeUnknownError(f"unable to find the time when the Job {key_of(job)} finished")
        now = self.clock()
        if finished > now:
            log.warning("Found Job %s finished in the future. This is likely due to time skew in the cluster. "
                        "Job cleanup will be deferred.", key_of(job))
        left = finished + int((job.get("spec") or {})["ttlSecondsAfterFinished"]) - now
        if left <= 0:
            return True
        self.queue.add_after(key_of(job), left)
        return False
