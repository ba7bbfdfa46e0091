"""HTTP/1.1 connection upgrades as plain byte streams, on both ends of a proxy.

Role: exec, attach and port-forward switch protocols (WebSocket, SPDY/3.1) on an HTTP connection. The API
server passes such a connection on to the kubelet byte for byte, and the kubelet does the same towards the
runtime's stream server for SPDY clients, as Kubernetes' upgrade-aware proxy does. Three pieces:

- :func:`dial` sends an upgrade request on a new connection (TLS or not) and reads the response head; after
  ``101 Switching Protocols`` the connection is a :class:`ByteStream`, any other answer comes with its body.
- :func:`hijack` answers an aiohttp request with ``101`` and the given headers and hands back its connection
  as a :class:`ByteStream`. aiohttp only treats WebSocket upgrades as upgrades, so the request's HTTP parser
  is replaced before the client (which waits for the 101) sends anything else.
- :func:`splice` copies two streams into each other until one side ends, then closes both: over TLS there is
  no half-close, and the protocols carried here (WebSocket close frames, SPDY FIN flags) end themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from multidict import CIMultiDict

__all__ = ["ByteStream", "UpgradeResponse", "dial", "hijack", "splice"]

_CHUNK = 64 * 1024
_MAX_HEAD = 64 * 1024
_MAX_ERROR_BODY = 1 << 20


class ByteStream:
    """Both directions of one upgraded connection."""

    def __init__(self, reader: asyncio.StreamReader, write: Callable[[bytes], Awaitable[None]],
                 close: Callable[[], None]) -> None:
        self.reader = reader
        self._write = write
        self._close = close

    @classmethod
    def of(cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> ByteStream:
        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        return cls(reader, write, writer.close)

    async def read(self, n: int = _CHUNK) -> bytes:
        """Up to ``n`` bytes; ``b""`` once the peer is done."""
        return await self.reader.read(n)

    async def write(self, data: bytes) -> None:
        await self._write(data)

    def close(self) -> None:
        self._close()


@dataclass
class UpgradeResponse:
    """The head of the answer to an upgrade request. ``stream`` is set for ``101`` only; otherwise ``body``
    holds the error the server sent."""

    status: int
    headers: CIMultiDict[str]
    body: bytes = b""
    stream: ByteStream | None = None


async def dial(url: str, method: str, headers: Iterable[tuple[str, str]],
               ssl_context: ssl.SSLContext | None = None, handshake_s: float = 10.0) -> UpgradeResponse:
    """Send ``method url`` with ``headers`` (which should ask for an upgrade) and read the answer's head."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl_context if secure else None, limit=_MAX_HEAD), handshake_s)
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if method != "GET":
            lines.append("Content-Length: 0")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), handshake_s)
        status, resp_headers = _parse_head(head)
        if status == 101:
            return UpgradeResponse(status, resp_headers, stream=ByteStream.of(reader, writer))
        body = await asyncio.wait_for(_read_body(reader, resp_headers), handshake_s)
    except BaseException:
        writer.close()
        raise
    writer.close()
    return UpgradeResponse(status, resp_headers, body)


def _parse_head(head: bytes) -> tuple[int, CIMultiDict[str]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ConnectionError(f"malformed HTTP response: {status_line!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in header_lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.add(name.strip(), value.strip())
    return int(fields[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: CIMultiDict[str]) -> bytes:
    if "Content-Length" in headers:
        return await reader.readexactly(min(int(headers["Content-Length"]), _MAX_ERROR_BODY))
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = bytearray()
        while len(body) < _MAX_ERROR_BODY:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return bytes(body)
    return await reader.read(_MAX_ERROR_BODY)


class _Feeder:
    """Stands in for aiohttp's per-connection payload parser: everything the client sends after the
    upgrade goes into a StreamReader (which pauses the transport while it is full)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


async def hijack(request: web.Request,
                 headers: Iterable[tuple[str, str]]) -> tuple[ByteStream, web.StreamResponse]:
    """Answer ``request`` with ``101 Switching Protocols`` plus ``headers``; its connection becomes a stream.
    The handler returns the response once done with the stream."""
    resp = web.StreamResponse(status=101, reason="Switching Protocols")
    for name, value in headers:
        resp.headers.add(name, value)
    await resp.prepare(request)
    reader = asyncio.StreamReader(limit=_CHUNK * 4)
    if request.transport is not None:
        reader.set_transport(request.transport)
    request.protocol.set_parser(_Feeder(reader))  # type: ignore[arg-type]
    request.protocol.keep_alive(False)
    transport = request.transport

    def close() -> None:
        if transport is not None:
            transport.close()

    return ByteStream(reader, resp.write, close), resp


async def _copy(src: ByteStream, dst: ByteStream) -> None:
    while data := await src.read():
        await dst.write(data)


async def splice(a: ByteStream, b: ByteStream) -> None:
    """Copy ``a`` → ``b`` and ``b`` → ``a`` until either side ends or fails; then close both."""
    tasks = [asyncio.create_task(_copy(a, b)), asyncio.create_task(_copy(b, a))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError, ssl.SSLError):
                await t
        a.close()
        b.close()
