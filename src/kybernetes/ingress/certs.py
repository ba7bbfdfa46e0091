"""TLS material for nginx: the default self-signed certificate and checks of TLS Secrets.

``ingress/model.py`` calls :func:`pem_bundle` on each ``kubernetes.io/tls`` Secret an Ingress
names; ``ingress/controller.py`` calls :func:`ensure_default_certificate` once at start and
:func:`write_private` for every certificate file nginx.conf refers to (mode 0600, written before the
configuration that names it is tested).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["DEFAULT_CERT_CN", "InvalidCertificate", "ensure_default_certificate", "pem_bundle", "write_private"]

DEFAULT_CERT_CN = "Kubernetes Ingress Controller Fake Certificate"
TLS_CERT_KEY = "tls.crt"
TLS_PRIVATE_KEY = "tls.key"


class InvalidCertificate(ValueError):
    """A TLS Secret that nginx could not load; the message says what is wrong with it."""


def self_signed(common_name: str = DEFAULT_CERT_CN, days: int = 365) -> bytes:
    """A fresh EC P-256 key and a self-signed certificate for ``common_name``, as one PEM bundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme Co"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("ingress.local")]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM) + key_pem


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically (a temp file renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_default_certificate(path: Path) -> None:
    """Create the default certificate at ``path`` unless a loadable one is already there."""
    if path.exists():
        try:
            _check(path.read_bytes(), path.read_bytes())
            return
        except InvalidCertificate:
            pass
    write_private(path, self_signed())


def _decode(data: dict[str, str], key: str) -> bytes:
    value = data.get(key)
    if not value:
        raise InvalidCertificate(f"secret has no {key}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidCertificate(f"{key} is not base64: {e}") from None


@functools.lru_cache(maxsize=256)
def _check(crt: bytes, key: bytes) -> None:
    try:
        certs = x509.load_pem_x509_certificates(crt)
    except ValueError as e:
        raise InvalidCertificate(f"{TLS_CERT_KEY} holds no PEM certificate: {e}") from None
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as e:
        raise InvalidCertificate(f"{TLS_PRIVATE_KEY} holds no usable PEM private key: {e}") from None
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    leaf = certs[0].public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    if public != leaf:
        raise InvalidCertificate("the private key does not match the certificate")


def pem_bundle(secret_data: dict[str, str] | None) -> bytes:
    """Certificate chain + private key of a TLS Secret's ``data``, checked to load and to match."""
    data = secret_data or {}
    crt, key = _decode(data, TLS_CERT_KEY), _decode(data, TLS_PRIVATE_KEY)
    _check(crt, key)
    return crt.rstrip(b"\n") + b"\n" + key.rstrip(b"\n") + b"\n"
