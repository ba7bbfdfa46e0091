"""A lean HTTP/1.1 front for the API server's ordinary requests.

aiohttp spends some 85 µs of CPU on each request before and after our handler (its request and
stream objects, routing, middlewares, the response writer) against about 30 µs for TLS and the
socket themselves; on a kubelet's status write or a scheduler's binding that is a fifth of the
request. Every connection therefore starts here: a request this module understands completely —
``GET``/``POST``/``PUT``/``PATCH``/``DELETE`` under ``/api/`` or ``/apis/``, HTTP/1.1, a
``Content-Length`` body or none, no upgrade, no watch, no streaming subresource — is parsed here and
handed to the API server's handler with a small request object; its ``web.Response`` is written
back directly. At the first request that is anything else the connection is given to aiohttp for
the rest of its life, from the first byte of that request: aiohttp then answers it (and rejects
what is malformed) exactly as it would have from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from kybernetes.apiserver import request as rq

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: subresources whose answers stream or upgrade (aiohttp serves them)
STREAMING = frozenset({"log", "exec", "attach", "portforward", "proxy"})
MAX_HEAD = 64 * 1024
KEEPALIVE_TIMEOUT = 75.0  # aiohttp's, which clients are used to
SHUTDOWN_GRACE = 5.0

Handler = Callable[["Request"], Awaitable[web.StreamResponse]]

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110 token)


class _Body:
    """``request.content`` for a body that has arrived whole."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, n: int = -1) -> bytes:
        data = self._data
        if n < 0 or n >= len(data):
            self._data = b""
            return data
        self._data = data[n:]
        return data[:n]


