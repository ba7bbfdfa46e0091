"""Service ClusterIP and NodePort allocation.

Allocations are derived from the stored Services (a watch on the cache keeps the used sets in
step: deleting a Service frees its IP and ports) plus reservations made by in-flight requests.
A write that fails or is a dry run gives its reservations back (see ``objects.Allocations``).
"""

from __future__ import annotations

import ipaddress
import logging
import random
from typing import Any

from kybernetes.api import errors
from kybernetes.apiserver.watchcache import Change, Follower, WatchCache

log = logging.getLogger(__name__)

SERVICES_PREFIX = "/registry/core/services/"


class ClusterIPAllocator:
    def __init__(self, cidr: str = "10.43.0.0/16") -> None:
        self.network = ipaddress.ip_network(cidr)
        self.used: set[str] = set()
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - 1

    def allocate(self, requested: str | None = None) -> str:
        if requested:
            try:
                ip = ipaddress.ip_address(requested)
            except ValueError:
                raise errors.invalid_object("Service", "", "", [errors.invalid(
                    "spec.clusterIPs", [requested], "must be a valid IP address")]) from None
            if ip not in self.network:
                raise errors.invalid_object("Service", "", "", [errors.invalid(
                    "spec.clusterIPs", [requested], f"failed to allocate IP {requested}: the provided IP "
                    f"({requested}) is not in the valid range. The range of valid IPs is {self.network}")])
            if requested in self.used:
                raise errors.invalid_object("Service", "", "", [errors.invalid(
                    "spec.clusterIPs", [requested],
                    f"failed to allocate IP {requested}: provided IP is already allocated")])
            self.used.add(requested)
            return requested
        size = self._last - self._first + 1
        start = random.randrange(size)
        for i in range(size):
            candidate = str(ipaddress.ip_address(self._first + (start + i) % size))
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate
        raise errors.StatusError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: "
                                 "range is full")

    def release(self, value: Any) -> None:
        self.used.discard(str(value))


class NodePortAllocator:
    def __init__(self, low: int = 30000, high: int = 32767) -> None:
        self.low, self.high = low, high
        self.used: set[int] = set()

    def allocate(self, requested: int | None = None) -> int:
        if requested:
            port = int(requested)
            if not self.low <= port <= self.high:
                raise errors.invalid_object("Service", "", "", [errors.invalid(
                    "spec.ports[0].nodePort", port,
                    f"provided port is not in the valid range. The range of valid ports is "
                    f"{self.low}-{self.high}")])
            if port in self.used:
                raise errors.invalid_object("Service", "", "", [errors.invalid(
                    "spec.ports[0].nodePort", port, "provided port is already allocated")])
            self.used.add(port)
            return port
        free = [p for p in range(self.low, self.high + 1) if p not in self.used]
        if not free:
            raise errors.StatusError(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: "
                                     "range is full")
        port = random.choice(free)
        self.used.add(port)
        return port

    def release(self, value: Any) -> None:
        self.used.discard(int(value))


def _service_ips(obj: dict[str, Any]) -> set[str]:
    spec = obj.get("spec") or {}
    ips = set(spec.get("clusterIPs") or [])
    if spec.get("clusterIP"):
        ips.add(spec["clusterIP"])
    return {ip for ip in ips if ip and ip != "None"}


def _service_ports(obj: dict[str, Any]) -> set[int]:
    spec = obj.get("spec") or {}
    ports = {int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")}
    if spec.get("healthCheckNodePort"):
        ports.add(int(spec["healthCheckNodePort"]))
    return ports


class ServiceAllocations(Follower):
    """Keeps both allocators in step with the stored Services."""

    prefix = SERVICES_PREFIX

    def __init__(self, cache: WatchCache, cidr: str = "10.43.0.0/16", node_ports: tuple[int, int] = (30000, 32767)
                 ) -> None:
        super().__init__(cache)
        self.cluster_ip = ClusterIPAllocator(cidr)
        self.node_port = NodePortAllocator(*node_ports)

    def allocators(self) -> dict[str, Any]:
        return {"cluster-ip": self.cluster_ip, "node-port": self.node_port}

    async def start(self) -> None:
        for e in self.cache.list(SERVICES_PREFIX):
            self.cluster_ip.used |= _service_ips(e.obj)
            self.node_port.used |= _service_ports(e.obj)
        self.follow("service-allocations")

    async def on_change(self, ch: Change) -> None:
        old_ips = _service_ips(ch.prev) if ch.prev else set()
        old_ports = _service_ports(ch.prev) if ch.prev else set()
        if ch.type == "DELETE":
            for ip in old_ips | _service_ips(ch.obj):
                self.cluster_ip.release(ip)
            for p in old_ports | _service_ports(ch.obj):
                self.node_port.release(p)
            return
        new_ips, new_ports = _service_ips(ch.obj), _service_ports(ch.obj)
        for ip in old_ips - new_ips:
            self.cluster_ip.release(ip)
        for p in old_ports - new_ports:
            self.node_port.release(p)
        self.cluster_ip.used |= new_ips
        self.node_port.used |= new_ports
