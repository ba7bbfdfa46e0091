"""HTTP upgrades as byte streams: an aiohttp handler hijacks a SPDY upgrade (which aiohttp itself does not
treat as one) and splices it to a backend; a SPDY session runs through it unchanged; refusals keep their
status and body."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.streaming import spdyconn, upgrade
from tests.streaming.fakeserver import FakeStreamServer

_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version")


def _proxy_app(backend: FakeStreamServer) -> web.Application:
    async def proxy(request: web.Request) -> web.StreamResponse:
        headers = [(k, v) for k in _HEADERS for v in request.headers.getall(k, [])]
        resp = await upgrade.dial(backend.url(request.match_info["tail"]), request.method, headers)
        if resp.stream is None:
            return web.Response(status=resp.status, body=resp.body)
        client, response = await upgrade.hijack(request, [(k, v) for k in _HEADERS
                                                          for v in resp.headers.getall(k, [])])
        await upgrade.splice(client, resp.stream)
        return response

    app = web.Application()
    app.router.add_post("/{tail:.+}", proxy)
    return app


async def test_spdy_session_through_a_hijacking_proxy() -> None:
    async with FakeStreamServer(exit_code=2) as backend:
        server = TestServer(_proxy_app(backend))
        await server.start_server()
        try:
            conn = await spdyconn.dial(str(server.make_url("/exec/token")), ("v4.channel.k8s.io",))
            assert conn.protocol == "v4.channel.k8s.io"
            ids = {k: await conn.open_stream({"streamtype": k}) for k in ("error", "stdin", "stdout", "stderr")}
            await conn.write(ids["stdin"], b"through")
            await conn.close_write(ids["stdin"])
            got: dict[int, bytes] = {}
            async for ev in conn.events():
                if ev.kind == "data":
                    got[ev.stream_id] = got.get(ev.stream_id, b"") + ev.data
            conn.close()
        finally:
            await server.close()
    assert got[ids["stdout"]] == b"THROUGH" and got[ids["stderr"]] == b"through"
    assert json.loads(got[ids["error"]])["details"]["causes"][0]["message"] == "2"


async def test_refusal_passes_status_and_body() -> None:
    async with FakeStreamServer() as backend:
        server = TestServer(_proxy_app(backend))
        await server.start_server()
        try:
            resp = await upgrade.dial(str(server.make_url("/exec/refuse")), "POST",
                                      [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")])
        finally:
            await server.close()
    assert resp.status == 400 and resp.stream is None and resp.body == b"no such token"
