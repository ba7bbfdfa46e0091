"""Forwarding of names outside the cluster zone to upstream resolvers (CoreDNS's ``forward . /etc/resolv.conf``).

Upstreams come from the host's ``/etc/resolv.conf`` unless given, minus the server's own address
(forwarding to ourselves would loop). Each query tries the upstreams in order over UDP (TCP when
the client used TCP or the answer came back truncated), each with a timeout; when none answers
the server replies SERVFAIL.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message

log = logging.getLogger(__name__)

Upstream = tuple[str, int]


def parse_upstream(text: str) -> Upstream:
    """``1.2.3.4``, ``1.2.3.4:5353`` or ``[::1]:53`` → (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host.rstrip("]"), int(port or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


def resolv_conf_upstreams(path: str = "/etc/resolv.conf") -> list[Upstream]:
    """The ``nameserver`` entries of a resolv.conf (port 53); missing file → none."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                out.append((str(ipaddress.ip_address(parts[1].split("%")[0])), 53))
            except ValueError:
                continue
    return out


def without_self(upstreams: list[Upstream], listen_host: str, listen_port: int) -> list[Upstream]:
    """Drop upstreams that are this server (its address and port; any loopback/local one when it
    listens on every address)."""
    def is_self(host: str, port: int) -> bool:
        if port != listen_port:
            return False
        if listen_host in ("0.0.0.0", "::", ""):
            return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
        return host == listen_host
    return [(h, p) for h, p in upstreams if not is_self(h, p)]


class Forwarder:
    """Asks the upstreams, in order, until one answers."""

    def __init__(self, upstreams: list[Upstream], timeout: float = 2.0) -> None:
        self.upstreams = upstreams
        self.timeout = timeout

    async def resolve(self, query: dns.message.Message, tcp: bool = False) -> dns.message.Message | None:
        """The first upstream answer to ``query``, or None when every upstream failed."""
        for host, port in self.upstreams:
            try:
                if not tcp:
                    answer = await dns.asyncquery.udp(query, host, timeout=self.timeout, port=port,
                                                      ignore_unexpected=True)
                    if not answer.flags & dns.flags.TC:
                        return answer
                return await dns.asyncquery.tcp(query, host, timeout=self.timeout, port=port)
            except (dns.exception.DNSException, OSError, EOFError) as e:
                log.debug("upstream %s:%d failed for %s: %s", host, port, query.question, e)
        return None
