"""port-forward over WebSocket, relayed to the runtime's SPDY port-forward stream.

Role: :mod:`.streaming` finds the pod's sandbox and asks CRI for a stream URL; this module serves the
client's WebSocket in one of its two forms, both backed by a SPDY connection to that URL (containerd opens
the TCP connection inside the pod's network namespace for each ``error``/``data`` stream pair):

- ``SPDY/3.1+portforward.k8s.io`` (kubectl): the WebSocket's binary messages already carry a SPDY/3.1 byte
  stream with the ``portforward.k8s.io`` stream pairs, so the bytes go to the runtime unchanged, both ways.
- ``v4.channel.k8s.io`` (the Python client, ``?port=`` once per port): port number *i* is channel 2i (data)
  and 2i+1 (errors). Each port gets a stream pair with ``requestid`` *i*; the first message on each channel
  is the port number; the WebSocket closes once every forwarded connection has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from kybernetes.streaming import channels, spdyconn, upgrade

__all__ = ["SPDY_TUNNEL", "serve_websocket"]

log = logging.getLogger(__name__)

SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"
_RUNTIME_PROTOCOL = ("portforward.k8s.io",)
_PROTOCOLS = (SPDY_TUNNEL, channels.V4)


async def serve_websocket(request: web.Request, stream_url: Callable[[], Awaitable[str]],
                          ports: list[int]) -> web.StreamResponse:
    """Serve one port-forward WebSocket; ``stream_url`` asks the runtime for a fresh single-use URL."""
    ws = web.WebSocketResponse(protocols=_PROTOCOLS, max_msg_size=0)
    ready = ws.can_prepare(request)
    if not ready.ok or ready.protocol is None:
        return web.Response(status=400, text=f"unable to upgrade: supported protocols are {', '.join(_PROTOCOLS)}")
    if ready.protocol == channels.V4 and not ports:
        return web.Response(status=400, text="query parameter \"port\" is required")
    try:
        raw, _ = await spdyconn.dial_stream(await stream_url(), _RUNTIME_PROTOCOL)
    except spdyconn.UpgradeFailed as e:
        return web.Response(status=500, text=f"error forwarding ports: {e}")
    except OSError as e:
        return web.Response(status=500, text=f"error dialing the runtime's stream server: {e}")
    try:
        await ws.prepare(request)
        if ready.protocol == SPDY_TUNNEL:
            await _tunnel(ws, raw)
        else:
            await _channels(ws, spdyconn.SpdyClient(raw), ports)
    finally:
        raw.close()
    return ws


async def _tunnel(ws: web.WebSocketResponse, raw: upgrade.ByteStream) -> None:
    """The client's SPDY bytes go to the runtime as they are, and the runtime's come back the same way."""

    async def runtime_to_client() -> None:
        try:
            while data := await raw.read():
                await ws.send_bytes(data)
        finally:
            await ws.close()  # also ends the receive loop below

    down = asyncio.create_task(runtime_to_client())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await raw.write(msg.data)
    except (ConnectionError, OSError) as e:
        log.debug("port-forward tunnel ended: %s", e)
    finally:
        raw.close()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await down


async def _channels(ws: web.WebSocketResponse, conn: spdyconn.SpdyClient, ports: list[int]) -> None:
    data_ids: dict[int, int] = {}  # stream id → port index
    error_ids: dict[int, int] = {}
    for i, port in enumerate(ports):
        headers = {"streamtype": "error", "port": str(port), "requestid": str(i)}
        sid = await conn.open_stream(headers)
        await conn.close_write(sid)  # nothing is ever sent on an error stream
        error_ids[sid] = i
        data_ids[await conn.open_stream({**headers, "streamtype": "data"})] = i
    for i, port in enumerate(ports):
        await ws.send_bytes(channels.frame(2 * i, channels.port_prefix(port)))
        await ws.send_bytes(channels.frame(2 * i + 1, channels.port_prefix(port)))
    by_index = {i: sid for sid, i in data_ids.items()}
    open_data = set(data_ids)
    pending = set(data_ids) | set(error_ids)

    async def client_to_runtime() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = channels.split(msg.data)
            if channel % 2 == 0 and channel // 2 in by_index and payload:
                await conn.write(by_index[channel // 2], payload)
        conn.close()

    pump: asyncio.Task[None] | None = None
    try:
        async for ev in conn.events():
            if ev.kind == "reply":
                pending.discard(ev.stream_id)
                if not pending and pump is None:
                    pump = asyncio.create_task(client_to_runtime())
            elif ev.kind == "data" and ev.stream_id in data_ids:
                await ws.send_bytes(channels.frame(2 * data_ids[ev.stream_id], ev.data))
            elif ev.kind == "data" and ev.stream_id in error_ids:
                await ws.send_bytes(channels.frame(2 * error_ids[ev.stream_id] + 1, ev.data))
            elif ev.kind in ("end", "reset") and ev.stream_id in open_data:
                open_data.discard(ev.stream_id)
                if not open_data:
                    break
    except (ConnectionError, OSError) as e:
        log.debug("port-forward stream ended: %s", e)
    finally:
        await ws.close()
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await pump
