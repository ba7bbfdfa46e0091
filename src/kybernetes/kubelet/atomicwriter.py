"""Atomic volume contents: the ``..data`` symlink swap used by configMap, secret, downwardAPI and projected
volumes.

Role: :mod:`.volumes` hands :func:`write_payload` the complete file set of a volume; readers inside the
container always see either the old or the new set, never a mix. Layout (as the kubelet's AtomicWriter):

    <dir>/..2026_11_22_04_43_12.123456789/<files>   the current payload (timestamped)
    <dir>/..data -> ..2026_11_22_04_43_12.123456789
    <dir>/<top-level name> -> ..data/<top-level name>

An update writes a new timestamped directory, points ``..data_tmp`` at it, renames ``..data_tmp`` over
``..data`` (one atomic rename), then removes the old directory and user-visible links that are gone.
Blocking; callers run it in a thread.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["DATA_DIR", "FileProjection", "read_payload", "write_payload"]

DATA_DIR = "..data"
_TMP_LINK = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    """One file of a volume payload."""

    data: bytes
    mode: int = 0o644


def _timestamp_dir_name() -> str:
    ns = time.time_ns()
    return "..{}.{:09d}".format(time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime(ns // 1_000_000_000)),
                                ns % 1_000_000_000)


def _validate(path: str) -> None:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or path.startswith(".."):
        raise ValueError(f"invalid file path in volume payload: {path!r}")


def read_payload(target: Path) -> dict[str, FileProjection] | None:
    """The current payload of ``target`` (None when it has none yet)."""
    data = target / DATA_DIR
    if not data.is_symlink():
        return None
    root = data.resolve()
    out: dict[str, FileProjection] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            full = Path(dirpath) / f
            out[str(full.relative_to(root))] = FileProjection(full.read_bytes(), full.stat().st_mode & 0o7777)
    return out


def write_payload(target: Path, payload: Mapping[str, FileProjection]) -> bool:
    """Make ``target`` hold exactly ``payload``; returns False when it already did (nothing written)."""
    for path in payload:
        _validate(path)
    target.mkdir(parents=True, exist_ok=True)
    if read_payload(target) == dict(payload):
        return False
    new_dir = target / _timestamp_dir_name()
    new_dir.mkdir(mode=0o755)
    for rel, proj in payload.items():
        f = new_dir / rel
        f.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        f.write_bytes(proj.data)
        f.chmod(proj.mode)
    old_link = target / DATA_DIR
    old_dir = old_link.resolve() if old_link.is_symlink() else None
    tmp = target / _TMP_LINK
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(new_dir.name)
    tmp.replace(old_link)
    wanted = {PurePosixPath(rel).parts[0] for rel in payload}
    for name in wanted:
        link = target / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA_DIR}/{name}")
    for entry in target.iterdir():
        if entry.name.startswith("..") or entry.name in wanted:
            continue
        if entry.is_symlink():
            entry.unlink()
    if old_dir is not None and old_dir != new_dir and old_dir.parent == target:
        shutil.rmtree(old_dir, ignore_errors=True)
    return True
