"""The kubelet's port-forward WebSocket in the Python client's channel form, against a fake SPDY stream
server: one error/data stream pair per port (``requestid`` = the port's index), the port number first on
both channels, data relayed on channel 2i, and the WebSocket closed once every forwarded connection ended."""

from __future__ import annotations

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.kubelet import portforward
from kybernetes.streaming import channels
from tests.streaming.fakeserver import FakeStreamServer


async def test_channels_per_port() -> None:
    async with FakeStreamServer() as server:
        async def stream_url() -> str:
            return server.url("portforward/token")

        async def handler(request: web.Request) -> web.StreamResponse:
            return await portforward.serve_websocket(request, stream_url, [80, 8080])

        app = web.Application()
        app.router.add_get("/pf", handler)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            async with client.ws_connect("/pf", protocols=("v5.channel.k8s.io", channels.V4)) as ws:
                assert ws.protocol == channels.V4
                first = [(await ws.receive_bytes()) for _ in range(4)]
                assert first == [b"\x00\x50\x00", b"\x01\x50\x00", b"\x02\x90\x1f", b"\x03\x90\x1f"]
                await ws.send_bytes(b"\x02hello")
                assert await ws.receive_bytes() == b"\x02HELLO"
                await ws.send_bytes(b"\x00bye")
                assert await ws.receive_bytes() == b"\x00BYE"
                await ws.send_bytes(b"\x02bye")
                assert await ws.receive_bytes() == b"\x02BYE"
                closing = await ws.receive()
                assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        finally:
            await client.close()
    pairs = [(h["streamtype"], h["port"], h["requestid"]) for h in server.stream_headers]
    assert pairs == [("error", "80", "0"), ("data", "80", "0"), ("error", "8080", "1"), ("data", "8080", "1")]


async def test_channel_protocol_needs_ports() -> None:
    async def stream_url() -> str:
        raise AssertionError("no stream without ports")

    async def handler(request: web.Request) -> web.StreamResponse:
        return await portforward.serve_websocket(request, stream_url, [])

    app = web.Application()
    app.router.add_get("/pf", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        resp = await client.get("/pf", headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": channels.V4})
        assert resp.status == 400 and "port" in await resp.text()
    finally:
        await client.close()
