"""The cluster zone: DNS answers computed from the Service and EndpointSlice caches, following
the Kubernetes DNS specification as CoreDNS's kubernetes plugin serves it (TTL 5 s):

- ``<svc>.<ns>.svc.<zone>``: A = the ClusterIP; for a headless Service, the ready endpoint IPs;
  ExternalName → CNAME; AAAA of an IPv4-only name is an empty NOERROR;
- ``<host>.<svc>.<ns>.svc.<zone>``: an endpoint of a headless Service by its ``hostname``
  (StatefulSet pods) or, without one, by its dashed IP (``10-42-0-7``);
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone>``: SRV for a named port (targets' A records in the
  additional section); ``<svc>.<ns>.svc.<zone>`` SRV lists every named port;
- ``<a-b-c-d>.<ns>.pod.<zone>``: A (pods "insecure" mode);
- ``d.c.b.a.in-addr.arpa``: PTR for ClusterIPs and endpoint IPs;
- a name in the zone that does not exist: NXDOMAIN with the zone's SOA in the authority section.

``ClusterZone.lookup`` returns an ``Answer``; ``server.py`` turns it into a message. Names outside
the zone, and reverse names of unknown addresses, are marked ``forward`` (the server asks upstream).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any, cast

import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from kybernetes.client.informer import Informer
from kybernetes.network._mirror import SERVICE_NAME_LABEL, slices_from_endpoints

Obj = dict[str, Any]
TTL = 5
DNS_SCHEMA_VERSION = "1.1.0"
REVERSE = dns.name.from_text("in-addr.arpa.")
T = dns.rdatatype


@dataclass
class Answer:
    """What to say: rcode and sections; ``forward`` when the name is not ours to answer."""

    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    forward: bool = False
    chase: dns.name.Name | None = None  # CNAME target to resolve next (in the zone or upstream)


def _slice_service(sl: Obj) -> list[str]:
    md = sl.get("metadata") or {}
    owner = (md.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{md.get('namespace', '')}/{owner}"] if owner else []


def _service_ips(svc: Obj) -> list[str]:
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if ip != "None"]


def _slice_ips(sl: Obj) -> list[str]:
    return [a for ep in sl.get("endpoints") or [] for a in ep.get("addresses") or []]


def _indexed(inf: Informer, index: str, value: str) -> list[Obj]:
    return cast("list[Obj]", inf.by_index(index, value))


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def _ipv4(text: str) -> str | None:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(addr) if addr.version == 4 else None


class ClusterZone:
    """Answers for ``<zone>`` (default ``cluster.local``) and ``in-addr.arpa`` from informer caches."""

    def __init__(self, services: Informer, slices: Informer, domain: str = "cluster.local",
                 endpoints: Informer | None = None) -> None:
        self.services = services
        self.slices = slices
        self.endpoints = endpoints  # manual Endpoints of selector-less Services without slices
        self.origin = dns.name.from_text(domain.strip(".") + ".")
        self.serial = int(time.time())
        slices.add_index("service", _slice_service)
        slices.add_index("ip", _slice_ips)
        services.add_index("ip", _service_ips)

    # --- rrset helpers ------------------------------------------------------------------------
    def _rr(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, *texts: str) -> dns.rrset.RRset:
        return dns.rrset.from_text_list(name, TTL, dns.rdataclass.IN, rdtype, list(texts))

    def soa(self) -> dns.rrset.RRset:
        return self._rr(self.origin, T.SOA, f"ns.dns.{self.origin} hostmaster.{self.origin} {self.serial} "
                                             "7200 1800 86400 5")

    def _name(self, *labels: str) -> dns.name.Name:
        return dns.name.Name(labels).concatenate(self.origin) if labels else self.origin

    def _svc_name(self, svc: str, ns: str) -> dns.name.Name:
        return self._name(svc, ns, "svc")

    # --- data ---------------------------------------------------------------------------------
    def _ready_endpoints(self, ns: str, svc: str) -> list[tuple[str, Obj, Obj]]:
        """(host label, endpoint, slice) for the ready IPv4 endpoints of a Service."""
        out: dict[str, tuple[str, Obj, Obj]] = {}
        for sl in self._slices(ns, svc):
            if sl.get("addressType", "IPv4") != "IPv4":
                continue
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False or not ep.get("addresses"):
                    continue
                ip = ep["addresses"][0]
                out.setdefault(ip, (str(ep.get("hostname") or _dashed(ip)).lower(), ep, sl))
        return [out[ip] for ip in sorted(out, key=lambda i: int(ipaddress.ip_address(i)))]

    def _slices(self, ns: str, svc: str) -> list[Obj]:
        found = _indexed(self.slices, "service", f"{ns}/{svc}")
        if found or self.endpoints is None:
            return found
        service, ep = self.services.get(f"{ns}/{svc}"), self.endpoints.get(f"{ns}/{svc}")
        if service is None or ep is None or (service.get("spec") or {}).get("selector"):
            return []
        return slices_from_endpoints(ep)

    def _service_records(self, svc: Obj, qname: dns.name.Name) -> dict[int, list[dns.rrset.RRset]]:
        md, spec = svc["metadata"], svc.get("spec") or {}
        ns, name = md.get("namespace", ""), md["name"]
        if spec.get("type") == "ExternalName":
            alias = str(spec.get("externalName") or "").rstrip(".") + "."
            return {T.CNAME: [self._rr(qname, T.CNAME, alias)]}
        records: dict[int, list[dns.rrset.RRset]] = {}
        ips = _service_ips(svc)
        srv, extra = [], []
        if ips:
            v4 = [ip for ip in ips if _ipv4(ip)]
            if v4:
                records[T.A] = [self._rr(qname, T.A, *v4)]
            targets = [(p.get("name"), p.get("protocol", "TCP"), int(p["port"]), qname) for p in spec.get("ports") or []]
        else:  # headless
            eps = self._ready_endpoints(ns, name)
            if eps:
                records[T.A] = [self._rr(qname, T.A, *[ep["addresses"][0] for _h, ep, _s in eps])]
            targets = [(p.get("name"), p.get("protocol", "TCP"), int(p["port"]), self._name(host, name, ns, "svc"))
                       for host, _ep, sl in eps for p in sl.get("ports") or [] if p.get("port") is not None]
            extra = [self._rr(self._name(host, name, ns, "svc"), T.A, ep["addresses"][0]) for host, ep, _s in eps]
        named = [t for t in targets if t[0]]
        for _n, _p, port, srv_target in named:
            srv.append(f"0 {max(1, 100 // len(named))} {port} {srv_target}")
        if srv:
            records[T.SRV] = [self._rr(qname, T.SRV, *srv), *(extra or records.get(T.A, []))]
        return records

    def _port_srv(self, svc: Obj, port: str, proto: str, qname: dns.name.Name) -> dict[int, list[dns.rrset.RRset]]:
        """Records of ``_<port>._<proto>.<svc>.<ns>.svc``: SRV + the targets' A records."""
        md, spec = svc["metadata"], svc.get("spec") or {}
        ns, name = md.get("namespace", ""), md["name"]
        want = (port.removeprefix("_"), proto.removeprefix("_"))
        if _service_ips(svc):
            ports = [int(p["port"]) for p in spec.get("ports") or []
                     if (str(p.get("name", "")).lower(), str(p.get("protocol", "TCP")).lower()) == want]
            if not ports:
                return {}
            target = self._svc_name(name, ns)
            a = [self._rr(target, T.A, *ips)] if (ips := [i for i in _service_ips(svc) if _ipv4(i)]) else []
            return {T.SRV: [self._rr(qname, T.SRV, *[f"0 100 {p} {target}" for p in ports]), *a]}
        rows, extra = [], []
        eps = self._ready_endpoints(ns, name)
        for host, ep, sl in eps:
            for p in sl.get("ports") or []:
                if (str(p.get("name", "")).lower(), str(p.get("protocol", "TCP")).lower()) == want and p.get("port"):
                    target = self._name(host, name, ns, "svc")
                    rows.append((int(p["port"]), target))
                    extra.append(self._rr(target, T.A, ep["addresses"][0]))
        if not rows:
            return {}
        return {T.SRV: [self._rr(qname, T.SRV, *[f"0 {max(1, 100 // len(rows))} {p} {t}" for p, t in rows]),
                        *extra]}

    def _records(self, labels: list[str], qname: dns.name.Name) -> dict[int, list[dns.rrset.RRset]] | None:
        """Records at a name inside the zone ({} = the name exists without data), None = no such name."""
        if not labels:
            return {T.SOA: [self.soa()], T.NS: [self._rr(self.origin, T.NS, f"ns.dns.{self.origin}")]}
        if labels == ["dns-version"]:
            return {T.TXT: [self._rr(qname, T.TXT, f'"{DNS_SCHEMA_VERSION}"')]}
        kind, rest = labels[-1], labels[:-1]
        if kind == "pod" and len(rest) == 2:
            ip = _ipv4(rest[0].replace("-", "."))
            return {T.A: [self._rr(qname, T.A, ip)]} if ip else None
        if kind == "pod" and len(rest) <= 1:
            return {}
        if kind != "svc":
            return None
        if not rest:
            return {}
        ns = rest[-1]
        if len(rest) == 1:
            return {} if self.services.list(ns) else None
        svc = self.services.get(f"{ns}/{rest[-2]}")
        if svc is None:
            return None
        if len(rest) == 2:
            return self._service_records(svc, qname)
        if len(rest) == 3 and rest[0].startswith("_"):
            return {}  # _proto.<svc>.<ns>.svc: an empty non-terminal
        if len(rest) == 3 and not _service_ips(svc):
            for host, ep, _sl in self._ready_endpoints(ns, rest[1]):
                if host == rest[0]:
                    return {T.A: [self._rr(qname, T.A, ep["addresses"][0])]}
            return None
        if len(rest) == 4 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._port_srv(svc, rest[0], rest[1], qname) or None
        return None

    def _reverse(self, qname: dns.name.Name) -> list[str]:
        labels = [lb.decode() for lb in qname.relativize(REVERSE).labels]
        ip = _ipv4(".".join(reversed(labels))) if len(labels) == 4 else None
        if ip is None:
            return []
        names = {str(self._svc_name(s["metadata"]["name"], s["metadata"].get("namespace", "")))
                 for s in _indexed(self.services, "ip", ip)}
        for sl in _indexed(self.slices, "ip", ip):
            owner = _slice_service(sl)
            if not owner:
                continue
            ns, svc = owner[0].split("/", 1)
            host = next((ep.get("hostname") for ep in sl.get("endpoints") or []
                         if ip in (ep.get("addresses") or []) and ep.get("hostname")), None) or _dashed(ip)
            names.add(str(self._name(host.lower(), svc, ns, "svc")))
        return sorted(names)

    def lookup(self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> Answer:
        """Answer ``qname``/``qtype`` from the caches, or mark it for forwarding."""
        qname = qname.canonicalize()
        if qname.is_subdomain(REVERSE):
            ptrs = self._reverse(qname) if qtype in (T.PTR, T.ANY) else []
            return Answer(answer=[self._rr(qname, T.PTR, *ptrs)]) if ptrs else Answer(forward=True)
        if not qname.is_subdomain(self.origin):
            return Answer(forward=True)
        labels = [lb.decode().lower() for lb in qname.relativize(self.origin).labels]
        records = self._records(labels, qname)
        if records is None:
            return Answer(rcode=dns.rcode.NXDOMAIN, authority=[self.soa()])
        types = [t for t in records if t != T.SRV] if qtype == T.ANY else [qtype]
        found = [rr for t in types for rr in records.get(t, [])[:1]]
        if found:
            extra = [rr for t in types for rr in records.get(t, [])[1:]]
            return Answer(answer=found, additional=extra)
        if T.CNAME in records:
            cname = records[T.CNAME][0]
            return Answer(answer=[cname], chase=dns.name.from_text(str(cname[0].target)))
        return Answer(authority=[self.soa()])
