"""The service proxy loop (kube-proxy's role): informers on Services and EndpointSlices, a coalesced
sync that rebuilds the plans from the caches and hands them to one kernel backend.

A change only marks the state dirty; the sync runs ``min_sync_period`` after the first change of a
burst, so a rollout touching many slices costs one kernel transaction. Every ``full_sync_period``
the backend rewrites everything (repairing rules someone else flushed). A failed sync is logged
and retried with backoff after the backend forgets what it believed was programmed.
``sync_once()`` is the whole sync, for tests and benchmarks; ``wait_programmed(gen)`` waits until
the rules reflect every change up to ``gen``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any, Protocol

from kybernetes.client.informer import Informer
from kybernetes.network._informers import until_synced
from kybernetes.network._mirror import mirrored_slices
from kybernetes.network.proxy import conntrack, iptables, nftables
from kybernetes.network.proxy._exec import CommandError, Runner
from kybernetes.network.proxy.model import PlanCache, ProxyConfig, ServicePlan, build_plans

log = logging.getLogger(__name__)

MODES = ("auto", "nftables", "iptables")


class Backend(Protocol):
    """What the proxier needs of a kernel backend."""

    name: str

    async def apply(self, plans: list[ServicePlan], full: bool = False) -> str: ...

    def forget(self) -> None: ...

    async def cleanup(self) -> None: ...


async def detect_mode(runner: Runner) -> str:
    """nftables when ``nft list tables`` works in the namespace, else iptables."""
    res = await runner.run(["nft", "list", "tables"], check=False)
    return "nftables" if res.rc == 0 else "iptables"


def make_backend(mode: str, runner: Runner, cfg: ProxyConfig) -> Backend:
    if mode == "nftables":
        return nftables.NftablesBackend(runner, cfg)
    if mode == "iptables":
        return iptables.IptablesBackend(runner, cfg)
    raise ValueError(f"unknown proxy mode {mode!r}: use one of {', '.join(MODES)}")


async def cleanup_all(runner: Runner) -> None:
    """Remove everything either backend may have created in the namespace (errors are logged)."""
    for name, fn in (("nftables", nftables.cleanup(runner)), ("iptables", iptables.cleanup(runner))):
        try:
            await fn
        except CommandError as e:
            log.debug("%s cleanup: %s", name, e)


async def prepare_node(runner: Runner, cfg: ProxyConfig) -> None:
    """Node sysctls the rules rely on: ``route_localnet`` only when localhost NodePorts are on."""
    if cfg.localhost_nodeports:
        await runner.sysctl("net.ipv4.conf.all.route_localnet", "1")


class Proxier:
    """Keeps one backend's rules equal to what the Service and EndpointSlice caches say."""

    def __init__(self, services: Informer, slices: Informer, backend: Backend, node_name: str,
                 min_sync_period: float = 0.1, full_sync_period: float = 60.0,
                 runner: Runner | None = None, endpoints: Informer | None = None) -> None:
        self.services = services
        self.slices = slices
        self.endpoints = endpoints  # core/v1 Endpoints, for selector-less Services without slices
        self.backend = backend
        self.node_name = node_name
        self.min_sync_period = min_sync_period
        self.full_sync_period = full_sync_period
        self.generation = 0  # bumped by every change seen
        self.programmed = -1  # the generation the kernel reflects (-1: nothing programmed yet)
        self.durations: collections.deque[float] = collections.deque(maxlen=1000)
        self._dirty = asyncio.Event()
        self._progress = asyncio.Condition()
        self._last_full = 0.0
        self._runner = runner  # for conntrack clean-up; None: skipped
        self._plans: dict[conntrack.PlanKey, ServicePlan] = {}
        self._plan_cache = PlanCache()
        for inf in (services, slices, *([endpoints] if endpoints else [])):
            inf.add_handlers(on_add=self._on_event, on_update=self._on_update, on_delete=self._on_event)

    def _on_event(self, obj: dict[str, Any]) -> None:
        self.request_sync()

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.request_sync()

    def request_sync(self) -> None:
        """Note a change; the loop syncs ``min_sync_period`` later."""
        self.generation += 1
        self._dirty.set()

    async def sync_once(self, full: bool = False) -> float:
        """Rebuild the plans from the caches and program them; returns the seconds it took."""
        gen = self.generation
        start = time.monotonic()
        # The lists are snapshots and informers never mutate cached objects, so a thread may read them.
        plans = await asyncio.to_thread(self._plan, self.services.list(), self.slices.list(),
                                        self.endpoints.list() if self.endpoints else [])
        kind = await self.backend.apply(plans, full=full)
        if self._runner is not None:
            await conntrack.delete_flows(self._runner, conntrack.stale_flow_deletions(self._plans, plans))
        self._plans = {conntrack.plan_key(p): p for p in plans}
        elapsed = time.monotonic() - start
        if kind == "full":
            self._last_full = time.monotonic()
        self.durations.append(elapsed)
        log.log(logging.INFO if elapsed > 1.0 else logging.DEBUG, "Synced %d service ports with %s (%s) in %.1f ms",
                len(plans), self.backend.name, kind, elapsed * 1000)
        async with self._progress:
            self.programmed = max(self.programmed, gen)
            self._progress.notify_all()
        return elapsed

    def _plan(self, services: list[dict[str, Any]], slices: list[dict[str, Any]],
              endpoints: list[dict[str, Any]]) -> list[ServicePlan]:
        if endpoints:
            slices = slices + mirrored_slices(services, slices, endpoints)
        return build_plans(services, slices, self.node_name, self._plan_cache)

    async def wait_programmed(self, generation: int | None = None) -> None:
        """Wait until the rules reflect every change up to ``generation`` (default: now); bound it
        with ``asyncio.timeout``."""
        target = self.generation if generation is None else generation
        async with self._progress:
            await self._progress.wait_for(lambda: self.programmed >= target)

    async def run(self, stop: asyncio.Event) -> None:
        """Sync after the caches fill, then on every (coalesced) change until ``stop``."""
        log.info("Starting service proxy (%s)", self.backend.name)
        if not await until_synced(stop, self.services, self.slices):
            return
        backoff = 0.0
        full = True
        while not stop.is_set():
            if backoff or not full:
                await self._wait_for_work(stop, backoff)
                if stop.is_set():
                    break
            full = full or time.monotonic() - self._last_full >= self.full_sync_period
            self._dirty.clear()
            try:
                await self.sync_once(full=full)
                full, backoff = False, 0.0
            except (CommandError, OSError) as e:
                log.error("Service proxy sync failed (retrying): %s", e)
                self.backend.forget()
                full, backoff = True, min(max(backoff * 2, 0.5), 30.0)
            except Exception:
                log.exception("Service proxy sync failed (retrying)")
                self.backend.forget()
                full, backoff = True, min(max(backoff * 2, 0.5), 30.0)
        log.info("Shutting down service proxy")

    async def _wait_for_work(self, stop: asyncio.Event, backoff: float) -> None:
        """Return after a change (+ the min sync period), a due full sync, a backoff, or stop."""
        wait = backoff or max(0.0, self._last_full + self.full_sync_period - time.monotonic())
        stopper = asyncio.ensure_future(stop.wait())
        dirty = asyncio.ensure_future(self._dirty.wait())
        try:
            await asyncio.wait({stopper, dirty}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if dirty.done() and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.min_sync_period)
        finally:
            for t in (stopper, dirty):
                t.cancel()


