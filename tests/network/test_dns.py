"""Cluster DNS answers, asked with dnspython over UDP and TCP on loopback, fed by fake informers.

Names outside the zone go to a second tiny DNS server on loopback (the fake upstream), so no
query ever leaves the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from kybernetes.client.rest import ENDPOINTS, ENDPOINTSLICES, SERVICES
from kybernetes.network.dns import forward, kube_dns_endpoint_slice
from kybernetes.network.dns.forward import Forwarder
from kybernetes.network.dns.records import ClusterZone
from kybernetes.network.dns.server import DNSServer
from tests.controllers.fakes import FakeInformer
from tests.network.builders import endpoint, endpoint_slice, service
from tests.network.netlab import free_port

HOST = "127.0.0.1"
T = dns.rdatatype


class FakeUpstream(asyncio.DatagramProtocol):
    """Answers A queries for example.org. / alias.example.org.; ignores ``silent.test.``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.seen: list[str] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = dns.message.from_wire(data)
        name = str(q.question[0].name)
        self.seen.append(name)
        if name == "silent.test.":
            return
        resp = dns.message.make_response(q)
        if name in ("example.org.", "alias.example.org.") and q.question[0].rdtype == T.A:
            resp.answer.append(dns.rrset.from_text(name, 300, "IN", "A", "192.0.2.1"))
        else:
            resp.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(resp.to_wire(), addr)  # type: ignore[attr-defined]


class Env:
    def __init__(self) -> None:
        self.services = FakeInformer(SERVICES)
        self.slices = FakeInformer(ENDPOINTSLICES)
        self.endpoints = FakeInformer(ENDPOINTS)
        self.port = 0
        self.upstream: FakeUpstream

    async def query(self, name: str, rdtype: str = "A", tcp: bool = False, payload: int | None = None
                    ) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype, use_edns=payload is not None, payload=payload or 1232)
        if tcp:
            return await dns.asyncquery.tcp(q, HOST, timeout=3, port=self.port)
        return await dns.asyncquery.udp(q, HOST, timeout=3, port=self.port)


