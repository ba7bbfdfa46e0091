"""exec and attach over WebSocket: the client's channel protocol relayed to the runtime's SPDY stream.

Role: :mod:`.streaming` resolves the container and asks CRI for a stream URL; this module serves the
client's ``v5.channel.k8s.io`` / ``v4.channel.k8s.io`` WebSocket and translates it, channel by channel, to
a SPDY connection to that URL (containerd speaks ``v4.channel.k8s.io`` over SPDY, one SPDY stream per
channel). The translation is needed because containerd's own WebSocket endpoint has no way to close stdin,
while SPDY half-closes a stream: the v5 close signal ``[255, 0]`` becomes a FIN on the stdin stream.

Order of a session: dial the runtime (failures are still plain HTTP errors), accept the WebSocket, open the
streams the runtime expects (``error``, then ``stdin``/``stdout``/``stderr`` as requested, ``resize`` with a
TTY; it counts them), then copy stdin and resizes in, stdout and stderr out. When the runtime closes the
connection the collected ``error`` stream (a ``Status``: Success, or ``NonZeroExitCode`` with the code) goes
out on channel 3 and the WebSocket closes normally, which is what clients wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from kybernetes.streaming import channels, spdyconn

__all__ = ["Options", "serve_websocket"]

log = logging.getLogger(__name__)

_RUNTIME_PROTOCOL = (channels.V4,)
_STREAM_SETUP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Options:
    """Which standard streams the client asked for (``tty`` merges stderr into stdout)."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


async def serve_websocket(request: web.Request, stream_url: Callable[[], Awaitable[str]],
                          opts: Options) -> web.StreamResponse:
    """Serve one exec/attach WebSocket; ``stream_url`` asks the runtime for a fresh single-use URL."""
    ws = web.WebSocketResponse(protocols=channels.REMOTE_COMMAND_PROTOCOLS, max_msg_size=0)
    ready = ws.can_prepare(request)
    if not ready.ok or ready.protocol is None:
        return web.Response(status=400, text="unable to upgrade: no supported channel protocol "
                                             f"(supported: {', '.join(channels.REMOTE_COMMAND_PROTOCOLS)})")
    try:
        conn = await spdyconn.dial(await stream_url(), _RUNTIME_PROTOCOL)
    except spdyconn.UpgradeFailed as e:
        return web.Response(status=500, text=f"error attaching to the runtime's stream: {e}")
    except OSError as e:
        return web.Response(status=500, text=f"error dialing the runtime's stream server: {e}")
    try:
        await ws.prepare(request)
        await _Session(ws, conn, opts, ready.protocol == channels.V5).run()
    finally:
        conn.close()
    return ws


class _Session:
    def __init__(self, ws: web.WebSocketResponse, conn: spdyconn.SpdyClient, opts: Options, v5: bool) -> None:
        self.ws, self.conn, self.opts, self.v5 = ws, conn, opts, v5
        self.ids: dict[str, int] = {}
        self.status = bytearray()

    async def run(self) -> None:
        wanted = ["error"]
        wanted += ["stdin"] * self.opts.stdin + ["stdout"] * self.opts.stdout
        wanted += ["stderr"] * (self.opts.stderr and not self.opts.tty) + ["resize"] * self.opts.tty
        for kind in wanted:
            self.ids[kind] = await self.conn.open_stream({"streamtype": kind})
        out_channels = {self.ids.get("stdout"): channels.STDOUT, self.ids.get("stderr"): channels.STDERR}
        pending = set(self.ids.values())
        pump: asyncio.Task[None] | None = None
        failure = ""
        try:
            async with asyncio.timeout(_STREAM_SETUP_TIMEOUT) as setup:
                async for ev in self.conn.events():
                    if ev.kind == "reply":
                        pending.discard(ev.stream_id)
                        if not pending and pump is None:
                            setup.reschedule(None)
                            pump = asyncio.create_task(self._client_to_runtime())
                    elif ev.kind == "data" and ev.stream_id == self.ids["error"]:
                        self.status += ev.data
                    elif ev.kind == "data" and ev.stream_id in out_channels:
                        await self.ws.send_bytes(channels.frame(out_channels[ev.stream_id], ev.data))
        except TimeoutError:
            failure = "timed out waiting for the runtime to accept the streams"
        except (ConnectionError, OSError) as e:
            failure = f"lost the runtime's stream: {e}"
        if not self.ws.closed:
            if failure:
                status = channels.failure_status(failure)
            else:
                status = bytes(self.status) or channels.success_status()
            with contextlib.suppress(ConnectionError):
                await self.ws.send_bytes(channels.frame(channels.ERROR, status))
                await self.ws.close()
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _client_to_runtime(self) -> None:
        stdin, resize = self.ids.get("stdin"), self.ids.get("resize")
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT) or not msg.data:
                    continue
                channel, payload = channels.split(msg.data)
                if channel == channels.STDIN and stdin is not None and payload:
                    await self.conn.write(stdin, payload)
                elif channel == channels.RESIZE and resize is not None:
                    await self.conn.write(resize, payload)
                elif channel == channels.CLOSE and self.v5 and payload[:1] == bytes((channels.STDIN,)) \
                        and stdin is not None:
                    await self.conn.close_write(stdin)
        except (ConnectionError, OSError) as e:
            log.debug("exec stream to the runtime ended: %s", e)
        # the client went away: dropping the runtime connection ends the session
        self.conn.close()
