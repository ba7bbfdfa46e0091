"""HTTP/1.1 for the API client: a pool of keep-alive connections to one server (TLS or plain TCP,
or a unix socket), one request at a time on each, responses read whole (``Content-Length``,
chunked, or until close) or streamed as lines (watches).

It does what talking to an API server needs and no more, because it is on every component's hot
path: aiohttp's client spent some 200 µs of CPU per request, as much as the API server's own
handling of a small write. What it leaves out: redirects, proxies, compression (it never asks for
any), pipelining. Failures are ``ConnectionError``/``OSError`` and ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

CONNECT_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0  # below the idle timeouts of common servers (aiohttp, nginx 75 s; Go 90 s)
MAX_HEAD = 256 * 1024
STREAM_HIGH_WATER = 4 * 1024 * 1024  # buffered stream bytes before reading pauses

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~:@!$&'()*+,;=%-]*")


class ProtocolError(ConnectionError):
    """The server's bytes are not an HTTP/1.1 response we can read."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a pool connects: ``host``/``port`` (TLS when ``ssl`` is a context) or a unix socket."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    unix_path: str = ""

    @classmethod
    def from_url(cls, url: str, verify: ssl.SSLContext | bool, unix_path: str = "") -> Endpoint:
        u = urlsplit(url)
        secure = u.scheme == "https"
        ctx: ssl.SSLContext | None = None
        if secure and not unix_path:
            if isinstance(verify, ssl.SSLContext):
                ctx = verify
            else:
                ctx = ssl.create_default_context()
                if not verify:  # https with verification off, as ``ssl=False`` meant for aiohttp
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
        return cls(u.hostname or "localhost", u.port or (443 if secure else 80), ctx, unix_path)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls is not None else 80
        return host if self.port == default else f"{host}:{self.port}"


def request_target(path: str, query: str = "") -> str:
    """Percent-encode what a URL path may not carry as is (names are almost always plain)."""
    if not _PLAIN_PATH.fullmatch(path):
        path = quote(path, safe="/._~:@!$&'()*+,;=%-")
    return f"{path}?{query}" if query else path


class _Exchange:
    """One response being read off a connection: head, then body, as bytes arrive."""

    __slots__ = ("body", "buf", "conn", "done", "head", "headers", "keep_alive", "received", "remaining",
                 "state", "status", "streaming", "waiter")

    def __init__(self, conn: _Conn, streaming: bool) -> None:
        loop = asyncio.get_running_loop()
        self.conn = conn
        self.streaming = streaming
        self.head = loop.create_future()  # resolved when status and headers are in
        self.done = loop.create_future()  # resolved when the body is complete
        self.waiter: asyncio.Future[None] | None = None  # a stream reader waiting for bytes
        self.buf = b""
        self.body = bytearray()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.state = _HEAD
        self.remaining = 0
        self.keep_alive = True
        self.received = False

    # --- parsing --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self.received = True
        buf = self.buf + data if self.buf else data
        self.buf = b""
        try:
            rest = self._parse(buf)
        except (ValueError, IndexError) as e:
            self.fail(ProtocolError(f"malformed HTTP response: {e}"))
            self.conn.abort()
            return
        if rest:
            if self.state == _DONE:  # bytes after the response we asked for: the connection is unusable
                self.keep_alive = False
            else:
                self.buf = rest
        if self.streaming and self.body:
            self._wake()
            if len(self.body) > STREAM_HIGH_WATER:
                self.conn.pause()

    def _parse(self, buf: bytes) -> bytes:
        while buf:
            state = self.state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        raise ValueError("response head too large")
                    return buf
                self._head(buf[:end].decode("latin-1"))
                buf = buf[end + 4:]
            elif state == _LENGTH:
                take = buf[:self.remaining]
                self.body += take
                self.remaining -= len(take)
                buf = buf[len(take):]
                if not self.remaining:
                    self._finish()
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    return buf
                size = int(buf[:end].split(b";", 1)[0], 16)
                buf = buf[end + 2:]
                self.remaining = size
                self.state = _CHUNK_DATA if size else _TRAILER
            elif state == _CHUNK_DATA:
                take = buf[:self.remaining]
                self.body += take
                self.remaining -= len(take)
                buf = buf[len(take):]
                if not self.remaining:
                    self.state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) < 2:
                    return buf
                if buf[:2] != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                buf = buf[2:]
                self.state = _CHUNK_SIZE
            elif state == _TRAILER:
                end = buf.find(b"\r\n")
                if end < 0:
                    return buf
                buf = buf[end + 2:]
                if end == 0:
                    self._finish()
            elif state == _UNTIL_CLOSE:
                self.body += buf
                return b""
            else:
                return buf
        return b""

    def _head(self, head: str) -> None:
        lines = head.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1."):
            raise ValueError(f"bad status line {lines[0][:60]!r}")
        status = int(rest[:3])
        if 100 <= status < 200:  # an interim response: the real one follows
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.status, self.headers = status, headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = _CHUNK_SIZE
        elif "content-length" in headers:
            self.remaining = int(headers["content-length"])
            self.state = _LENGTH
        elif status in (204, 304):
            self.remaining = 0
            self.state = _LENGTH
        else:
            self.state = _UNTIL_CLOSE
            self.keep_alive = False
        if not self.head.done():
            self.head.set_result(None)
        if self.state == _LENGTH and not self.remaining:
            self._finish()

    def _finish(self) -> None:
        self.state = _DONE
        if not self.head.done():
            self.head.set_result(None)
        if not self.done.done():
            self.done.set_result(None)
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def fail(self, exc: BaseException) -> None:
        for fut in (self.head, self.done):
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # retrieved here: whoever awaits it still gets it
        self._wake()

    def expire(self, seconds: float) -> None:
        if not self.done.done():
            self.fail(TimeoutError(f"no complete response within {seconds:g}s"))
            self.conn.abort()

    def closed(self, exc: Exception | None) -> None:
        """The connection ended: the end of an until-close body, otherwise an error."""
        if self.state == _UNTIL_CLOSE:
            self._finish()
        elif self.state != _DONE:
            err = ConnectionResetError(f"connection closed before the response was complete ({exc})"
                                       if exc else "connection closed before the response was complete")
            self.fail(err)


