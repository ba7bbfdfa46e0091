"""The fast lane in front of the API server: plain requests answered by it, anything else (and the
rest of that connection) by aiohttp — the client cannot tell which."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from aiohttp import web

from kybernetes.apiserver import fastlane
from kybernetes.apiserver.app import ApiServer, ApiServerConfig, make_app
from kybernetes.apiserver.authn import User
from kybernetes.store.sqlite import SQLiteStore

TOKEN = "fastlane-token"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"


class Served:
    def __init__(self, front: fastlane.Front, port: int) -> None:
        self.front = front
        self.port = port
        self.fast = 0  # requests the fast lane's handler answered

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    store = SQLiteStore(str(tmp_path / "state.db"), compact_interval=3600)
    api = ApiServer(ApiServerConfig(tokens={TOKEN: User("admin", ("system:masters",))},
                                    service_account_key=tmp_path / "sa.key"), store)
    runner = web.AppRunner(make_app(api), access_log=None, handle_signals=False)
    await runner.setup()
    holder: list[Served] = []

    async def counting(request: Any) -> web.StreamResponse:
        holder[0].fast += 1
        return await api.serve_api(request)

    front = fastlane.Front(runner, cast(fastlane.Handler, counting))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await front.listen_tcp("127.0.0.1", port, None)
    holder.append(Served(front, port))
    await asyncio.wait_for(api.ready.wait(), 30)
    try:
        yield holder[0]
    finally:
        await front.close()
        await runner.cleanup()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    else:
        assert headers.get("transfer-encoding") == "chunked"
        body = b""
        while True:
            size = int((await asyncio.wait_for(reader.readline(), 10)).strip(), 16)
            chunk = await asyncio.wait_for(reader.readexactly(size + 2), 10)
            if size == 0:
                break
            body += chunk[:-2]
    return status, headers, body


def request(method: str, target: str, body: Any = None, extra: str = "") -> bytes:
    data = orjson.dumps(body) if body is not None else b""
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\n{AUTH}{extra}"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return (head + "\r\n").encode() + data


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


async def test_plain_requests_are_answered_by_the_fast_lane(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request("POST", "/api/v1/namespaces/default/configmaps", configmap("a")))
    status, headers, body = await read_response(reader)
    assert status == 201 and headers["content-type"] == "application/json"
    assert "date" in headers
    assert orjson.loads(body)["metadata"]["name"] == "a"
    writer.write(request("GET", "/api/v1/namespaces/default/configmaps/a"))
    status, _, body = await read_response(reader)
    assert status == 200 and orjson.loads(body)["data"] == {"k": "v"}
    writer.write(request("GET", "/api/v1/namespaces/default/configmaps/missing"))
    status, _, body = await read_response(reader)
    assert status == 404 and orjson.loads(body)["reason"] == "NotFound"
    assert served.fast == 3
    writer.close()


async def test_a_body_arriving_in_pieces_and_pipelined_requests(served: Served) -> None:
    reader, writer = await served.connect()
    data = request("POST", "/api/v1/namespaces/default/configmaps", configmap("b"))
    for i in range(0, len(data), 7):
        writer.write(data[i:i + 7])
        await writer.drain()
        await asyncio.sleep(0)
    status, _, _ = await read_response(reader)
    assert status == 201
    # three requests in one write: answered in order
    writer.write(request("GET", "/api/v1/namespaces/default/configmaps/b")
                 + request("DELETE", "/api/v1/namespaces/default/configmaps/b")
                 + request("GET", "/api/v1/namespaces/default/configmaps/b"))
    assert [(await read_response(reader))[0] for _ in range(3)] == [200, 200, 404]
    assert served.fast == 4
    writer.close()


async def test_a_watch_hands_the_connection_to_aiohttp(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request("POST", "/api/v1/namespaces/default/configmaps", configmap("c")))
    status, _, body = await read_response(reader)
    rv = orjson.loads(body)["metadata"]["resourceVersion"]
    assert status == 201 and served.fast == 1
    writer.write(request("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1"
                         f"&resourceVersion={int(rv) - 1}"))
    status, headers, body = await read_response(reader)  # chunked, ends after timeoutSeconds
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    events = [orjson.loads(line) for line in body.splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "c")]
    # the connection is aiohttp's now, and still serves plain requests
    writer.write(request("GET", "/api/v1/namespaces/default/configmaps/c"))
    status, _, _ = await read_response(reader)
    assert status == 200 and served.fast == 1
    writer.close()


@pytest.mark.parametrize("raw", [
    # HTTP/1.0, a chunked body, a header folded over two lines: aiohttp's to judge
    b"GET /api/v1/namespaces/default/configmaps HTTP/1.0\r\n" + AUTH.encode() + b"\r\n",
    b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n" + AUTH.encode()
    + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(orjson.dumps(configmap("d"))), orjson.dumps(configmap("d"))),
    b"GET /version HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n",
])
async def test_what_the_fast_lane_does_not_serve_aiohttp_does(served: Served, raw: bytes) -> None:
    reader, writer = await served.connect()
    writer.write(raw)
    status, _, body = await read_response(reader)
    assert status in (200, 201), body
    assert served.fast == 0
    writer.close()


async def test_a_malformed_request_gets_aiohttps_answer(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nBad Header : x\r\n\r\n")
    status, _, _ = await read_response(reader)
    assert status == 400 and served.fast == 0
    writer.close()


@pytest.mark.parametrize("raw", [
    b"GET /api/v1/namespaces HTTP/1.1\nHost: x\n" + AUTH.encode().replace(b"\r", b"") + b"\n",
    b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nX-A: 1\x00\r\n" + AUTH.encode() + b"\r\n",
    b"GET /api/v1/namespaces/../namespaces HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n",
])
async def test_unusual_heads_go_to_aiohttp(served: Served, raw: bytes) -> None:
    reader, writer = await served.connect()
    writer.write(raw)
    status, _, _ = await read_response(reader)
    assert status in (200, 400, 404) and served.fast == 0
    writer.close()


async def test_connection_close_is_honoured(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request("GET", "/api/v1/namespaces/default", extra="Connection: close\r\n"))
    status, headers, _ = await read_response(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_an_oversized_body_is_refused_like_before(served: Served) -> None:
    reader, writer = await served.connect()
    size = 3 * 1024 * 1024 + 1
    writer.write(f"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n{AUTH}"
                 f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode())
    status, _, body = await read_response(reader)
    assert status == 413, body
    assert served.fast == 0
    writer.close()


async def test_a_warning_naming_a_field_with_a_line_break_stays_one_header(served: Served) -> None:
    reader, writer = await served.connect()
    cm = {**configmap("w"), "bogus\r\nX-Injected: 1": 1}
    writer.write(request("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", cm))
    status, headers, _ = await read_response(reader)
    assert status == 201 and served.fast == 1
    assert "x-injected" not in headers
    assert headers["warning"] == r'299 - "unknown field \"bogus\r\nX-Injected: 1\""'
    writer.close()
