"""SPDY/3.1 framing: frames survive any segmentation, header blocks round-trip through one compression
context per direction, and the dictionary is the one Go's SPDY (kubectl, containerd) uses."""

from __future__ import annotations

import struct
import zlib

import pytest

from kybernetes.streaming import spdy


def test_dictionary_has_the_spec_size() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b",*,enq=0.")
    # zlib streams name their preset dictionary by this checksum; Go's SPDY (containerd) refuses header
    # blocks whose dictionary id differs, and exec against containerd works with this one
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2


def test_frames_reassemble_from_single_bytes() -> None:
    enc = spdy.HeaderEncoder()
    wire = (spdy.syn_stream(enc, 1, {"streamtype": "error", "port": "80"}) + spdy.data(1, b"hello")
            + spdy.data(1, b"", fin=True) + spdy.ping(2) + spdy.rst_stream(3, spdy.CANCEL) + spdy.goaway(1))
    reader = spdy.FrameReader()
    frames: list[spdy.Frame] = []
    for i in range(len(wire)):
        frames += reader.feed(wire[i:i + 1])
    kinds = [f.type if isinstance(f, spdy.ControlFrame) else "data" for f in frames]
    assert kinds == [spdy.SYN_STREAM, "data", "data", spdy.PING, spdy.RST_STREAM, spdy.GOAWAY]
    syn, hello, fin, ping, rst, _ = frames
    assert isinstance(syn, spdy.ControlFrame) and spdy.stream_id(syn) == 1
    assert spdy.HeaderDecoder().decode(spdy.header_block(syn)) == {"streamtype": "error", "port": "80"}
    assert isinstance(hello, spdy.DataFrame) and (hello.stream_id, hello.data, hello.fin) == (1, b"hello", False)
    assert isinstance(fin, spdy.DataFrame) and fin.fin and fin.data == b""
    assert isinstance(ping, spdy.ControlFrame) and ping.payload == struct.pack(">I", 2)
    assert isinstance(rst, spdy.ControlFrame) and spdy.stream_id(rst) == 3
    assert rst.payload[4:] == struct.pack(">I", spdy.CANCEL)


def test_header_context_is_shared_across_blocks() -> None:
    enc, dec = spdy.HeaderEncoder(), spdy.HeaderDecoder()
    blocks = [spdy.syn_stream(enc, sid, {"streamtype": kind, "requestid": str(sid)})
              for sid, kind in ((1, "error"), (3, "data"), (5, "error"))]
    frames = spdy.FrameReader().feed(b"".join(blocks))
    decoded = [dec.decode(spdy.header_block(f)) for f in frames if isinstance(f, spdy.ControlFrame)]
    assert decoded == [{"streamtype": "error", "requestid": "1"}, {"streamtype": "data", "requestid": "3"},
                       {"streamtype": "error", "requestid": "5"}]
    # a fresh decoder cannot read a later block alone: the zlib stream carries state
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderDecoder().decode(spdy.header_block(frames[1]))  # type: ignore[arg-type]


def test_syn_reply_and_empty_header_block() -> None:
    enc, dec = spdy.HeaderEncoder(), spdy.HeaderDecoder()
    (frame,) = spdy.FrameReader().feed(spdy.syn_reply(enc, 7, {}))
    assert isinstance(frame, spdy.ControlFrame) and frame.type == spdy.SYN_REPLY
    assert spdy.stream_id(frame) == 7 and dec.decode(spdy.header_block(frame)) == {}


def test_rejects_other_versions_and_oversized_data() -> None:
    spdy2 = struct.pack(">II", 0x80020001, 0)
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.FrameReader().feed(spdy2)
    with pytest.raises(ValueError):
        spdy.data(1, bytes(spdy.MAX_DATA + 1))
