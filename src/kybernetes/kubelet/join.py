"""Joining a server as k3s agents do: the join token buys the node its own credentials, nothing more.

A token ``K10<sha256 of the CA certificate>::server:<secret>`` (the server's ``<data-dir>/token``)
lets the agent trust the server without a CA file: it fetches ``/cacerts`` without verification and
accepts the CA only if its hash matches. A bare ``<secret>`` needs ``--ca-file`` (or
``--insecure-skip-tls-verify``). With the CA settled, the agent makes a key, sends a certificate
request for ``CN=system:node:<node>, O=system:nodes`` to ``/v1-kybernetes/client-kubelet.crt`` with the
secret as bearer token, and uses the signed certificate for every later request (the node's service
proxy gets ``CN=system:kube-proxy`` the same way). A real agent keeps its keys and certificates under
``<data-dir>/agent`` and reuses them while they are valid; hollow nodes get theirs in memory. Callers: ``kyb agent`` (``cli/main.py``).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp

from kybernetes.client.rest import ClientConfig, load_cert_pem

__all__ = ["KUBE_PROXY_USER", "Credentials", "JoinError", "client_config", "join", "node_user", "parse_token"]

log = logging.getLogger(__name__)
T = TypeVar("T")

CACERTS_PATH = "/cacerts"
CLIENT_KUBELET_PATH = "/v1-kybernetes/client-kubelet.crt"
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
KUBE_PROXY_USER = "system:kube-proxy"
RENEW_BEFORE = datetime.timedelta(days=1)


class JoinError(Exception):
    """Joining failed for a reason retrying will not fix; the message names the fix."""


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str  # system:node:<name> or system:kube-proxy
    cert_pem: bytes  # the certificate (then the CA, as the server sends the chain)
    key_pem: bytes


def node_user(node_name: str) -> str:
    return NODE_USER_PREFIX + node_name


def parse_token(token: str) -> tuple[str | None, str]:
    """(CA hash or None, secret) from ``K10<hash>::<user>:<secret>`` or a bare secret."""
    token = token.strip()
    if token.startswith("K10") and "::" in token:
        digest, _, credentials = token[3:].partition("::")
        _, _, secret = credentials.partition(":")
        if not secret:
            raise JoinError("malformed join token: expected K10<ca-hash>::server:<secret>")
        return digest.lower(), secret
    return None, token


def _unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _retrying(what: str, action: Callable[[], Awaitable[T]], stop_after: float | None) -> T:
    """Run ``action()`` until the server answers (a server still starting is waited for)."""
    loop = asyncio.get_running_loop()
    deadline = None if stop_after is None else loop.time() + stop_after
    delay = 0.5
    while True:
        try:
            return await action()
        except aiohttp.ClientSSLError as e:
            raise JoinError(f"{what}: {e}") from None
        except (aiohttp.ClientConnectionError, TimeoutError) as e:
            if deadline is not None and loop.time() > deadline:
                raise JoinError(f"{what}: {e}") from None
            log.info("Waiting to %s: %s", what, e)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def fetch_ca(server: str, expected_hash: str, *, wait: float | None = None) -> bytes:
    """The server's CA certificate, accepted only if it hashes to ``expected_hash``."""
    async def get() -> bytes:
        async with aiohttp.ClientSession() as s, s.get(server + CACERTS_PATH, ssl=_unverified()) as r:
            if r.status != 200:
                raise JoinError(f"GET {CACERTS_PATH}: {r.status} {r.reason}")
            return await r.read()

    pem = await _retrying("retrieve the cluster CA", get, wait)
    got = hashlib.sha256(pem).hexdigest()
    if got != expected_hash:
        raise JoinError(f"token CA hash does not match the server's CA certificate hash: {expected_hash} != {got}")
    return pem


