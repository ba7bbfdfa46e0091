"""The kubelet server's self-signed serving certificate (like a kubelet without ``--tls-cert-file``).

Role: :mod:`.server` calls :func:`ensure_serving_cert` at start; the certificate and key live in
``<data-dir>/agent/tls/kubelet.{crt,key}``, are reused while their SANs still cover the node's name and
IP, and are otherwise regenerated (EC P-256, self-signed, valid one year). Blocking; call it in a thread.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ensure_serving_cert"]

VALIDITY = datetime.timedelta(days=365)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _covers(cert_path: Path, names: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    have = {str(v) for v in sans.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    return all(n in have for n in names) and cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC)


def ensure_serving_cert(directory: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """(certificate, key) paths for a server reachable as ``node_name``/``node_ip`` (and localhost)."""
    names = list(dict.fromkeys(n for n in (node_name, node_ip, "localhost", "127.0.0.1") if n))
    cert_path, key_path = directory / "kubelet.crt", directory / "kubelet.key"
    if cert_path.exists() and key_path.exists() and _covers(cert_path, names):
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@kubelet")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    tmp = key_path.with_suffix(".tmp")
    tmp.write_bytes(key_bytes)
    os.chmod(tmp, 0o600)
    tmp.replace(key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