class _Conn(asyncio.Protocol):
    __slots__ = ("closed", "exchange", "idle_since", "last_data", "paused", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.exchange: _Exchange | None = None
        self.closed = False
        self.paused = False
        self.idle_since = 0.0
        self.last_data = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's SSL transport is no subclass

    def data_received(self, data: bytes) -> None:
        ex = self.exchange
        if ex is None:  # nothing asked: a server closing or misbehaving; never reuse this one
            self.abort()
            return
        self.last_data = time.monotonic() if ex.streaming else 0.0
        ex.feed(data)

    def eof_received(self) -> bool:
        self.closed = True
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.exchange is not None:
            self.exchange.closed(exc)

    def start(self, data: bytes, streaming: bool = False) -> _Exchange:
        assert self.transport is not None
        ex = self.exchange = _Exchange(self, streaming)
        self.transport.write(data)
        return ex

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Pool:
    """Keep-alive connections to one endpoint, at most ``limit`` open at once (streams included)."""

    def __init__(self, endpoint: Endpoint, default_headers: dict[str, str], limit: int = 100) -> None:
        self.endpoint = endpoint
        fixed = {"Host": endpoint.host_header, **default_headers}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Conn] = []
        self._all: set[_Conn] = set()
        self._closed = False

    # --- connections ----------------------------------------------------------------------------
    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        ep = self.endpoint
        async with asyncio.timeout(CONNECT_TIMEOUT):
            if ep.unix_path:
                _, conn = await loop.create_unix_connection(_Conn, ep.unix_path)
            elif ep.tls is not None:
                _, conn = await loop.create_connection(_Conn, ep.host, ep.port, ssl=ep.tls, server_hostname=ep.host)
            else:
                _, conn = await loop.create_connection(_Conn, ep.host, ep.port)
        self._all.add(conn)
        return conn

    async def _acquire(self) -> tuple[_Conn, bool]:
        """A connection (reused when one is idle and fresh) and whether it was reused."""
        if self._closed:
            raise ConnectionError("client closed")
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_TIMEOUT:
                return conn, True
            self._discard(conn)
        return await self._connect(), False

    def _release(self, conn: _Conn, reusable: bool) -> None:
        conn.exchange = None
        if reusable and not conn.closed and not self._closed:
            conn.resume()
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            self._discard(conn)

    def _discard(self, conn: _Conn) -> None:
        conn.abort()
        self._all.discard(conn)

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._all):
            self._discard(conn)
        self._idle.clear()

    def _request_bytes(self, method: str, target: str, body: bytes | None, content_type: str) -> bytes:
        head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._fixed
        if body is None:
            return head + (b"Content-Length: 0\r\n\r\n" if method in ("POST", "PUT", "PATCH") else b"\r\n")
        return head + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body

    # --- requests -------------------------------------------------------------------------------
    async def request(self, method: str, target: str, body: bytes | None = None,
                      content_type: str = "application/json", request_timeout: float | None = 60) -> Response:
        """One request, the whole response. A GET that finds a kept-alive connection closed under
        it (nothing received) is sent once more on a new one."""
        data = self._request_bytes(method, target, body, content_type)
        async with self._slots:
            for attempt in range(2):
                conn, reused = await self._acquire()
                ex = conn.start(data)
                # a timer that fails the exchange: cheaper than a timeout context around the wait
                timer = None if request_timeout is None else \
                    asyncio.get_running_loop().call_later(request_timeout, ex.expire, request_timeout)
                try:
                    await ex.done
                except ConnectionError:
                    self._discard(conn)
                    if reused and not ex.received and method == "GET" and attempt == 0:
                        continue
                    raise
                except BaseException:
                    self._discard(conn)
                    raise
                finally:
                    if timer is not None:
                        timer.cancel()
                self._release(conn, ex.keep_alive)
                return Response(ex.status, ex.headers, bytes(ex.body))
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def stream(self, target: str, read_timeout: float | None = None) -> AsyncIterator[Stream]:
        """``GET target`` whose body is read as it arrives (``Stream``); the connection is kept
        for another request only if the body was read to its end."""
        data = self._request_bytes("GET", target, None, "")
        async with self._slots:
            conn, _ = await self._acquire()
            ex = conn.start(data, streaming=True)
            stream = Stream(ex, read_timeout)
            try:
                await stream.wait_head()
                yield stream
            except BaseException:
                self._discard(conn)
                raise
            finally:
                stream.close()
            self._release(conn, ex.keep_alive and ex.state == _DONE)


