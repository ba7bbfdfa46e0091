"""A lean HTTP/1.1 client over TLS for the benchmarks: one keep-alive connection per ``Conn``.

aiohttp's client costs some 250-350 µs of CPU per request on the bench machine, more than the API
server spends on a GET, so with client and server on the same two cores it measured itself. This
client does what the benchmark needs and nothing else: it writes a request built from bytes, reads
the whole response (``Content-Length`` or chunked; a streamed response is split into lines) and
returns the status and body. The connection is real HTTPS with the admin client certificate, the
same TLS settings as any Kubernetes client, and kept alive across requests (TLS handshake once).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, cast


class HTTPError(Exception):
    pass


class Conn(asyncio.Protocol):
    """One keep-alive connection; one request at a time (no pipelining)."""

    def __init__(self, host: str) -> None:
        self.host = host.encode()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.on_line: Callable[[bytes], None] | None = None  # streaming mode (watch)
        self.on_headers: Callable[[int], None] | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._status = 0
        self._length = -1  # body length; -2 while reading chunks; -1 while reading headers
        self._chunks = bytearray()

    @classmethod
    async def open(cls, host: str, port: int, ctx: ssl.SSLContext) -> Conn:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(lambda: cls(host), host, port, ssl=ctx)
        return proto

    # --- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's SSL transport is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HTTPError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            self._parse()
        except HTTPError as e:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(e)
            assert self.transport is not None
            self.transport.close()

    # --- requests -------------------------------------------------------------------------------
    def request_bytes(self, method: str, path: str, body: bytes | None = None,
                      content_type: str = "application/json") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: ".encode() + self.host + \
            b"\r\nUser-Agent: kyb-bench/1.0\r\nAccept: application/json\r\n"
        if body is None:
            return head + b"\r\n"
        return head + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body

    async def request(self, method: str, path: str, body: bytes | None = None,
                      content_type: str = "application/json") -> tuple[int, bytes]:
        """Send one request; return (status, whole body)."""
        assert self.transport is not None and self.waiter is None
        if self.closed.done():
            raise HTTPError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(self.request_bytes(method, path, body, content_type))
        try:
            return await self.waiter
        finally:
            self.waiter = None

    async def stream(self, path: str, on_line: Callable[[bytes], None],
                     on_headers: Callable[[int], None] | None = None) -> int:
        """GET a streamed (chunked) response, calling ``on_headers(status)`` once and ``on_line``
        per line until it ends or the connection closes; returns the status."""
        assert self.transport is not None
        self.on_line, self.on_headers = on_line, on_headers
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(self.request_bytes("GET", path))
        try:
            status, _ = await self.waiter
            return status
        finally:
            self.waiter = None
            self.on_line = self.on_headers = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # --- response parsing -----------------------------------------------------------------------
    def _parse(self) -> None:
        buf = self.buf
        while True:
            if self._length == -1:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end])
                del buf[:end + 4]
                if not head.startswith(b"HTTP/1.1 "):
                    raise HTTPError(f"bad status line: {head[:40]!r}")
                self._status = int(head[9:12])
                self._length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    lname = name.lower()
                    if lname == b"content-length":
                        self._length = int(value)
                    elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                        self._length = -2
                if self.on_headers is not None:
                    self.on_headers(self._status)
            if self._length >= 0:
                if len(buf) < self._length:
                    return
                body = bytes(buf[:self._length])
                del buf[:self._length]
                self._length = -1
                self._done(body)
                continue
            # chunked: size line, data, CRLF; a zero-size chunk (and its trailer CRLF) ends it
            nl = buf.find(b"\r\n")
            if nl < 0:
                return
            size = int(bytes(buf[:nl]).split(b";", 1)[0], 16)
            if len(buf) < nl + 2 + size + 2:
                return
            data = bytes(buf[nl + 2:nl + 2 + size])
            del buf[:nl + 2 + size + 2]
            if size == 0:
                self._length = -1
                body = bytes(self._chunks)
                self._chunks.clear()
                self._done(body)
                continue
            if self.on_line is not None:
                self._chunks += data
                while (i := self._chunks.find(b"\n")) >= 0:
                    line = bytes(self._chunks[:i])
                    del self._chunks[:i + 1]
                    self.on_line(line)
            else:
                self._chunks += data

    def _done(self, body: bytes) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self._status, body))


async def check(conn: Conn, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json", ok: tuple[int, ...] = (200, 201)) -> bytes:
    """A request whose status must be in ``ok``; returns the body."""
    status, out = await conn.request(method, path, body, content_type)
    if status not in ok:
        raise HTTPError(f"{method} {path}: {status} {out[:300]!r}")
    return out


def json_lines(on_obj: Callable[[Any], None]) -> Callable[[bytes], None]:
    import orjson

    def on_line(line: bytes) -> None:
        if line.strip():
            on_obj(orjson.loads(line))

    return on_line
