"""host-gw routes: every other node's pod range is routed to that node (flannel's host-gw backend).

Role: the node agent (:mod:`kybernetes.kubelet.agent`) runs one :class:`RouteManager` per network
namespace beside its kubelet. It watches Nodes and keeps, in the main routing table, one route
``<podCIDR> via <InternalIP>`` for every other node whose podCIDR (``spec.podCIDRs``, given by the
controller manager's nodeipam) and InternalIP of the same family are known and whose address is on
a directly connected network (host-gw needs the nodes on one link; others are skipped and logged).
Our routes carry the route protocol :data:`ROUTE_PROTOCOL`: only those are ever replaced or deleted,
and a route someone else made for the same destination wins (logged). A Node change is synced
within ``min_sync_period``; every ``resync_period`` the table is re-read and repaired. Routes stay
when the agent stops (pod traffic keeps flowing across a restart; a deleted node's route goes at
the next start); :meth:`RouteManager.cleanup` removes them all.

The kernel is reached through a :class:`RouteTable`; :class:`IpRouteTable` runs ``ip`` (iproute2)
without blocking the loop, and tests substitute a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from kybernetes.client.informer import Informer
from kybernetes.client.rest import NODES, Client
from kybernetes.network._informers import until_synced
from kybernetes.network.proxy._exec import CommandError, Runner

__all__ = ["ROUTE_PROTOCOL", "IpRouteTable", "Route", "RouteManager", "RouteTable", "node_routes", "run_routes"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: ``proto`` of the routes we own (unassigned in iproute2's rt_protos).
ROUTE_PROTOCOL = 211


@dataclass(frozen=True, slots=True)
class Route:
    """One route of the main table, as far as we care."""

    dst: str  # normalised CIDR ("0.0.0.0/0" for default)
    gateway: str = ""
    ours: bool = False  # protocol ROUTE_PROTOCOL
    connected: bool = False  # a directly connected network (scope link, no gateway)


class RouteTable(Protocol):
    """The main routing table of one network namespace."""

    async def list(self) -> list[Route]: ...

    async def replace(self, dst: str, gateway: str) -> None: ...

    async def delete(self, dst: str) -> None: ...


def _cidr(dst: str, family: int) -> str:
    if dst == "default":
        return "0.0.0.0/0" if family == 4 else "::/0"
    return str(ipaddress.ip_network(dst, strict=False))


class IpRouteTable:
    """:class:`RouteTable` through ``ip -json route`` (in ``runner``'s namespace: ours by default)."""

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner = runner or Runner()

    async def _show(self, family: int, *filters: str) -> list[Obj]:
        argv = ["ip", "-json", f"-{family}", "route", "show", "table", "main", *filters]
        res = await self.runner.run(argv, check=family == 4)  # a kernel without IPv6 has no IPv6 routes
        rows: list[Obj] = json.loads(res.stdout or "[]") if res.rc == 0 else []
        return rows

    async def list(self) -> list[Route]:
        out = []
        for family in (4, 6):
            ours = {_cidr(r["dst"], family) for r in await self._show(family, "proto", str(ROUTE_PROTOCOL))
                    if "dst" in r}
            for r in await self._show(family):
                if "dst" not in r:
                    continue
                dst = _cidr(r["dst"], family)
                gateway = str(r.get("gateway") or "")
                out.append(Route(dst, gateway, dst in ours,
                                 connected=not gateway and r.get("scope") == "link" and dst not in ours))
        return out

    async def replace(self, dst: str, gateway: str) -> None:
        await self.runner.run(["ip", "route", "replace", dst, "via", gateway, "proto", str(ROUTE_PROTOCOL)])

    async def delete(self, dst: str) -> None:
        # "proto" makes the kernel refuse to delete a route of the same destination that is not ours
        await self.runner.run(["ip", "route", "del", dst, "proto", str(ROUTE_PROTOCOL), "table", "main"])


def _internal_ips(node: Obj) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    out = []
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            with contextlib.suppress(ValueError):
                out.append(ipaddress.ip_address(a.get("address") or ""))
    return out


def node_routes(node: Obj) -> tuple[tuple[str, str], ...]:
    """(podCIDR, gateway) pairs a node asks for: each pod range via its InternalIP of the same family."""
    ips = _internal_ips(node)
    out = []
    for text in (node.get("spec") or {}).get("podCIDRs") or []:
        try:
            cidr = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        gateway = next((ip for ip in ips if ip.version == cidr.version), None)
        if gateway is not None:
            out.append((str(cidr), str(gateway)))
    return tuple(out)


class RouteManager:
    """Keeps our routes equal to what the Node cache asks for; see the module docstring."""

    def __init__(self, nodes: Informer, node_name: str, table: RouteTable, *, min_sync_period: float = 0.2,
                 resync_period: float = 60.0, retry_period: float = 5.0) -> None:
        self.nodes = nodes
        self.node_name = node_name
        self.table = table
        self.min_sync_period = min_sync_period
        self.resync_period = resync_period
        self.retry_period = retry_period
        self._wanted: dict[str, tuple[tuple[str, str], ...]] = {}  # other node → its (podCIDR, gateway) pairs
        self._own_ips: set[str] = set()
        self._dirty = asyncio.Event()
        self._reported: dict[str, str] = {}  # destination → the last problem logged about it
        nodes.add_handlers(self._changed, lambda _old, cur: self._changed(cur), self._deleted)

    # --- informer callbacks: only note what changed ---------------------------------------------
    def _changed(self, node: Obj) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        if name == self.node_name:
            own = {str(ip) for ip in _internal_ips(node)}
            if own != self._own_ips:
                self._own_ips = own
                self._dirty.set()
            return
        wanted = node_routes(node)
        if self._wanted.get(name) != wanted:
            self._wanted[name] = wanted
            self._dirty.set()

    def _deleted(self, node: Obj) -> None:
        if self._wanted.pop((node.get("metadata") or {}).get("name", ""), None) is not None:
            self._dirty.set()

    def desired(self) -> dict[str, str]:
        """Destination → gateway; two nodes claiming one range: the first by name wins."""
        out: dict[str, str] = {}
        for name in sorted(self._wanted):
            for dst, gateway in self._wanted[name]:
                if gateway not in self._own_ips:
                    out.setdefault(dst, gateway)
        return out

    def _report(self, dst: str, problem: str) -> None:
        if self._reported.get(dst) != problem:
            self._reported[dst] = problem
            log.warning("not routing %s: %s", dst, problem)

    # --- the sync -------------------------------------------------------------------------------
    async def sync_once(self) -> bool:
        """Make the table match :meth:`desired`; False if some change failed (it is retried)."""
        desired = self.desired()
        current = await self.table.list()
        connected = [ipaddress.ip_network(r.dst) for r in current if r.connected]
        ours = {r.dst: r.gateway for r in current if r.ours}
        foreign = {r.dst for r in current if not r.ours}
        ok = True
        routable: set[str] = set()
        for dst, gateway in desired.items():
            if dst in foreign and dst not in ours:
                self._report(dst, "the routing table already has a route for it that kybernetes did not create")
                continue
            gw = ipaddress.ip_address(gateway)
            if not any(gw.version == net.version and gw in net for net in connected):
                if self._reported.get(dst) != "off-link":  # expected for nodes elsewhere (hollow ones too)
                    self._reported[dst] = "off-link"
                    log.info("not routing %s: its node's address %s is not on a directly connected network",
                             dst, gateway)
                continue
            routable.add(dst)
            if ours.get(dst) == gateway:
                self._reported.pop(dst, None)
                continue
            try:
                await self.table.replace(dst, gateway)
                log.info("Added route %s via %s", dst, gateway)
                self._reported.pop(dst, None)
            except CommandError as e:
                self._report(dst, str(e))
                ok = False
        for dst in ours.keys() - routable:
            try:
                await self.table.delete(dst)
                log.info("Removed route %s via %s", dst, ours[dst])
            except CommandError as e:
                log.warning("removing route %s failed: %s", dst, e)
                ok = False
        for dst in self._reported.keys() - desired.keys():
            del self._reported[dst]
        return ok

    async def run(self, stop: asyncio.Event) -> None:
        """Sync after every change (coalesced) and every ``resync_period`` until ``stop``."""
        if not await until_synced(stop, self.nodes):
            return
        log.info("Starting host-gw route manager for node %s", self.node_name)
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            self._dirty.clear()
            wait = self.resync_period
            try:
                if not await self.sync_once():
                    wait = self.retry_period
            except (CommandError, OSError, ValueError) as e:
                log.warning("syncing routes failed (retrying in %.0fs): %s", self.retry_period, e)
                wait = self.retry_period
            deadline = loop.time() + wait
            await _first(stop, self._dirty, seconds=wait)
            if not stop.is_set() and loop.time() < deadline:  # woken by a change: let a burst settle
                await _first(stop, seconds=self.min_sync_period)

    async def cleanup(self) -> None:
        """Remove every route we own (e.g. when the node leaves the cluster for good)."""
        for r in await self.table.list():
            if r.ours:
                await self.table.delete(r.dst)


async def _first(*events: asyncio.Event, seconds: float) -> None:
    """Wait until any of ``events`` is set, or ``seconds`` have passed."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def run_routes(client: Client, stop: asyncio.Event, node_name: str, netns: str | None = None) -> None:
    """Keep host-gw routes to the other nodes in this network namespace (or ``netns``) until ``stop``."""
    nodes = Informer(client, NODES)
    manager = RouteManager(nodes, node_name, IpRouteTable(Runner(netns)))
    nodes.start()
    try:
        await manager.run(stop)
    finally:
        await nodes.stop()
