"""Running one handler: exec (CRI ExecSync), httpGet, tcpSocket and grpc (health checking protocol).

Role: the probe workers (:mod:`.prober`) and the lifecycle hooks (:mod:`.lifecycle`) call
:func:`run_handler` with the container's ID and the pod IP; the result says whether it succeeded and
carries the output or error text the kubelet puts into events (``Liveness probe failed: <output>``).
HTTP and TCP go to the pod IP (or ``host``); named ports are looked up in the container's ports.
Upstream: pkg/probe/{exec,http,tcp,grpc}, pkg/kubelet/prober/prober.go.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc  # type: ignore[import-untyped]
import grpc.aio  # type: ignore[import-untyped]

from kybernetes import KUBERNETES_VERSION
from kybernetes.runtime import cri, errors

__all__ = ["HandlerResult", "resolve_port", "run_handler"]

Obj = dict[str, Any]
MAX_BODY = 10 * 1024
_USER_AGENT = "kube-probe/" + KUBERNETES_VERSION.lstrip("v").rsplit(".", 1)[0]


@dataclass(frozen=True)
class HandlerResult:
    """``ok``: success; ``output``: what the handler printed or why it failed; ``error``: it could not run."""

    ok: bool
    output: str = ""
    error: bool = False


def resolve_port(port: Any, container: Obj) -> int:
    """A port number from a number or a named container port."""
    if isinstance(port, int):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for p in container.get("ports") or []:
        if p.get("name") == text:
            return int(p.get("containerPort", 0))
    raise ValueError(f"couldn't find port: {text} in {container.get('name', '')}")


async def _exec(runtime: cri.RuntimeClient, container_id: str, command: list[str], seconds: int) -> HandlerResult:
    try:
        res = await runtime.exec_sync(container_id, command, timeout_seconds=seconds)
    except errors.DeadlineExceededError:
        return HandlerResult(False, f"command {_go_quote(' '.join(command))} timed out")
    except errors.CRIError as e:
        return HandlerResult(False, e.details, error=True)
    output = (res.stdout + res.stderr).decode(errors="replace")
    return HandlerResult(res.exit_code == 0, output)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _http(handler: Obj, host: str, port: int, seconds: float) -> HandlerResult:
    scheme = str(handler.get("scheme") or "HTTP").lower()
    path = str(handler.get("path") or "")
    if path and not path.startswith("/"):
        path = "/" + path
    target = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{target}:{port}{path}"
    headers = {"User-Agent": _USER_AGENT, "Accept": "*/*"}
    for h in handler.get("httpHeaders") or []:
        headers[str(h.get("name", ""))] = str(h.get("value", ""))
    ctx: ssl.SSLContext | bool = False
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as s, \
                s.get(url, headers=headers, ssl=ctx, allow_redirects=True, max_redirects=10) as r:
            body = (await r.content.read(MAX_BODY)).decode(errors="replace")
            if 200 <= r.status < 400:
                return HandlerResult(True, body)
            return HandlerResult(False, f"HTTP probe failed with statuscode: {r.status}")
    except TimeoutError:
        return HandlerResult(False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                                    "awaiting headers)")
    except aiohttp.ClientConnectorError as e:
        return HandlerResult(False, f'Get "{url}": dial tcp {target}:{port}: connect: {_reason(e.os_error)}')
    except aiohttp.ClientError as e:
        return HandlerResult(False, f'Get "{url}": {e}')


def _reason(err: OSError | None) -> str:
    """Go's wording of a dial error (``connection refused``)."""
    if err is not None and err.errno:
        return os.strerror(err.errno).lower()
    return str(err or "connection refused").lower()


async def _tcp(host: str, port: int, seconds: float) -> HandlerResult:
    target = f"[{host}]" if ":" in host else host
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), seconds)
    except TimeoutError:
        return HandlerResult(False, f"dial tcp {target}:{port}: i/o timeout")
    except OSError as e:
        return HandlerResult(False, f"dial tcp {target}:{port}: connect: {_reason(e)}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return HandlerResult(True)


_SERVING = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _health_request(service: str) -> bytes:
    data = service.encode()
    if not data:
        return b""
    length, out = len(data), bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x0a" + bytes(out) + data


def _health_status(data: bytes) -> int:
    if len(data) >= 2 and data[0] == 0x08:
        return data[1] & 0x7F
    return 0


async def _grpc(handler: Obj, host: str, port: int, seconds: float) -> HandlerResult:
    target = f"{host}:{port}"
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                   response_deserializer=lambda b: b)
        try:
            raw = await call(_health_request(str(handler.get("service") or "")), timeout=seconds)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return HandlerResult(False, f'timeout: health rpc did not complete within {seconds:g}s')
            if e.code() == grpc.StatusCode.UNAVAILABLE:
                return HandlerResult(False, f'timeout: failed to connect service "{target}" within {seconds:g}s')
            return HandlerResult(False, f"error: health rpc failed: {e.code().name}: {e.details()}")
    status = _health_status(raw)
    if status == 1:
        return HandlerResult(True)
    return HandlerResult(False, f'service unhealthy (responded with "{_SERVING.get(status, "UNKNOWN")}")')


async def run_handler(handler: Obj, *, runtime: cri.RuntimeClient, container_id: str, container: Obj,
                      pod_ip: str, seconds: float) -> HandlerResult:
    """Run an exec/httpGet/tcpSocket/grpc handler (a probe or a lifecycle hook) once."""
    try:
        if handler.get("exec") is not None:
            command = list((handler["exec"] or {}).get("command") or [])
            return await _exec(runtime, container_id, command, max(int(seconds), 1))
        if handler.get("httpGet") is not None:
            h = handler["httpGet"]
            return await _http(h, h.get("host") or pod_ip, resolve_port(h.get("port"), container), seconds)
        if handler.get("tcpSocket") is not None:
            h = handler["tcpSocket"]
            return await _tcp(h.get("host") or pod_ip, resolve_port(h.get("port"), container), seconds)
        if handler.get("grpc") is not None:
            h = handler["grpc"]
            return await _grpc(h, pod_ip, int(h.get("port", 0)), seconds)
        if handler.get("sleep") is not None:
            await asyncio.sleep(float((handler["sleep"] or {}).get("seconds", 0)))
            return HandlerResult(True)
    except ValueError as e:
        return HandlerResult(False, str(e), error=True)
    return HandlerResult(False, "missing probe handler", error=True)
