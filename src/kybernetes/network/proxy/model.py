"""The proxy's data model: Services + EndpointSlices → one ``ServicePlan`` per service port.

Both kernel backends (``nftables``, ``iptables``) render the same plans, so every traffic decision
is made here, once, with kube-proxy's semantics:

- a service port is proxied when the Service has a ClusterIP (headless and ExternalName
  Services get no rules); IPv4 only;
- endpoints come from the EndpointSlices labelled ``kubernetes.io/service-name``; a slice port
  matches a service port by name and protocol (named target ports are already resolved there);
- "usable" endpoints are the ready ones, falling back (separately for Cluster and Local policy)
  to serving-and-terminating ones when none is ready;
- ``externalTrafficPolicy: Local`` (only when the port is reachable from outside: NodePort,
  externalIPs, load-balancer IPs) and ``internalTrafficPolicy: Local`` restrict to this node's
  endpoints; a port with no usable endpoint anywhere is rejected, one with usable endpoints
  elsewhere but none here (Local policy) is dropped for that kind of traffic.

``Proxier`` (``proxier.py``) calls ``build_plans`` on every sync and hands the result to a backend.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.network._mirror import SERVICE_NAME_LABEL

Obj = dict[str, Any]

DEFAULT_AFFINITY_SECONDS = 10800
REJECT = "reject"
DROP = "drop"


def is_ipv4(value: object) -> bool:
    """Whether ``value`` is a dotted-quad IPv4 address."""
    try:
        socket.inet_pton(socket.AF_INET, value)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    return True


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """One backend of one service port, as the proxy sees it."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    local: bool = False

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One port of one Service, with everything the rules need."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # lower case: tcp, udp, sctp
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    lb_ips: tuple[str, ...] = ()
    affinity_seconds: int = 0  # 0: no session affinity
    external_local: bool = False
    internal_local: bool = False
    health_check_node_port: int = 0

    @property
    def name_string(self) -> str:
        """kube-proxy's ServicePortName string: ``ns/name:port`` (``ns/name`` for an unnamed port)."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.lb_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Externally reachable ports need Cluster endpoints even with Local policy (short-circuit).
        return not self.internal_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_local or self.external_local


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """A service port with its endpoints categorised and the traffic decisions made."""

    svc: ServicePort
    cluster: tuple[Endpoint, ...] = ()
    local: tuple[Endpoint, ...] = ()
    reachable: tuple[Endpoint, ...] = field(default=())
    has_endpoints: bool = False

    @property
    def uses_cluster_chain(self) -> bool:
        return bool(self.cluster) and self.svc.uses_cluster_endpoints

    @property
    def uses_local_chain(self) -> bool:
        return bool(self.local) and self.svc.uses_local_endpoints

    @property
    def has_internal_endpoints(self) -> bool:
        return self.has_endpoints and (not self.svc.internal_local or bool(self.local))

    @property
    def has_external_endpoints(self) -> bool:
        return self.has_endpoints and (not self.svc.external_local or bool(self.local))

    @property
    def uses_external_chain(self) -> bool:
        return self.has_endpoints and self.svc.externally_accessible

    @property
    def internal_verdict(self) -> str | None:
        """What the filter rules do to ClusterIP traffic: reject, drop, or None (it is DNATed)."""
        if not self.has_endpoints:
            return REJECT
        return None if self.has_internal_endpoints else DROP

    @property
    def external_verdict(self) -> str | None:
        """The same for NodePort / external / load-balancer traffic."""
        if not self.has_endpoints:
            return REJECT
        return None if self.has_external_endpoints else DROP


def _service_ports(svc: Obj) -> list[ServicePort]:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return []
    cluster_ip = spec.get("clusterIP") or ""
    if not is_ipv4(cluster_ip):  # headless ("None"), unallocated or IPv6
        return []
    md = svc.get("metadata") or {}
    external_ips = tuple(sorted({ip for ip in spec.get("externalIPs") or [] if is_ipv4(ip)}))
    lb_ips: tuple[str, ...] = ()
    if spec.get("type") == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        lb_ips = tuple(sorted({i["ip"] for i in ingress if is_ipv4(i.get("ip"))
                               and i.get("ipMode", "VIP") == "VIP"}))
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    out = []
    for p in spec.get("ports") or []:
        node_port = int(p.get("nodePort") or 0) if spec.get("type") in ("NodePort", "LoadBalancer") else 0
        accessible = bool(node_port or external_ips or lb_ips)
        ext_local = accessible and spec.get("externalTrafficPolicy") == "Local"
        out.append(ServicePort(
            namespace=md.get("namespace", ""), name=md["name"], port_name=p.get("name") or "",
            protocol=str(p.get("protocol") or "TCP").lower(), cluster_ip=cluster_ip, port=int(p["port"]),
            node_port=node_port, external_ips=external_ips, lb_ips=lb_ips, affinity_seconds=affinity,
            external_local=ext_local, internal_local=spec.get("internalTrafficPolicy") == "Local",
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0) if ext_local else 0))
    return out


def slice_endpoints(slices: Iterable[Obj], port_name: str, protocol: str, node_name: str) -> list[Endpoint]:
    """The endpoints a set of EndpointSlices offers for one (port name, protocol), deduplicated."""
    found: dict[tuple[str, int], Endpoint] = {}
    for sl in slices:
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        port = next((int(p["port"]) for p in sl.get("ports") or []
                     if (p.get("name") or "") == port_name and str(p.get("protocol") or "TCP").lower() == protocol
                     and p.get("port") is not None), None)
        if port is None:
            continue
        for ep in sl.get("endpoints") or []:
            addrs = [a for a in ep.get("addresses") or [] if is_ipv4(a)]
            if not addrs:
                continue
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False
            e = Endpoint(ip=addrs[0], port=port, ready=ready, serving=cond.get("serving") is not False,
                         terminating=cond.get("terminating") is True,
                         local=bool(node_name) and ep.get("nodeName") == node_name)
            prev = found.get((e.ip, e.port))
            if prev is None or (e.ready and not prev.ready):
                found[(e.ip, e.port)] = e
    return sorted(found.values(), key=_endpoint_order)


def _endpoint_order(e: Endpoint) -> tuple[bytes, int]:
    return (socket.inet_pton(socket.AF_INET, e.ip), e.port)


def categorize(svc: ServicePort, endpoints: list[Endpoint]) -> ServicePlan:
    """Split endpoints into Cluster-policy and Local-policy sets with the ready → serving-terminating
    fallback, and note whether any usable endpoint exists anywhere."""
    cluster: list[Endpoint] = []
    local: list[Endpoint] = []
    has_any = False
    if svc.uses_cluster_endpoints:
        cluster = [e for e in endpoints if e.ready] or [e for e in endpoints if e.serving and e.terminating]
        has_any = bool(cluster)
    if svc.uses_local_endpoints:
        has_any = has_any or any(e.ready or (e.serving and e.terminating) for e in endpoints)
        local = [e for e in endpoints if e.local and e.ready] or [
            e for e in endpoints if e.local and e.serving and e.terminating]
    reachable = sorted(set(cluster) | set(local), key=_endpoint_order)
    return ServicePlan(svc=svc, cluster=tuple(cluster), local=tuple(local), reachable=tuple(reachable),
                       has_endpoints=has_any)


def _service_plans(svc: Obj, slices: list[Obj], node_name: str) -> list[ServicePlan]:
    return [categorize(sp, slice_endpoints(slices, sp.port_name, sp.protocol, node_name))
            for sp in _service_ports(svc)]


class PlanCache:
    """Remembers each Service's plans with the objects they came from: as long as the informer
    hands out the very same Service and EndpointSlice objects (it replaces them on change), the
    plans are reused, so a sync after one endpoint change only re-plans that Service."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str], tuple[Obj, list[Obj], list[ServicePlan]]] = {}

    def plans(self, key: tuple[str, str], svc: Obj, slices: list[Obj], node_name: str) -> list[ServicePlan]:
        hit = self._memo.get(key)
        if hit is not None and hit[0] is svc and len(hit[1]) == len(slices) and all(
                a is b for a, b in zip(hit[1], slices, strict=True)):
            return hit[2]
        out = _service_plans(svc, slices, node_name)
        self._memo[key] = (svc, slices, out)
        return out

    def retain(self, keys: set[tuple[str, str]]) -> None:
        for k in [k for k in self._memo if k not in keys]:
            del self._memo[k]


