"""``pods/log``: the apiserver checks the pod and container, then streams the log from the node's
kubelet (``/containerLogs/<ns>/<pod>/<container>`` on its daemon endpoint), authenticating with
the cluster's client certificate, as the real apiserver does. Kubelet errors come back as Status.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver.request import RequestInfo

LOG_OPTIONS = ("follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes",
               "insecureSkipTLSVerifyBackend")
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}


class PodLogs:
    def __init__(self, objects: Any, nodes: Any, client_cert: Path | None, client_key: Path | None) -> None:
        self.objects = objects
        self.nodes = nodes  # the Node resource descriptor
        self._ssl: ssl.SSLContext | None = None
        self.client_cert, self.client_key = client_cert, client_key

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            # kubelets serve self-signed certificates; the apiserver does not verify them by default
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if self.client_cert and self.client_key:
                ctx.load_cert_chain(self.client_cert, self.client_key)
            self._ssl = ctx
        return self._ssl

    async def handle(self, request: web.Request, ri: RequestInfo, info: Any) -> web.StreamResponse:
        if request.method != "GET":
            raise errors.method_not_allowed()
        pod = await self.objects.get(info, ri.namespace, ri.name)
        spec = pod.get("spec") or {}
        names = [c["name"] for key in ("initContainers", "containers", "ephemeralContainers")
                 for c in spec.get(key) or []]
        container = request.query.get("container", "")
        if not container:
            if len(spec.get("containers") or []) != 1:
                raise errors.bad_request(f"a container name must be specified for pod {ri.name}, choose one of: "
                                         f"[{' '.join(names)}]")
            container = spec["containers"][0]["name"]
        elif container not in names:
            raise errors.bad_request(f"container {container} is not valid for pod {ri.name}")
        node_name = spec.get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {ri.name} does not have a host assigned")
        node = await self.objects.get(self.nodes, "", node_name)
        status = node.get("status") or {}
        address = next((a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
        if not address:
            raise errors.bad_request(f"node {node_name} has no InternalIP address")
        params = {k: v for k, v in request.query.items() if k in LOG_OPTIONS}
        host = f"[{address}]" if ":" in address else address
        url = f"https://{host}:{port}/containerLogs/{ri.namespace}/{ri.name}/{container}"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(url, params=params, ssl=self.ssl_context()) as upstream:
                if upstream.status != 200:
                    text = (await upstream.text()).strip()
                    raise errors.StatusError(upstream.status, _REASONS.get(upstream.status, "InternalError"), text)
                resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
                resp.enable_chunked_encoding()
                await resp.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
        except aiohttp.ClientError as e:
            raise errors.internal_error(f"Get \"{url}\": {e}") from None
