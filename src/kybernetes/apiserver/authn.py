"""Authentication: who is making a request.

Client certificates signed by the cluster CA (CN = user, O = groups), bearer tokens (the admin
token, the node join token, service account tokens), and anonymous access to the few paths Kubernetes opens to everyone
(``/version``, health checks). The result is stored on the request for authorization and for
``managedFields``/events.
"""

from __future__ import annotations

import collections
import functools
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
VERIFIED_TOKENS = 4096  # service account tokens whose signature is remembered as checked


class Authenticator:
    """``lookup(key)`` reads a stored object (the watch cache): a service account token is only
    good while the objects it is bound to — its service account, and the pod or secret it was
    issued for — still exist with the uids it names, as in Kubernetes."""

    def __init__(self, tokens: dict[str, User], issuer: TokenIssuer | None = None,
                 lookup: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        self.tokens = tokens
        self.issuer = issuer
        self.lookup = lookup
        # signature checks (ECDSA, ~0.1 ms) once per token; expiry and bindings every request
        self._verified: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()

    def add_token(self, token: str, user: User) -> None:
        self.tokens[token] = user

    def authenticate(self, request: web.Request) -> User:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[7:].strip()
            for known, user in self.tokens.items():
                if hmac.compare_digest(known, token):
                    return user
            claims = self._service_account_claims(token)
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


    def _service_account_claims(self, token: str) -> dict[str, Any] | None:
        claims = self._verified.get(token)
        if claims is None:
            claims = self.issuer.verify(token) if self.issuer is not None else None
            if claims is None:
                return None
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)
        if int(claims.get("exp", 0)) < time.time() or not self._bindings_exist(claims.get("kubernetes.io") or {}):
            return None
        return claims

    def _bindings_exist(self, k8s: dict[str, Any]) -> bool:
        if self.lookup is None:
            return True
        ns = k8s.get("namespace", "")
        for plural, ref in (("serviceaccounts", k8s.get("serviceaccount")), ("pods", k8s.get("pod")),
                            ("secrets", k8s.get("secret"))):
            if not ref:
                continue
            obj = self.lookup(f"/registry/core/{plural}/{ns}/{ref.get('name', '')}")
            if obj is None or (ref.get("uid") and (obj.get("metadata") or {}).get("uid") != ref["uid"]):
                return False
        return True


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