class Request:
    """The parts of an aiohttp request the API server's handlers read."""

    __slots__ = ("_query", "_state", "content", "content_length", "headers", "method", "path", "query_string",
                 "transport")

    def __init__(self, method: str, path: str, query_string: str, headers: CIMultiDictProxy[str],
                 body: bytes, transport: asyncio.BaseTransport) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.content = _Body(body)
        self.content_length = len(body) if "Content-Length" in headers else None
        self.transport = transport
        self._query: MultiDictProxy[str] | None = None
        self._state: dict[Any, Any] = {}

    @property
    def query(self) -> MultiDictProxy[str]:
        if self._query is None:
            self._query = MultiDictProxy(MultiDict(parse_qsl(self.query_string, keep_blank_values=True)))
        return self._query

    @property
    def path_qs(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def can_read_body(self) -> bool:
        return bool(self.content_length)

    def __getitem__(self, key: Any) -> Any:
        return self._state[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._state[key] = value


class _Date:
    """The ``Date`` header, formatted once a second."""

    second = 0
    value = b""

    @classmethod
    def now(cls) -> bytes:
        t = int(time.time())
        if t != cls.second:
            cls.second, cls.value = t, formatdate(t, usegmt=True).encode()
        return cls.value


def _parse_head(head: bytes) -> tuple[str, str, list[tuple[str, str]]] | None:
    """Request line and headers of a plain HTTP/1.1 request; None for anything else."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    if _CONTROL.search(text.replace("\r\n", "")):
        return None  # a bare CR or LF, NUL, other controls
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "HTTP/1.1" or parts[0] not in METHODS:
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            return None  # obsolete folding, a space before the colon, no colon: aiohttp decides
        headers.append((name, value.strip(" \t")))
    return parts[0], parts[1], headers


class FastLane(asyncio.Protocol):
    """One client connection: plain requests served here, the rest (and then all) by aiohttp."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False
        self.closed = False
        self.idle_since = time.monotonic()
        self._writable: asyncio.Future[None] | None = None
        self._reading_paused = False

    # --- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.front.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.front.connections.discard(self)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()
        elif len(self.buf) > rq.MAX_BODY + MAX_HEAD and not self._reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()  # a pipelining client waits for the current answer
            self._reading_paused = True

    def eof_received(self) -> bool | None:
        return None  # close once the current answer (if any) is written

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # --- requests -----------------------------------------------------------------------------------
    def _next(self) -> None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD or b"\n\n" in buf:  # too long, or lines ended by LF alone
                self._hand_over()
            return
        parsed = _parse_head(bytes(buf[:end]))
        if parsed is None:
            self._hand_over()
            return
        method, target, pairs = parsed
        headers = CIMultiDictProxy(CIMultiDict(pairs))
        path, _, query = target.partition("?")
        length = self._plain(path, query, headers)
        if length is None:
            self._hand_over()
            return
        start = end + 4
        if len(buf) < start + length:
            return  # the rest of the body is on its way
        body = bytes(buf[start:start + length])
        del buf[:start + length]
        assert self.transport is not None
        request = Request(method, path, query, headers, body, self.transport)
        self.busy = True
        task = asyncio.get_running_loop().create_task(self._serve(request))
        self.front.tasks.add(task)
        task.add_done_callback(self.front.tasks.discard)

    def _plain(self, path: str, query: str, headers: CIMultiDictProxy[str]) -> int | None:
        """The body length of a request served here; None for one aiohttp must take."""
        if not path.startswith(("/api/", "/apis/")) or "%" in path or "/." in path or "//" in path or "#" in query:
            return None  # escapes and dot segments: aiohttp normalises the path first
        if "Transfer-Encoding" in headers or "Upgrade" in headers or "Expect" in headers:
            return None
        if "watch" in query:  # a watch, or a selector that mentions one: either way aiohttp's
            return None
        ri = rq.parse_path(path)
        if ri is not None and ri.subresource.split("/", 1)[0] in STREAMING:
            return None
        lengths = headers.getall("Content-Length", [])
        if not lengths:
            return 0
        if len(lengths) > 1 or not lengths[0].isdigit():
            return None
        n = int(lengths[0])
        return n if n <= rq.MAX_BODY else None

    async def _serve(self, request: Request) -> None:
        try:
            try:
                resp = await self.front.handler(request)
            except web.HTTPException as e:
                resp = e
            keep_alive = (request.headers.get("Connection") or "").lower() != "close"
            await self._write(resp, keep_alive)
        except Exception:
            log.exception("%s %s failed", request.method, request.path_qs)
            if self.transport is not None:
                self.transport.close()
            return
        finally:
            self.busy = False
        self.idle_since = time.monotonic()
        if self.closed:
            return
        if self._reading_paused and self.transport is not None:
            self.transport.resume_reading()
            self._reading_paused = False
        if self.buf:
            self._next()

    async def _write(self, resp: web.StreamResponse, keep_alive: bool) -> None:
        if not isinstance(resp, web.Response) or resp.prepared:
            raise TypeError(f"a {type(resp).__name__} cannot be written by the fast lane")
        body = resp.body
        if body is None:
            body = b""
        if not isinstance(body, bytes | bytearray):
            raise TypeError(f"a {type(body).__name__} body cannot be written by the fast lane")
        status = resp.status
        head = [b"HTTP/1.1 %d %s\r\n" % (status, resp.reason.encode("latin-1"))]
        has_type = False
        for name, value in resp.headers.items():
            if "\r" in value or "\n" in value:  # as aiohttp's writer, which refuses them too
                raise ValueError(f"a line break in the value of the response header {name}")
            lname = name.lower()
            if lname in ("content-length", "connection", "transfer-encoding", "date"):
                continue
            has_type = has_type or lname == "content-type"
            head.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
        if not has_type:
            head.append(b"Content-Type: application/octet-stream\r\n")
        head.append(b"Date: %s\r\nContent-Length: %d\r\n" % (_Date.now(), len(body)))
        if not keep_alive:
            head.append(b"Connection: close\r\n")
        head.append(b"\r\n")
        if self._writable is not None:
            await self._writable
        if self.closed or self.transport is None:
            return
        self.transport.write(b"".join(head) + body)
        if not keep_alive:
            self.transport.close()
            self.closed = True

    def _hand_over(self) -> None:
        """From this request on, the connection is aiohttp's."""
        transport = self.transport
        assert transport is not None
        self.front.connections.discard(self)
        self.closed = True
        proto = self.front.aiohttp_protocol()
        transport.set_protocol(proto)
        proto.connection_made(transport)
        data, self.buf = bytes(self.buf), bytearray()
        if self._reading_paused:
            transport.resume_reading()
        if data:
            proto.data_received(data)

    def close_if_idle(self, now: float) -> None:
        if not self.busy and not self.buf and now - self.idle_since > KEEPALIVE_TIMEOUT and self.transport:
            self.transport.close()


class Front:
    """The fast lanes of one aiohttp runner's sites: serves ``handler``, hands the rest to aiohttp."""

    def __init__(self, runner: web.BaseRunner, handler: Handler) -> None:
        self.runner = runner
        self.handler = handler
        self.connections: set[FastLane] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.servers: list[asyncio.AbstractServer] = []
        self._sweeper: asyncio.Task[None] | None = None

    def aiohttp_protocol(self) -> asyncio.Protocol:
        server = self.runner.server
        assert server is not None, "the runner is set up before anything listens"
        return server()

    def protocol(self) -> FastLane:
        return FastLane(self)

    async def listen_tcp(self, host: str, port: int, ssl_context: Any, backlog: int = 1024) -> None:
        loop = asyncio.get_running_loop()
        self.servers.append(await loop.create_server(self.protocol, host, port, ssl=ssl_context, backlog=backlog,
                                                     reuse_address=True))
        self._start_sweeper()

    async def listen_unix(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        self.servers.append(await loop.create_unix_server(self.protocol, path))
        self._start_sweeper()

    def _start_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="fastlane-keepalive")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_TIMEOUT / 5)
            now = time.monotonic()
            for conn in list(self.connections):
                conn.close_if_idle(now)

    async def close(self) -> None:
        """Stop listening, let the requests in flight finish (a few seconds at most), close the rest."""
        for s in self.servers:
            s.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=SHUTDOWN_GRACE)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        for s in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), SHUTDOWN_GRACE)
