"""Real packets through the proxy's rules, in both backends, inside a throw-away node netns.

The proxy runs against fake informers; every nft/iptables command runs via ``nsenter`` in the
lab's node namespace. Clients connect from the node, from a pod and from a "client host" on the
underlay; backends answer with their name and the peer address they saw.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from kybernetes.client.rest import ENDPOINTSLICES, SERVICES
from kybernetes.network.proxy import model, proxier
from kybernetes.network.proxy._exec import Runner
from tests.controllers.fakes import FakeInformer
from tests.network import netlab
from tests.network.builders import endpoint, endpoint_slice, service

pytestmark = pytest.mark.skipif(not netlab.is_root(), reason="data-path tests need root (network namespaces)")

NODE = "node-1"
VIP = "10.43.0.10"
N = 30


@pytest.fixture(scope="module")
def lab() -> Iterator[netlab.Lab]:
    lab = netlab.Lab().setup()
    try:
        yield lab
    finally:
        lab.teardown()
        assert lab.leftovers() == []


class Harness:
    """A Proxier with fake informers programming the lab's node namespace."""

    def __init__(self, lab: netlab.Lab, mode: str, nodeport_ips: tuple[str, ...] | None = None) -> None:
        self.lab = lab
        self.mode = mode
        self.runner = Runner(lab.node)
        self.services = FakeInformer(SERVICES)
        self.slices = FakeInformer(ENDPOINTSLICES)
        ips = (lab.node_ip,) if nodeport_ips is None else nodeport_ips
        cfg = model.ProxyConfig(nodeport_ips=ips, localhost_nodeports=True, cluster_cidr="10.42.0.0/16")
        self.cfg = cfg
        self.proxier = proxier.Proxier(self.services, self.slices, proxier.make_backend(mode, self.runner, cfg),
                                       NODE, min_sync_period=0.05)

    def pods(self, *names: str, not_ready: tuple[str, ...] = (), remote: tuple[str, ...] = ()) -> list[dict]:
        return [endpoint(self.lab.pods[n], ready=n not in not_ready, node="node-2" if n in remote else NODE)
                for n in names]

    async def sync(self) -> None:
        await self.proxier.sync_once()

    async def hits(self, netns: str, host: str, port: int, n: int = N) -> collections.Counter[str]:
        answers = await self.lab.request(netns, host, port, n)
        errors = [a for a in answers if a[0] == "ERR"]
        assert not errors, f"{len(errors)} of {n} requests failed: {errors[:3]}"
        return collections.Counter(a[0] for a in answers)

    async def peers(self, netns: str, host: str, port: int, n: int = 10) -> set[str]:
        return {a[1] for a in await self.lab.request(netns, host, port, n) if a[0] != "ERR"}


@pytest.fixture(params=["nftables", "iptables"])
async def h(request: pytest.FixtureRequest, lab: netlab.Lab) -> AsyncIterator[Harness]:
    harness = Harness(lab, request.param)
    await proxier.cleanup_all(harness.runner)
    await proxier.prepare_node(harness.runner, harness.cfg)
    try:
        yield harness
    finally:
        await proxier.cleanup_all(harness.runner)


async def test_clusterip_balances_over_ready_endpoints_only(h: Harness) -> None:
    lab = h.lab
    h.services.add(service("web"))
    h.slices.add(endpoint_slice("web", h.pods("a", "b", "c")))
    await h.sync()
    assert set(await h.hits(lab.node, VIP, 80)) == {"a", "b", "c"}
    assert set(await h.hits(lab.pod_netns("d"), VIP, 80)) == {"a", "b", "c"}

    # b fails readiness: the running proxy loop takes it out of rotation (an incremental update).
    stop = asyncio.Event()
    task = asyncio.create_task(h.proxier.run(stop))
    try:
        await asyncio.sleep(0.2)
        h.slices.update(endpoint_slice("web", h.pods("a", "b", "c", not_ready=("b",)), version=2))
        async with asyncio.timeout(5):
            await h.proxier.wait_programmed()
        assert set(await h.hits(lab.pod_netns("d"), VIP, 80)) == {"a", "c"}
        h.slices.update(endpoint_slice("web", h.pods("a", "b", "c"), version=3))
        async with asyncio.timeout(5):
            await h.proxier.wait_programmed()
        assert set(await h.hits(lab.node, VIP, 80)) == {"a", "b", "c"}
    finally:
        stop.set()
        await task


