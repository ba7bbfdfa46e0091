"""The kubelet's resource statistics: periodic cgroup samples, served as the Summary API.

Role: the agent runs :meth:`StatsProvider.run` (one pass every ``stats_period``, like cAdvisor's
housekeeping); :mod:`.server` answers ``GET /stats/summary`` with :meth:`StatsProvider.summary`, and
:mod:`.pressure` reads the same summary for the eviction signals. Each pass lists the runtime's ready
sandboxes and running containers, then reads (in a thread) the node's root cgroup, the pods' cgroup
root, every pod's cgroup and every container's (:mod:`.cgroupstats`), the node filesystem (the data
directory's) and the image filesystem (the runtime's ``ImageFsInfo`` mountpoint), and the task limits.
``usageNanoCores`` is the rate between a cgroup's last two samples, so it appears from the second pass
on; ``usageCoreNanoSeconds`` is the cumulative counter. The document has the shape of the kubelet's
``stats/v1alpha1`` Summary (``node``, ``pods[].podRef``, ``containers[]``, ``cpu``, ``memory``, ``fs``,
``runtime.imageFs``, ``rlimit``). Upstream: pkg/kubelet/apis/stats/v1alpha1/types.go,
pkg/kubelet/stats/cadvisor_stats_provider.go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.kubelet import cgroupstats
from kybernetes.kubelet.cgroupstats import CGROUP_FS, CgroupSample
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.runtime import cri, errors
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["FsUsage", "StatsProvider", "cpu_stats", "fs_usage", "memory_stats"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_NODE, _PODS = "node", "pods"


@dataclass(frozen=True, slots=True)
class FsUsage:
    """A filesystem's size and free space (``statvfs``); ``used`` may come from elsewhere (image bytes)."""

    time: float
    capacity: int
    available: int
    used: int
    inodes: int
    inodes_free: int

    def stats(self) -> Obj:
        return {"time": format_time(self.time), "availableBytes": self.available, "capacityBytes": self.capacity,
                "usedBytes": self.used, "inodesFree": self.inodes_free, "inodes": self.inodes,
                "inodesUsed": max(self.inodes - self.inodes_free, 0)}


