"""A pod's resolv.conf (CRI ``DNSConfig``) from its ``dnsPolicy`` and ``dnsConfig``.

Role: :mod:`.sandbox` calls :func:`pod_dns` when it builds the PodSandboxConfig; containerd writes the
result as the pod's ``/etc/resolv.conf``. ClusterFirst (on the pod network) and ClusterFirstWithHostNet
use the cluster DNS service and the ``<ns>.svc.<domain> svc.<domain> <domain>`` search path (plus the
node's own search domains) with ``ndots:5``; Default (and ClusterFirst with hostNetwork) copies the
node's resolv.conf; None uses only ``spec.dnsConfig``, which is merged into the others too.
Upstream: pkg/kubelet/network/dns/dns.go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_NAMESERVERS", "MAX_SEARCHES", "DNSSettings", "parse_resolv_conf", "pod_dns"]

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048


@dataclass(frozen=True)
class DNSSettings:
    """Nameservers, search domains and options, as CRI ``DNSConfig`` wants them."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = field(default=())


def parse_resolv_conf(text: str) -> DNSSettings:
    """The nameservers, search path and options of a resolv.conf (``domain`` counts as a search path)."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        key, *values = line.split()
        if key == "nameserver" and values:
            servers.append(values[0])
        elif key in ("search", "domain"):
            searches = list(values)
        elif key == "options":
            options.extend(values)
    return DNSSettings(tuple(servers), tuple(searches), tuple(options))


def _merge_options(base: Sequence[str], extra: Sequence[Mapping[str, Any]]) -> list[str]:
    merged: dict[str, str | None] = {}
    for opt in base:
        name, sep, val = opt.partition(":")
        merged[name] = val if sep else None
    for item in extra:
        raw = item.get("value")
        merged[str(item.get("name", ""))] = str(raw) if raw is not None else None
    return [name if value is None else f"{name}:{value}" for name, value in merged.items()]


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _limit_searches(searches: list[str]) -> list[str]:
    out: list[str] = []
    total = 0
    for s in searches[:MAX_SEARCHES]:
        total += len(s) + 1
        if total > MAX_SEARCH_CHARS:
            break
        out.append(s)
    return out


def pod_dns(pod: Mapping[str, Any], host: DNSSettings, cluster_dns: Sequence[str], cluster_domain: str) -> DNSSettings:
    """The DNS settings of ``pod`` on a node whose own resolv.conf is ``host``."""
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        kind = "none"
    elif policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not spec.get("hostNetwork")):
        kind = "cluster" if cluster_dns else "host"
    else:
        kind = "host"
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if kind == "host":
        servers, searches, options = list(host.servers), list(host.searches), list(host.options)
    elif kind == "cluster":
        servers = list(cluster_dns)
        searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *host.searches]
        options = ["ndots:5"]
    extra = spec.get("dnsConfig") or {}
    servers = _unique([*servers, *(extra.get("nameservers") or [])])[:MAX_NAMESERVERS]
    searches = _limit_searches(_unique([*searches, *(extra.get("searches") or [])]))
    options = _merge_options(options, extra.get("options") or [])
    return DNSSettings(tuple(servers), tuple(searches), tuple(options))