def build_plans(services: Iterable[Obj], slices: Iterable[Obj], node_name: str,
                cache: PlanCache | None = None) -> list[ServicePlan]:
    """Every proxied service port, sorted by (namespace, name, port name, protocol)."""
    by_service: dict[tuple[str, str], list[Obj]] = {}
    for sl in slices:
        md = sl.get("metadata") or {}
        owner = (md.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner and not md.get("deletionTimestamp"):
            by_service.setdefault((md.get("namespace", ""), owner), []).append(sl)
    plans = []
    seen = set()
    for svc in services:
        md = svc.get("metadata") or {}
        key = (md.get("namespace", ""), md.get("name", ""))
        seen.add(key)
        sls = sorted(by_service.get(key, ()), key=lambda o: o["metadata"].get("name", ""))
        plans += cache.plans(key, svc, sls, node_name) if cache else _service_plans(svc, sls, node_name)
    if cache:
        cache.retain(seen)
    plans.sort(key=lambda p: (p.svc.namespace, p.svc.name, p.svc.port_name, p.svc.protocol))
    return plans


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Node-level settings shared by both backends.

    ``nodeport_ips``: addresses that accept NodePorts (empty: every local address);
    ``localhost_nodeports``: also accept them on 127.0.0.0/8 (sets ``route_localnet`` and adds the
    martian-drop rule); ``cluster_cidr``: pod range, used to masquerade off-cluster traffic to
    ClusterIPs and to short-circuit pod traffic to external addresses of Local-policy services.
    """

    nodeport_ips: tuple[str, ...] = ()
    localhost_nodeports: bool = True
    cluster_cidr: str = ""
    masquerade_mark: int = 0x4000
