"""Leader election over a Lease: acquire, renew, respect a live holder, take over an expired one,
conflicts lose, release on stop — against an in-memory fake of the leases API."""

from __future__ import annotations

import asyncio
import copy

from kybernetes.client.errors import AlreadyExistsError, ConflictError, NotFoundError
from kybernetes.client.leaderelection import LeaderElector


class FakeLeases:
    def __init__(self) -> None:
        self.obj = None
        self.rv = 0
        self.writes = 0

    async def get(self, res, name, namespace=None, subresource=None):
        if self.obj is None:
            raise NotFoundError(404, {})
        return copy.deepcopy(self.obj)

    async def create(self, res, obj, namespace=None, **kw):
        if self.obj is not None:
            raise AlreadyExistsError(409, {"reason": "AlreadyExists"})
        self.rv += 1
        self.obj = copy.deepcopy(obj)
        self.obj["metadata"]["resourceVersion"] = str(self.rv)
        self.writes += 1
        return copy.deepcopy(self.obj)

    async def replace(self, res, obj, namespace=None, subresource=None):
        if self.obj is None:
            raise NotFoundError(404, {})
        if obj["metadata"].get("resourceVersion") != self.obj["metadata"]["resourceVersion"]:
            raise ConflictError(409, {})
        self.rv += 1
        self.obj = copy.deepcopy(obj)
        self.obj["metadata"]["resourceVersion"] = str(self.rv)
        self.writes += 1
        return copy.deepcopy(self.obj)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def elector(api, identity, clock, **kw):
    return LeaderElector(api, "kube-system", "kube-scheduler", identity, clock=clock, **kw)  # type: ignore[arg-type]


async def test_acquire_renew_and_exclusion():
    api, clock = FakeLeases(), Clock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_acquire_or_renew()
    spec = api.obj["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15 and spec["leaseTransitions"] == 0
    assert spec["renewTime"].endswith("Z") and "." in spec["renewTime"]  # MicroTime
    assert not await b.try_acquire_or_renew()
    assert b.observed_holder == "a"
    clock.now += 5
    assert await a.try_acquire_or_renew()
    clock.now += 14
    assert not await b.try_acquire_or_renew()  # renewed 14 s ago: still live
    clock.now += 2
    assert await b.try_acquire_or_renew()  # expired: taken over
    assert api.obj["spec"]["holderIdentity"] == "b" and api.obj["spec"]["leaseTransitions"] == 1


async def test_conflicting_write_loses():
    api, clock = FakeLeases(), Clock()
    a = elector(api, "a", clock)
    await a.try_acquire_or_renew()
    real_get = api.get

    async def stale_get(*args, **kw):
        got = await real_get(*args, **kw)
        api.rv += 1
        api.obj["metadata"]["resourceVersion"] = str(api.rv)  # someone wrote in between
        return got

    api.get = stale_get  # type: ignore[method-assign]
    assert not await a.try_acquire_or_renew()


async def test_run_leads_then_releases_on_stop():
    api, clock = FakeLeases(), Clock()
    a = elector(api, "a", clock, retry_period=0.01, lease_duration=1.0, renew_deadline=0.5)
    stop = asyncio.Event()
    started = asyncio.Event()

    async def lead(lost: asyncio.Event) -> None:
        started.set()
        await lost.wait()

    runner = asyncio.create_task(a.run(lead, stop))
    await asyncio.wait_for(started.wait(), 2)
    assert a.is_leader
    writes = api.writes
    await asyncio.sleep(0.05)
    assert api.writes > writes  # renewing
    stop.set()
    await asyncio.wait_for(runner, 2)
    assert api.obj["spec"]["holderIdentity"] is None and not a.is_leader


async def test_losing_the_lease_signals_lost_and_campaigns_again():
    api, clock = FakeLeases(), Clock()
    a = elector(api, "a", clock, retry_period=0.01, lease_duration=1.0, renew_deadline=0.05)
    stop = asyncio.Event()
    losses = []

    async def lead(lost: asyncio.Event) -> None:
        await lost.wait()
        losses.append(True)

    runner = asyncio.create_task(a.run(lead, stop))
    for _ in range(100):
        if a.is_leader:
            break
        await asyncio.sleep(0.01)
    api.obj["spec"]["holderIdentity"] = "thief"  # someone else holds a live lease now
    api.obj["spec"]["renewTime"] = api.obj["spec"]["renewTime"]
    for _ in range(200):
        if losses:
            break
        await asyncio.sleep(0.01)
    assert losses == [True]
    stop.set()
    await asyncio.wait_for(runner, 2)
