"""Removing a finished pod's cgroup directories (containerd and runc leave ``<root>/<qos>/pod<uid>`` behind).

Role: :mod:`.syncpod` calls :func:`remove_pod_cgroups` after the pod's sandbox and containers are
removed; :func:`remove_root` lets a test tear down its whole cgroup root. Every v1 controller hierarchy
under ``/sys/fs/cgroup`` (and the cgroup2 tree, on hybrid hosts ``/sys/fs/cgroup/unified``) is visited;
only empty directories can be removed, deepest first. Blocking; callers use a thread.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["CGROUP_FS", "pod_cgroup_dirs", "remove_pod_cgroups", "remove_root"]

CGROUP_FS = Path("/sys/fs/cgroup")


def _hierarchies(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    if (base / "cgroup.controllers").exists():
        return [base]
    return [p for p in base.iterdir() if p.is_dir() and not p.is_symlink()]


def pod_cgroup_dirs(root: str, uid: str, base: Path = CGROUP_FS) -> list[Path]:
    """Existing cgroup directories of pod ``uid`` under the cgroup root ``root`` (any QoS class)."""
    rel = root.strip("/")
    out = []
    for h in _hierarchies(base):
        for qos in ("", "burstable", "besteffort"):
            d = h / rel / qos / f"pod{uid}" if qos else h / rel / f"pod{uid}"
            if d.is_dir():
                out.append(d)
    return out


def _rmdir_tree(top: Path) -> bool:
    ok = True
    for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
        try:
            os.rmdir(dirpath)
        except OSError:
            ok = False
    return ok


def remove_pod_cgroups(root: str, uid: str, base: Path = CGROUP_FS) -> list[Path]:
    """Remove the pod's cgroup directories; returns the ones that could not be removed (still busy)."""
    return [d for d in pod_cgroup_dirs(root, uid, base) if not _rmdir_tree(d)]


def remove_root(root: str, base: Path = CGROUP_FS) -> None:
    """Remove ``root`` and everything empty below it in every hierarchy (test teardown)."""
    rel = root.strip("/")
    if not rel:
        return
    for h in _hierarchies(base):
        with contextlib.suppress(OSError):
            if (h / rel).is_dir():
                _rmdir_tree(h / rel)