def fs_usage(path: Path | str, used: int | None = None) -> FsUsage | None:
    """``statvfs`` of ``path`` (blocking); None when it cannot be read."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    capacity = st.f_blocks * st.f_frsize
    return FsUsage(time=time.time(), capacity=capacity, available=st.f_bavail * st.f_frsize,
                   used=used if used is not None else (st.f_blocks - st.f_bfree) * st.f_frsize,
                   inodes=st.f_files, inodes_free=st.f_ffree)


def cpu_stats(prev: CgroupSample | None, cur: CgroupSample) -> Obj:
    """``CPUStats``: cumulative usage, and the rate since the previous sample when there is one."""
    out: Obj = {"time": format_time(cur.time), "usageCoreNanoSeconds": cur.cpu_usage_ns}
    rate = cgroupstats.nano_cores(prev, cur) if prev is not None else None
    if rate is not None:
        out["usageNanoCores"] = rate
    return out


def memory_stats(cur: CgroupSample, capacity: int | None = None) -> Obj:
    """``MemoryStats``; ``availableBytes`` only where there is a limit (the cgroup's, or the node's memory)."""
    out: Obj = {"time": format_time(cur.time), "usageBytes": cur.memory_usage, "workingSetBytes": cur.working_set,
                "rssBytes": cur.rss, "pageFaults": cur.page_faults, "majorPageFaults": cur.major_page_faults}
    limit = cur.memory_limit if cur.memory_limit is not None else capacity
    if limit:
        out["availableBytes"] = max(limit - cur.working_set, 0)
    return out


@dataclass
class _Container:
    name: str
    id: str
    started: float


@dataclass
class _Pod:
    name: str
    namespace: str
    uid: str
    started: float
    cgroup: str | None = None
    containers: list[_Container] = field(default_factory=list)


@dataclass
class _Pass:
    """What one housekeeping pass read."""

    samples: dict[str, CgroupSample] = field(default_factory=dict)
    pods: list[_Pod] = field(default_factory=list)
    nodefs: FsUsage | None = None
    imagefs: FsUsage | None = None
    rlimit: tuple[int | None, int | None] = (None, None)
    time: float = 0.0


class StatsProvider:
    """Samples this node's cgroups and filesystems; keeps the last two samples of each cgroup."""

    def __init__(self, cfg: KubeletConfig, runtime: cri.RuntimeClient, *, base: Path = CGROUP_FS,
                 proc: Path = Path("/proc"), clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.runtime = runtime
        self.base = base
        self.proc = proc
        self.clock = clock
        #: node memory (``MemTotal``); set by the agent once the node registered
        self.memory_capacity = 0
        self._previous: dict[str, CgroupSample] = {}
        self._last = _Pass()
        self.boot_time = _boot_time(proc)

    @property
    def sampled(self) -> bool:
        return bool(self._last.time)

    async def _layout(self) -> tuple[list[_Pod], str | None, int | None]:
        """Ready pods with their running containers, and the image filesystem (mountpoint, bytes)."""
        sandboxes = await self.runtime.list_pod_sandbox(state=api.SANDBOX_READY)
        containers = await self.runtime.list_containers(state=api.CONTAINER_RUNNING)
        pods: dict[str, _Pod] = {}
        for sb in sandboxes:
            md = sb.metadata
            pods[sb.id] = _Pod(md.name, md.namespace, md.uid, sb.created_at / 1e9)
        for c in containers:
            pod = pods.get(c.pod_sandbox_id)
            if pod is not None:
                pod.containers.append(_Container(c.metadata.name, c.id, c.created_at / 1e9))
        mountpoint, used = None, None
        with contextlib.suppress(errors.CRIError):
            info = await self.runtime.image_fs_info()
            for fs in info.image_filesystems:
                mountpoint, used = fs.fs_id.mountpoint, int(fs.used_bytes.value)
                break
        return sorted(pods.values(), key=lambda p: (p.namespace, p.name)), mountpoint, used

    def _read(self, pods: list[_Pod], image_mountpoint: str | None, image_bytes: int | None) -> _Pass:
        """Every reading of one pass (blocking)."""
        out = _Pass(pods=pods, time=self.clock())
        node = cgroupstats.read_sample("/", self.base, self.clock())
        out.samples[_NODE] = node if node is not None else cgroupstats.proc_sample(self.proc, self.clock())
        root = cgroupstats.read_sample(self.cfg.cgroup_root, self.base, self.clock())
        if root is not None:
            out.samples[_PODS] = root
        for pod in pods:
            pod.cgroup = cgroupstats.pod_cgroup(self.cfg.cgroup_root, pod.uid, self.base)
            if pod.cgroup is None:
                continue
            sample = cgroupstats.read_sample(pod.cgroup, self.base, self.clock())
            if sample is not None:
                out.samples[pod.cgroup] = sample
            for c in pod.containers:
                sample = cgroupstats.read_sample(f"{pod.cgroup}/{c.id}", self.base, self.clock())
                if sample is not None:
                    out.samples[f"{pod.cgroup}/{c.id}"] = sample
        out.nodefs = fs_usage(self.cfg.data_dir)
        if image_mountpoint:
            out.imagefs = fs_usage(image_mountpoint, image_bytes)
        out.rlimit = cgroupstats.rlimit(self.proc)
        return out

    async def sample(self) -> None:
        """One housekeeping pass."""
        pods, mountpoint, image_bytes = await self._layout()
        current = await asyncio.to_thread(self._read, pods, mountpoint, image_bytes)
        # a cgroup that vanished is forgotten; one that reappears starts its rate afresh
        self._previous = {k: v for k, v in self._last.samples.items() if k in current.samples}
        self._last = current

    async def run(self, stop: asyncio.Event, after: Callable[[Obj], Awaitable[None]] | None = None) -> None:
        """Sample every ``stats_period`` until ``stop``; ``after`` gets each fresh summary."""
        while not stop.is_set():
            try:
                await self.sample()
            except errors.CRIError as e:
                log.warning("collecting container stats failed: %s", e.details)
            else:
                if after is not None:
                    await after(self.summary())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.stats_period)

    def _pair(self, key: str) -> tuple[CgroupSample | None, CgroupSample | None]:
        return self._previous.get(key), self._last.samples.get(key)

    def _usage(self, key: str, capacity: int | None = None) -> Obj:
        prev, cur = self._pair(key)
        if cur is None:
            return {}
        return {"cpu": cpu_stats(prev, cur), "memory": memory_stats(cur, capacity)}

    def summary(self) -> Obj:
        """The Summary API document of the last pass."""
        last = self._last
        node: Obj = {"nodeName": self.cfg.node_name, "startTime": format_time(self.boot_time)}
        node.update(self._usage(_NODE, self.memory_capacity or None))
        if _PODS in last.samples:
            node["systemContainers"] = [{"name": "pods", "startTime": format_time(self.boot_time),
                                         **self._usage(_PODS, self.memory_capacity or None)}]
        if last.nodefs is not None:
            node["fs"] = last.nodefs.stats()
        if last.imagefs is not None:
            node["runtime"] = {"imageFs": last.imagefs.stats()}
        maxpid, running = last.rlimit
        if maxpid is not None or running is not None:
            node["rlimit"] = {"time": format_time(last.time or self.clock()),
                              **({"maxpid": maxpid} if maxpid is not None else {}),
                              **({"curproc": running} if running is not None else {})}
        return {"node": node, "pods": [self._pod(p) for p in last.pods]}

    def _pod(self, pod: _Pod) -> Obj:
        out: Obj = {"podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                    "startTime": format_time(pod.started), "containers": []}
        for c in sorted(pod.containers, key=lambda c: c.name):
            entry: Obj = {"name": c.name, "startTime": format_time(c.started)}
            if pod.cgroup is not None:
                entry.update(self._usage(f"{pod.cgroup}/{c.id}"))
            out["containers"].append(entry)
        if pod.cgroup is not None:
            out.update(self._usage(pod.cgroup))
            cur = self._last.samples.get(pod.cgroup)
            if cur is not None and cur.pids is not None:
                out["process_stats"] = {"process_count": cur.pids}
        return out


def _boot_time(proc: Path) -> float:
    try:
        return time.time() - float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return time.time()
