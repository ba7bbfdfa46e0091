"""The network components against the real (in-process) API server: real informers (list + watch),
ClusterIP/NodePort allocation, services/status writes — no fakes between the API and the kernel."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable

import dns.asyncquery
import dns.message
import pytest
from aiohttp.test_utils import TestClient

from kybernetes.apiserver.app import ApiServer
from kybernetes.client.rest import ENDPOINTSLICES, NODES, SERVICES, Client, ClientConfig
from kybernetes.network import servicelb
from kybernetes.network.dns import run_dns
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
