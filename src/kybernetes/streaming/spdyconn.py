"""A SPDY/3.1 client connection: open streams, write and half-close them, read what the server sends.

Role: the kubelet's link to the container runtime's stream server. containerd serves exec, attach and
port-forward over SPDY (``POST`` + ``Upgrade: SPDY/3.1``), with one SPDY stream per channel: ``error``,
``stdin``, ``stdout``, ``stderr``, ``resize`` for a command, an ``error``/``data`` pair per forwarded
connection. Unlike the WebSocket ``v4`` protocol, SPDY can half-close a stream, which is how a client's stdin
EOF reaches the process. Framing is :mod:`.spdy`; the HTTP upgrade is :mod:`.upgrade`.

Reading is pull-based: :meth:`SpdyClient.events` yields :class:`Event` values as frames arrive and answers
pings itself, so whoever consumes the events also paces the server. Writes may come from another task; they
are serialised, as they share the header compressor and the socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Literal

from kybernetes.streaming import spdy, upgrade

__all__ = ["Event", "SpdyClient", "UpgradeFailed", "dial", "dial_stream"]

_FRAME = 32 * 1024


class UpgradeFailed(Exception):
    """The stream server refused the upgrade; ``str()`` is its answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Event:
    """``reply``: the server accepted a stream we opened; ``data``: bytes on a stream; ``end``: the server
    half-closed it (FIN); ``reset``: it was reset (RST_STREAM)."""

    kind: Literal["reply", "data", "end", "reset"]
    stream_id: int
    data: bytes = b""


class SpdyClient:
    """The client end of one SPDY connection over an upgraded :class:`~.upgrade.ByteStream`."""

    def __init__(self, stream: upgrade.ByteStream, protocol: str = "") -> None:
        self.protocol = protocol  # the X-Stream-Protocol-Version the server chose
        self._stream = stream
        self._encoder = spdy.HeaderEncoder()
        self._decoder = spdy.HeaderDecoder()
        self._frames = spdy.FrameReader()
        self._next_id = 1
        self._lock = asyncio.Lock()

    async def open_stream(self, headers: Mapping[str, str]) -> int:
        """Send SYN_STREAM; returns the new stream's id. The server answers with a ``reply`` event."""
        async with self._lock:
            sid, self._next_id = self._next_id, self._next_id + 2
            await self._stream.write(spdy.syn_stream(self._encoder, sid, headers))
        return sid

    async def write(self, sid: int, data: bytes) -> None:
        async with self._lock:
            for i in range(0, len(data), _FRAME):
                await self._stream.write(spdy.data(sid, data[i:i + _FRAME]))

    async def close_write(self, sid: int) -> None:
        """Half-close a stream (an empty DATA frame with FIN): the server reads EOF."""
        async with self._lock:
            await self._stream.write(spdy.data(sid, b"", fin=True))

    async def events(self) -> AsyncIterator[Event]:
        """What the server sends, until it closes the connection or says GOAWAY."""
        while chunk := await self._stream.read():
            for f in self._frames.feed(chunk):
                if isinstance(f, spdy.DataFrame):
                    if f.data:
                        yield Event("data", f.stream_id, f.data)
                    if f.fin:
                        yield Event("end", f.stream_id)
                    continue
                if f.type in (spdy.SYN_STREAM, spdy.SYN_REPLY, spdy.HEADERS):
                    self._decoder.decode(spdy.header_block(f))  # keeps the shared zlib context in step
                if f.type == spdy.SYN_REPLY:
                    yield Event("reply", spdy.stream_id(f))
                    if f.flags & spdy.FLAG_FIN:
                        yield Event("end", spdy.stream_id(f))
                elif f.type == spdy.RST_STREAM:
                    yield Event("reset", spdy.stream_id(f))
                elif f.type == spdy.PING:
                    async with self._lock:
                        await self._stream.write(spdy.ping(int.from_bytes(f.payload[:4], "big")))
                elif f.type == spdy.SYN_STREAM:  # servers of these protocols never push streams
                    async with self._lock:
                        await self._stream.write(spdy.rst_stream(spdy.stream_id(f), spdy.REFUSED_STREAM))
                elif f.type == spdy.GOAWAY:
                    return

    def close(self) -> None:
        self._stream.close()


async def dial_stream(url: str, protocols: tuple[str, ...]) -> tuple[upgrade.ByteStream, str]:
    """Upgrade ``POST url`` to SPDY/3.1 offering ``protocols`` (``X-Stream-Protocol-Version``); returns the
    raw connection and the protocol the server chose."""
    headers = [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")]
    headers += [("X-Stream-Protocol-Version", p) for p in protocols]
    resp = await upgrade.dial(url, "POST", headers)
    if resp.stream is None:
        raise UpgradeFailed(resp.status, resp.body.decode(errors="replace").strip() or f"HTTP {resp.status}")
    return resp.stream, resp.headers.get("X-Stream-Protocol-Version", "")


async def dial(url: str, protocols: tuple[str, ...]) -> SpdyClient:
    """:func:`dial_stream`, then a client on that connection."""
    return SpdyClient(*await dial_stream(url, protocols))