class Stream:
    """A streamed response: ``status``/``headers``, then its body as lines (``async for``) or
    whole (``read``). ``read_timeout``: the longest wait for more bytes before ``TimeoutError``."""

    def __init__(self, exchange: _Exchange, read_timeout: float | None) -> None:
        self._ex = exchange
        self._read_timeout = read_timeout
        self._lines: list[bytes] = []
        self._next = 0
        self._tail = b""
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out = False
        exchange.conn.last_data = time.monotonic()
        if read_timeout is not None:
            self._timer = asyncio.get_running_loop().call_later(read_timeout, self._check_idle)

    @property
    def status(self) -> int:
        return self._ex.status

    @property
    def headers(self) -> dict[str, str]:
        return self._ex.headers

    def _check_idle(self) -> None:
        assert self._read_timeout is not None
        idle = time.monotonic() - self._ex.conn.last_data
        if idle >= self._read_timeout:
            self._timed_out = True
            self._ex.fail(TimeoutError(f"no data for {self._read_timeout:.0f}s"))
            self._ex.conn.abort()
            return
        self._timer = asyncio.get_running_loop().call_later(self._read_timeout - idle, self._check_idle)

    async def wait_head(self) -> None:
        await self._ex.head

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _more(self) -> bool:
        """Wait until body bytes arrive or the body ends; False once nothing more will come."""
        ex = self._ex
        while not ex.body:
            if ex.done.done():
                if ex.done.exception() is not None:
                    raise cast(BaseException, ex.done.exception())
                return False
            ex.waiter = asyncio.get_running_loop().create_future()
            try:
                await ex.waiter
            finally:
                ex.waiter = None
        return True

    def _take(self) -> bytes:
        ex = self._ex
        data = bytes(ex.body)
        ex.body.clear()
        ex.conn.resume()
        return data

    async def read(self) -> bytes:
        parts = []
        while await self._more():
            parts.append(self._take())
        return b"".join(parts)

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> bytes:
        while True:
            if self._next < len(self._lines):
                line = self._lines[self._next]
                self._next += 1
                return line
            if not await self._more():
                if self._tail:
                    line, self._tail = self._tail, b""
                    return line
                raise StopAsyncIteration
            data = self._tail + self._take()
            *lines, self._tail = data.split(b"\n")
            self._lines, self._next = lines, 0
