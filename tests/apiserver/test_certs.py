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


def _csr(cn: str, org: str | None) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return (x509.CertificateSigningRequestBuilder().subject_name(certs._name(cn, org)).sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM))


def test_join_token_names_the_ca_and_node_requests_are_checked(tmp_path: Path) -> None:
    import hashlib

    import pytest
    from cryptography import x509

    pki = certs.ensure_pki(tmp_path, ["127.0.0.1"])
    token = (tmp_path / "token").read_text().strip()
    assert token == f"K10{hashlib.sha256(pki.ca_cert.read_bytes()).hexdigest()}::server:{pki.node_token}"
    user, pem = certs.sign_node_csr(pki.ca_cert, pki.ca_key, _csr("system:node:worker-1", "system:nodes"))
    cert = x509.load_pem_x509_certificate(pem)
    assert user == "system:node:worker-1"
    assert cert.subject.rfc4514_string() == "CN=system:node:worker-1,O=system:nodes"
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()))
    assert certs.sign_node_csr(pki.ca_cert, pki.ca_key, _csr("system:kube-proxy", None))[0] == "system:kube-proxy"
    for cn, org, why in (("system:admin", "system:masters", "subject must be"),
                         ("system:node:x", None, "subject must be"),
                         ("system:node:Bad_Name", "system:nodes", 'invalid node name "Bad_Name"')):
        with pytest.raises(certs.CSRError, match=why):
            certs.sign_node_csr(pki.ca_cert, pki.ca_key, _csr(cn, org))


def test_embedded_node_credentials_are_reused_while_valid(tmp_path: Path) -> None:
    pki = certs.ensure_pki(tmp_path, ["127.0.0.1"])
    cert, key = certs.issue_node_credentials(pki, "node-a", tmp_path / "agent")
    first = cert.read_bytes()
    assert key.stat().st_mode & 0o777 == 0o600
    assert certs.issue_node_credentials(pki, "node-a", tmp_path / "agent")[0].read_bytes() == first
    assert certs.issue_node_credentials(pki, "node-b", tmp_path / "agent")[0].read_bytes() != first  # renamed node
