"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics from the kubelets, what metrics-server serves.

Role: the app routes ``GET /apis/metrics.k8s.io/v1beta1/nodes[/<name>]`` and ``…[/namespaces/<ns>]/pods
[/<name>]`` here after authorization (``kubectl top``, the HPA controller). Nodes and pods come from the
watch cache (label and field selectors as for any list); usage comes from each node's kubelet
``/stats/summary`` (its daemon endpoint, authenticated with the client certificate the apiserver uses
for ``pods/log``), fetched concurrently, at most once per ``ttl`` per node, with one request in flight
per node. A node's usage is its CPU rate and memory working set; a pod's is each running container's.
As with metrics-server: CPU is the rate between the kubelet's last two samples (``usageNanoCores``),
``timestamp`` is when the kubelet sampled, ``window`` the sampling resolution; only Running pods are
listed, and objects with no usable sample are left out of lists (a named one is NotFound). Nodes that
advertise no kubelet endpoint (port 0) and simulated hollow nodes are never contacted; a kubelet that
cannot be reached only drops its own objects. Answers are JSON lists/objects, or a Table (Name, cpu,
memory, Window) when asked for.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import aiohttp
from aiohttp import web

from kybernetes.api import errors, selectors
from kybernetes.api.printing import format_time, parse_time
from kybernetes.api.quantity import BINARY_SI, DECIMAL_SI, Quantity
from kybernetes.api.strategy import ResourceInfo
from kybernetes.apiserver import request as rq
from kybernetes.apiserver import tables
from kybernetes.apiserver.kubelets import https_url, kubelet_endpoint
from kybernetes.apiserver.watchcache import WatchCache

