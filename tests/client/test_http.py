"""The client's HTTP/1.1 transport against a real aiohttp server on loopback (and a unix socket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kybernetes.client import http
from kybernetes.client.errors import NotFoundError
from kybernetes.client.rest import PODS, Client, ClientConfig


class Server:
    """A small API-like server that records which connection served each request."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_get("/api/v1/namespaces/default/pods/{name}", self.get_pod)
        app.router.add_post("/api/v1/namespaces/default/pods", self.create_pod)
        app.router.add_get("/api/v1/namespaces/default/pods", self.list_or_watch)
        app.router.add_get("/chunked", self.chunked)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/stall", self.stall)
        self.app = app

    def _seen(self, request: web.Request) -> None:
        self.connections.append(request.transport)
        self.headers.append(dict(request.headers))

    async def get_pod(self, request: web.Request) -> web.Response:
        self._seen(request)
        name = request.match_info["name"]
        if name == "missing":
            return web.json_response({"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                                      "message": 'pods "missing" not found'}, status=404)
        return web.json_response({"kind": "Pod", "metadata": {"name": name}})

    async def create_pod(self, request: web.Request) -> web.Response:
        self._seen(request)
        body = await request.read()
        self.bodies.append(body)
        return web.json_response(orjson.loads(body), status=201)

    async def list_or_watch(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        if request.query.get("watch") != "true":
            return web.json_response({"kind": "PodList", "items": [], "metadata": {"resourceVersion": "7"}})
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        events = [orjson.dumps({"type": "ADDED", "object": {"metadata": {"name": f"p{i}"}}}) + b"\n"
                  for i in range(3)]
        data = b"".join(events)
        # split mid-line and across chunks: lines must come out whole
        for part in (data[:10], data[10:50], data[50:]):
            await resp.write(part)
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b'{"a":')
        await resp.write(b'"' + b"x" * 100_000 + b'"}')
        await resp.write_eof()
        return resp

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.json_response({})

    async def stall(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b'{"type":"ADDED","object":{}}\n')
        await self.release.wait()
        return resp


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    srv = Server()
    runner = web.AppRunner(srv.app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield srv, f"http://127.0.0.1:{port}"
    finally:
        srv.release.set()
        await runner.cleanup()


async def test_requests_share_one_kept_alive_connection(server: tuple[Server, str]) -> None:
    srv, url = server
    c = Client(ClientConfig(url, False, token="t0ken", user_agent="test-agent"))
    try:
        assert (await c.get(PODS, "a", "default"))["metadata"]["name"] == "a"
        created = await c.create(PODS, {"metadata": {"name": "b"}}, "default")
        assert created == {"metadata": {"name": "b"}}
        assert (await c.list(PODS, "default", labelSelector="x=y"))["kind"] == "PodList"
    finally:
        await c.close()
    assert len(srv.connections) == 3 and len({id(t) for t in srv.connections}) == 1
    assert orjson.loads(srv.bodies[0]) == {"metadata": {"name": "b"}}
    h = srv.headers[1]
    assert h["Authorization"] == "Bearer t0ken" and h["User-Agent"] == "test-agent"
    assert h["Content-Type"] == "application/json" and h["Host"] == url.removeprefix("http://")


async def test_error_status_becomes_typed_error(server: tuple[Server, str]) -> None:
    _, url = server
    c = Client(ClientConfig(url, False))
    try:
        with pytest.raises(NotFoundError, match='pods "missing" not found'):
            await c.get(PODS, "missing", "default")
        assert (await c.get(PODS, "after-error", "default"))["metadata"]["name"] == "after-error"
    finally:
        await c.close()


async def test_undecoded_request_still_raises_errors(server: tuple[Server, str]) -> None:
    _, url = server
    c = Client(ClientConfig(url, False))
    try:
        path = PODS.path("default", "a")
        assert await c.request("GET", path, decode=False) == {}
        assert (await c.request("GET", path))["metadata"]["name"] == "a"
        with pytest.raises(NotFoundError, match='pods "missing" not found'):
            await c.request("GET", PODS.path("default", "missing"), decode=False)
    finally:
        await c.close()


async def test_chunked_response_read_whole(server: tuple[Server, str]) -> None:
    _, url = server
    c = Client(ClientConfig(url, False))
    try:
        assert (await c.request("GET", "/chunked"))["a"] == "x" * 100_000
    finally:
        await c.close()


async def test_watch_yields_whole_lines_until_the_stream_ends(server: tuple[Server, str]) -> None:
    _, url = server
    c = Client(ClientConfig(url, False))
    try:
        names = [ev["object"]["metadata"]["name"] async for ev in c.watch(PODS, "default", "7")]
        assert names == ["p0", "p1", "p2"]
        assert (await c.get(PODS, "next", "default"))["metadata"]["name"] == "next"
    finally:
        await c.close()


async def test_idle_connection_closed_by_the_server_is_replaced(server: tuple[Server, str]) -> None:
    srv, url = server
    c = Client(ClientConfig(url, False))
    try:
        await c.get(PODS, "a", "default")
        srv.connections[-1].close()  # the server ends the kept-alive connection
        await asyncio.sleep(0.05)
        assert (await c.get(PODS, "b", "default"))["metadata"]["name"] == "b"
        assert srv.connections[-1] is not srv.connections[0]
    finally:
        await c.close()


async def test_request_timeout(server: tuple[Server, str]) -> None:
    _, url = server
    c = Client(ClientConfig(url, False))
    try:
        with pytest.raises(TimeoutError):
            await c.request("GET", "/slow", request_timeout=0.2)
    finally:
        await c.close()


async def test_stream_read_timeout(server: tuple[Server, str]) -> None:
    _, url = server
    pool = http.Pool(http.Endpoint.from_url(url, False), {})
    got = []
    try:
        with pytest.raises(TimeoutError):
            async with pool.stream("/stall", read_timeout=0.3) as s:
                async for line in s:
                    got.append(line)
    finally:
        await pool.close()
    assert got == [b'{"type":"ADDED","object":{}}']


async def test_unix_socket_endpoint(server: tuple[Server, str], tmp_path: Path) -> None:
    srv, _ = server
    path = str(tmp_path / "api.sock")
    runner = web.AppRunner(srv.app, handle_signals=False)
    await runner.setup()
    await web.UnixSite(runner, path).start()
    c = Client(ClientConfig("https://127.0.0.1:6443", False, unix_socket=path))
    try:
        assert (await c.get(PODS, "u", "default"))["metadata"]["name"] == "u"
        assert srv.headers[-1]["Host"] == "127.0.0.1:6443"
    finally:
        await c.close()
        await runner.cleanup()


def test_request_target_quotes_only_what_needs_it() -> None:
    assert http.request_target("/api/v1/namespaces/default/pods/a-b.c") == "/api/v1/namespaces/default/pods/a-b.c"
    assert http.request_target("/apis/rbac/v1/clusterroles/system:x", "a=1") == "/apis/rbac/v1/clusterroles/system:x?a=1"
    assert http.request_target("/x/a b") == "/x/a%20b"
