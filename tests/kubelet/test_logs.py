"""CRI log files back to kubectl-logs text: P/F records, timestamps, tail, since, limitBytes, follow."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kybernetes.api.printing import parse_time
from kybernetes.kubelet import logs, server

LOG = (b"2026-11-22T02:10:17.88784783Z stdout F line one\n"
       b"2026-11-22T02:10:18Z stderr F err one\n"
       b"2026-11-22T02:10:19.1Z stdout P part-a \n"
       b"2026-11-22T02:10:19.2Z stdout F part-b\n"
       b"2026-11-22T02:10:20.123456789Z stdout F last\n")


async def collect(path: Path, opts: logs.LogOptions, running: bool = False) -> bytes:
    async def is_running() -> bool:
        return running

    return b"".join([chunk async for chunk in logs.read_logs(path, opts, is_running)])


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    p = tmp_path / "0.log"
    p.write_bytes(LOG)
    return p


async def test_plain_text(log_file: Path) -> None:
    assert await collect(log_file, logs.LogOptions()) == b"line one\nerr one\npart-a part-b\nlast\n"


async def test_timestamps_fixed_nanoseconds(log_file: Path) -> None:
    out = (await collect(log_file, logs.LogOptions(timestamps=True))).decode().splitlines()
    assert out[0] == "2026-11-22T02:10:17.887847830Z line one"
    assert out[1] == "2026-11-22T02:10:18.000000000Z err one"
    assert out[2] == "2026-11-22T02:10:19.100000000Z part-a 2026-11-22T02:10:19.200000000Z part-b"


@pytest.mark.parametrize(("tail", "expected"), [
    (0, b""), (1, b"last\n"), (2, b"part-b\nlast\n"), (10, b"line one\nerr one\npart-a part-b\nlast\n"),
])
async def test_tail_counts_records(log_file: Path, tail: int, expected: bytes) -> None:
    assert await collect(log_file, logs.LogOptions(tail_lines=tail)) == expected


async def test_since_and_limit(log_file: Path) -> None:
    since = parse_time("2026-11-22T02:10:19Z")
    assert await collect(log_file, logs.LogOptions(since=since)) == b"part-a part-b\nlast\n"
    assert await collect(log_file, logs.LogOptions(limit_bytes=12)) == b"line one\nerr"


async def test_follow_until_container_stops(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2026-11-22T02:10:17Z stdout F a\n")
    state = {"running": True}

    async def is_running() -> bool:
        return state["running"]

    got: list[bytes] = []

    async def reader() -> None:
        async for chunk in logs.read_logs(path, logs.LogOptions(follow=True), is_running):
            got.append(chunk)

    task = asyncio.create_task(reader())
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.01)
    with path.open("ab") as f:
        f.write(b"2026-11-22T02:10:18Z stdout F b\n")
    for _ in range(100):
        if b"".join(got) == b"a\nb\n":
            break
        await asyncio.sleep(0.02)
    assert b"".join(got) == b"a\nb\n" and not task.done()
    state["running"] = False
    with path.open("ab") as f:
        f.write(b"2026-11-22T02:10:19Z stdout F c\n")
    await asyncio.wait_for(task, 5)
    assert b"".join(got) == b"a\nb\nc\n"


def test_parse_options() -> None:
    o = logs.parse_options({"follow": "true", "tailLines": "5", "timestamps": "1", "limitBytes": "100",
                            "previous": "false"}, now=1000.0)
    assert o == logs.LogOptions(follow=True, previous=False, timestamps=True, tail_lines=5, limit_bytes=100)
    assert logs.parse_options({"sinceSeconds": "10"}, now=1000.0).since == 990.0
    assert logs.parse_options({"tail": "all"}).tail_lines is None
    assert logs.parse_options({"sinceTime": "2026-11-22T02:10:19Z"}).since == parse_time("2026-11-22T02:10:19Z")
    for bad in ({"tailLines": "x"}, {"limitBytes": "0"}, {"sinceSeconds": "0"}, {"sinceTime": "yesterday"}):
        with pytest.raises(ValueError):
            logs.parse_options(bad)


def test_tail_text(log_file: Path) -> None:
    assert logs.tail_text(log_file, 2, 100) == "part-b\nlast\n"
    assert logs.tail_text(log_file, 80, 5) == "last\n"


def _status(**cs: object) -> dict[str, object]:
    return {"containerStatuses": [{"name": "c", **cs}]}


@pytest.mark.parametrize(("status", "previous", "result"), [
    (_status(state={"running": {}}, containerID="containerd://abc"), False, "abc"),
    (_status(state={"terminated": {"containerID": "containerd://def"}}), False, "def"),
    (_status(state={"waiting": {"reason": "CrashLoopBackOff"}},
             lastState={"terminated": {"containerID": "containerd://old"}}), False, "old"),
    (_status(state={"running": {}}, containerID="containerd://abc",
             lastState={"terminated": {"containerID": "containerd://old"}}), True, "old"),
    (_status(state={"waiting": {"reason": "ContainerCreating"}}), False,
     'container "c" in pod "p" is waiting to start: ContainerCreating'),
    (_status(state={"waiting": {"reason": "ErrImagePull"}}), False,
     'container "c" in pod "p" is waiting to start: image can\'t be pulled'),
    (_status(state={"running": {}}, containerID="containerd://abc"), True,
     'previous terminated container "c" in pod "p" not found'),
    ({}, False, 'container "c" in pod "p" is not available'),
])
def test_container_id_for_logs(status: dict[str, object], previous: bool, result: str) -> None:
    try:
        got = server.container_id_for_logs("p", status, "c", previous)
    except server.LogError as e:
        got = str(e)
    assert got == result
