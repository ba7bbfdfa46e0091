"""Host checks and the two host fixes containerd needs on some machines.

Role: :mod:`.containerd` asks this module, before writing its config and starting the daemon,

1. whether the process lacks CAP_SYS_RESOURCE (bit 24 of ``CapEff``): then CRI's negative sandbox
   ``oom_score_adj`` makes runc fail, and containerd must run with ``restrict_oom_score_adj = true``;
2. whether a cgroup-v1 ``hugetlb`` hierarchy is attached to our processes (it appears in
   ``/proc/self/cgroup``) but mounted nowhere (absent from ``/proc/self/mountinfo``): containerd's cgroups
   library then cannot load any container's cgroup, so stats and OOMKilled reporting break. The fix mounts
   the hierarchy at ``/sys/fs/cgroup/hugetlb`` (idempotent) and records in the state directory that *we* did,
   so that :func:`undo_hugetlb` undoes only our own mount.

The parsers take the file text so they can be tested with fixtures.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from kybernetes.runtime import errors

__all__ = [
    "CAP_SYS_RESOURCE",
    "HUGETLB_MOUNTPOINT",
    "HostFixes",
    "capability_missing",
    "ensure_hugetlb",
    "hugetlb_attached",
    "hugetlb_mountpoints",
    "hugetlb_needs_mount",
    "undo_hugetlb",
]

log = logging.getLogger(__name__)

CAP_SYS_RESOURCE = 24
HUGETLB_MOUNTPOINT = Path("/sys/fs/cgroup/hugetlb")
_MARKER = "hugetlb-mount.json"


@dataclass(frozen=True)
class HostFixes:
    """What :mod:`.containerd` found and did on this host."""

    restrict_oom_score_adj: bool  # CAP_SYS_RESOURCE missing → containerd clamps oom_score_adj
    hugetlb_mounted_by_us: bool   # we mounted the hugetlb hierarchy (now or in an earlier run)


def capability_missing(cap: int, status_text: str | None = None) -> bool:
    """True if capability number ``cap`` is not in this process's effective set (``CapEff``)."""
    text = status_text if status_text is not None else Path("/proc/self/status").read_text()
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            return not (int(line.split()[1], 16) >> cap) & 1
    return True


def hugetlb_attached(cgroup_text: str) -> bool:
    """True if a v1 hierarchy with the ``hugetlb`` controller is listed in ``/proc/<pid>/cgroup``."""
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and "hugetlb" in parts[1].split(","):
            return True
    return False


def hugetlb_mountpoints(mountinfo_text: str) -> list[str]:
    """Mount points of cgroup-v1 filesystems carrying the ``hugetlb`` option, from ``mountinfo``."""
    out: list[str] = []
    for line in mountinfo_text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields, tail = pre.split(), post.split()
        if len(tail) >= 3 and tail[0] == "cgroup" and "hugetlb" in tail[2].split(","):
            out.append(fields[4].replace("\\040", " "))
    return out


def hugetlb_needs_mount(cgroup_text: str, mountinfo_text: str) -> bool:
    """The quirk: hugetlb is attached but mounted nowhere."""
    return hugetlb_attached(cgroup_text) and not hugetlb_mountpoints(mountinfo_text)


async def _run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise errors.ContainerdError(f"{' '.join(argv)} failed ({proc.returncode}): {out.decode().strip()}")


def _read(path: str) -> str:
    return Path(path).read_text()


async def ensure_hugetlb(state_dir: Path, mountpoint: Path = HUGETLB_MOUNTPOINT) -> bool:
    """Mount the hugetlb hierarchy if the quirk is present. Returns True if it is mounted by us (now, or in
    an earlier run recorded in ``state_dir``), False if nothing was needed or someone else mounted it."""
    cgroup_text, mountinfo = await asyncio.gather(asyncio.to_thread(_read, "/proc/self/cgroup"),
                                                  asyncio.to_thread(_read, "/proc/self/mountinfo"))
    marker = state_dir / _MARKER
    if not hugetlb_needs_mount(cgroup_text, mountinfo):
        recorded = await asyncio.to_thread(_load_marker, marker)
        return recorded is not None and recorded["mountpoint"] in hugetlb_mountpoints(mountinfo)
    created = not await asyncio.to_thread(mountpoint.exists)
    await asyncio.to_thread(mountpoint.mkdir, parents=True, exist_ok=True)
    await _run("mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", str(mountpoint))
    await asyncio.to_thread(_write_marker, marker, {"mountpoint": str(mountpoint), "created_dir": created})
    log.info("Mounted the attached but unmounted hugetlb cgroup hierarchy at %s", mountpoint)
    return True


async def undo_hugetlb(state_dir: Path) -> bool:
    """Unmount the hugetlb hierarchy if (and only if) :func:`ensure_hugetlb` mounted it; returns True if it
    did. Call only when no containers of this host still use it (full teardown)."""
    marker = state_dir / _MARKER
    recorded = await asyncio.to_thread(_load_marker, marker)
    if recorded is None:
        return False
    mountpoint = recorded["mountpoint"]
    mountinfo = await asyncio.to_thread(_read, "/proc/self/mountinfo")
    if mountpoint in hugetlb_mountpoints(mountinfo):
        await _run("umount", mountpoint)
        if recorded.get("created_dir"):
            try:
                await asyncio.to_thread(os.rmdir, mountpoint)
            except OSError as e:
                log.warning("Could not remove %s: %s", mountpoint, e)
    await asyncio.to_thread(marker.unlink, missing_ok=True)
    log.info("Unmounted the hugetlb cgroup hierarchy at %s", mountpoint)
    return True


def _load_marker(marker: Path) -> dict[str, object] | None:
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("mountpoint"), str) else None


def _write_marker(marker: Path, data: dict[str, object]) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(data))
