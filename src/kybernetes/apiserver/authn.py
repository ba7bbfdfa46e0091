"""Authentication: who is making a request.

Client certificates signed by the cluster CA (CN = user, O = groups), bearer tokens (the admin
token, the node join token), and anonymous access to the few paths Kubernetes opens to everyone
(``/version``, health checks). The result is stored on the request for authorization and for
``managedFields``/events.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver.tokens import TokenIssuer

PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz", "/cacerts")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return "system:masters" in self.groups


ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))
class Authenticator:
    def __init__(self, tokens: dict[str, User], issuer: TokenIssuer | None = None) -> None:
        self.tokens = tokens
        self.issuer = issuer

    def add_token(self, token: str, user: User) -> None:
        self.tokens[token] = user

    def authenticate(self, request: web.Request) -> User:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[7:].strip()
            for known, user in self.tokens.items():
                if hmac.compare_digest(known, token):
                    return user
            claims = self.issuer.verify(token) if self.issuer is not None else None
            if claims is not None:
                ns = (claims.get("kubernetes.io") or {}).get("namespace", "")
                return User(claims["sub"], ("system:serviceaccounts", f"system:serviceaccounts:{ns}",
                                            "system:authenticated"))
            raise errors.unauthorized()
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        if peer:
            cert_user = _cert_user(peer.get("subject", ()))
            if cert_user is not None:
                return cert_user
        path = request.path.rstrip("/") or "/"
        if any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS):
            return ANONYMOUS
        raise errors.unauthorized()


@functools.lru_cache(maxsize=1024)
def _cert_user(subject: tuple[tuple[tuple[str, str], ...], ...]) -> User | None:
    """The user a verified client certificate names: CN = user, O = groups (None without a CN)."""
    cn, orgs = "", []
    for rdn in subject:
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                orgs.append(v)
    return User(cn, (*orgs, "system:authenticated")) if cn else None
