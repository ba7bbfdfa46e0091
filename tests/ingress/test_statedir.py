"""The state directory: private certificates, and a temp dir the unprivileged nginx workers can reach."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from kybernetes.ingress import statedir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_closed_parents_move_temp_files_to_a_private_reachable_dir(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    st = statedir.prepare(tmp_path / "ingress")
    try:
        assert mode(st.path) == 0o711 and mode(st.path / "certs") == 0o700
        assert mode(st.path / "certs" / "default.pem") == 0o600
        assert st.temp_outside and not st.temp.is_relative_to(tmp_path) and mode(st.temp) == 0o711
        assert statedir.prepare(tmp_path / "ingress") == st          # stable per state dir
    finally:
        statedir.cleanup(st)
    assert not st.temp.exists()


def test_open_parents_keep_temp_files_in_the_state_dir() -> None:
    base = Path(tempfile.mkdtemp())
    try:
        os.chmod(base, 0o755)
        st = statedir.prepare(base / "ingress")
        assert st.temp == st.path / "tmp" and not st.temp_outside and st.temp.is_dir()
        statedir.cleanup(st)
        assert st.temp.is_dir()
    finally:
        shutil.rmtree(base)
