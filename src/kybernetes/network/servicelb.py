"""Service load balancer (k3s ServiceLB's role): gives every ``type: LoadBalancer`` Service the
node addresses as its ``status.loadBalancer.ingress``.

There is no separate data path: the service proxy treats ingress IPs like external IPs, so traffic
to ``<node address>:<service port>`` (and the NodePort) reaches the endpoints. Services with a
``loadBalancerClass`` belong to another implementation and are left alone; a Service that stops
being a LoadBalancer has its ingress cleared. Nodes count when Ready; if any node carries
``svccontroller.k3s.cattle.io/enablelb=true``, only such nodes do (k3s's opt-in label).

Informer callbacks enqueue Service keys (a node change enqueues every LoadBalancer Service);
``sync(key)`` compares the wanted ingress with the cached status and writes ``services/status``
with a merge patch only when they differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from typing import Any, Protocol

from kybernetes.client import workqueue
from kybernetes.client.errors import NotFoundError
from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer, key_of, run_until_stopped
from kybernetes.client.rest import NODES, SERVICES

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ENABLE_LABEL = "svccontroller.k3s.cattle.io/enablelb"
ENSURING = "EnsuringLoadBalancer"
ENSURED = "EnsuredLoadBalancer"
COMPONENT = "service-lb-controller"


class Recorder(Protocol):
    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


def _ready(node: Obj) -> bool:
    conds = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def node_addresses(nodes: list[Obj]) -> list[str]:
    """InternalIP addresses of the nodes that serve load balancers, sorted numerically."""
    ready = [n for n in nodes if _ready(n) and not (n.get("metadata") or {}).get("deletionTimestamp")]
    opted = [n for n in ready if ((n.get("metadata") or {}).get("labels") or {}).get(ENABLE_LABEL) == "true"]
    ips: set[str] = set()
    for n in opted or ready:
        for a in (n.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                with contextlib.suppress(ValueError):
                    ips.add(str(ipaddress.ip_address(a.get("address", ""))))
    return sorted(ips, key=lambda ip: (ipaddress.ip_address(ip).version, int(ipaddress.ip_address(ip))))


def wanted_ingress(svc: Obj, addresses: list[str]) -> list[Obj] | None:
    """The ingress list this controller wants for ``svc``; None when the Service is not ours."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "LoadBalancer":
        if spec.get("loadBalancerClass"):
            return None
        return [{"ip": ip, "ipMode": "VIP"} for ip in addresses]
    current = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    return [] if current else None


class ServiceLBController:
    """Keeps ``status.loadBalancer.ingress`` of LoadBalancer Services equal to the node addresses."""

    name = "servicelb"

    def __init__(self, services: Informer, nodes: Informer, client: Any, recorder: Recorder | None = None) -> None:
        self.services = services
        self.nodes = nodes
        self.client = client
        self.recorder = recorder
        self.queue = workqueue.WorkQueue()
        services.add_handlers(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n),
                              on_delete=lambda _o: None)
        nodes.add_handlers(on_add=self._nodes_changed, on_update=self._node_updated, on_delete=self._nodes_changed)

    def _enqueue(self, svc: Obj) -> None:
        self.queue.add(key_of(svc))

    def _nodes_changed(self, _node: Obj) -> None:
        for svc in self.services.list():
            if (svc.get("spec") or {}).get("type") == "LoadBalancer":
                self._enqueue(svc)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if node_addresses([old]) != node_addresses([new]):
            self._nodes_changed(new)

    async def sync(self, key: str) -> None:
        svc = self.services.get(key)
        if svc is None:
            return
        want = wanted_ingress(svc, node_addresses(self.nodes.list()))
        current = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if want is None or want == current:
            return
        md = svc["metadata"]
        if want and self.recorder:
            self.recorder.record(svc, "Normal", ENSURING, "Ensuring load balancer")
        try:
            await self.client.patch(SERVICES, md["name"], {"status": {"loadBalancer": {"ingress": want or None}}},
                                    md.get("namespace"), subresource="status")
        except NotFoundError:
            return
        log.info("Service %s: load balancer ingress %s", key, ", ".join(i["ip"] for i in want) or "cleared")
        if want and self.recorder:
            self.recorder.record(svc, "Normal", ENSURED, "Ensured load balancer")

    async def run(self, workers: int = 1) -> None:
        log.info("Starting %s controller", self.name)
        try:
            await asyncio.gather(self.services.wait_synced(), self.nodes.wait_synced())
            async with asyncio.TaskGroup() as tg:
                for i in range(workers):
                    tg.create_task(workqueue.process_queue(self.queue, self.sync, self.name), name=f"{self.name}-{i}")
        finally:
            await self.queue.shutdown()
            log.info("Shutting down %s controller", self.name)


async def run_servicelb(client: Any, stop: asyncio.Event, recorder: Recorder | None = None) -> None:
    """Run the controller with its own informers until ``stop`` is set; events go through
    ``recorder``, or one of its own (component ``service-lb-controller``, k3s's name)."""
    services, nodes = Informer(client, SERVICES), Informer(client, NODES)
    own_recorder = EventRecorder(client, COMPONENT) if recorder is None else None
    ctrl = ServiceLBController(services, nodes, client, recorder or own_recorder)
    await run_until_stopped(stop, ctrl.run(), (services, nodes), own_recorder)
