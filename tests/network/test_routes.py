"""host-gw route manager: routes to other nodes' podCIDRs via their InternalIPs, only our own routes
touched, removals on node deletion, the ``ip`` commands and their parsing. A fake routing table and
a fake ``ip``; the last test runs the real ``ip`` in a throw-away network namespace (root only)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from kybernetes.client.rest import NODES
from kybernetes.network import routes
from kybernetes.network.proxy._exec import CommandError, Result, Runner
from kybernetes.network.routes import ROUTE_PROTOCOL, IpRouteTable, Route, RouteManager
from tests.controllers.fakes import FakeInformer

Obj = dict[str, Any]
LINK = "192.168.77.0/24"


def node(name: str, ip: str, *cidrs: str) -> Obj:
    spec: Obj = {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)} if cidrs else {}
    return {"metadata": {"name": name}, "spec": spec,
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}


class FakeTable:
    """A main routing table: connected networks, foreign routes and ours; the kernel's refusals."""

    def __init__(self, *connected: str, foreign: dict[str, str] | None = None) -> None:
        self.connected = list(connected)
        self.foreign = dict(foreign or {})
        self.ours: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.changed = asyncio.Condition()
        self.fail_replace: set[str] = set()

    async def list(self) -> list[Route]:
        return ([Route(c, connected=True) for c in self.connected]
                + [Route(d, g) for d, g in self.foreign.items()]
                + [Route(d, g, ours=True) for d, g in self.ours.items()])

    async def replace(self, dst: str, gateway: str) -> None:
        self.calls.append(("replace", dst))
        if dst in self.fail_replace:
            raise CommandError(["ip", "route", "replace", dst], 2, "Error: Nexthop has invalid gateway.")
        assert dst not in self.foreign, "replaced a route that is not ours"
        self.ours[dst] = gateway
        async with self.changed:
            self.changed.notify_all()

    async def delete(self, dst: str) -> None:
        self.calls.append(("delete", dst))
        del self.ours[dst]
        async with self.changed:
            self.changed.notify_all()

    async def wait(self, predicate: Any) -> None:
        async with asyncio.timeout(5), self.changed:
            await self.changed.wait_for(predicate)


def manager(table: FakeTable, *nodes: Obj, me: str = "a") -> tuple[RouteManager, FakeInformer]:
    inf = FakeInformer(NODES, list(nodes))
    return RouteManager(inf, me, table, min_sync_period=0.01, retry_period=0.05), inf


async def test_other_nodes_ranges_are_routed_via_their_addresses() -> None:
    table = FakeTable(LINK)
    m, _ = manager(table, node("a", "192.168.77.1", "10.42.0.0/24"), node("b", "192.168.77.2", "10.42.1.0/24"),
                   node("c", "192.168.77.3", "10.42.2.0/24"), node("pending", "192.168.77.4"))
    assert await m.sync_once()
    assert table.ours == {"10.42.1.0/24": "192.168.77.2", "10.42.2.0/24": "192.168.77.3"}
    table.calls.clear()
    assert await m.sync_once()  # nothing changed: nothing written
    assert table.calls == []


async def test_deleted_node_and_moved_address_update_only_our_routes() -> None:
    table = FakeTable(LINK, foreign={"10.99.0.0/16": "192.168.77.254"})
    b, c = node("b", "192.168.77.2", "10.42.1.0/24"), node("c", "192.168.77.3", "10.42.2.0/24")
    m, inf = manager(table, b, c)
    await m.sync_once()
    inf.delete(b)
    inf.update(node("c", "192.168.77.33", "10.42.2.0/24"))
    await m.sync_once()
    assert table.ours == {"10.42.2.0/24": "192.168.77.33"}
    assert table.foreign == {"10.99.0.0/16": "192.168.77.254"}


async def test_foreign_route_for_the_same_range_wins() -> None:
    table = FakeTable(LINK, foreign={"10.42.1.0/24": "192.168.77.200"})
    m, _ = manager(table, node("b", "192.168.77.2", "10.42.1.0/24"))
    assert await m.sync_once()
    assert table.ours == {} and table.calls == []


async def test_nodes_off_the_link_are_skipped_and_stale_routes_removed() -> None:
    table = FakeTable(LINK)
    table.ours["10.42.7.0/24"] = "192.168.77.7"  # left from an earlier run; node 7 is gone
    m, _ = manager(table, node("far", "172.31.0.5", "10.42.3.0/24"), node("me-too", "192.168.77.9"))
    assert await m.sync_once()
    assert table.ours == {}


async def test_dual_stack_node_gets_a_route_per_family() -> None:
    table = FakeTable(LINK, "fd00:77::/64")
    b = node("b", "192.168.77.2", "10.42.1.0/24", "fd00:42:0:1::/64")
    b["status"]["addresses"].append({"type": "InternalIP", "address": "fd00:77::2"})
    m, _ = manager(table, b)
    await m.sync_once()
    assert table.ours == {"10.42.1.0/24": "192.168.77.2", "fd00:42:0:1::/64": "fd00:77::2"}


