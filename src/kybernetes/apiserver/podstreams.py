"""``pods/exec``, ``pods/attach`` and ``pods/portforward``: the client's upgraded connection goes through to
the kubelet.

Role: like Kubernetes' upgrade-aware proxy, the API server checks the request (pod, container, node; the
authorizer already saw ``get`` for a WebSocket ``GET`` and ``create`` for a SPDY ``POST``), sends the
client's upgrade request on to the kubelet's ``/exec``, ``/attach`` or ``/portForward`` (:mod:`.kubelets`)
with the options renamed as the kubelet wants them (``stdin`` → ``input=1``, ``stdout`` → ``output=1``,
``stderr`` → ``error=1``, ``ports`` → one ``port`` each), and once the kubelet answers ``101`` copies bytes
both ways without looking at them, WebSocket or SPDY alike. A kubelet's refusal before the upgrade comes
back as the kubelet wrote it (kubectl then prints ``error: unable to upgrade connection: …``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver import request as rq
from kybernetes.apiserver.kubelets import KubeletConnections, pick_container
from kybernetes.apiserver.request import RequestInfo
from kybernetes.streaming import upgrade

__all__ = ["PodStreams"]

# the headers by which client and kubelet agree on the upgrade, in each direction
_REQUEST_HEADERS = ("Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                    "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "X-Stream-Protocol-Version")
_RESPONSE_HEADERS = ("Connection", "Upgrade", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
                     "Sec-WebSocket-Extensions", "X-Stream-Protocol-Version")


class PodStreams:
    def __init__(self, kubelets: KubeletConnections) -> None:
        self.kubelets = kubelets

    async def exec(self, request: web.Request, ri: RequestInfo, info: Any) -> web.StreamResponse:
        return await self._remote_command(request, ri, info, "exec")

    async def attach(self, request: web.Request, ri: RequestInfo, info: Any) -> web.StreamResponse:
        return await self._remote_command(request, ri, info, "attach")

    async def _remote_command(self, request: web.Request, ri: RequestInfo, info: Any, op: str) -> web.StreamResponse:
        _check_method(request)
        pod = await self.kubelets.objects.get(info, ri.namespace, ri.name)
        container = pick_container(pod, request.query.get("container", ""))
        query: list[tuple[str, str]] = []
        if op == "exec":
            query += [("command", c) for c in request.query.getall("command", [])]
        for option, param in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
            if rq.query_bool(request, option):
                query.append((param, "1"))
        path = f"/{op}/{ri.namespace}/{ri.name}/{container}"
        return await self._proxy(request, pod, path, query)

    async def portforward(self, request: web.Request, ri: RequestInfo, info: Any) -> web.StreamResponse:
        _check_method(request)
        query: list[tuple[str, str]] = []
        for value in request.query.getall("ports", []):
            for port in value.split(","):
                if not port.strip().isdigit():
                    raise errors.bad_request(f'strconv.ParseInt: parsing "{port}": invalid syntax')
                query.append(("port", port.strip()))
        pod = await self.kubelets.objects.get(info, ri.namespace, ri.name)
        return await self._proxy(request, pod, f"/portForward/{ri.namespace}/{ri.name}", query)

    async def _proxy(self, request: web.Request, pod: dict[str, Any], path: str,
                     query: list[tuple[str, str]]) -> web.StreamResponse:
        url = await self.kubelets.base_url(pod) + path + (f"?{urlencode(query)}" if query else "")
        if "upgrade" not in request.headers.get("Connection", "").lower() or "Upgrade" not in request.headers:
            raise errors.bad_request("Upgrade request required")
        headers = [(k, v) for k in _REQUEST_HEADERS for v in request.headers.getall(k, [])]
        try:
            resp = await upgrade.dial(url, request.method, headers, self.kubelets.ssl_context())
        except (OSError, TimeoutError) as e:
            raise errors.internal_error(f"error dialing backend: {e}") from None
        if resp.stream is None:
            return web.Response(status=resp.status, body=resp.body,
                                headers={"Content-Type": resp.headers.get("Content-Type", "text/plain")})
        client, response = await upgrade.hijack(request, [(k, v) for k in _RESPONSE_HEADERS
                                                          for v in resp.headers.getall(k, [])])
        await upgrade.splice(client, resp.stream)
        return response


def _check_method(request: web.Request) -> None:
    # WebSocket clients upgrade a GET, SPDY clients a POST
    if request.method not in ("GET", "POST"):
        raise errors.method_not_allowed()