def texts(msg: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(f"{rr.name} {rr.ttl} {dns.rdatatype.to_text(rr.rdtype)} {rd}"
                  for rr in getattr(msg, section) for rd in rr)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    e.services.add(service("web", cluster_ip="10.43.0.20", ports=[("http", 80, "TCP"), ("", 8443, "TCP")]))
    e.slices.add(endpoint_slice("web", [endpoint("10.42.0.5")]))
    e.services.add(service("db", cluster_ip="None", ports=[("pg", 5432, "TCP")]))
    e.slices.add(endpoint_slice("db", [endpoint("10.42.0.8", hostname="db-0"), endpoint("10.42.0.9", hostname="db-1"),
                                       endpoint("10.42.0.10", ready=False, hostname="db-2"), endpoint("10.42.0.11")],
                                ports=[("pg", 5432, "TCP")]))
    e.services.add(service("ext", type_="ExternalName", external_name="alias.example.org"))
    e.services.add(service("kube-dns", ns="kube-system", cluster_ip="10.43.0.10"))
    e.services.add(service("legacy", cluster_ip="None", selector={}))
    e.endpoints.add({"metadata": {"name": "legacy", "namespace": "default"},
                     "subsets": [{"addresses": [{"ip": "10.42.3.1", "hostname": "l-0"}], "ports": [{"port": 80}]}]})
    loop = asyncio.get_running_loop()
    up_port = free_port()
    transport, e.upstream = await loop.create_datagram_endpoint(FakeUpstream, local_addr=(HOST, up_port))
    e.port = free_port()
    server = DNSServer(ClusterZone(e.services, e.slices, endpoints=e.endpoints), Forwarder([(HOST, up_port)], timeout=0.5), HOST, e.port)
    await server.start()
    try:
        yield e
    finally:
        await server.close()
        transport.close()


async def test_service_a_record(env: Env) -> None:
    r = await env.query("web.default.svc.cluster.local")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert texts(r) == ["web.default.svc.cluster.local. 5 A 10.43.0.20"]
    r = await env.query("WEB.Default.svc.cluster.local", tcp=True)  # case-insensitive; the answer echoes the case
    assert texts(r) == ["WEB.Default.svc.cluster.local. 5 A 10.43.0.20"]


async def test_aaaa_of_ipv4_service_is_empty_noerror(env: Env) -> None:
    r = await env.query("web.default.svc.cluster.local", "AAAA")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert [rr.rdtype for rr in r.authority] == [T.SOA]


async def test_headless_service_returns_ready_endpoints(env: Env) -> None:
    r = await env.query("db.default.svc.cluster.local")
    assert texts(r) == [f"db.default.svc.cluster.local. 5 A 10.42.0.{i}" for i in (11, 8, 9)]


async def test_selectorless_service_with_manual_endpoints(env: Env) -> None:
    assert texts(await env.query("legacy.default.svc.cluster.local")) == ["legacy.default.svc.cluster.local. 5 A 10.42.3.1"]
    assert texts(await env.query("l-0.legacy.default.svc.cluster.local")) == [
        "l-0.legacy.default.svc.cluster.local. 5 A 10.42.3.1"]


async def test_statefulset_pod_names_and_dashed_ips(env: Env) -> None:
    assert texts(await env.query("db-1.db.default.svc.cluster.local")) == ["db-1.db.default.svc.cluster.local. 5 A 10.42.0.9"]
    assert texts(await env.query("10-42-0-11.db.default.svc.cluster.local")) == [
        "10-42-0-11.db.default.svc.cluster.local. 5 A 10.42.0.11"]
    r = await env.query("db-2.db.default.svc.cluster.local")  # not ready
    assert r.rcode() == dns.rcode.NXDOMAIN


async def test_srv_for_named_ports(env: Env) -> None:
    r = await env.query("_http._tcp.web.default.svc.cluster.local", "SRV")
    assert texts(r) == ["_http._tcp.web.default.svc.cluster.local. 5 SRV 0 100 80 web.default.svc.cluster.local."]
    assert texts(r, "additional") == ["web.default.svc.cluster.local. 5 A 10.43.0.20"]
    r = await env.query("_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert texts(r) == [f"_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 33 5432 {h}.db.default.svc.cluster.local."
                        for h in ("10-42-0-11", "db-0", "db-1")]
    assert texts(r, "additional") == ["10-42-0-11.db.default.svc.cluster.local. 5 A 10.42.0.11",
                                      "db-0.db.default.svc.cluster.local. 5 A 10.42.0.8",
                                      "db-1.db.default.svc.cluster.local. 5 A 10.42.0.9"]
    r = await env.query("_nope._tcp.web.default.svc.cluster.local", "SRV")
    assert r.rcode() == dns.rcode.NXDOMAIN
    r = await env.query("web.default.svc.cluster.local", "SRV")  # every named port of the service
    assert texts(r) == ["web.default.svc.cluster.local. 5 SRV 0 100 80 web.default.svc.cluster.local."]


async def test_ptr_records(env: Env) -> None:
    assert texts(await env.query("20.0.43.10.in-addr.arpa", "PTR")) == [
        "20.0.43.10.in-addr.arpa. 5 PTR web.default.svc.cluster.local."]
    assert texts(await env.query("8.0.42.10.in-addr.arpa", "PTR")) == [
        "8.0.42.10.in-addr.arpa. 5 PTR db-0.db.default.svc.cluster.local."]
    r = await env.query("1.2.0.192.in-addr.arpa", "PTR")  # not ours: forwarded, upstream says NXDOMAIN
    assert r.rcode() == dns.rcode.NXDOMAIN and "1.2.0.192.in-addr.arpa." in env.upstream.seen


async def test_externalname_is_a_cname_chased_upstream(env: Env) -> None:
    r = await env.query("ext.default.svc.cluster.local")
    assert texts(r) == ["alias.example.org. 300 A 192.0.2.1", "ext.default.svc.cluster.local. 5 CNAME alias.example.org."]
    r = await env.query("ext.default.svc.cluster.local", "CNAME")
    assert texts(r) == ["ext.default.svc.cluster.local. 5 CNAME alias.example.org."]


async def test_unknown_names_in_zone_are_nxdomain_with_soa(env: Env) -> None:
    for name in ("nope.default.svc.cluster.local", "web.nons.svc.cluster.local", "foo.cluster.local",
                 "x.y.web.default.svc.cluster.local"):
        r = await env.query(name)
        assert r.rcode() == dns.rcode.NXDOMAIN, name
        assert texts(r, "authority")[0].startswith(
            "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local."), name
    r = await env.query("default.svc.cluster.local")  # an existing namespace: empty, not NXDOMAIN
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []


async def test_pod_and_version_records(env: Env) -> None:
    assert texts(await env.query("10-42-0-99.default.pod.cluster.local")) == [
        "10-42-0-99.default.pod.cluster.local. 5 A 10.42.0.99"]
    assert texts(await env.query("dns-version.cluster.local", "TXT")) == ['dns-version.cluster.local. 5 TXT "1.1.0"']


async def test_other_names_forwarded_and_servfail_without_answer(env: Env) -> None:
    r = await env.query("example.org")
    assert texts(r) == ["example.org. 300 A 192.0.2.1"] and r.flags & dns.flags.RA
    assert texts(await env.query("example.org", tcp=False)) == ["example.org. 300 A 192.0.2.1"]
    r = await env.query("silent.test")  # upstream times out
    assert r.rcode() == dns.rcode.SERVFAIL


async def test_large_udp_answer_is_truncated_tcp_is_not(env: Env) -> None:
    env.services.add(service("big", cluster_ip="None"))
    env.slices.add(endpoint_slice("big", [endpoint(f"10.42.1.{i}") for i in range(1, 101)]))
    r = await env.query("big.default.svc.cluster.local")
    assert r.flags & dns.flags.TC and r.answer == []
    r = await env.query("big.default.svc.cluster.local", tcp=True)
    assert len(r.answer[0]) == 100
    r = await env.query("big.default.svc.cluster.local", payload=4096)  # EDNS: fits
    assert len(r.answer[0]) == 100


async def test_malformed_query_gets_formerr() -> None:
    zone = ClusterZone(FakeInformer(SERVICES), FakeInformer(ENDPOINTSLICES))
    server = DNSServer(zone, Forwarder([]))
    reply = await server.answer(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff")
    assert reply is not None and reply[:2] == b"\x12\x34" and reply[3] & 0x0F == dns.rcode.FORMERR
    assert await server.answer(b"\x01") is None


def test_upstreams_from_resolv_conf_exclude_self(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions ndots:5\n")
    ups = forward.resolv_conf_upstreams(str(conf))
    assert ups == [("127.0.0.53", 53), ("192.0.2.53", 53)]
    assert forward.without_self(ups, "127.0.0.53", 53) == [("192.0.2.53", 53)]
    assert forward.without_self(ups, "0.0.0.0", 53) == [("192.0.2.53", 53)]
    assert forward.without_self(ups, "127.0.0.53", 5353) == ups
    assert forward.parse_upstream("127.0.0.2:5353") == ("127.0.0.2", 5353)
    assert forward.resolv_conf_upstreams(str(tmp_path / "missing")) == []


def test_kube_dns_endpoint_slice() -> None:
    sl = kube_dns_endpoint_slice(["10.42.0.1"], 5353, "node-a")
    md = sl["metadata"]
    assert (md["namespace"], md["labels"]["kubernetes.io/service-name"]) == ("kube-system", "kube-dns")
    # not the EndpointSlice controller's: it leaves slices of other managers alone
    assert md["labels"]["endpointslice.kubernetes.io/managed-by"] != "endpointslice-controller.k8s.io"
    assert [(p["name"], p["port"], p["protocol"]) for p in sl["ports"]] == [("dns", 5353, "UDP"),
                                                                         ("dns-tcp", 5353, "TCP")]
    assert sl["endpoints"] == [{"addresses": ["10.42.0.1"], "nodeName": "node-a",
                                "conditions": {"ready": True, "serving": True, "terminating": False}}]
