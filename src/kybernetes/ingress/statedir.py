"""The controller's state directory: nginx.conf, pid file, logs, certificates (0700) and temp files.

``controller.run_ingress_controller`` calls :func:`prepare` once at start (in a thread: it creates
directories and possibly the default certificate) and :func:`cleanup` after nginx stopped. nginx
workers run as an unprivileged user and must reach their temp directory (request bodies too large
for memory go there); when the state dir's parents are closed to other users, the temp files live in
a private directory under /run (or the system temp dir) instead, named after the state dir.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kybernetes.ingress import certs

__all__ = ["StateDir", "cleanup", "prepare"]


@dataclass(frozen=True, slots=True)
class StateDir:
    path: Path
    temp: Path
    temp_outside: bool          # temp lives outside ``path`` (removed by :func:`cleanup`)


def _traversable(path: Path) -> bool:
    """Whether every directory from / down to ``path`` lets other users pass (the x bit for others)."""
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _private_temp(state: Path) -> Path:
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    temp = base / f"kybernetes-ingress-{hashlib.sha256(str(state).encode()).hexdigest()[:12]}"
    try:
        temp.mkdir(mode=0o711)
    except FileExistsError:
        st = os.lstat(temp)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise PermissionError(f"{temp} exists and is not a directory owned by us; remove it") from None
    os.chmod(temp, 0o711)
    return temp


def prepare(state_dir: Path) -> StateDir:
    """Create the state dir (0711: workers pass through), certs/ (0700) with the default certificate,
    and the temp directory nginx workers can reach."""
    state = state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o711)
    (state / "certs").mkdir(mode=0o700, exist_ok=True)
    certs.ensure_default_certificate(state / "certs" / "default.pem")
    if _traversable(state):
        temp = state / "tmp"
        temp.mkdir(exist_ok=True)
        return StateDir(state, temp, False)
    return StateDir(state, _private_temp(state), True)


def cleanup(state: StateDir) -> None:
    """Remove a temp directory that lives outside the state dir."""
    if state.temp_outside:
        shutil.rmtree(state.temp, ignore_errors=True)
