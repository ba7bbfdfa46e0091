"""WebSocket channel framing of exec/attach/port-forward."""

from __future__ import annotations

import json

import pytest

from kybernetes.streaming import channels


def test_frame_and_split() -> None:
    assert channels.frame(channels.STDOUT, b"hi") == b"\x01hi"
    assert channels.split(b"\x00data") == (channels.STDIN, b"data")
    assert channels.split("\x00typed") == (channels.STDIN, b"typed")  # the Python client's text frames
    assert channels.split(b"\xff\x00") == (channels.CLOSE, b"\x00")
    with pytest.raises(ValueError):
        channels.split(b"")


def test_port_prefix_is_little_endian() -> None:
    assert channels.port_prefix(8080) == bytes((0x90, 0x1F))


def test_status_payloads() -> None:
    assert json.loads(channels.success_status()) == {"metadata": {}, "status": "Success"}
    failure = json.loads(channels.failure_status("boom"))
    assert failure["status"] == "Failure" and failure["message"] == "boom" and failure["reason"] == "InternalError"
