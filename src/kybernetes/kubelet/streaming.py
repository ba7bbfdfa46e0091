"""The kubelet's exec, attach and port-forward endpoints.

Role: :class:`~.server.KubeletServer` routes these paths here (the API server's ``pods/exec``,
``pods/attach`` and ``pods/portforward`` proxy to them):

- ``/exec/{namespace}/{pod}/{container}?command=…&input=1&output=1&error=1&tty=1``
- ``/attach/{namespace}/{pod}/{container}?input=1&output=1&error=1&tty=1``
- ``/portForward/{namespace}/{pod}?port=…`` (``port`` only for the channel protocol)

Each finds the running container (or the ready sandbox) in the runtime, asks CRI (Exec, Attach,
PortForward) for a single-use URL on the runtime's stream server and connects the client to it. A WebSocket
client is translated by :mod:`.remotecommand` / :mod:`.portforward`; a SPDY client (``POST`` with
``Upgrade: SPDY/3.1``, kubectl's fallback) speaks the runtime's own protocol, so its connection is passed
through byte for byte. Errors before the upgrade are plain text, as the kubelet's are: 404 for an unknown
pod, 400 for bad options, 500 for runtime failures (``container not found ("c")``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kybernetes.kubelet import portforward, remotecommand
from kybernetes.runtime import cri, criconfig, errors
from kybernetes.runtime.proto import cri_pb2 as api
from kybernetes.streaming import upgrade

__all__ = ["StreamingHandlers"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PodLookup = Callable[[str, str], Obj | None]
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
# what a SPDY client and the runtime's stream server say to each other to agree on a protocol
_SPDY_REQUEST_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version")


class StreamingHandlers:
    def __init__(self, pods: PodLookup, runtime: cri.RuntimeClient) -> None:
        self.pods = pods
        self.runtime = runtime

    def routes(self) -> list[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        return [("/exec/{namespace}/{pod}/{container}", self.exec),
                ("/attach/{namespace}/{pod}/{container}", self.attach),
                ("/portForward/{namespace}/{pod}", self.port_forward)]

    async def exec(self, request: web.Request) -> web.StreamResponse:
        command = request.query.getall("command", [])
        if not command:
            return web.Response(status=400, text="you must specify at least one command for the container")
        return await self._remote_command(request, "exec", command)

    async def attach(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, "attach", [])

    async def _remote_command(self, request: web.Request, op: str, command: list[str]) -> web.StreamResponse:
        q = request.query
        opts = remotecommand.Options(stdin=q.get("input", "") in _TRUE, stdout=q.get("output", "") in _TRUE,
                                     stderr=q.get("error", "") in _TRUE, tty=q.get("tty", "") in _TRUE)
        if not (opts.stdin or opts.stdout or opts.stderr):
            return web.Response(status=400, text="you must specify at least 1 of stdin, stdout, stderr")
        pod = self._pod(request)
        if pod is None:
            return web.Response(status=404, text="pod does not exist")
        name = request.match_info["container"]
        try:
            cid = await self._running_container(pod, name)
        except errors.CRIError as e:
            return web.Response(status=500, text=f"failed to list containers: {e.details}")
        if cid is None:
            return web.Response(status=500, text=f'container not found ("{name}")')

        async def stream_url() -> str:
            if op == "exec":
                return await self.runtime.exec(cid, command, stdin=opts.stdin, stdout=opts.stdout,
                                               stderr=opts.stderr, tty=opts.tty)
            return await self.runtime.attach(cid, stdin=opts.stdin, stdout=opts.stdout, stderr=opts.stderr,
                                             tty=opts.tty)

        return await self._serve(request, stream_url, lambda: remotecommand.serve_websocket(request, stream_url,
                                                                                              opts))

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        ports: list[int] = []
        for value in request.query.getall("port", []):
            if not value.isdigit() or not 0 < int(value) < 65536:
                return web.Response(status=400, text=f'invalid port "{value}"')
            ports.append(int(value))
        pod = self._pod(request)
        if pod is None:
            return web.Response(status=404, text="pod does not exist")
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        try:
            sandboxes = await self.runtime.list_pod_sandbox(state=api.SANDBOX_READY,
                                                            labels={criconfig.POD_UID_LABEL: uid})
        except errors.CRIError as e:
            return web.Response(status=500, text=f"failed to list pod sandboxes: {e.details}")
        if not sandboxes:
            return web.Response(status=500, text=f'pod "{pod["metadata"]["name"]}" has no running sandbox')
        sandbox_id = max(sandboxes, key=lambda s: s.created_at).id

        async def stream_url() -> str:
            return await self.runtime.port_forward(sandbox_id, ports)

        return await self._serve(request, stream_url, lambda: portforward.serve_websocket(request, stream_url,
                                                                                            ports))

    def _pod(self, request: web.Request) -> Obj | None:
        return self.pods(request.match_info["namespace"], request.match_info["pod"])

    async def _running_container(self, pod: Obj, name: str) -> str | None:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        found = await self.runtime.list_containers(state=api.CONTAINER_RUNNING, labels={
            criconfig.POD_UID_LABEL: uid, criconfig.CONTAINER_NAME_LABEL: name})
        return max(found, key=lambda c: c.created_at).id if found else None

    async def _serve(self, request: web.Request, stream_url: Callable[[], Awaitable[str]],
                     websocket: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        kind = request.headers.get("Upgrade", "").lower()
        try:
            if kind == "websocket":
                return await websocket()
            if kind.startswith("spdy/"):
                return await _pass_through(request, await stream_url())
        except errors.CRIError as e:
            return web.Response(status=500, text=e.details)
        return web.Response(status=400, text="Upgrade request required")


async def _pass_through(request: web.Request, url: str) -> web.StreamResponse:
    """Hand a SPDY client's connection to the runtime's stream server unchanged."""
    headers = [(k, v) for k in _SPDY_REQUEST_HEADERS for v in request.headers.getall(k, [])]
    try:
        resp = await upgrade.dial(url, "POST", headers)
    except OSError as e:
        return web.Response(status=500, text=f"error dialing the runtime's stream server: {e}")
    if resp.stream is None:
        return web.Response(status=resp.status, body=resp.body,
                            content_type=resp.headers.get("Content-Type", "text/plain").split(";")[0])
    client, response = await upgrade.hijack(request, [(k, v) for k in _SPDY_REQUEST_HEADERS
                                                      for v in resp.headers.getall(k, [])])
    await upgrade.splice(client, resp.stream)
    return response
