"""How an agent joins (the k3s supervisor's part): ``GET /cacerts`` serves the cluster CA to anyone (the
agent checks it against the hash in its join token), and ``POST /v1-kybernetes/client-kubelet.crt``
signs a client certificate request for a node (``system:node:<name>``) or its service proxy
(``system:kube-proxy``).

Only the join token (user ``system:bootstrap:node-join``, group ``system:bootstrappers``), an admin or
the same identity (renewing its own certificate) may have a certificate signed; the join token opens nothing
else — every API request it makes is forbidden. Wired into the app by ``make_app`` when the API
server is given its CA.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver import certs
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.request import read_limited

log = logging.getLogger(__name__)

CACERTS_PATH = "/cacerts"
CLIENT_KUBELET_PATH = "/v1-kybernetes/client-kubelet.crt"
BOOTSTRAP_USER = User("system:bootstrap:node-join", ("system:bootstrappers", "system:authenticated"))
MAX_CSR_BYTES = 16 * 1024


class NodeCredentials:
    def __init__(self, ca_cert: Path, ca_key: Path) -> None:
        self.ca_cert = ca_cert
        self.ca_key = ca_key

    async def cacerts(self, request: web.Request) -> web.Response:
        pem = await asyncio.to_thread(self.ca_cert.read_bytes)
        return web.Response(body=pem, content_type="application/x-pem-file")

    async def client_kubelet(self, request: web.Request, user: User) -> web.Response:
        """Sign the PEM CSR in the body; answers the certificate followed by the CA (a chain)."""
        bootstrap = "system:bootstrappers" in user.groups or user.is_admin
        if not bootstrap and not (user.name.startswith(certs.NODE_USER_PREFIX) or user.name == certs.KUBE_PROXY_USER):
            raise errors.forbidden_message(f'User "{user.name}" cannot request node client certificates',
                                           "", "", None)
        body = await read_limited(request, MAX_CSR_BYTES)
        if len(body) > MAX_CSR_BYTES:
            raise errors.StatusError(413, "RequestEntityTooLarge", "the certificate signing request is too large", {})
        try:
            subject, pem = await asyncio.to_thread(certs.sign_node_csr, self.ca_cert, self.ca_key, body)
        except certs.CSRError as e:
            raise errors.bad_request(str(e)) from None
        if not bootstrap and user.name != subject:
            raise errors.forbidden_message(f'User "{user.name}" cannot request a certificate for "{subject}"',
                                           "", "", None)
        log.info("Issued a client certificate for %s to %s", subject, user.name)
        ca = await asyncio.to_thread(self.ca_cert.read_bytes)
        return web.Response(body=pem + ca, content_type="application/x-pem-file")
