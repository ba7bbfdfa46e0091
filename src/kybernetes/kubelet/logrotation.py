"""Container log rotation by size, like the kubelet's container log manager.

Role: the agent runs :meth:`ContainerLogManager.run`; every ``container_log_monitor_period`` it looks at
each running container's CRI log file and, once the file reaches ``container_log_max_size``: removes
what an interrupted rotation left (``.tmp`` files, plain copies of logs already compressed), removes
the oldest rotated files so that at most ``container_log_max_files`` files remain once this rotation
and the runtime's new file are counted, gzips every older rotated file (``0.log.<time>.gz``), renames
the current file to ``0.log.<YYYYmmdd-HHMMSS>`` and asks the runtime (CRI ``ReopenContainerLog``) to
write to a fresh ``0.log``. The newest rotated file stays plain: the runtime may still be flushing into
it and ``kubectl logs -f`` readers finish it before moving to the new file. If the runtime cannot
reopen, the rename is undone so the next pass tries again. Containers that are not running are left
alone. :func:`remove_logs` removes a container's log with all its rotations (container GC).
Upstream: pkg/kubelet/logs/container_log_manager.go.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import gzip
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from kybernetes.runtime import cri, errors
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["ContainerLogManager", "excess_logs", "remove_logs", "unused_logs"]

log = logging.getLogger(__name__)
COMPRESS_SUFFIX = ".gz"
TMP_SUFFIX = ".tmp"
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"


def unused_logs(logs: list[str]) -> list[str]:
    """Leftovers of an interrupted rotation: temporary files and plain logs whose ``.gz`` exists."""
    present = set(logs)
    return [p for p in logs if p.endswith(TMP_SUFFIX)
            or (not p.endswith(COMPRESS_SUFFIX) and p + COMPRESS_SUFFIX in present)]


def excess_logs(rotated: list[str], max_files: int) -> list[str]:
    """The oldest rotated logs to remove: the current file and the one being rotated now count too,
    so ``max_files - 2`` rotated files may stay (names sort by their timestamp)."""
    keep = max(max_files - 2, 0)
    ordered = sorted(rotated)
    return ordered[:max(len(ordered) - keep, 0)]


def compress(path: str) -> None:
    """``path`` → ``path.gz`` through a temporary file, then remove ``path`` (blocking)."""
    tmp = path + TMP_SUFFIX
    try:
        with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path + COMPRESS_SUFFIX)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    os.remove(path)


def _prepare(path: str, max_files: int) -> None:
    """Everything before the rename: drop leftovers and excess files, compress older rotations (blocking)."""
    logs = glob.glob(glob.escape(path) + ".*")
    for p in unused_logs(logs):
        os.remove(p)
    logs = [p for p in logs if os.path.exists(p)]
    for p in excess_logs(logs, max_files):
        os.remove(p)
    for p in sorted(logs):
        if os.path.exists(p) and not p.endswith(COMPRESS_SUFFIX):
            compress(p)


def remove_logs(path: str) -> None:
    """Remove a container's log file and every rotation of it (blocking)."""
    for p in [path, *glob.glob(glob.escape(path) + ".*")]:
        with contextlib.suppress(FileNotFoundError):
            os.remove(p)


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


class ContainerLogManager:
    """Rotates the logs of one runtime's running containers."""

    def __init__(self, runtime: cri.RuntimeClient, *, max_size: int, max_files: int, period: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.max_size = max_size
        self.max_files = max_files
        self.period = period
        self.clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        """Rotate every ``period`` until ``stop``."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.period)
            if not stop.is_set():
                await self.rotate_all()

    async def rotate_all(self) -> None:
        try:
            containers = await self.runtime.list_containers(state=api.CONTAINER_RUNNING)
        except errors.CRIError as e:
            log.warning("listing containers for log rotation failed: %s", e.details)
            return
        for c in containers:
            try:
                await self.rotate_container(c.id)
            except (errors.CRIError, OSError) as e:
                log.warning("rotating the log of container %s failed: %s", c.id[:12], e)

    async def rotate_container(self, container_id: str) -> bool:
        """Rotate the container's log if it reached the size limit; True when it was rotated."""
        path = (await self.runtime.container_status(container_id)).log_path
        if not path:
            return False
        size = await asyncio.to_thread(_size, path)
        if size is None:  # removed behind the runtime's back: have it create the file again
            await self.runtime.reopen_container_log(container_id)
            size = await asyncio.to_thread(_size, path)
        if size is None or size < self.max_size:
            return False
        await asyncio.to_thread(_prepare, path, self.max_files)
        rotated = f"{path}.{time.strftime(TIMESTAMP_FORMAT, time.localtime(self.clock()))}"
        await asyncio.to_thread(os.rename, path, rotated)
        try:
            await self.runtime.reopen_container_log(container_id)
        except errors.CRIError:
            await asyncio.to_thread(os.rename, rotated, path)
            raise
        log.debug("rotated log of container %s to %s", container_id[:12], Path(rotated).name)
        return True
