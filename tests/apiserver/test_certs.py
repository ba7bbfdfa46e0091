"""Cluster PKI: made once, reused on restarts, the serving certificate reissued for new addresses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kybernetes.apiserver import certs


def test_restart_reuses_the_pki_without_parsing_certificates(tmp_path: Path) -> None:
    pki = certs.ensure_pki(tmp_path, ["127.0.0.1"])
    serving = pki.serving_cert.read_bytes()
    assert certs.ensure_pki(tmp_path, ["127.0.0.1"]).serving_cert.read_bytes() == serving
    # a restart reads the recorded names (cryptography is not even imported)
    probe = ("import sys; from pathlib import Path; from kybernetes.apiserver import certs; "
             f"certs.ensure_pki(Path({str(tmp_path)!r}), ['127.0.0.1']); "
             "print('cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_new_address_reissues_the_serving_certificate(tmp_path: Path) -> None:
    pki = certs.ensure_pki(tmp_path, ["127.0.0.1"])
    first = pki.serving_cert.read_bytes()
    pki = certs.ensure_pki(tmp_path, ["127.0.0.1", "10.1.2.3"])
    assert pki.serving_cert.read_bytes() != first
    assert certs._covers(pki.serving_cert, ["10.1.2.3", "127.0.0.1"])


def test_a_stale_record_is_not_trusted(tmp_path: Path) -> None:
    pki = certs.ensure_pki(tmp_path, ["127.0.0.1"])
    record = pki.serving_cert.with_suffix(".sans.json")
    record.write_text('{"sha256": "0", "sans": ["10.9.9.9", "127.0.0.1"]}')
    assert not certs._covers(pki.serving_cert, ["10.9.9.9"])  # the certificate itself decides
    assert certs._covers(pki.serving_cert, ["127.0.0.1"])