async def test_nodeport_on_node_address_and_localhost(h: Harness) -> None:
    lab = h.lab
    h.services.add(service("web", type_="NodePort", node_ports={"http": 30080}))
    h.slices.add(endpoint_slice("web", h.pods("a", "b", "c")))
    await h.sync()
    sysctl = await h.runner.run(["sysctl", "-n", "net.ipv4.conf.all.route_localnet"])
    assert sysctl.stdout.strip() == "1"
    assert set(await h.hits(lab.client, lab.node_ip, 30080)) == {"a", "b", "c"}
    assert set(await h.hits(lab.node, "127.0.0.1", 30080)) == {"a", "b", "c"}
    assert set(await h.hits(lab.pod_netns("d"), lab.node_ip, 30080, n=10)) <= {"a", "b", "c"}
    h.services.update(service("web", type_="NodePort", node_ports={"http": 30080}, etp="Local"))
    await h.sync()  # localhost traffic is "local": masqueraded and short-circuited to all endpoints
    assert set(await h.hits(lab.node, "127.0.0.1", 30080)) == {"a", "b", "c"}


async def test_nodeport_on_every_local_address_when_no_node_ips_given(h: Harness) -> None:
    lab = h.lab
    h = Harness(lab, h.mode, nodeport_ips=())
    h.services.add(service("web", type_="NodePort", node_ports={"http": 30080}))
    h.slices.add(endpoint_slice("web", h.pods("a", "b")))
    await h.sync()
    assert set(await h.hits(lab.client, lab.node_ip, 30080, n=10)) == {"a", "b"}
    assert set(await h.hits(lab.pod_netns("d"), lab.bridge_ip, 30080, n=10)) == {"a", "b"}
    assert set(await h.hits(lab.node, "127.0.0.1", 30080, n=10)) == {"a", "b"}


async def test_localhost_nodeport_needs_route_localnet(h: Harness) -> None:
    """The verified fact behind the sysctl: without route_localnet, 127.0.0.1:<nodePort> times out."""
    lab = h.lab
    h.services.add(service("web", type_="NodePort", node_ports={"http": 30080}))
    h.slices.add(endpoint_slice("web", h.pods("a")))
    await h.sync()
    await h.runner.sysctl("net.ipv4.conf.all.route_localnet", "0")
    try:
        answers = await lab.request(lab.node, "127.0.0.1", 30080, n=1, per_try=1.0)
        assert answers[0][:2] == ["ERR", "TimeoutError"]
    finally:
        await h.runner.sysctl("net.ipv4.conf.all.route_localnet", "1")
    assert set(await h.hits(lab.node, "127.0.0.1", 30080, n=3)) == {"a"}


async def test_external_traffic_policy_local_keeps_source_cluster_snats(h: Harness) -> None:
    lab = h.lab
    h.services.add(service("web", type_="NodePort", node_ports={"http": 30080}, etp="Cluster"))
    h.slices.add(endpoint_slice("web", h.pods("a", "b", "c", remote=("c",))))
    await h.sync()
    assert await h.peers(lab.client, lab.node_ip, 30080) == {lab.bridge_ip}  # SNAT to the node

    h.services.update(service("web", type_="NodePort", node_ports={"http": 30080}, etp="Local"))
    await h.sync()
    assert await h.peers(lab.client, lab.node_ip, 30080) == {lab.client_ip}  # client IP preserved
    assert set(await h.hits(lab.client, lab.node_ip, 30080)) == {"a", "b"}  # local endpoints only


async def test_internal_traffic_policy_local(h: Harness) -> None:
    h.services.add(service("web", itp="Local"))
    h.slices.add(endpoint_slice("web", h.pods("a", "b", "c", remote=("c",))))
    await h.sync()
    assert set(await h.hits(h.lab.pod_netns("d"), VIP, 80)) == {"a", "b"}


