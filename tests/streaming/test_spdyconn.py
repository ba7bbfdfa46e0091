"""The SPDY client against a fake stream server: upgrade, stream setup, data both ways, half-close, pings,
and a refused upgrade."""

from __future__ import annotations

import json

import pytest

from kybernetes.streaming import spdyconn
from tests.streaming.fakeserver import FakeStreamServer


async def test_streams_half_close_and_status() -> None:
    async with FakeStreamServer(exit_code=3) as server:
        conn = await spdyconn.dial(server.url(), ("v4.channel.k8s.io",))
        assert conn.protocol == "v4.channel.k8s.io"
        ids = {kind: await conn.open_stream({"streamtype": kind}) for kind in ("error", "stdin", "stdout")}
        assert sorted(ids.values()) == [1, 3, 5]  # client streams are odd
        events = conn.events()
        replies = set()
        async for ev in events:
            assert ev.kind == "reply"
            replies.add(ev.stream_id)
            if len(replies) == 3:
                break
        await conn.write(ids["stdin"], b"hello ")
        await conn.write(ids["stdin"], b"world")
        await conn.close_write(ids["stdin"])
        out, status, ended = bytearray(), bytearray(), set()
        async for ev in events:
            if ev.kind == "data":
                (out if ev.stream_id == ids["stdout"] else status).extend(ev.data)
            elif ev.kind == "end":
                ended.add(ev.stream_id)
        conn.close()
    assert out == b"HELLO WORLD"
    assert ended == {ids["stdout"], ids["error"]}
    assert json.loads(status)["details"]["causes"][0]["message"] == "3"
    assert server.pings_answered == 1


async def test_refused_upgrade_carries_the_servers_reason() -> None:
    async with FakeStreamServer() as server:
        with pytest.raises(spdyconn.UpgradeFailed, match="no such token") as e:
            await spdyconn.dial(server.url("exec/refuse"), ("v4.channel.k8s.io",))
    assert e.value.status == 400
