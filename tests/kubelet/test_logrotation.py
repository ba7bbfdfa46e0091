"""Container log rotation against a fake runtime whose "container" writes into a temp directory."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import grpc
import pytest

from kybernetes.kubelet import logrotation
from kybernetes.kubelet.logrotation import ContainerLogManager
from kybernetes.runtime import errors
from kybernetes.runtime.proto import cri_pb2 as api


class FakeRuntime:
    """One running container logging to ``path``; ReopenContainerLog creates the file anew."""

    def __init__(self, path: Path, *, reopen_fails: bool = False) -> None:
        self.path = path
        self.reopen_fails = reopen_fails
        self.reopened = 0

    async def list_containers(self, **kw: Any) -> list[Any]:
        return [api.Container(id="c1", state=api.CONTAINER_RUNNING)]

    async def container_status(self, container_id: str) -> Any:
        return api.ContainerStatus(id=container_id, log_path=str(self.path))

    async def reopen_container_log(self, container_id: str) -> None:
        if self.reopen_fails:
            raise errors.CRIError("ReopenContainerLog", grpc.StatusCode.FAILED_PRECONDITION, "container is not running")
        self.reopened += 1
        self.path.touch()


def write(path: Path, size: int, fill: bytes = b"x") -> None:
    path.write_bytes(fill * size)


def test_unused_logs():
    logs = ["0.log.20260101-000000.gz", "0.log.20260101-000010", "0.log.20260101-000010.gz",
            "0.log.20260101-000020", "0.log.20260101-000030.tmp"]
    assert logrotation.unused_logs(logs) == ["0.log.20260101-000010", "0.log.20260101-000030.tmp"]


def test_excess_logs_keeps_max_files_minus_two():
    rotated = [f"0.log.2026010{i}-000000.gz" for i in range(1, 6)]
    assert logrotation.excess_logs(rotated, 5) == rotated[:2]
    assert logrotation.excess_logs(rotated[:3], 5) == []
    assert logrotation.excess_logs(rotated, 1) == rotated


async def test_small_log_is_left_alone(tmp_path: Path):
    log = tmp_path / "0.log"
    write(log, 99)
    rt = FakeRuntime(log)
    mgr = ContainerLogManager(rt, max_size=100, max_files=5, period=1)  # type: ignore[arg-type]
    assert not await mgr.rotate_container("c1")
    assert os.listdir(tmp_path) == ["0.log"] and rt.reopened == 0


async def test_rotations_compress_older_files_and_keep_at_most_max_files(tmp_path: Path):
    log = tmp_path / "0.log"
    clock = [1_767_225_600.0]  # 2026-01-01 00:00:00 UTC
    rt = FakeRuntime(log)
    mgr = ContainerLogManager(rt, max_size=100, max_files=3, period=1, clock=lambda: clock[0])  # type: ignore[arg-type]
    for i in range(4):
        write(log, 150, bytes([ord("a") + i]))
        assert await mgr.rotate_container("c1")
        clock[0] += 10
    files = sorted(os.listdir(tmp_path))
    # the fresh 0.log, the newest rotation uncompressed, one older rotation gzipped: 3 files in all
    assert len(files) == 3 and "0.log" in files
    plain = [f for f in files if f.startswith("0.log.") and not f.endswith(".gz")]
    gz = [f for f in files if f.endswith(".gz")]
    assert len(plain) == 1 and len(gz) == 1 and gz[0] < plain[0]
    assert (tmp_path / plain[0]).read_bytes() == b"d" * 150
    with gzip.open(tmp_path / gz[0]) as f:
        assert f.read() == b"c" * 150
    assert (tmp_path / "0.log").read_bytes() == b"" and rt.reopened == 4


async def test_failed_reopen_puts_the_log_back(tmp_path: Path):
    log = tmp_path / "0.log"
    write(log, 200)
    mgr = ContainerLogManager(FakeRuntime(log, reopen_fails=True), max_size=100, max_files=5,  # type: ignore[arg-type]
                              period=1)
    with pytest.raises(errors.CRIError):
        await mgr.rotate_container("c1")
    assert os.listdir(tmp_path) == ["0.log"] and log.stat().st_size == 200


async def test_leftovers_of_an_interrupted_rotation_are_cleaned(tmp_path: Path):
    log = tmp_path / "0.log"
    (tmp_path / "0.log.20250101-000000").write_bytes(b"old")
    with gzip.open(tmp_path / "0.log.20250101-000000.gz", "wb") as f:
        f.write(b"old")
    (tmp_path / "0.log.20250101-000010.tmp").write_bytes(b"half")
    write(log, 200)
    mgr = ContainerLogManager(FakeRuntime(log), max_size=100, max_files=5, period=1)  # type: ignore[arg-type]
    assert await mgr.rotate_container("c1")
    names = sorted(os.listdir(tmp_path))
    assert names[:2] == ["0.log", "0.log.20250101-000000.gz"] and len(names) == 3
    assert not names[2].endswith((".gz", ".tmp"))


def test_remove_logs_takes_the_rotations_too(tmp_path: Path):
    for name in ("0.log", "0.log.20260101-000000", "0.log.20250101-000000.gz", "1.log"):
        (tmp_path / name).write_text("x")
    logrotation.remove_logs(str(tmp_path / "0.log"))
    assert os.listdir(tmp_path) == ["1.log"]