def _new_request(user: str) -> tuple[bytes, bytes]:
    """(key PEM, CSR PEM) for ``user``: nodes are in the ``system:nodes`` group, the proxy in none."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
    if user.startswith(NODE_USER_PREFIX):
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


async def request_credentials(session: aiohttp.ClientSession, server: str, secret: str, ca: ssl.SSLContext,
                              user: str) -> Credentials:
    key_pem, csr_pem = await asyncio.to_thread(_new_request, user)
    async with session.post(server + CLIENT_KUBELET_PATH, data=csr_pem, ssl=ca,
                            headers={"Authorization": f"Bearer {secret}",
                                     "Content-Type": "application/x-pem-file"}) as r:
        body = await r.read()
        if r.status == 401:
            raise JoinError("the server refused the join token (401 Unauthorized): pass the server's "
                            "<data-dir>/token as --token")
        if r.status != 200:
            raise JoinError(f"{user}: the server did not issue a certificate ({r.status}): "
                            f"{body.decode(errors='replace')[:300]}")
    return Credentials(user, body, key_pem)


def _usable(cert_pem: bytes, ca_pem: bytes, user: str) -> bool:
    """Signed by this CA, for this user, and not about to expire."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    except (ValueError, TypeError, InvalidSignature):
        return False
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return cns == [user] and cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + RENEW_BEFORE


def _file_stem(user: str) -> str:
    return "client-kube-proxy" if user == KUBE_PROXY_USER else "client-kubelet"


def _read_saved(directory: Path, user: str, ca_pem: bytes) -> Credentials | None:
    stem = _file_stem(user)
    try:
        cert, key = (directory / f"{stem}.crt").read_bytes(), (directory / f"{stem}.key").read_bytes()
    except FileNotFoundError:
        return None
    return Credentials(user, cert, key) if _usable(cert, ca_pem, user) else None


def _save(directory: Path, creds: Credentials) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    stem = _file_stem(creds.user)
    for name, data, mode in ((f"{stem}.key", creds.key_pem, 0o600), (f"{stem}.crt", creds.cert_pem, 0o644)):
        tmp = directory / (name + ".tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, mode)
        tmp.replace(directory / name)


async def join(server: str, token: str, users: list[str], *, ca_file: str = "", insecure: bool = False,
               save_dir: Path | None = None, concurrency: int = 16,
               wait: float | None = None) -> tuple[bytes, list[Credentials]]:
    """(CA PEM, credentials for each of ``users``, in order). ``save_dir``: where a real agent keeps
    (and reuses while valid) its keys and certificates. ``wait``: give up on an unreachable server
    after that many seconds (None: keep waiting, as a k3s agent does)."""
    server = server.rstrip("/")
    digest, secret = parse_token(token)
    ca_pem = b""
    if ca_file:
        ca_pem = await asyncio.to_thread(Path(ca_file).read_bytes)
        if digest is not None and hashlib.sha256(ca_pem).hexdigest() != digest:
            raise JoinError(f"--ca-file {ca_file} is not the CA the join token names")
    elif digest is not None:
        ca_pem = await fetch_ca(server, digest, wait=wait)
    elif not insecure:
        raise JoinError("the token has no CA hash: pass the server's <data-dir>/token (K10<hash>::server:<secret>), "
                        "or --ca-file <data-dir>/server/tls/server-ca.crt")
    verify = ssl.create_default_context(cadata=ca_pem.decode()) if ca_pem else _unverified()
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(user: str) -> Credentials:
            if save_dir is not None and ca_pem:
                saved = await asyncio.to_thread(_read_saved, save_dir, user, ca_pem)
                if saved is not None:
                    return saved
            async with sem:
                creds = await _retrying(f"request credentials for {user}",
                                        lambda: request_credentials(session, server, secret, verify, user), wait)
            if save_dir is not None:
                await asyncio.to_thread(_save, save_dir, creds)
            return creds

        got = list(await asyncio.gather(*(one(u) for u in users)))
    log.info("Joined %s as %s", server, users[0] if len(users) == 1 else f"{users[0]} .. {users[-1]}")
    return ca_pem, got


def client_config(server: str, ca_pem: bytes, creds: Credentials, *, insecure: bool = False,
                  user_agent: str = "kubelet") -> ClientConfig:
    """A client config authenticating with the certificate (loaded through a private
    temporary directory: ``ssl`` reads keys from files only)."""
    ctx = _unverified() if insecure or not ca_pem else ssl.create_default_context(cadata=ca_pem.decode())
    load_cert_pem(ctx, creds.cert_pem, creds.key_pem)
    return ClientConfig(server.rstrip("/"), ctx, None, user_agent)
