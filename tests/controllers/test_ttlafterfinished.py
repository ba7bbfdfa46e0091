"""TTL-after-finished controller: finished Jobs with a TTL are deleted (foreground, uid precondition)
once the TTL after their finishing condition has passed; earlier syncs requeue for the expiry.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client.rest import JOBS
from kybernetes.controllers.ttlafterfinished import TTLAfterFinishedController
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client

KEY = "default/pi"


def job(ttl: int | None = 100, finished: str | None = "Complete", at: float = T0) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    status: dict[str, Any] = {}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True", "lastTransitionTime": format_time(at)}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": spec, "status": status}


def setup(j: dict[str, Any]) -> tuple[TTLAfterFinishedController, FakeClient]:
    client = FakeClient(Clock(T0))
    client.add(JOBS, j)
    ctrl = TTLAfterFinishedController(client.informer(JOBS), as_client(client), FakeRecorder(), clock=client.clock)
    return ctrl, client


async def test_deletes_after_ttl_with_foreground_propagation() -> None:
    ctrl, client = setup(job(ttl=100))
    await ctrl.sync(KEY)
    assert client.stored(JOBS, "pi", "default") is not None
    timer = ctrl.queue._timers[KEY]
    assert 99 < timer.when() - asyncio.get_running_loop().time() <= 100
    client.clock.advance(100)
    await ctrl.sync(KEY)
    delete = next(a for a in client.actions if a.verb == "delete")
    uid = delete.body["preconditions"]["uid"]
    assert delete.body == {"propagationPolicy": "Foreground", "preconditions": {"uid": uid}}
    gone = client.stored(JOBS, "pi", "default")
    assert gone is not None and gone["metadata"]["finalizers"] == ["foregroundDeletion"]  # the GC finishes it


async def test_failed_jobs_too_and_zero_ttl() -> None:
    ctrl, client = setup(job(ttl=0, finished="Failed"))
    await ctrl.sync(KEY)
    assert client.verbs("jobs").count("delete") == 1


async def test_ignores_running_jobs_and_jobs_without_ttl() -> None:
    for j in (job(finished=None), job(ttl=None)):
        ctrl, client = setup(j)
        client.clock.advance(10_000)
        await ctrl.sync(KEY)
        assert client.stored(JOBS, "pi", "default") is not None
        assert "delete" not in client.verbs()


async def test_rechecks_fresh_ttl_before_deleting() -> None:
    ctrl, client = setup(job(ttl=10))
    client.clock.advance(20)
    fresh = client.stored(JOBS, "pi", "default")
    assert fresh is not None
    fresh["spec"]["ttlSecondsAfterFinished"] = 1000  # changed on the server, the cache not yet
    await ctrl.sync(KEY)
    assert "delete" not in client.verbs()