async def test_session_affinity_client_ip_sticks(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h.services.add(service("web", affinity_seconds=60))
    h.slices.add(endpoint_slice("web", h.pods("a", "b", "c")))
    await h.sync()
    first = await h.hits(h.lab.pod_netns("d"), VIP, 80, n=20)
    assert len(first) == 1
    assert len(await h.hits(h.lab.node, VIP, 80, n=10)) == 1
    # a periodic full sync (and an unrelated change) must not forget the client's backend
    h.services.add(service("other", cluster_ip="10.43.0.11"))
    await h.proxier.sync_once(full=True)
    await h.sync()
    assert set(await h.hits(h.lab.pod_netns("d"), VIP, 80, n=10)) == set(first)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "a sync fell back to a table replace"


async def test_hairpin_pod_reaches_its_own_service(h: Harness) -> None:
    h.services.add(service("web"))
    h.slices.add(endpoint_slice("web", h.pods("a", "b", "c")))
    await h.sync()
    assert "a" in await h.hits(h.lab.pod_netns("a"), VIP, 80)  # no failure, and a served itself


async def test_loadbalancer_and_external_ips(h: Harness) -> None:
    lab = h.lab
    netlab.run("ip", "route", "replace", "10.99.78.50/32", "via", lab.node_ip, netns=lab.client)
    h.services.add(service("web", type_="LoadBalancer", node_ports={"http": 30080}, lb_ips=[lab.node_ip],
                           external_ips=["10.99.78.50"]))
    h.slices.add(endpoint_slice("web", h.pods("a", "b")))
    await h.sync()
    assert set(await h.hits(lab.client, lab.node_ip, 80)) == {"a", "b"}
    assert set(await h.hits(lab.client, "10.99.78.50", 80)) == {"a", "b"}


async def test_service_without_endpoints_is_rejected(h: Harness) -> None:
    h.services.add(service("empty", cluster_ip="10.43.0.20", type_="NodePort", node_ports={"http": 30090}))
    await h.sync()
    for netns, host, port in ((h.lab.pod_netns("d"), "10.43.0.20", 80), (h.lab.node, "10.43.0.20", 80),
                              (h.lab.client, h.lab.node_ip, 30090)):
        answers = await h.lab.request(netns, host, port, n=1, per_try=2.0)
        assert answers[0][:2] == ["ERR", "ConnectionRefusedError"], (netns, host, answers)


async def test_cleanup_removes_every_rule(h: Harness) -> None:
    h.services.add(service("web", type_="NodePort", node_ports={"http": 30080}, affinity_seconds=30))
    h.slices.add(endpoint_slice("web", h.pods("a")))
    await h.sync()
    await proxier.cleanup_all(h.runner)
    ruleset = (await h.runner.run(["nft", "list", "ruleset"])).stdout
    saved = (await h.runner.run(["iptables-save"])).stdout
    assert "kybernetes-proxy" not in ruleset
    assert "KUBE-" not in saved
    answers = await h.lab.request(h.lab.pod_netns("d"), VIP, 80, n=1, per_try=0.5)
    assert answers[0][0] == "ERR"


async def test_martian_drop_keeps_node_localhost_private(h: Harness) -> None:
    """route_localnet lets packets to 127.0.0.0/8 arrive from the wire; the martian-drop rule must stop
    them (kubernetes issue 90259). A client host routes 127.0.0.99 to the node, which runs a server."""
    lab = h.lab
    if not any(p.args[-2] == "node" for p in lab.procs):
        lab.start_server("node", 9099, netns=lab.node)
        netlab.run("sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1", netns=lab.client)
        netlab.run("ip", "route", "add", "127.0.0.99/32", "via", lab.node_ip, "table", "local", netns=lab.client)
    await h.sync()  # route_localnet=1 on the node, with the martian-drop rule
    answers = await lab.request(lab.client, "127.0.0.99", 9099, n=1, per_try=1.0)
    assert answers[0][:2] == ["ERR", "TimeoutError"]
    await proxier.cleanup_all(h.runner)  # same sysctl, no rule: the hole the rule closes is real
    answers = await lab.request(lab.client, "127.0.0.99", 9099, n=1, per_try=1.0)
    assert answers[0][0] == "node"
