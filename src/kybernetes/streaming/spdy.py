"""SPDY/3.1 framing: frames to and from bytes, and the zlib-compressed header blocks.

Role: the byte-level half of SPDY, without sockets. :mod:`.spdyconn` drives a connection with it; tests use
it to play the other side. Every integer is big-endian. A frame is an 8-byte header plus ``length`` bytes:

- control frame: ``0x8003`` (control bit + version 3), ``type`` (u16), ``flags`` (u8), ``length`` (u24);
- data frame: ``stream id`` (u32, top bit clear), ``flags`` (u8, FIN = 1), ``length`` (u24).

Header blocks (in SYN_STREAM, SYN_REPLY and HEADERS) are ``count, (name length, name, value length,
value)*`` with u32 counts and lengths, compressed with zlib primed by the SPDY/3 dictionary; each direction
of a connection keeps one compression context for its whole life, flushed (``Z_SYNC_FLUSH``) after every
block, so the encoder and decoder objects must live as long as the connection.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CANCEL",
    "DICTIONARY",
    "FLAG_FIN",
    "GOAWAY",
    "HEADERS",
    "PING",
    "REFUSED_STREAM",
    "RST_STREAM",
    "SETTINGS",
    "SYN_REPLY",
    "SYN_STREAM",
    "WINDOW_UPDATE",
    "ControlFrame",
    "DataFrame",
    "Frame",
    "FrameReader",
    "HeaderDecoder",
    "HeaderEncoder",
    "ProtocolError",
    "data",
    "goaway",
    "header_block",
    "ping",
    "rst_stream",
    "stream_id",
    "syn_reply",
    "syn_stream",
]

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
# RST_STREAM status codes used here
REFUSED_STREAM, CANCEL = 3, 5
MAX_DATA = (1 << 24) - 1

_HEADER = struct.Struct(">II")
_U32 = struct.Struct(">I")


def _dictionary() -> bytes:
    """The SPDY/3 header dictionary (draft 3, section 2.6.10.1): common header names and values, each name
    prefixed by its u32 length, followed by a run of status codes, reason phrases, dates and media types."""
    names = [
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
        "content-base", "content-encoding", "content-language", "content-length", "content-location",
        "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
        "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
        "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
        "public", "set-cookie", "keep-alive", "origin",
    ]
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    return b"".join(_U32.pack(len(n)) + n.encode() for n in names) + tail.encode()


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3.1."""


@dataclass(frozen=True, slots=True)
class ControlFrame:
    type: int
    flags: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


Frame = ControlFrame | DataFrame


class FrameReader:
    """Reassembles frames from arbitrary pieces of a byte stream (a TCP read, a WebSocket message)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buf += chunk
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = _HEADER.unpack_from(self._buf)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(ControlFrame(first & 0xFFFF, flags, payload))
            else:
                frames.append(DataFrame(first, flags, payload))
        return frames


class HeaderEncoder:
    """Compresses header blocks for one direction of one connection."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                   DICTIONARY)

    def encode(self, headers: Mapping[str, str]) -> bytes:
        raw = bytearray(_U32.pack(len(headers)))
        for name, value in headers.items():
            n, v = name.lower().encode(), value.encode()
            raw += _U32.pack(len(n)) + n + _U32.pack(len(v)) + v
        return self._z.compress(bytes(raw)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecoder:
    """Decompresses header blocks for one direction of one connection. Several values of one name
    (NUL-separated on the wire) are kept joined."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decode(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._z.decompress(block)
        except zlib.error as e:
            raise ProtocolError(f"bad header block: {e}") from None
        try:
            (count,), pos = _U32.unpack_from(raw), 4
            out: dict[str, str] = {}
            for _ in range(count):
                (n,) = _U32.unpack_from(raw, pos)
                name = raw[pos + 4:pos + 4 + n].decode()
                pos += 4 + n
                (n,) = _U32.unpack_from(raw, pos)
                out[name] = raw[pos + 4:pos + 4 + n].decode()
                pos += 4 + n
        except (struct.error, UnicodeDecodeError) as e:
            raise ProtocolError(f"bad header block: {e}") from None
        return out


def _control(ftype: int, flags: int, payload: bytes) -> bytes:
    return _HEADER.pack(0x80000000 | (VERSION << 16) | ftype, (flags << 24) | len(payload)) + payload


def syn_stream(enc: HeaderEncoder, sid: int, headers: Mapping[str, str], flags: int = 0) -> bytes:
    """Open stream ``sid`` (odd from a client, even from a server); priority 0, no associated stream."""
    return _control(SYN_STREAM, flags, struct.pack(">IIBB", sid, 0, 0, 0) + enc.encode(headers))


def syn_reply(enc: HeaderEncoder, sid: int, headers: Mapping[str, str], flags: int = 0) -> bytes:
    """Accept stream ``sid`` that the peer opened."""
    return _control(SYN_REPLY, flags, _U32.pack(sid) + enc.encode(headers))


def rst_stream(sid: int, status: int) -> bytes:
    return _control(RST_STREAM, 0, struct.pack(">II", sid, status))


def ping(ping_id: int) -> bytes:
    return _control(PING, 0, _U32.pack(ping_id))


def goaway(last_good_sid: int, status: int = 0) -> bytes:
    return _control(GOAWAY, 0, struct.pack(">II", last_good_sid, status))


def data(sid: int, payload: bytes, fin: bool = False) -> bytes:
    """One DATA frame; payloads longer than a frame can carry must be split by the caller."""
    if len(payload) > MAX_DATA:
        raise ValueError(f"DATA payload of {len(payload)} bytes exceeds {MAX_DATA}")
    return _HEADER.pack(sid & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload


def stream_id(frame: ControlFrame) -> int:
    """The stream a SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS or WINDOW_UPDATE frame is about."""
    if len(frame.payload) < 4:
        raise ProtocolError(f"control frame {frame.type} too short")
    return int(_U32.unpack_from(frame.payload)[0] & 0x7FFFFFFF)


def header_block(frame: ControlFrame) -> bytes:
    """The compressed header block of a SYN_STREAM (after ids, priority and slot) or SYN_REPLY/HEADERS."""
    return frame.payload[10:] if frame.type == SYN_STREAM else frame.payload[4:]
