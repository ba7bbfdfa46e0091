"""The WebSocket channel protocols (``v4.channel.k8s.io``, ``v5.channel.k8s.io``) of exec, attach and
port-forward.

Role: naming and framing only; :mod:`kybernetes.kubelet.remotecommand` and
:mod:`kybernetes.kubelet.portforward` use it. Each binary WebSocket message is one channel byte followed by
the payload. For exec/attach the channels are 0 stdin, 1 stdout, 2 stderr, 3 the final ``Status`` (JSON)
and 4 terminal resizes (``{"Width":W,"Height":H}``); v5 adds 255, a close signal whose one-byte payload
names the channel that ended (the client's ``[255, 0]`` is stdin EOF). For port-forward, port number *i*
of the request uses channel 2i for data and 2i+1 for errors, and the server's first message on each is the
port as a little-endian u16.
"""

from __future__ import annotations

import json
import struct
from typing import Any

__all__ = [
    "CLOSE",
    "ERROR",
    "REMOTE_COMMAND_PROTOCOLS",
    "RESIZE",
    "STDERR",
    "STDIN",
    "STDOUT",
    "V4",
    "V5",
    "failure_status",
    "frame",
    "port_prefix",
    "split",
    "success_status",
]

V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
#: What exec/attach accept, best first; the client's order decides among them.
REMOTE_COMMAND_PROTOCOLS = (V5, V4)

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def frame(channel: int, payload: bytes) -> bytes:
    return bytes((channel,)) + payload


def split(message: bytes | str) -> tuple[int, bytes]:
    """``(channel, payload)`` of a client message. Text messages are accepted too: the Python client sends
    ``write_stdin(str)`` as a text frame whose first character is the channel."""
    raw = message.encode() if isinstance(message, str) else message
    if not raw:
        raise ValueError("empty channel message")
    return raw[0], raw[1:]


def port_prefix(port: int) -> bytes:
    return struct.pack("<H", port)


def _status(body: dict[str, Any]) -> bytes:
    return json.dumps({"metadata": {}, **body}, separators=(",", ":")).encode()


def success_status() -> bytes:
    return _status({"status": "Success"})


def failure_status(message: str, reason: str = "InternalError") -> bytes:
    return _status({"status": "Failure", "message": message, "reason": reason})

