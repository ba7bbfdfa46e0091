"""The cluster DNS server: UDP and TCP on one address, messages parsed and built with dnspython.

Each query is answered from the ``ClusterZone`` (authoritative, TTL 5 s) or handed to the
``Forwarder``; CNAMEs (ExternalName Services) are followed, inside the zone or upstream. UDP
answers respect the client's size (512 bytes, or its EDNS payload) and are truncated with TC set
when too big; TCP connections carry any number of length-prefixed queries until idle.
``run_dns`` wires informers, zone, forwarder and server for a composition root.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset

from kybernetes.client.informer import Informer
from kybernetes.network._informers import until_synced
from kybernetes.network.dns.forward import (
    Forwarder,
    Upstream,
    parse_upstream,
    resolv_conf_upstreams,
    without_self,
)
from kybernetes.network.dns.records import Answer, ClusterZone

log = logging.getLogger(__name__)

IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # the constant is only exported from Python 3.12
MAX_CNAME_HOPS = 8
MAX_INFLIGHT = 512
TCP_IDLE = 10.0


def _merge(msg: dns.message.Message, section: list[dns.rrset.RRset], rrsets: list[dns.rrset.RRset]) -> None:
    for rr in rrsets:
        if not any(have.name == rr.name and have.rdtype == rr.rdtype for have in section):
            section.append(rr)


def _bound_socket(kind: socket.SocketKind, host: str, port: int, freebind: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if freebind:
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class DNSServer:
    """Answers DNS queries on ``host:port`` over UDP and TCP. With ``freebind`` the sockets bind
    even while no interface has ``host`` yet (IP_FREEBIND), e.g. a pod bridge before its first pod."""

    def __init__(self, zone: ClusterZone, forwarder: Forwarder, host: str = "127.0.0.1", port: int = 53,
                 freebind: bool = False) -> None:
        self.zone = zone
        self.forwarder = forwarder
        self.host = host
        self.port = port
        self.freebind = freebind
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        udp = _bound_socket(socket.SOCK_DGRAM, self.host, self.port, self.freebind)
        self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=udp)
        tcp = _bound_socket(socket.SOCK_STREAM, self.host, self.port, self.freebind)
        try:
            self._tcp = await asyncio.start_server(self._serve_tcp, sock=tcp)
        except OSError:
            tcp.close()
            raise
        log.info("Cluster DNS listening on %s:%d (udp, tcp) for %s", self.host, self.port, self.zone.origin)

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def spawn(self, coro: Any) -> None:
        if len(self._tasks) >= MAX_INFLIGHT:
            coro.close()
            log.warning("dropping a DNS query: %d queries in flight", len(self._tasks))
            return
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("DNS query failed", exc_info=task.exception())

    # --- answering ----------------------------------------------------------------------------
    async def answer(self, wire: bytes, tcp: bool = False) -> bytes | None:
        """The reply to one wire-format query (None: not even a header to answer to)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            return None
        except dns.exception.DNSException:
            return _error_reply(wire, dns.rcode.FORMERR)
        limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
        if query.opcode() != dns.opcode.QUERY:
            return _to_wire(_reply(query, dns.rcode.NOTIMP), limit)
        if len(query.question) != 1:
            return _to_wire(_reply(query, dns.rcode.FORMERR), limit)
        q = query.question[0]
        found = self.zone.lookup(q.name, q.rdtype)
        if found.forward:
            upstream = await self.forwarder.resolve(query, tcp)
            if upstream is None:
                return _to_wire(_reply(query, dns.rcode.SERVFAIL), limit)
            upstream.flags |= dns.flags.RA
            return _to_wire(upstream, limit)
        resp = _reply(query, found.rcode)
        resp.flags |= dns.flags.AA
        self._fill(resp, found)
        if found.chase is not None and q.rdtype not in (dns.rdatatype.CNAME, dns.rdatatype.ANY):
            await self._chase(resp, found.chase, q.rdtype, tcp)
        return _to_wire(resp, limit)

    def _fill(self, resp: dns.message.Message, found: Answer) -> None:
        _merge(resp, resp.answer, found.answer)
        _merge(resp, resp.authority, found.authority)
        _merge(resp, resp.additional, found.additional)

    async def _chase(self, resp: dns.message.Message, target: Any, rdtype: dns.rdatatype.RdataType,
                     tcp: bool) -> None:
        """Follow a CNAME: in the zone, or upstream; the answer keeps the CNAME on failure."""
        for _ in range(MAX_CNAME_HOPS):
            found = self.zone.lookup(target, rdtype)
            if not found.forward:
                _merge(resp, resp.answer, found.answer)
                if found.chase is None:
                    return
                target = found.chase
                continue
            upstream = await self.forwarder.resolve(dns.message.make_query(target, rdtype), tcp)
            if upstream is not None:
                _merge(resp, resp.answer, list(upstream.answer))
            return

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    wire = await reader.readexactly(length)
                reply = await self.answer(wire, tcp=True)
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.spawn(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.answer(data)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


def _reply(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.RA
    resp.set_rcode(rcode)
    return resp


def _to_wire(msg: dns.message.Message, limit: int) -> bytes:
    try:
        return msg.to_wire(max_size=limit)
    except dns.exception.TooBig:
        msg.answer.clear()
        msg.authority.clear()
        msg.additional.clear()
        msg.flags |= dns.flags.TC
        return msg.to_wire(max_size=limit)


def _error_reply(wire: bytes, rcode: dns.rcode.Rcode) -> bytes:
    """A bare header echoing the query id (the question could not be parsed)."""
    (qid, flags) = struct.unpack("!HH", wire[:4])
    flags = (flags & 0x7900) | 0x8000 | 0x0080 | rcode  # QR, keep opcode + RD, RA
    return struct.pack("!HHHHHH", qid, flags, 0, 0, 0, 0)


def upstreams_for(upstreams: list[str] | None, listen_host: str, listen_port: int) -> list[Upstream]:
    """``upstreams`` ("ip" or "ip:port"), or the host's resolv.conf when None, without this server."""
    ups = [parse_upstream(u) for u in upstreams] if upstreams is not None else resolv_conf_upstreams()
    return without_self(ups, listen_host, listen_port)


def cluster_zone(client: Any, cluster_domain: str) -> tuple[ClusterZone, tuple[Informer, ...]]:
    """The zone and the (not yet started) informers it answers from."""
    from kybernetes.client.rest import ENDPOINTS, ENDPOINTSLICES, SERVICES

    services, slices, endpoints = (Informer(client, r) for r in (SERVICES, ENDPOINTSLICES, ENDPOINTS))
    return ClusterZone(services, slices, cluster_domain, endpoints), (services, slices, endpoints)


async def run_dns(client: Any, stop: asyncio.Event, listen_host: str, listen_port: int,
                  cluster_domain: str = "cluster.local", upstreams: list[str] | None = None) -> None:
    """Serve cluster DNS on ``listen_host:listen_port`` until ``stop`` is set.

    ``upstreams`` ("ip" or "ip:port") receive names outside the zone; None reads the host's
    /etc/resolv.conf (without this server itself); an empty list means SERVFAIL for them.
    """
    ups = upstreams_for(upstreams, listen_host, listen_port)
    zone, informers = cluster_zone(client, cluster_domain)
    server = DNSServer(zone, Forwarder(ups), listen_host, listen_port)
    log.info("Running cluster DNS for %s on %s:%d, upstreams %s", cluster_domain, listen_host, listen_port,
             ", ".join(f"{h}:{p}" for h, p in ups) or "none")
    for inf in informers:
        inf.start()
    try:
        if await until_synced(stop, *informers):
            await server.start()
            await stop.wait()
    finally:
        await server.close()
        await asyncio.gather(*(inf.stop() for inf in informers))
