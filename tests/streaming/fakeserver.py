"""A stand-in for the runtime's stream server (containerd's ``/exec/<token>``), speaking SPDY/3.1 as a
server with :mod:`kybernetes.streaming.spdy`, for tests of the client side and of the kubelet's relays.

It accepts ``POST`` + ``Upgrade: SPDY/3.1`` (``v4.channel.k8s.io``), replies to each stream, and then runs
a tiny "command": every stdin chunk comes back upper-cased on stdout and as-is on stderr, resize messages are
recorded, and stdin EOF ends the command with ``exit_code`` (a ``NonZeroExitCode`` Status on the error
stream) before the connection closes. Port-forward ``data`` streams echo upper-cased, and ``bye`` ends one
(FIN); every stream's headers are recorded. A path ending in ``/refuse`` gets ``400`` with a plain-text
reason.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, field

from kybernetes.streaming import spdy


@dataclass
class FakeStreamServer:
    exit_code: int = 0
    port: int = 0
    resizes: list[bytes] = field(default_factory=list)
    pings_answered: int = 0
    stream_headers: list[dict[str, str]] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> FakeStreamServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def url(self, name: str = "exec/token") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        if head.split(" ")[1].endswith("/refuse"):
            body = b"no such token"
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
            writer.close()
            return
        assert "upgrade: spdy/3.1" in head.lower()
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                     b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
        enc, dec, frames = spdy.HeaderEncoder(), spdy.HeaderDecoder(), spdy.FrameReader()
        kinds: dict[str, int] = {}
        forwarded: set[int] = set()
        writer.write(spdy.ping(2))  # a server-initiated ping: the client must echo it
        try:
            while chunk := await reader.read(65536):
                for f in frames.feed(chunk):
                    if isinstance(f, spdy.ControlFrame):
                        if f.type == spdy.SYN_STREAM:
                            sid = spdy.stream_id(f)
                            headers = dec.decode(spdy.header_block(f))
                            self.stream_headers.append(headers)
                            kinds[headers["streamtype"]] = sid
                            if headers["streamtype"] == "data":
                                forwarded.add(sid)
                            writer.write(spdy.syn_reply(enc, sid, {}))
                        elif f.type == spdy.PING and struct.unpack(">I", f.payload)[0] == 2:
                            self.pings_answered += 1
                        continue
                    if f.stream_id in forwarded and f.data:
                        writer.write(spdy.data(f.stream_id, f.data.upper(), fin=f.data == b"bye"))
                    elif f.stream_id == kinds.get("resize") and f.data:
                        self.resizes.append(f.data)
                    elif f.stream_id == kinds.get("stdin"):
                        if f.data:
                            writer.write(spdy.data(kinds["stdout"], f.data.upper()))
                            if "stderr" in kinds:
                                writer.write(spdy.data(kinds["stderr"], f.data))
                        if f.fin:
                            await self._finish(writer, kinds)
                            return
                await writer.drain()
        finally:
            writer.close()

    async def _finish(self, writer: asyncio.StreamWriter, kinds: dict[str, int]) -> None:
        writer.write(spdy.data(kinds["stdout"], b"", fin=True))
        if self.exit_code:
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": f"command terminated with non-zero exit code: exit code {self.exit_code}",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(self.exit_code)}]}}
        else:
            status = {"metadata": {}, "status": "Success"}
        writer.write(spdy.data(kinds["error"], json.dumps(status).encode(), fin=True))
        await writer.drain()