__all__ = ["MetricsAPI", "node_usage", "pod_containers"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
API_VERSION = "metrics.k8s.io/v1beta1"


def _cpu(nano_cores: int) -> str:
    return str(Quantity(Fraction(int(nano_cores), 10**9), DECIMAL_SI))


def _memory(num_bytes: int) -> str:
    return str(Quantity(Fraction(int(num_bytes)), BINARY_SI))


def _usage(stats: Obj) -> tuple[dict[str, str], float] | None:
    """(usage, sample time) of one Summary entry with both a CPU rate and a working set, else None."""
    cpu, memory = stats.get("cpu") or {}, stats.get("memory") or {}
    if "usageNanoCores" not in cpu or "workingSetBytes" not in memory:
        return None
    stamp = max(parse_time(cpu.get("time")) or 0.0, parse_time(memory.get("time")) or 0.0)
    return {"cpu": _cpu(cpu["usageNanoCores"]), "memory": _memory(memory["workingSetBytes"])}, stamp


def node_usage(summary: Obj) -> tuple[dict[str, str], float] | None:
    """The node's usage and sample time from its Summary."""
    return _usage(summary.get("node") or {})


def pod_containers(summary: Obj, namespace: str, name: str, uid: str) -> tuple[list[Obj], float] | None:
    """The pod's containers with their usage, and the latest sample time; None unless every container
    the kubelet reports has a usable sample."""
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        if (ref.get("namespace"), ref.get("name")) != (namespace, name) or (uid and ref.get("uid") not in ("", uid)):
            continue
        containers, latest = [], 0.0
        for c in pod.get("containers") or []:
            got = _usage(c)
            if got is None:
                return None
            containers.append({"name": c.get("name", ""), "usage": got[0]})
            latest = max(latest, got[1])
        return (containers, latest) if containers else None
    return None


def _window(seconds: float) -> str:
    """A whole-second Go duration (``15s``, ``1m0s``)."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


class MetricsAPI:
    """Serves the metrics.k8s.io resources from kubelet summaries."""

    def __init__(self, cache: WatchCache, nodes: ResourceInfo, pods: ResourceInfo,
                 ssl_context: Callable[[], ssl.SSLContext], *, ttl: float = 5.0, window: float = 10.0,
                 timeout: float = 5.0) -> None:
        self.cache = cache
        self.nodes, self.pods = nodes, pods
        self.ssl_context = ssl_context
        self.ttl, self.window, self.timeout = ttl, window, timeout
        self._summaries: dict[str, tuple[float, Obj | None]] = {}  # node → (fetched at, summary or None)
        self._inflight: dict[str, asyncio.Future[Obj | None]] = {}

    # --- kubelets -------------------------------------------------------------------------------
    @staticmethod
    def kubelet_url(node: Obj) -> str | None:
        """``https://<InternalIP>:<port>/stats/summary`` of a node that runs a reachable kubelet."""
        status = node.get("status") or {}
        if str((status.get("nodeInfo") or {}).get("containerRuntimeVersion", "")).startswith("hollow://"):
            return None  # simulated nodes (``kyb agent --hollow``) serve no kubelet endpoint
        address, port = kubelet_endpoint(node)
        if not port or not address:
            return None
        return https_url(address, port) + "/stats/summary"

    async def _fetch(self, name: str, url: str) -> Obj | None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(url, ssl=self.ssl_context()) as resp:
                if resp.status != 200:
                    log.warning("unable to fetch metrics from node %s: %s returned %d", name, url, resp.status)
                    return None
                summary: Obj = await resp.json(content_type=None)
                return summary
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            log.warning("unable to fetch metrics from node %s: %s", name, e or type(e).__name__)
            return None

    async def summary(self, node: Obj) -> Obj | None:
        """The node's Summary, from the cache when younger than ``ttl``."""
        name = (node.get("metadata") or {}).get("name", "")
        url = self.kubelet_url(node)
        if url is None:
            return None
        now = time.monotonic()
        cached = self._summaries.get(name)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        pending = self._inflight.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(name, url))
            self._inflight[name] = pending
            try:
                result = await asyncio.shield(pending)
            finally:
                self._inflight.pop(name, None)
            self._summaries = {k: v for k, v in self._summaries.items() if now - v[0] < self.ttl}
            self._summaries[name] = (time.monotonic(), result)
            return result
        return await asyncio.shield(pending)

    # --- objects --------------------------------------------------------------------------------
    def _select(self, info: ResourceInfo, prefix: str, request: web.Request, name: str) -> list[Obj]:
        label_sel = selectors.parse_label_selector(request.query.get("labelSelector"))
        field_sel = selectors.parse_field_selector(request.query.get("fieldSelector"))
        selectors.check_field_labels(field_sel, {"metadata.name", "metadata.namespace"})
        out = []
        for entry in self.cache.list(prefix):
            obj = entry.obj
            md = obj.get("metadata") or {}
            if name and md.get("name") != name:
                continue
            if label_sel.matches(md.get("labels")) and field_sel.matches(info.strategy.field_selectors(obj)):
                out.append(obj)
        return out

    def _meta(self, obj: Obj) -> Obj:
        md = obj.get("metadata") or {}
        out: Obj = {"name": md.get("name", "")}
        if md.get("namespace"):
            out["namespace"] = md["namespace"]
        if md.get("labels"):
            out["labels"] = dict(md["labels"])
        out["creationTimestamp"] = format_time()
        return out

    async def node_metrics(self, request: web.Request, name: str) -> list[Obj]:
        nodes = self._select(self.nodes, self.nodes.prefix, request, name)
        summaries = await asyncio.gather(*(self.summary(n) for n in nodes))
        items = []
        for node, summary in zip(nodes, summaries, strict=True):
            got = node_usage(summary) if summary is not None else None
            if got is not None:
                items.append({"metadata": self._meta(node), "timestamp": format_time(got[1]),
                              "window": _window(self.window), "usage": got[0]})
        return sorted(items, key=lambda i: i["metadata"]["name"])

    async def pod_metrics(self, request: web.Request, namespace: str, name: str) -> list[Obj]:
        prefix = self.pods.prefix + (f"{namespace}/" if namespace else "")
        pods = [p for p in self._select(self.pods, prefix, request, name)
                if (p.get("status") or {}).get("phase") == "Running" and (p.get("spec") or {}).get("nodeName")]
        node_names = sorted({p["spec"]["nodeName"] for p in pods})
        nodes = [e.obj for e in (self.cache.get(self.nodes.key("", n)) for n in node_names) if e is not None]
        fetched = await asyncio.gather(*(self.summary(n) for n in nodes))
        by_node = {n["metadata"]["name"]: s for n, s in zip(nodes, fetched, strict=True)}
        items = []
        for pod in pods:
            md = pod.get("metadata") or {}
            summary = by_node.get(pod["spec"]["nodeName"])
            got = pod_containers(summary, md.get("namespace", ""), md.get("name", ""), md.get("uid", "")) \
                if summary is not None else None
            if got is not None:
                items.append({"metadata": self._meta(pod), "timestamp": format_time(got[1]),
                              "window": _window(self.window), "containers": got[0]})
        return sorted(items, key=lambda i: (i["metadata"]["namespace"], i["metadata"]["name"]))

    # --- HTTP -----------------------------------------------------------------------------------
    async def handle(self, request: web.Request, ri: rq.RequestInfo, info: ResourceInfo) -> web.Response:
        if request.method != "GET":
            raise errors.method_not_allowed()
        await self.cache.wait_fresh()
        if info.plural == "nodes":
            items = await self.node_metrics(request, ri.name)
        else:
            items = await self.pod_metrics(request, ri.namespace, ri.name)
        if ri.name and not items:
            self._raise_missing(info, ri)
        if rq.parse_accept(request).table:
            include = tables.include_object(request.query.get("includeObject"))
            objs = [{"kind": info.kind, "apiVersion": API_VERSION, **i} for i in items]
            return rq.json_response(tables.table(info.strategy, objs, include))
        if ri.name:
            return rq.json_response({"kind": info.kind, "apiVersion": API_VERSION, **items[0]})
        return rq.json_response({"kind": info.list_kind_name, "apiVersion": API_VERSION, "metadata": {},
                                 "items": items})

    def _raise_missing(self, info: ResourceInfo, ri: rq.RequestInfo) -> None:
        """NotFound for the object itself when it does not exist, else for its metrics."""
        if info.plural == "nodes":
            if self.cache.get(self.nodes.key("", ri.name)) is None:
                raise errors.not_found("nodes", "", ri.name)
            raise errors.not_found("nodemetrics", "metrics.k8s.io", ri.name)
        if self.cache.get(self.pods.key(ri.namespace, ri.name)) is None:
            raise errors.not_found("pods", "", ri.name)
        raise errors.not_found("podmetrics", "metrics.k8s.io", f"{ri.namespace}/{ri.name}")
