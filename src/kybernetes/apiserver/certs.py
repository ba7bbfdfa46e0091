"""Cluster PKI on first start: a CA, the serving certificate, the admin client certificate and
tokens, all under ``<data-dir>/server/tls``; plus the admin kubeconfig, and node credentials.

The join token in ``<data-dir>/token`` has k3s's form ``K10<sha256 of the CA certificate>::server:<secret>``:
an agent checks the CA it downloads against the hash, then trades the secret for a client certificate
``system:node:<name>`` (group ``system:nodes``) signed by the cluster CA (:func:`sign_node_csr`).

EC P-256 keys keep generation in milliseconds so a fresh ``kyb server`` is up in well under a
second. Files are reused on later starts (regenerating the serving certificate if its SANs no
longer cover the configured addresses).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import secrets
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where certificates are made: a restart with a complete PKI needs none of it
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

VALIDITY = datetime.timedelta(days=3650)
NODE_CERT_VALIDITY = datetime.timedelta(days=365)
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
KUBE_PROXY_USER = "system:kube-proxy"


@dataclass(frozen=True, slots=True)
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    admin_token: str
    node_token: str  # the join secret (the part after ``::server:`` in the join token)

    @property
    def join_token(self) -> str:
        return join_token(self.ca_cert.read_bytes(), self.node_token)

    def server_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.serving_cert, self.serving_key)
        ctx.load_verify_locations(cafile=str(self.ca_cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates authenticate; tokens too
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        ctx.load_cert_chain(self.admin_cert, self.admin_key)
        return ctx


def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str, org: str | None = None) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _issue(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
           issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False, server: bool = False,
           sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + VALIDITY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def serving_sans(extra: list[str]) -> list[str]:
    names = ["127.0.0.1", "localhost", socket.gethostname(), "kubernetes", "kubernetes.default",
             "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "10.43.0.1"]
    return list(dict.fromkeys(names + [e for e in extra if e and e != "0.0.0.0"]))


def _san_entries(names: list[str]) -> list[x509.GeneralName]:
    from cryptography import x509

    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def ensure_pki(data_dir: Path, extra_sans: list[str]) -> Pki:
    tls = data_dir / "server" / "tls"
    ca_cert, ca_key = tls / "server-ca.crt", tls / "server-ca.key"
    serving_cert, serving_key = tls / "serving-kube-apiserver.crt", tls / "serving-kube-apiserver.key"
    admin_cert, admin_key = tls / "client-admin.crt", tls / "client-admin.key"
    sans = serving_sans(extra_sans)
    complete = all(p.exists() for p in (ca_cert, ca_key, serving_cert, admin_cert)) and _covers(serving_cert, sans)
    if not complete:
        _issue_missing(tls, sans)
    admin_token = _token(tls / "admin-token")
    node_token = _token(data_dir / "server" / "node-token", prefix="")
    token_file = data_dir / "token"
    full = join_token(ca_cert.read_bytes(), node_token) + "\n"
    try:
        current = token_file.read_text()
    except FileNotFoundError:
        current = ""
    if current != full:  # written once, and again if the CA changed
        _write(token_file, full.encode())
    return Pki(tls, ca_cert, ca_key, serving_cert, serving_key, admin_cert, admin_key, admin_token, node_token)


def ca_hash(ca_pem: bytes) -> str:
    """What a join token carries after ``K10``: the SHA-256 of the CA certificate file, in hex."""
    return hashlib.sha256(ca_pem).hexdigest()


def join_token(ca_pem: bytes, secret: str) -> str:
    return f"K10{ca_hash(ca_pem)}::server:{secret}"


class CSRError(ValueError):
    """A certificate request this CA will not sign; the message says why."""


def sign_node_csr(ca_cert: Path, ca_key: Path, csr_pem: bytes) -> tuple[str, bytes]:
    """Sign a node's client certificate request: the subject must be ``CN=system:node:<name>,
    O=system:nodes`` with a DNS-subdomain node name, or ``CN=system:kube-proxy`` (the node's service
    proxy, as k3s issues it). Returns (user name, certificate PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from kybernetes.api.validation import is_dns1123_subdomain

    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as e:
        raise CSRError(f"the request body is not a PEM certificate signing request: {e}") from None
    if not csr.is_signature_valid:
        raise CSRError("the certificate signing request's signature is invalid")
    cns = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    cn = str(cns[0]) if len(cns) == 1 else ""
    name = cn.removeprefix(NODE_USER_PREFIX)
    if cn == KUBE_PROXY_USER and not orgs:
        name = ""
    elif not cn.startswith(NODE_USER_PREFIX) or orgs != [NODES_GROUP]:
        raise CSRError(f'subject must be "O={NODES_GROUP},CN={NODE_USER_PREFIX}<node name>", got "{csr.subject.rfc4514_string()}"')
    problems = is_dns1123_subdomain(name) if name else []
    if problems:
        raise CSRError(f'invalid node name "{name}": {"; ".join(problems)}')
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    ca_private = serialization.load_pem_private_key(ca_key.read_bytes(), None)
    assert isinstance(ca_private, ec.EllipticCurvePrivateKey)
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + NODE_CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_private, hashes.SHA256()))
    return cn, cert.public_bytes(serialization.Encoding.PEM)


