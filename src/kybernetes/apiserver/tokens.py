"""Service account tokens: ``serviceaccounts/<name>/token`` (TokenRequest) issues ES256 JWTs
bound to the service account (and optionally a pod or secret), and the authenticator accepts
them back as ``system:serviceaccount:<ns>:<name>``.

The signing key lives with the cluster PKI (``service-account.key``), created on first start.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(self, key_path: Path) -> None:
        if not key_path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            key_path.chmod(0o600)
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        self.key = loaded
        pub = loaded.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = hashes.Hash(hashes.SHA256())
        digest.update(pub)
        self.kid = _b64(digest.finalize())

    def issue(self, namespace: str, name: str, uid: str, audiences: list[str], expiration: int,
              bound: dict[str, Any] | None = None) -> tuple[str, int]:
        """A signed token and its expiry (epoch seconds)."""
        now = int(time.time())
        exp = now + expiration
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if bound and bound.get("kind") == "Pod":
            k8s["pod"] = {"name": bound.get("name", ""), "uid": bound.get("uid", "")}
        elif bound and bound.get("kind") == "Secret":
            k8s["secret"] = {"name": bound.get("name", ""), "uid": bound.get("uid", "")}
        claims = {"aud": audiences or [ISSUER], "exp": exp, "iat": now, "nbf": now, "iss": ISSUER,
                  "jti": str(uuid.uuid4()), "kubernetes.io": k8s,
                  "sub": f"system:serviceaccount:{namespace}:{name}"}
        header = _b64(orjson.dumps({"alg": "ES256", "kid": self.kid}))
        payload = _b64(orjson.dumps(claims))
        der = self.key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{header}.{payload}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}", exp

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token we issued; None otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            sig = _unb64(parts[2])
            if len(sig) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            self.key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = orjson.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError):
            return None
        if claims.get("iss") != ISSUER or int(claims.get("exp", 0)) < time.time():
            return None
        return claims
