"""The network components against the real (in-process) API server: real informers (list + watch),
ClusterIP/NodePort allocation, services/status writes — no fakes between the API and the kernel."""

from __future__ import annotations

import asyncio
import collections
import errno
import socket
from collections.abc import Awaitable, Callable

import dns.asyncquery
import dns.message
import pytest
from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer
from kybernetes.client.errors import NotFoundError
from kybernetes.client.rest import ENDPOINTSLICES, NODES, SERVICES, Client, ClientConfig
from kybernetes.network import servicelb
from kybernetes.network.dns import run_dns, run_node_dns
from kybernetes.network.dns.server import IP_FREEBIND
from kybernetes.network.proxy import cleanup_all, run_proxy
from kybernetes.network.proxy._exec import Runner
from tests.apiserver.conftest import TOKEN, api  # noqa: F401  (the in-process API server fixture)
from tests.network import netlab
from tests.network.builders import endpoint, endpoint_slice, service


def kyb_client(test_client: TestClient) -> Client:
    return Client(ClientConfig(str(test_client.make_url("")).rstrip("/"), False, TOKEN))


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll ``check`` every 0.1 s until it is true (at most ``seconds``)."""
    async with asyncio.timeout(seconds):
        for _ in range(int(seconds * 10) + 1):
            if await check():
                return
            await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


def new_service(name: str, **kw: object) -> dict:
    svc = service(name, **kw)  # type: ignore[arg-type]
    svc["metadata"] = {"name": name, "namespace": "default"}
    svc["spec"].pop("clusterIP")
    svc["spec"].pop("clusterIPs")
    svc["spec"].pop("selector")  # endpoints are written by hand, like a Service without a selector
    svc.pop("status")
    return svc


async def test_dns_answers_from_the_api_server(api: tuple[ApiServer, TestClient]) -> None:  # noqa: F811
    client = kyb_client(api[1])
    stop = asyncio.Event()
    port = netlab.free_port()
    task = asyncio.create_task(run_dns(client, stop, "127.0.0.1", port, upstreams=[]))
    try:
        created = await client.create(SERVICES, new_service("web"), "default")
        ip = created["spec"]["clusterIP"]

        async def answered() -> bool:
            q = dns.message.make_query("web.default.svc.cluster.local", "A")
            try:
                r = await dns.asyncquery.udp(q, "127.0.0.1", timeout=0.5, port=port)
            except dns.exception.Timeout:
                return False
            return [str(rd) for rr in r.answer for rd in rr] == [ip]

        await eventually(answered)
    finally:
        stop.set()
        await task
        await client.close()


def _bound(host: str, port: int) -> bool:
    """Whether something holds UDP ``host:port`` (binding it ourselves fails), even for an address no
    interface has (IP_FREEBIND)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


async def test_node_dns_is_the_kube_dns_endpoint_at_the_pod_gateway(
        api: tuple[ApiServer, TestClient]) -> None:  # noqa: F811
    client = kyb_client(api[1])
    stop = asyncio.Event()
    port = netlab.free_port()
    svc = await client.get(SERVICES, "kube-dns", "kube-system")  # from the API server's bootstrap
    assert svc["spec"]["clusterIP"] == "10.43.0.10" and svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    await client.create(NODES, {"metadata": {"name": "node-1"}})
    task = asyncio.create_task(run_node_dns(client, stop, "node-1", "10.42.99.0/24", port, upstreams=[]))

    async def endpoint() -> tuple[str, str, int] | None:
        try:
            sl = await client.get(ENDPOINTSLICES, "kube-dns-server", "kube-system")
        except NotFoundError:
            return None
        ep = sl["endpoints"][0]
        return ep["addresses"][0], ep.get("nodeName", ""), sl["ports"][0]["port"]

    async def serving_at(gateway: str, stale: str = "") -> bool:
        return await endpoint() == (gateway, "node-1", port) and _bound(gateway, port) and not (
            stale and _bound(stale, port))

    try:
        # no podCIDR yet: the default range's gateway; no interface has it, the sockets bind anyway
        await eventually(lambda: serving_at("10.42.99.1"))
        # the node's range arrives (node IPAM): server and endpoint move to its gateway
        await client.patch(NODES, "node-1", {"spec": {"podCIDR": "10.42.7.0/24", "podCIDRs": ["10.42.7.0/24"]}})
        await eventually(lambda: serving_at("10.42.7.1", stale="10.42.99.1"))
        # a slice deleted behind its back is written again
        await client.delete(ENDPOINTSLICES, "kube-dns-server", "kube-system")
        await eventually(lambda: serving_at("10.42.7.1"))
    finally:
        stop.set()
        await task
        try:
            assert await endpoint() is None  # a stopped DNS leaves no endpoint behind
        finally:
            await client.close()
    assert not _bound("10.42.7.1", port)


@pytest.mark.skipif(not netlab.is_root(), reason="needs root (network namespaces)")
async def test_loadbalancer_service_end_to_end(api: tuple[ApiServer, TestClient]) -> None:  # noqa: F811
    client = kyb_client(api[1])
    lab = netlab.Lab().setup()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        await client.create(NODES, {"metadata": {"name": "node-1"}})
        await client.patch(NODES, "node-1", {"status": {
            "addresses": [{"type": "InternalIP", "address": lab.node_ip}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}, subresource="status")
        svc = await client.create(SERVICES, new_service("web", type_="LoadBalancer"), "default")
        node_port = svc["spec"]["ports"][0]["nodePort"]
        sl = endpoint_slice("web", [endpoint(lab.pods[p]) for p in ("a", "b", "c")])
        sl["metadata"].pop("resourceVersion")
        await client.create(ENDPOINTSLICES, sl, "default")
        tasks.append(asyncio.create_task(servicelb.run_servicelb(client, stop)))
        tasks.append(asyncio.create_task(run_proxy(client, stop, "node-1", [lab.node_ip], netns=lab.node,
                                                   cluster_cidr="10.42.0.0/16")))

        async def has_ingress() -> bool:
            got = await client.get(SERVICES, "web", "default")
            return (got["status"].get("loadBalancer") or {}).get("ingress") == [{"ip": lab.node_ip, "ipMode": "VIP"}]

        async def serves(host: str, port: int, want: set[str], netns: str = lab.client) -> bool:
            answers = await lab.request(netns, host, port, n=20, per_try=1.0)
            return set(collections.Counter(a[0] for a in answers)) == want

        await eventually(has_ingress)
        await eventually(lambda: serves(lab.node_ip, 80, {"a", "b", "c"}))  # the load-balancer address
        await eventually(lambda: serves(lab.node_ip, node_port, {"a", "b", "c"}))  # the NodePort
        await eventually(lambda: serves(svc["spec"]["clusterIP"], 80, {"a", "b", "c"}, lab.pod_netns("d")))
        # readiness failure of b, written through the API, leaves the rotation
        current = await client.get(ENDPOINTSLICES, sl["metadata"]["name"], "default")
        current["endpoints"][1]["conditions"]["ready"] = False
        await client.replace(ENDPOINTSLICES, current, "default")
        await eventually(lambda: serves(lab.node_ip, 80, {"a", "c"}))
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await cleanup_all(Runner(lab.node))
        lab.teardown()
        await client.close()
    assert lab.leftovers() == []