def issue_node_credentials(pki: Pki, node_name: str, directory: Path) -> tuple[Path, Path]:
    """The embedded agent's client certificate for ``system:node:<node_name>``, made with the CA at hand
    (a remote agent gets the same through the join endpoint); reused while valid for this CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    cert_path, key_path = directory / "client-kubelet.crt", directory / "client-kubelet.key"
    if _node_cert_usable(cert_path, key_path, pki.ca_cert, node_name):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_name(NODE_USER_PREFIX + node_name, NODES_GROUP))
           .sign(key, hashes.SHA256()))
    _, pem = sign_node_csr(pki.ca_cert, pki.ca_key, csr.public_bytes(serialization.Encoding.PEM))
    _write(key_path, _key_pem(key))
    _write(cert_path, pem, 0o644)
    return cert_path, key_path


def _node_cert_usable(cert_path: Path, key_path: Path, ca_cert: Path, node_name: str) -> bool:
    """Signed by this CA, for this node, and more than a day away from expiry."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import NameOID

    if not cert_path.exists() or not key_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    return cns == [NODE_USER_PREFIX + node_name] and cert.not_valid_after_utc > soon


def _issue_missing(tls: Path, sans: list[str]) -> None:
    """Create the CA, the serving and the admin certificates that do not exist (yet), and a
    serving certificate whose SANs no longer cover ``sans``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_cert, ca_key = tls / "server-ca.crt", tls / "server-ca.key"
    if not ca_cert.exists() or not ca_key.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"kybernetes-server-ca@{int(datetime.datetime.now(datetime.UTC).timestamp())}")
        cert = _issue(name, key, name, key, ca=True)
        _write(ca_key, _key_pem(key))
        _write(ca_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    ca_private = serialization.load_pem_private_key(ca_key.read_bytes(), None)
    assert isinstance(ca_private, ec.EllipticCurvePrivateKey)

    serving_cert, serving_key = tls / "serving-kube-apiserver.crt", tls / "serving-kube-apiserver.key"
    if not serving_cert.exists() or not _covers(serving_cert, sans):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(_name("kube-apiserver"), key, ca.subject, ca_private, server=True, sans=_san_entries(sans))
        _write(serving_key, _key_pem(key))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        _write(serving_cert, pem, 0o644)
        _record_sans(serving_cert, pem, [_normalized(n) for n in sans])  # as parsing would find them

    admin_cert, admin_key = tls / "client-admin.crt", tls / "client-admin.key"
    if not admin_cert.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(_name("system:admin", "system:masters"), key, ca.subject, ca_private)
        _write(admin_key, _key_pem(key))
        _write(admin_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _token(path: Path, prefix: str = "K10") -> str:
    if path.exists():
        return path.read_text().strip()
    token = prefix + secrets.token_hex(24)
    _write(path, (token + "\n").encode())
    return token


def _covers(cert_path: Path, sans: list[str]) -> bool:
    """Whether the certificate's subject alternative names include all of ``sans``.

    Answered from the record written next to the certificate when it was issued (checked
    against the certificate's digest), else by parsing the certificate (then recorded).
    """
    pem = cert_path.read_bytes()
    record = _sans_record(cert_path)
    try:
        data = json.loads(record.read_text())
        if data.get("sha256") == hashlib.sha256(pem).hexdigest():
            return set(sans) <= set(data.get("sans") or ())
    except (OSError, ValueError, AttributeError):
        pass
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))
    try:
        _record_sans(cert_path, pem, sorted(have))
    except OSError:
        pass
    return all(s in have for s in sans)


def _normalized(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _sans_record(cert_path: Path) -> Path:
    return cert_path.with_suffix(".sans.json")


def _record_sans(cert_path: Path, pem: bytes, sans: list[str]) -> None:
    data = {"sha256": hashlib.sha256(pem).hexdigest(), "sans": sans}
    _write(_sans_record(cert_path), json.dumps(data).encode(), 0o644)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, pki: Pki, server_url: str, cluster: str = "default") -> None:
    """Admin kubeconfig with the CA, the admin client certificate and the admin token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server_url,
                                                   "certificate-authority-data": _b64(pki.ca_cert)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster, "namespace": "default"}}],
        "current-context": cluster,
        "preferences": {},
        "users": [{"name": cluster, "user": {"client-certificate-data": _b64(pki.admin_cert),
                                             "client-key-data": _b64(pki.admin_key)}}],
    }
    import yaml

    _write(path, yaml.safe_dump(config, sort_keys=False).encode())
