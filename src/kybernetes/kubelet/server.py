"""The kubelet's HTTPS server: container logs, exec/attach/port-forward (:mod:`.streaming`), stats.

Role: the agent starts :class:`KubeletServer` on ``<node-ip>:<port>`` and publishes the port in
``node.status.daemonEndpoints.kubeletEndpoint.Port``; the API server proxies ``pods/log`` to it.

``GET /containerLogs/{namespace}/{pod}/{container}`` with the ``PodLogOptions`` query parameters
(``follow``, ``previous``, ``timestamps``, ``tailLines`` (or legacy ``tail``), ``sinceSeconds``,
``sinceTime``, ``limitBytes``) answers ``200 text/plain`` with the log (chunked; kept open while
following a running container); errors are plain text like the kubelet's: 400 for bad options or a
container without logs (``container "c" in pod "p" is waiting to start: ContainerCreating``, ``previous
terminated container "c" in pod "p" not found``), 404 for an unknown pod or container, 401 without
credentials. ``/exec``, ``/attach`` and ``/portForward`` are described in :mod:`.streaming`.
``GET /stats/summary`` answers the Summary API document (:mod:`.stats`). ``GET /healthz``
answers ``ok``.

Authentication: a TLS client certificate verified against ``client_ca_file`` (the cluster CA); without a
configured CA every caller is accepted (development only, logged at start).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from kybernetes.kubelet import logs, tls
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.streaming import StreamingHandlers
from kybernetes.runtime import cri, errors
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["KubeletServer", "container_id_for_logs"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PodLookup = Callable[[str, str], Obj | None]


class LogError(Exception):
    """The container has no log to show; ``str()`` is the message for the client."""


def _find_status(status: Obj, name: str) -> Obj | None:
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for s in status.get(key) or []:
            if s.get("name") == name:
                return dict(s)
    return None


def container_id_for_logs(pod_name: str, status: Obj, container: str, previous: bool) -> str:
    """The runtime ID whose log to read (upstream ``validateContainerLogStatus``), or :class:`LogError`."""
    cs = _find_status(status, container)
    if cs is None:
        raise LogError(f'container "{container}" in pod "{pod_name}" is not available')
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            raise LogError(f'previous terminated container "{container}" in pod "{pod_name}" not found')
        cid = str(last["containerID"])
    elif "running" in state:
        cid = str(cs.get("containerID") or "")
    elif "terminated" in state:
        cid = str(state["terminated"].get("containerID") or (last or {}).get("containerID") or "")
        if not cid:
            raise LogError(f'container "{container}" in pod "{pod_name}" is terminated')
    elif last:
        if not last.get("containerID"):
            raise LogError(f'container "{container}" in pod "{pod_name}" is terminated')
        cid = str(last["containerID"])
    elif "waiting" in state:
        reason = (state["waiting"] or {}).get("reason", "")
        if reason == "ErrImagePull":
            reason = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            reason = "trying and failing to pull image"
        raise LogError(f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}')
    else:
        raise LogError(f'container "{container}" in pod "{pod_name}" is waiting to start - no logs yet')
    return cid.split("://", 1)[-1]


class KubeletServer:
    """HTTPS endpoints of one node agent."""

    def __init__(self, cfg: KubeletConfig, pods: PodLookup, runtime: cri.RuntimeClient,
                 summary: Callable[[], Obj] | None = None) -> None:
        self.cfg = cfg
        self.pods = pods
        self.runtime = runtime
        self.summary = summary
        self.port = 0
        self._runner: web.AppRunner | None = None

    def _ssl(self, cert: Path, key: Path) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        if self.cfg.client_ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.cfg.client_ca_file))
            ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    async def start(self) -> int:
        """Listen; returns the port."""
        cert, key = await asyncio.to_thread(tls.ensure_serving_cert, self.cfg.tls_dir, self.cfg.node_name,
                                            self.cfg.node_ip)
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        for path, handler in StreamingHandlers(self.pods, self.runtime).routes():
            app.router.add_route("*", path, handler)
        app.router.add_get("/stats/summary", self._stats_summary)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host = self.cfg.server_address or self.cfg.node_ip or "0.0.0.0"
        site = web.TCPSite(self._runner, host, self.cfg.server_port, ssl_context=self._ssl(cert, key))
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.cfg.server_port
        if self.cfg.client_ca_file is None:
            log.warning("kubelet server on %s:%d accepts unauthenticated requests (no client CA)", host, self.port)
        log.info("Kubelet server listening on https://%s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _auth(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if self.cfg.client_ca_file is not None and request.path != "/healthz":
            transport = request.transport
            ssl_obj = transport.get_extra_info("ssl_object") if transport is not None else None
            if ssl_obj is None or not ssl_obj.getpeercert():
                return web.Response(status=401, text="Unauthorized")
        result: web.StreamResponse = await handler(request)
        return result

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _stats_summary(self, request: web.Request) -> web.Response:
        if self.summary is None:
            return web.Response(status=404, text="404 page not found")
        return web.json_response(self.summary())

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, name, container = (request.match_info["namespace"], request.match_info["pod"],
                               request.match_info["container"])
        try:
            opts = logs.parse_options(request.query)
        except ValueError as e:
            return web.Response(status=400, text=str(e))
        pod = self.pods(ns, name)
        if pod is None:
            return web.Response(status=404, text=f'pod "{name}" does not exist')
        spec = pod.get("spec") or {}
        names = [c.get("name") for key in ("containers", "initContainers", "ephemeralContainers")
                 for c in spec.get(key) or []]
        if container not in names:
            return web.Response(status=404, text=f'container "{container}" not found in pod "{name}"')
        try:
            cid = container_id_for_logs(name, pod.get("status") or {}, container, opts.previous)
            st = await self.runtime.container_status(cid)
        except LogError as e:
            return web.Response(status=400, text=str(e))
        except errors.CRIError as e:
            return web.Response(status=400, text=f'failed to get container status "{cid}": {e.details}')

        async def running() -> bool:
            try:
                return (await self.runtime.container_status(cid)).state == api.CONTAINER_RUNNING
            except errors.CRIError:
                return False

        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            async for chunk in logs.read_logs(Path(st.log_path), opts, running):
                await resp.write(chunk)
        except FileNotFoundError:
            log.debug("log file of %s/%s/%s is gone", ns, name, container)
        except ConnectionResetError:
            return resp
        await resp.write_eof()
        return resp
