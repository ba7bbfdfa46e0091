"""The kubelet's exec/attach WebSocket relay against a fake SPDY stream server: v5 stdin close becomes a
SPDY half-close, stdout/stderr/resize map to their streams, the runtime's Status ends the session on
channel 3 followed by a normal close."""

from __future__ import annotations

import json

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.kubelet import remotecommand
from kybernetes.streaming import channels
from tests.streaming.fakeserver import FakeStreamServer


async def _client(server: FakeStreamServer, opts: remotecommand.Options, url_name: str = "exec/t") -> TestClient:
    async def stream_url() -> str:
        return server.url(url_name)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await remotecommand.serve_websocket(request, stream_url, opts)

    app = web.Application()
    app.router.add_get("/exec", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def _collect(ws: aiohttp.ClientWebSocketResponse) -> dict[int, bytes]:
    got: dict[int, bytes] = {}
    async for msg in ws:
        assert msg.type == WSMsgType.BINARY
        got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
    return got


async def test_v5_stdin_close_and_exit_code() -> None:
    async with FakeStreamServer(exit_code=7) as server:
        client = await _client(server, remotecommand.Options(stdin=True, stdout=True, stderr=True, tty=False))
        try:
            async with client.ws_connect("/exec", protocols=(channels.V5,)) as ws:
                assert ws.protocol == channels.V5
                await ws.send_bytes(b"\x00abc")
                await ws.send_str("\x00def")  # the Python client's text frames
                await ws.send_bytes(b"\xff\x00")
                got = await _collect(ws)
            assert ws.close_code == 1000
        finally:
            await client.close()
    assert got[channels.STDOUT] == b"ABCDEF" and got[channels.STDERR] == b"abcdef"
    status = json.loads(got[channels.ERROR])
    assert status["reason"] == "NonZeroExitCode" and status["details"]["causes"][0]["message"] == "7"


async def test_tty_sends_resizes_and_no_stderr_stream() -> None:
    async with FakeStreamServer() as server:
        client = await _client(server, remotecommand.Options(stdin=True, stdout=True, stderr=True, tty=True))
        try:
            async with client.ws_connect("/exec", protocols=(channels.V5,)) as ws:
                await ws.send_bytes(b'\x04{"Width":100,"Height":30}\n')
                await ws.send_bytes(b"\x00x")
                await ws.send_bytes(b"\xff\x00")
                got = await _collect(ws)
        finally:
            await client.close()
    assert got[channels.STDOUT] == b"X" and channels.STDERR not in got
    assert json.loads(got[channels.ERROR]) == {"metadata": {}, "status": "Success"}
    assert b"".join(server.resizes) == b'{"Width":100,"Height":30}\n'


async def test_refusals_are_plain_http_errors() -> None:
    async with FakeStreamServer() as server:
        client = await _client(server, remotecommand.Options(stdin=False, stdout=True, stderr=False, tty=False),
                               "exec/refuse")
        try:
            with_protocol = await client.get("/exec", headers={
                "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": channels.V5})
            assert with_protocol.status == 500 and "no such token" in await with_protocol.text()
            unknown = await client.get("/exec", headers={
                "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "v9.channel.k8s.io"})
            assert unknown.status == 400
        finally:
            await client.close()
