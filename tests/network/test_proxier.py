"""The proxy loop: coalesced syncs, full vs partial, retry after failure, UDP conntrack clean-up."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.rest import ENDPOINTSLICES, SERVICES
from kybernetes.network.proxy import conntrack, model, proxier
from kybernetes.network.proxy._exec import CommandError, Result
from tests.controllers.fakes import FakeInformer
from tests.network.builders import endpoint, endpoint_slice, service


class FakeBackend:
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[bool, list[str]]] = []
        self.fail = 0
        self.forgot = 0

    async def apply(self, plans: list[model.ServicePlan], full: bool = False) -> str:
        if self.fail:
            self.fail -= 1
            raise CommandError(["nft"], 1, "boom")
        self.calls.append((full, [p.svc.name_string for p in plans]))
        return "full" if full else "partial"

    def forget(self) -> None:
        self.forgot += 1

    async def cleanup(self) -> None:
        pass


class RecordingRunner:
    def __init__(self) -> None:
        self.argvs: list[list[str]] = []

    async def run(self, argv: list[str], stdin: bytes | None = None, check: bool = True) -> Result:
        self.argvs.append(argv)
        return Result(1, "", "0 flow entries have been deleted")


def make(min_sync: float = 0.05) -> tuple[proxier.Proxier, FakeInformer, FakeInformer, FakeBackend]:
    svcs, slices, backend = FakeInformer(SERVICES), FakeInformer(ENDPOINTSLICES), FakeBackend()
    return proxier.Proxier(svcs, slices, backend, "node-1", min_sync_period=min_sync), svcs, slices, backend


async def test_sync_once_programs_current_cache() -> None:
    p, svcs, slices, backend = make()
    svcs.add(service("web"))
    slices.add(endpoint_slice("web", [endpoint("10.42.1.11")]))
    took = await p.sync_once()
    assert took >= 0 and backend.calls == [(False, ["default/web:http"])]
    assert p.programmed == p.generation == 2


async def test_bursts_of_changes_coalesce_into_one_sync() -> None:
    p, svcs, _, backend = make(min_sync=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    try:
        async with asyncio.timeout(5):
            await p.wait_programmed()
        assert backend.calls == [(True, [])]  # the first sync replaces everything
        for i in range(20):
            svcs.add(service(f"s{i}", cluster_ip=f"10.43.0.{i + 1}"))
            await asyncio.sleep(0.001)
        async with asyncio.timeout(5):
            await p.wait_programmed()
        assert len(backend.calls) == 2 and not backend.calls[1][0] and len(backend.calls[1][1]) == 20
    finally:
        stop.set()
        await task


async def test_failed_sync_retries_with_full_sync() -> None:
    p, svcs, _, backend = make()
    backend.fail = 1
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    try:
        svcs.add(service("web"))
        async with asyncio.timeout(5):
            await p.wait_programmed()
        assert backend.forgot == 1 and backend.calls[0][0] is True
    finally:
        stop.set()
        await task


async def test_run_stops_promptly() -> None:
    p, _, _, _ = make()
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    async with asyncio.timeout(2):
        await task


async def test_udp_endpoint_removal_clears_conntrack() -> None:
    svcs, slices, backend, runner = FakeInformer(SERVICES), FakeInformer(ENDPOINTSLICES), FakeBackend(), RecordingRunner()
    p = proxier.Proxier(svcs, slices, backend, "node-1", runner=runner)  # type: ignore[arg-type]
    svcs.add(service("dns", cluster_ip="10.43.0.10", ports=[("dns", 53, "UDP")]))
    await p.sync_once()
    slices.add(endpoint_slice("dns", [endpoint("10.42.1.11"), endpoint("10.42.1.12")], ports=[("dns", 53, "UDP")]))
    await p.sync_once()
    slices.update(endpoint_slice("dns", [endpoint("10.42.1.12")], ports=[("dns", 53, "UDP")], version=2))
    await p.sync_once()
    assert runner.argvs == [
        ["conntrack", "-D", "-p", "udp", "--orig-dst", "10.43.0.10", "--orig-port-dst", "53"],
        ["conntrack", "-D", "-p", "udp", "--orig-dst", "10.43.0.10", "--orig-port-dst", "53", "--dst-nat", "10.42.1.11"]]


def test_conntrack_ignores_tcp() -> None:
    before = model.build_plans([service("web")], [endpoint_slice("web", [endpoint("10.42.1.11")])], "n")
    assert conntrack.stale_flow_deletions({conntrack.plan_key(p): p for p in before}, []) == []


async def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown proxy mode"):
        proxier.make_backend("ipvs", None, model.ProxyConfig())  # type: ignore[arg-type]
