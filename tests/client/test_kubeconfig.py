"""Loading a kubeconfig: inline certificates become an SSL context without leaving key files behind."""

from __future__ import annotations

import base64
import ssl
import tempfile
from pathlib import Path

import pytest
from cryptography import x509

from kybernetes.apiserver.certs import ensure_pki, write_kubeconfig
from kybernetes.client.rest import load_kubeconfig


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("kyb-kc-*")}


def test_inline_credentials_leave_no_files(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", [])
    kc = tmp_path / "kubeconfig"
    write_kubeconfig(kc, pki, "https://127.0.0.1:1")
    before = _leftovers()
    cfg = load_kubeconfig(kc)
    assert _leftovers() == before
    assert isinstance(cfg.ssl, ssl.SSLContext)
    assert cfg.ssl.verify_mode == ssl.CERT_REQUIRED
    # the CA from certificate-authority-data is the one trusted
    assert [c["subject"] for c in cfg.ssl.get_ca_certs()] == [
        ((("commonName", _ca_common_name(pki.ca_cert)),),)]


def test_file_references_are_read_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", [])
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:1/", certificate-authority: pki/{pki.ca_cert.relative_to(tmp_path / 'pki')}}}}}]
users: [{{name: u, user: {{client-certificate: {pki.admin_cert}, client-key: {pki.admin_key}}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    cfg = load_kubeconfig(kc)
    assert cfg.server == "https://127.0.0.1:1"
    assert isinstance(cfg.ssl, ssl.SSLContext) and len(cfg.ssl.get_ca_certs()) == 1


def test_a_key_that_does_not_match_is_refused(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", [])
    other = ensure_pki(tmp_path / "other", [])
    kc = tmp_path / "kubeconfig"
    write_kubeconfig(kc, pki, "https://127.0.0.1:1")
    kc.write_text(kc.read_text().replace(_b64(pki.admin_key), _b64(other.admin_key)))
    before = _leftovers()
    with pytest.raises(ssl.SSLError):
        load_kubeconfig(kc)
    assert _leftovers() == before


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _ca_common_name(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