async def test_run_follows_node_changes_and_retries_failures() -> None:
    table = FakeTable(LINK)
    table.fail_replace.add("10.42.2.0/24")
    m, inf = manager(table, node("b", "192.168.77.2", "10.42.1.0/24"), node("c", "192.168.77.3", "10.42.2.0/24"))
    stop = asyncio.Event()
    task = asyncio.create_task(m.run(stop))
    try:
        await table.wait(lambda: "10.42.1.0/24" in table.ours)
        table.fail_replace.clear()  # the retry (after retry_period) succeeds
        await table.wait(lambda: "10.42.2.0/24" in table.ours)
        inf.add(node("d", "192.168.77.4", "10.42.3.0/24"))
        await table.wait(lambda: table.ours.get("10.42.3.0/24") == "192.168.77.4")
        inf.delete(node("b", "192.168.77.2", "10.42.1.0/24"))
        await table.wait(lambda: "10.42.1.0/24" not in table.ours)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert table.ours == {"10.42.2.0/24": "192.168.77.3", "10.42.3.0/24": "192.168.77.4"}


class FakeIp:
    """``ip -json route show`` answers from a canned table; every argv is recorded."""

    def __init__(self, rows4: list[Obj], ours4: list[Obj]) -> None:
        self.rows4, self.ours4 = rows4, ours4
        self.argvs: list[list[str]] = []

    async def run(self, argv: list[str], stdin: bytes | None = None, check: bool = True) -> Result:
        self.argvs.append(argv)
        if argv[:2] == ["ip", "-json"]:
            if argv[2] == "-6":
                return Result(0, "[]\n", "")
            return Result(0, json.dumps(self.ours4 if "proto" in argv else self.rows4), "")
        return Result(0, "", "")


async def test_ip_table_parses_json_and_marks_our_routes() -> None:
    rows = [{"dst": "default", "gateway": "192.168.77.254", "dev": "eth0", "flags": []},
            {"dst": "10.42.1.0/24", "gateway": "192.168.77.2", "dev": "eth0", "protocol": str(ROUTE_PROTOCOL)},
            {"dst": "192.168.77.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "192.168.77.1"},
            {"dst": "10.42.9.9", "dev": "kyb0", "scope": "link"}]
    ip = FakeIp(rows, [{"dst": "10.42.1.0/24", "gateway": "192.168.77.2", "dev": "eth0"}])
    table = IpRouteTable(ip)  # type: ignore[arg-type]
    assert await table.list() == [Route("0.0.0.0/0", "192.168.77.254"), Route("10.42.1.0/24", "192.168.77.2", ours=True),
                                  Route("192.168.77.0/24", connected=True), Route("10.42.9.9/32", connected=True)]
    await table.replace("10.42.2.0/24", "192.168.77.3")
    await table.delete("10.42.1.0/24")
    assert ip.argvs[-2:] == [["ip", "route", "replace", "10.42.2.0/24", "via", "192.168.77.3", "proto", "211"],
                             ["ip", "route", "del", "10.42.1.0/24", "proto", "211", "table", "main"]]


@pytest.fixture
def netns() -> Iterator[str]:
    """A throw-away namespace with a veth on 192.168.77.1/24 and someone else's route to 10.42.9.0/24."""
    ns, link = f"kybrt-{secrets.token_hex(3)}", f"kyrt{secrets.token_hex(2)}"

    def sh(*argv: str) -> None:
        subprocess.run(["nsenter", f"--net=/run/netns/{ns}", *argv], check=True, capture_output=True)

    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        sh("ip", "link", "add", link, "type", "veth", "peer", "name", f"{link}p")
        for dev in (link, f"{link}p"):
            sh("ip", "link", "set", dev, "up")
        sh("ip", "addr", "add", "192.168.77.1/24", "dev", link)
        sh("ip", "route", "add", "10.42.9.0/24", "via", "192.168.77.9")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
async def test_real_ip_in_a_network_namespace(netns: str) -> None:
    table = IpRouteTable(Runner(netns))
    m, _ = manager(table, node("a", "192.168.77.1", "10.42.0.0/24"),  # type: ignore[arg-type]
                   node("b", "192.168.77.2", "10.42.1.0/24"), node("c", "192.168.77.3", "10.42.9.0/24"))
    assert await m.sync_once()
    listed = {r.dst: r for r in await table.list()}
    assert listed["10.42.1.0/24"] == Route("10.42.1.0/24", "192.168.77.2", ours=True)
    assert listed["10.42.9.0/24"] == Route("10.42.9.0/24", "192.168.77.9")  # someone else's: untouched
    assert "10.42.0.0/24" not in listed  # our own range is the bridge's business
    await m.cleanup()
    listed = {r.dst: r for r in await table.list()}
    assert "10.42.1.0/24" not in listed and listed["10.42.9.0/24"].gateway == "192.168.77.9"


def test_node_routes_pairs_each_range_with_the_address_of_its_family() -> None:
    n = node("b", "192.168.77.2", "10.42.1.0/24", "fd00:42:0:1::/64")
    assert routes.node_routes(n) == (("10.42.1.0/24", "192.168.77.2"),)
    assert routes.node_routes(node("x", "not-an-ip", "10.42.1.0/24")) == ()
