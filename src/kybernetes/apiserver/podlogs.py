"""``pods/log``: the apiserver checks the pod and container, then streams the log from the node's
kubelet (``/containerLogs/<ns>/<pod>/<container>`` on its daemon endpoint), authenticating with
the cluster's client certificate, as the real apiserver does. Kubelet errors come back as Status.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver.kubelets import KubeletConnections, pick_container
from kybernetes.apiserver.request import RequestInfo

LOG_OPTIONS = ("follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes",
               "insecureSkipTLSVerifyBackend")
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}


class PodLogs:
    def __init__(self, kubelets: KubeletConnections) -> None:
        self.kubelets = kubelets

    async def handle(self, request: web.Request, ri: RequestInfo, info: Any) -> web.StreamResponse:
        if request.method != "GET":
            raise errors.method_not_allowed()
        pod = await self.kubelets.objects.get(info, ri.namespace, ri.name)
        container = pick_container(pod, request.query.get("container", ""))
        base = await self.kubelets.base_url(pod)
        params = {k: v for k, v in request.query.items() if k in LOG_OPTIONS}
        url = f"{base}/containerLogs/{ri.namespace}/{ri.name}/{container}"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(url, params=params, ssl=self.kubelets.ssl_context()) as upstream:
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
