"""HTTP helpers for the nginx tests: free loopback ports, tiny named backends, one-shot requests with a
chosen Host header and SNI, and polling with a deadline instead of sleeps.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    status: int
    body: bytes
    cert_cn: str = ""

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


async def request(port: int, host: str, path: str, *, tls: bool = False, sni: str | None = None,
                  body: bytes | None = None, deadline: float = 5.0) -> Response:
    """GET (or POST ``body``) ``path`` on 127.0.0.1:``port`` with ``Host: host`` on a fresh connection
    (TLS: SNI ``sni or host``)."""
    ctx: ssl.SSLContext | None = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    async with asyncio.timeout(deadline):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                       server_hostname=(sni or host) if tls else None)
        try:
            cn = ""
            if tls:
                der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
                attrs = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                cn = str(attrs[0].value) if attrs else ""
            method, length = ("GET", "") if body is None else ("POST", f"Content-Length: {len(body)}\r\n")
            writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{length}"
                         "User-Agent: kyb-ingress-test\r\n\r\n".encode() + (body or b""))
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        raise ConnectionError(f"no HTTP response: {raw[:100]!r}")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return Response(status, body, cn)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


async def eventually(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], deadline: float = 15.0,
                     what: str = "condition") -> T:
    """Call ``probe`` until ``check`` accepts its result (errors count as not yet), or fail at the deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    last: object = None
    while True:
        try:
            last = await probe()
            if check(last):  # type: ignore[arg-type]
                return last  # type: ignore[return-value]
        except (OSError, TimeoutError, ConnectionError, ValueError) as e:
            last = e
        if loop.time() > end:
            raise AssertionError(f"{what} not reached in {deadline}s; last: {last!r}")
        await asyncio.sleep(0.02)


class Backends:
    """aiohttp servers on 127.0.0.1, each answering JSON naming itself, the path and the proxy headers."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self._runners: list[web.AppRunner] = []

    async def start(self, name: str) -> int:
        async def handle(request: web.Request) -> web.Response:
            h = request.headers
            received = len(await request.read())
            return web.json_response({"backend": name, "path": request.path_qs, "host": h.get("Host"),
                                      "received": received,
                                      "xff": h.get("X-Forwarded-For"), "xrealip": h.get("X-Real-IP"),
                                      "proto": h.get("X-Forwarded-Proto")})

        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self.ports[name] = port
        return port

    async def stop(self) -> None:
        for r in self._runners:
            await r.cleanup()
