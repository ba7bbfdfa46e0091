"""Cluster DNS as ``kyb server`` runs it: in-process, on its node's pod-network gateway, published
as the endpoint of the ``kube-dns`` Service (10.43.0.10).

k3s runs CoreDNS as pods; ours is not a pod, so it needs an address that the proxy's DNAT of
10.43.0.10:53 can send pod traffic to. The gateway of the node's pod CIDR (the bridge address,
10.42.0.1 on the first node) is that address: every pod on the node routes through it, pods of
other nodes reach it over the pod routes, and it is never loopback (which endpoints may not be) nor
a host address where a resolver may already hold port 53. The address follows
``Node.spec.podCIDR`` (the agent's default pod CIDR until that is set). The bridge only gets the
address with its first pod, so the sockets bind with IP_FREEBIND.

The composition root calls :func:`run_node_dns`; the zone and the server are ``records`` and
``server``; the EndpointSlice shape is ``service``. The slice is deleted on the way out, so a
stopped or disabled DNS leaves no endpoint behind.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import ENDPOINTSLICES, NODES
from kybernetes.network._informers import until_synced
from kybernetes.network.dns import service
from kybernetes.network.dns.forward import Forwarder
from kybernetes.network.dns.records import ClusterZone
from kybernetes.network.dns.server import DNSServer, cluster_zone, upstreams_for

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
SLICE_KEY = f"{service.NAMESPACE}/{service.SLICE_NAME}"


def gateway(pod_cidr: str) -> str:
    """The first host address of ``pod_cidr``: what the CNI bridge takes as the pods' gateway."""
    return str(next(ipaddress.ip_network(pod_cidr, strict=False).hosts()))


class NodeDNS:
    """Keeps one DNS server bound to the node's gateway and the kube-dns slice pointing at it
    (level-triggered: a change to the Node or to the slice, even its deletion, re-checks both)."""

    def __init__(self, client: Any, zone: ClusterZone, forwarder: Forwarder, nodes: Informer, slices: Informer,
                 node_name: str, default_pod_cidr: str, port: int = 53) -> None:
        self.client = client
        self.zone = zone
        self.forwarder = forwarder
        self.nodes = nodes
        self.slices = slices
        self.node_name = node_name
        self.default_pod_cidr = default_pod_cidr
        self.port = port
        self.server: DNSServer | None = None
        self._changed = asyncio.Event()
        for inf in (nodes, slices):
            inf.add_handlers(on_add=self._on_change, on_update=lambda _old, new: self._on_change(new),
                             on_delete=self._on_change)

    def _on_change(self, obj: dict[str, Any]) -> None:
        if key_of(obj) in (self.node_name, SLICE_KEY):
            self._changed.set()

    def address(self) -> str:
        node = self.nodes.get(self.node_name) or {}
        return gateway((node.get("spec") or {}).get("podCIDR") or self.default_pod_cidr)

    async def reconcile(self) -> bool:
        """Bind to and publish the wanted address; False when publishing must be retried."""
        addr = self.address()
        if self.server is None or self.server.host != addr:
            if self.server is not None:
                await self.server.close()
                self.server = None
            server = DNSServer(self.zone, self.forwarder, addr, self.port, freebind=True)
            await server.start()
            self.server = server
        want = service.kube_dns_endpoint_slice([addr], self.port, self.node_name)
        current = self.slices.get(SLICE_KEY)
        if current is not None and all(current.get(k) == want[k] for k in ("endpoints", "ports")) \
                and current["metadata"].get("labels") == want["metadata"]["labels"]:
            return True
        try:
            if current is None:
                await self.client.create(ENDPOINTSLICES, want, service.NAMESPACE)
            else:
                want["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                await self.client.replace(ENDPOINTSLICES, want, service.NAMESPACE)
        except ApiError as e:  # e.g. a stale cache (conflict, already exists): the watch brings the truth
            log.warning("Could not publish %s -> %s:%d (retrying): %s", SLICE_KEY, addr, self.port, e)
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop``; then close the server and remove the slice."""
        try:
            while not stop.is_set():
                self._changed.clear()
                settled = await self.reconcile()
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._changed.wait())]
                try:
                    await asyncio.wait(waiters, timeout=None if settled else RETRY_SECONDS,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waiters:
                        w.cancel()
        finally:
            if self.server is not None:
                await self.server.close()
            try:
                async with asyncio.timeout(5):
                    await self.client.delete(ENDPOINTSLICES, service.SLICE_NAME, service.NAMESPACE)
            except NotFoundError:
                pass
            except (ApiError, OSError, TimeoutError) as e:
                log.warning("Could not delete %s: %s", SLICE_KEY, e)


async def run_node_dns(client: Any, stop: asyncio.Event, node_name: str, default_pod_cidr: str, port: int = 53,
                       cluster_domain: str = "cluster.local", upstreams: list[str] | None = None) -> None:
    """Serve cluster DNS for ``node_name``'s pods (see the module doc) until ``stop`` is set."""
    zone, informers = cluster_zone(client, cluster_domain)
    nodes = Informer(client, NODES, field_selector=f"metadata.name={node_name}")
    ups = upstreams_for(upstreams, gateway(default_pod_cidr), port)
    node_dns = NodeDNS(client, zone, Forwarder(ups), nodes, zone.slices, node_name, default_pod_cidr, port)
    log.info("Running cluster DNS for %s on node %s (port %d), upstreams %s", cluster_domain, node_name, port,
             ", ".join(f"{h}:{p}" for h, p in ups) or "none")
    for inf in (*informers, nodes):
        inf.start()
    try:
        if await until_synced(stop, *informers, nodes):
            await node_dns.run(stop)
    finally:
        await asyncio.gather(*(inf.stop() for inf in (*informers, nodes)))