async def run_proxy(client: Any, stop: asyncio.Event, node_name: str, node_ips: list[str] | tuple[str, ...],
                    mode: str = "auto", netns: str | None = None, cluster_cidr: str = "",
                    localhost_nodeports: bool = True, min_sync_period: float = 0.1) -> None:
    """Run the service proxy for ``node_name`` until ``stop`` is set.

    ``node_ips`` accept NodePorts (empty: every local address); ``mode`` is auto (probe), nftables or
    iptables; ``netns`` runs every kernel command inside that network namespace. Leftovers of
    either backend are removed first; the rules stay in place on exit (like kube-proxy), so a
    restart does not interrupt traffic — ``kyb proxy --cleanup`` removes them.
    """
    from kybernetes.client.rest import ENDPOINTS, ENDPOINTSLICES, SERVICES

    if mode not in MODES:
        raise ValueError(f"unknown proxy mode {mode!r}: use one of {', '.join(MODES)}")
    runner = Runner(netns)
    if mode == "auto":
        mode = await detect_mode(runner)
    cfg = ProxyConfig(nodeport_ips=tuple(node_ips), localhost_nodeports=localhost_nodeports,
                      cluster_cidr=cluster_cidr)
    other = iptables.cleanup(runner) if mode == "nftables" else nftables.cleanup(runner)
    try:
        await other
    except CommandError as e:
        log.debug("no leftovers of the other proxy mode removed: %s", e)
    await prepare_node(runner, cfg)
    log.info("Running service proxy for node %s (mode %s, NodePort addresses %s%s)", node_name, mode,
             ", ".join(node_ips) or "all local", " + 127.0.0.0/8" if localhost_nodeports else "")
    services, slices, endpoints = (Informer(client, r) for r in (SERVICES, ENDPOINTSLICES, ENDPOINTS))
    proxier = Proxier(services, slices, make_backend(mode, runner, cfg), node_name, min_sync_period, runner=runner,
                      endpoints=endpoints)
    informers = (services, slices, endpoints)
    for inf in informers:
        inf.start()
    try:
        await proxier.run(stop)
    finally:
        await asyncio.gather(*(inf.stop() for inf in informers))
