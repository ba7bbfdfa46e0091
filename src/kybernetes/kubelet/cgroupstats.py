"""CPU and memory readings of one cgroup (cgroup v1), and the arithmetic the Summary API reports.

Role: :mod:`.stats` reads the node's root cgroup, each pod's ``<cgroup_root>/<qos>/pod<uid>`` and each
container's ``<pod cgroup>/<container id>`` (where containerd puts it with the cgroupfs driver) with
:func:`read_sample`, then turns two samples of one cgroup into a CPU rate with :func:`nano_cores`.
Memory follows cAdvisor: the working set is ``memory.usage_in_bytes`` minus ``total_inactive_file``
(page cache the kernel can drop first), never below zero. When the host has no cgroup v1 CPU or memory
hierarchy, the node falls back to ``/proc/stat`` and ``/proc/meminfo``. Everything here blocks (file
reads); callers use a thread.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CGROUP_FS", "CgroupSample", "nano_cores", "parse_memory_stat", "pod_cgroup", "proc_sample",
           "read_sample", "rlimit", "working_set"]

CGROUP_FS = Path("/sys/fs/cgroup")
#: memory.limit_in_bytes at or above this means "no limit" (v1 reports the page-aligned max int64)
_UNLIMITED = 1 << 62
_QOS_DIRS = ("", "burstable", "besteffort")


@dataclass(frozen=True, slots=True)
class CgroupSample:
    """One reading of one cgroup; ``time`` is epoch seconds."""

    time: float
    cpu_usage_ns: int
    memory_usage: int
    working_set: int
    rss: int = 0
    page_faults: int = 0
    major_page_faults: int = 0
    memory_limit: int | None = None
    pids: int | None = None


def parse_memory_stat(text: str) -> dict[str, int]:
    """``memory.stat`` (``key value`` lines) as a dict."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def working_set(usage: int, stat: dict[str, int]) -> int:
    """Usage minus inactive file pages (hierarchical ``total_inactive_file`` on v1), at least 0."""
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    return max(usage - inactive, 0)


def nano_cores(prev: CgroupSample, cur: CgroupSample) -> int | None:
    """CPU used between two samples, in billionths of a core; None when they cannot be compared
    (same instant, or the counter went back because the cgroup was recreated)."""
    elapsed = cur.time - prev.time
    used = cur.cpu_usage_ns - prev.cpu_usage_ns
    if elapsed <= 0 or used < 0:
        return None
    return int(used / elapsed)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pod_cgroup(root: str, uid: str, base: Path = CGROUP_FS) -> str | None:
    """The pod's cgroup path relative to a hierarchy (``/kubepods/besteffort/pod<uid>``), if it exists."""
    rel = root.strip("/")
    for qos in _QOS_DIRS:
        path = "/".join(p for p in (rel, qos, f"pod{uid}") if p)
        if (base / "cpuacct" / path).is_dir():
            return "/" + path
    return None


def read_sample(path: str, base: Path = CGROUP_FS, now: float | None = None) -> CgroupSample | None:
    """CPU and memory of the cgroup at ``path`` (``/`` for the root); None when it does not exist."""
    rel = path.strip("/")
    cpu_dir, mem_dir = base / "cpuacct" / rel, base / "memory" / rel
    stamp = time.time() if now is None else now
    cpu = _read_int(cpu_dir / "cpuacct.usage")
    usage = _read_int(mem_dir / "memory.usage_in_bytes")
    if cpu is None or usage is None:
        return None
    try:
        stat = parse_memory_stat((mem_dir / "memory.stat").read_text())
    except OSError:
        stat = {}
    limit = _read_int(mem_dir / "memory.limit_in_bytes")
    return CgroupSample(time=stamp, cpu_usage_ns=cpu, memory_usage=usage, working_set=working_set(usage, stat),
                        rss=stat.get("total_rss", stat.get("rss", 0)),
                        page_faults=stat.get("total_pgfault", stat.get("pgfault", 0)),
                        major_page_faults=stat.get("total_pgmajfault", stat.get("pgmajfault", 0)),
                        memory_limit=limit if limit is not None and limit < _UNLIMITED else None,
                        pids=_read_int(base / "pids" / rel / "pids.current") if rel else None)


def proc_sample(proc: Path = Path("/proc"), now: float | None = None) -> CgroupSample:
    """The whole host from ``/proc/stat`` (busy jiffies) and ``/proc/meminfo`` (total - available)."""
    stamp = time.time() if now is None else now
    fields = (proc / "stat").read_text().splitlines()[0].split()[1:]
    jiffies = [int(x) for x in fields]
    busy = sum(jiffies) - jiffies[3] - (jiffies[4] if len(jiffies) > 4 else 0)  # minus idle and iowait
    mem = {k: int(v.split()[0]) * 1024 for k, _, v in
           (line.partition(":") for line in (proc / "meminfo").read_text().splitlines()) if v.strip()}
    used = mem.get("MemTotal", 0) - mem.get("MemAvailable", mem.get("MemFree", 0))
    return CgroupSample(time=stamp, cpu_usage_ns=busy * 1_000_000_000 // os.sysconf("SC_CLK_TCK"),
                        memory_usage=used, working_set=used)


def rlimit(proc: Path = Path("/proc")) -> tuple[int | None, int | None]:
    """(tasks the kernel allows: min of pid_max and threads-max, tasks that exist now)."""
    limits = [v for v in (_read_int(proc / "sys/kernel/pid_max"), _read_int(proc / "sys/kernel/threads-max"))
              if v is not None]
    try:
        running = int((proc / "loadavg").read_text().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        running = None
    return (min(limits) if limits else None), running
