"""The API server's aiohttp application, assembled once by ``make_app``.

Request flow: error middleware → authentication → routing (plain resource requests arrive from
``fastlane`` instead, at ``serve_api``, which does the middlewares' work itself). Resource URLs (``/api/...``,
``/apis/...``) are parsed into a ``RequestInfo`` and dispatched on verb to ``reads``, ``writes``
or ``subresources``; non-resource paths serve version, health, discovery and OpenAPI. The store,
watch cache, allocators and CRD registration are opened and closed in ``cleanup_ctx``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from kybernetes import KUBERNETES_VERSION
from kybernetes.api import errors, schema
from kybernetes.api.kinds import builtin_resources
from kybernetes.api.openapi import OpenAPIV3
from kybernetes.api.registry import Registry
from kybernetes.api.strategy import WriteContext
from kybernetes.api.types import GroupVersionKind
from kybernetes.apiserver import authz, bootstrappolicy, impersonation
from kybernetes.apiserver import discovery as disc
from kybernetes.apiserver import request as rq
from kybernetes.apiserver.admission import SYSTEM_PRIORITY_CLASSES, Admission
from kybernetes.apiserver.allocators import ServiceAllocations
from kybernetes.apiserver.authn import Authenticator, User
from kybernetes.apiserver.authz import Attributes, Authorizer
from kybernetes.apiserver.crds import CRDManager
from kybernetes.apiserver.kubelets import KubeletConnections
from kybernetes.apiserver.metrics import MetricsAPI
from kybernetes.apiserver.nodecredentials import CACERTS_PATH, CLIENT_KUBELET_PATH, NodeCredentials
from kybernetes.apiserver.objects import DeleteOptions, ObjectStore
from kybernetes.apiserver.podlogs import PodLogs
from kybernetes.apiserver.podstreams import PodStreams
from kybernetes.apiserver.quota import QuotaAdmission
from kybernetes.apiserver.reads import Reads
from kybernetes.apiserver.subresources import Subresources
from kybernetes.apiserver.tokens import TokenIssuer
from kybernetes.apiserver.watchcache import WatchCache
from kybernetes.apiserver.writes import Writes
from kybernetes.store.interface import Store

log = logging.getLogger(__name__)

VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": KUBERNETES_VERSION,
    "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335", "gitTreeState": "clean",
    "buildDate": "2025-04-22T15:56:07Z", "goVersion": "go1.23.8", "compiler": "gc", "platform": "linux/amd64",
}
USER = web.RequestKey("user", User)


@dataclass(slots=True)
class ApiServerConfig:
    service_cidr: str = "10.43.0.0/16"
    node_port_range: tuple[int, int] = (30000, 32767)
    server_address: str = "127.0.0.1:6443"
    tokens: dict[str, User] = field(default_factory=dict)
    service_account_key: Path | None = None  # signing key of service account tokens
    kubelet_client_cert: Path | None = None  # how the apiserver authenticates to kubelets
    kubelet_client_key: Path | None = None
    cluster_ca_cert: Path | None = None  # with its key: serve /cacerts and sign node client certificates
    cluster_ca_key: Path | None = None
    watch_cache_window: int = 20_000  # recent changes a watch can resume from without the store
    cluster_dns_service: bool = True  # the packaged cluster DNS runs: its ``kube-dns`` Service exists


class ApiServer:
    """Everything the handlers share; one instance per application."""

    def __init__(self, config: ApiServerConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.registry = Registry(builtin_resources())
        self.schemas = schema.builtin()
        self.cache = WatchCache(store, window=config.watch_cache_window)
        self.services = ServiceAllocations(self.cache, config.service_cidr, config.node_port_range)
        self.objects = ObjectStore(store, self.cache, self.schemas, self.services.allocators())
        self.objects.admit = Admission(self.cache).admit_create
        self.objects.validate_create = QuotaAdmission(self.objects,
                                                      self.registry.require("", "v1", "resourcequotas")).admit_create
        self.reads = Reads(self.objects)
        self.writes = Writes(self.objects, self.schemas, self.write_context)
        self.subresources = Subresources(self.objects, self.writes)
        self.discovery = disc.Discovery(self.registry, config.server_address)
        self.issuer = TokenIssuer(config.service_account_key) if config.service_account_key else None
        self.authn = Authenticator(dict(config.tokens), self.issuer, self._stored_object)
        self.authz = Authorizer(self.cache)
        self.kubelets = KubeletConnections(self.objects, self.registry.require("", "v1", "nodes"),
                                           config.kubelet_client_cert, config.kubelet_client_key)
        self.pod_logs = PodLogs(self.kubelets)
        self.pod_streams = PodStreams(self.kubelets)
        self.metrics = MetricsAPI(self.cache, self.registry.require("", "v1", "nodes"),
                                  self.registry.require("", "v1", "pods"), self.kubelets.ssl_context)
        self.node_credentials = NodeCredentials(config.cluster_ca_cert, config.cluster_ca_key) \
            if config.cluster_ca_cert and config.cluster_ca_key else None
        self.crds = CRDManager(self.registry, self.schemas, self.cache, self.objects)
        self.openapi = OpenAPIV3(self.registry, self.schemas)
        self.extra_handlers: dict[tuple[str, str], Callable[..., Awaitable[web.StreamResponse]]] = {
            ("authorization.k8s.io/selfsubjectaccessreviews", ""): self.access_review,
            ("authorization.k8s.io/subjectaccessreviews", ""): self.access_review,
            ("authorization.k8s.io/localsubjectaccessreviews", ""): self.access_review,
            ("authorization.k8s.io/selfsubjectrulesreviews", ""): self.rules_review,
            ("authentication.k8s.io/selfsubjectreviews", ""): self.self_subject_review,
            ("/serviceaccounts", "token"): self.token_request,
            ("/pods", "log"): self.pod_logs.handle,
            ("/pods", "exec"): self.pod_streams.exec,
            ("/pods", "attach"): self.pod_streams.attach,
            ("/pods", "portforward"): self.pod_streams.portforward,
            ("metrics.k8s.io/nodes", ""): self.metrics.handle,
            ("metrics.k8s.io/pods", ""): self.metrics.handle,
        }
        self.ready = asyncio.Event()

    def _stored_object(self, key: str) -> dict[str, Any] | None:
        entry = self.cache.get(key)
        return entry.obj if entry is not None else None

    def write_context(self, request: web.Request, ri: rq.RequestInfo) -> WriteContext:
        user: User = request[USER]
        return WriteContext(user=user.name, groups=user.groups, namespace=ri.namespace, subresource=ri.subresource)

    async def start(self) -> None:
        await self.store.start()
        await self.cache.start()
        await self.services.start()
        await self.bootstrap()
        await self.crds.start()
        self.ready.set()

    async def bootstrap(self) -> None:
        """What the apiserver's own bootstrap controller ensures: system namespaces, the
        ``kubernetes`` Service in ``default`` with endpoints at this server, the ``kube-dns`` Service,
        system priority classes."""
        from kybernetes.apiserver.objects import WriteOptions

        host, _, port = self.config.server_address.rpartition(":")
        if not self.config.cluster_dns_service:
            await self._remove_kube_dns_service()
        for obj in bootstrap_objects(host, int(port), self.config.service_cidr, self.config.cluster_dns_service):
            group, _, version = obj["apiVersion"].rpartition("/")
            info = self.registry.by_kind(GroupVersionKind(group, version, obj["kind"]))
            assert info is not None
            md = obj["metadata"]
            ctx = WriteContext(user="system:apiserver", groups=("system:masters",))
            opts = WriteOptions(field_manager="kube-apiserver")
            existing = self.cache.get(info.key(md.get("namespace"), md["name"]))
            if existing is not None:
                if obj["kind"] in ("Endpoints", "EndpointSlice"):  # follow this server's address
                    wanted = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
                    if any(existing.obj.get(k) != v for k, v in wanted.items()):
                        def follow(cur: dict[str, Any] | None, w: dict[str, Any] = wanted) -> dict[str, Any]:
                            return {**(cur or {}), **w}

                        await self.objects.update(info, md.get("namespace", ""), md["name"], follow, ctx, opts)
                continue
            track = self.writes.track(info, opts, ctx)  # managedFields as upstream's: kube-apiserver made it

            def created(o: dict[str, Any], track: Callable[[dict[str, Any], None], None] = track) -> None:
                track(o, None)

            try:
                await self.objects.create(info, obj, ctx, opts, on_prepared=created)
            except errors.StatusError as e:
                if e.code == 422 and obj["kind"] == "Service":  # e.g. its ClusterIP taken by an older Service
                    log.warning("Could not create Service %s/%s: %s", md.get("namespace"), md["name"], e)
                elif e.code != 409:
                    raise

    async def _remove_kube_dns_service(self) -> None:
        """With the packaged DNS disabled its Service goes too (as k3s removes a disabled addon), so
        that a DNS of the user's own can take the name; one anybody else has changed is left alone."""
        info = self.registry.require("", "v1", "services")
        existing = self.cache.get(info.key("kube-system", "kube-dns"))
        if existing is None:
            return
        managers = {m.get("manager") for m in existing.obj["metadata"].get("managedFields") or []}
        if managers != {"kube-apiserver"}:
            return
        ctx = WriteContext(user="system:apiserver", groups=("system:masters",))
        with contextlib.suppress(errors.StatusError):
            await self.objects.delete(info, "kube-system", "kube-dns", ctx, DeleteOptions(
                precondition_rv=existing.obj["metadata"].get("resourceVersion")))
        log.info("Removed the kube-dns Service: the cluster DNS is disabled")

    async def stop(self) -> None:
        await self.crds.stop()
        await self.services.stop()
        await self.cache.stop()
        await self.store.close()

    # --- middleware -----------------------------------------------------------------------------
    @web.middleware
    async def error_middleware(self, request: web.Request,
                               handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                               ) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.StatusError as e:
            return rq.json_response(e.status(), e.code, e.headers or None)
        except web.HTTPException:
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as e:
            log.exception("%s %s failed", request.method, request.path_qs)
            err = errors.internal_error(str(e))
            return rq.json_response(err.status(), err.code)

    @web.middleware
    async def authn_middleware(self, request: web.Request,
                               handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                               ) -> web.StreamResponse:
        request[USER] = impersonation.acting_user(request.headers, self.authn.authenticate(request), self.authz)
        return await handler(request)

    async def serve_api(self, request: web.Request) -> web.StreamResponse:
        """A resource request from the fast lane: through both middlewares to ``dispatch``."""
        return await self.error_middleware(request, self._authenticated_dispatch)

    async def _authenticated_dispatch(self, request: web.Request) -> web.StreamResponse:
        return await self.authn_middleware(request, self.dispatch)

    # --- non-resource endpoints -----------------------------------------------------------------
    async def version(self, request: web.Request) -> web.Response:
        return rq.json_response(VERSION_INFO)

    async def health(self, request: web.Request) -> web.Response:
        if not self.ready.is_set():
            return web.Response(status=500, text="[-]etcd failed: not ready\nhealthz check failed")
        if request.query.get("verbose") is not None:
            return web.Response(text="[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]poststarthook/start-apiserver ok\n"
                                f"{request.path.strip('/')} check passed\n")
        return web.Response(text="ok")

    async def openapi_v2(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="404 page not found\n")

    async def openapi_v3_index(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self.openapi.index)
        return web.Response(body=body, content_type="application/json")

    async def openapi_v3_document(self, request: web.Request) -> web.Response:
        found = await asyncio.to_thread(self.openapi.document, request.match_info["path"])
        if found is None:
            return not_found_page()
        body, digest = found
        headers = {"Etag": f'"{digest}"', "Vary": "Accept"}
        if request.query.get("hash"):
            headers["Cache-Control"] = "public, immutable"
        else:
            headers["Cache-Control"] = "no-cache, private"
        if request.headers.get("If-None-Match") == headers["Etag"]:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    # --- reviews (virtual, create-only resources) -----------------------------------------------
    async def _review_body(self, request: web.Request, info: Any) -> dict[str, Any]:
        body = rq.decode_object(await rq.read_body(request), rq.media_type(request))
        self.objects.check_kind(info, body)
        errs = info.strategy.validate(body, WriteContext())
        if errs:
            raise errors.invalid_object(info.kind, info.group, "", errs)
        return body

    async def access_review(self, request: web.Request, ri: rq.RequestInfo, info: Any) -> web.Response:
        body = await self._review_body(request, info)
        spec = body.get("spec") or {}
        user: User = request[USER]
        if info.plural != "selfsubjectaccessreviews":
            user = User(spec.get("user", ""), tuple(spec.get("groups") or ()))
        if info.plural == "localsubjectaccessreviews":
            ra = spec.get("resourceAttributes") or {}
            if ra.get("namespace") and ra["namespace"] != ri.namespace:
                raise errors.invalid_object(info.kind, info.group, "", [errors.invalid(
                    "spec.resourceAttributes.namespace", ra["namespace"], "must match metadata.namespace")])
        body["status"] = self.authz.review(user, spec)
        body.setdefault("metadata", {})["creationTimestamp"] = None
        return rq.json_response(body, 201)

    async def rules_review(self, request: web.Request, ri: rq.RequestInfo, info: Any) -> web.Response:
        body = await self._review_body(request, info)
        user: User = request[USER]
        ns = (body.get("spec") or {}).get("namespace", "")
        if user.is_admin:
            rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
            non_resource = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        else:
            all_rules = self.authz.rules_for(user, ns)
            rules = [r for r in all_rules if "nonResourceURLs" not in r]
            non_resource = [r for r in all_rules if "nonResourceURLs" in r]
        body["status"] = {"resourceRules": rules, "nonResourceRules": non_resource, "incomplete": False}
        return rq.json_response(body, 201)

    async def self_subject_review(self, request: web.Request, ri: rq.RequestInfo, info: Any) -> web.Response:
        user: User = request[USER]
        return rq.json_response({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                                 "metadata": {"creationTimestamp": None},
                                 "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}}}, 201)

    async def token_request(self, request: web.Request, ri: rq.RequestInfo, info: Any) -> web.Response:
        if request.method != "POST":
            raise errors.method_not_allowed()
        if self.issuer is None:
            raise errors.service_unavailable("service account token issuing is not configured")
        body = rq.decode_object(await rq.read_body(request), rq.media_type(request))
        spec = body.get("spec") or {}
        sa = await self.objects.get(info, ri.namespace, ri.name)
        expiration = int(spec.get("expirationSeconds") or 3600)
        if expiration < 600:
            raise errors.invalid_object("TokenRequest", "authentication.k8s.io", ri.name, [errors.invalid(
                "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes")])
        token, exp = self.issuer.issue(ri.namespace, ri.name, sa["metadata"]["uid"],
                                       list(spec.get("audiences") or []), expiration, spec.get("boundObjectRef"))
        from kybernetes.api.printing import format_time

        out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"name": ri.name, "namespace": ri.namespace, "creationTimestamp": None},
               "spec": {"audiences": list(spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"]),
                        "expirationSeconds": expiration, "boundObjectRef": spec.get("boundObjectRef")},
               "status": {"token": token, "expirationTimestamp": format_time(exp)}}
        return rq.json_response(out, 201)

    async def api_root(self, request: web.Request) -> web.Response:
        ct = disc.wants_aggregated(request.headers.get("Accept", ""))
        if ct:
            body = self.discovery.aggregated(True, ct)
            return web.Response(body=body, headers={"Content-Type": ct, "Etag": self.discovery.etag(body)})
        return rq.json_response(self.discovery.api_versions())

    async def apis_root(self, request: web.Request) -> web.Response:
        ct = disc.wants_aggregated(request.headers.get("Accept", ""))
        if ct:
            body = self.discovery.aggregated(False, ct)
            return web.Response(body=body, headers={"Content-Type": ct, "Etag": self.discovery.etag(body)})
        return rq.json_response(self.discovery.api_group_list())

    # --- resources ------------------------------------------------------------------------------
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        ri = rq.parse_path(path)
        if ri is None:
            parts = [p for p in path.split("/") if p]
            if len(parts) == 2 and parts[0] == "apis":
                body = self.discovery.api_group(parts[1])
                if body is not None:
                    return rq.json_response(body)
            return not_found_page()
        if not ri.resource:
            body = self.discovery.resource_list(ri.group, ri.version)
            if body is None:
                return not_found_page()
            return rq.json_response(body)
        info = self.registry.get(ri.group, ri.version, ri.resource)
        if info is None or (ri.namespaced_path and not info.namespaced) or \
                (info.namespaced and ri.name and not ri.namespace and ri.resource != "namespaces"):
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource",
                                     {})
        user: User = request[USER]
        verb = self._verb(request, ri)
        # admins are always allowed (the authorizer's first rule): no attributes to build for them
        if not user.is_admin:
            attributes = Attributes(verb, ri.group, ri.resource, ri.subresource, ri.namespace, ri.name)
            if not self.authz.allowed(user, attributes):
                raise authz.forbidden(user, attributes)
        if verb not in info.verbs and not ri.subresource:
            raise errors.method_not_allowed()
        extra = self.extra_handlers.get((f"{ri.group}/{ri.resource}", ri.subresource))
        if extra is not None:
            return await extra(request, ri, info)
        accept = rq.parse_accept(request)
        if ri.subresource:
            return await self.subresources.handle(request, ri, info)
        method = request.method
        custom = getattr(info.strategy, "custom_resource", False)
        if method == "GET":
            if ri.name:
                return await self.reads.get(request, ri, info, accept)
            if rq.query_bool(request, "watch"):
                return await self.reads.watch(request, ri, info, accept)
            return await self.reads.list(request, ri, info, accept)
        if method == "POST" and not ri.name:
            return await self.writes.create(request, ri, info)
        if method == "PUT" and ri.name:
            return await self.writes.update(request, ri, info)
        if method == "PATCH" and ri.name:
            return await self.writes.patch(request, ri, info, custom=custom)
        if method == "DELETE":
            if ri.name:
                return await self.writes.delete(request, ri, info)
            return await self.writes.delete_collection(request, ri, info)
        raise errors.method_not_allowed()

    @staticmethod
    def _verb(request: web.Request, ri: rq.RequestInfo) -> str:
        m = request.method
        if m == "GET":
            if ri.name:
                return "get"
            return "watch" if request.query.get("watch") in ("true", "1", "True") else "list"
        if m == "DELETE":
            return "delete" if ri.name else "deletecollection"
        return _WRITE_VERBS.get(m) or m.lower()


_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def not_found_page() -> web.Response:
    return web.Response(status=404, text="404 page not found\n")


API_SERVER = web.AppKey("api_server", ApiServer)


def make_app(server: ApiServer) -> web.Application:
    app = web.Application(middlewares=[server.error_middleware, server.authn_middleware],
                          client_max_size=rq.MAX_BODY + 1024)
    app[API_SERVER] = server

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await server.start()
        yield
        await server.stop()

    app.cleanup_ctx.append(lifecycle)

    async def end_watches(_: web.Application) -> None:
        server.reads.end_watches()

    app.on_shutdown.append(end_watches)
    r = app.router
    r.add_get("/version", server.version)
    r.add_get("/version/", server.version)
    for p in ("/healthz", "/livez", "/readyz"):
        r.add_get(p, server.health)
        r.add_get(p + "/{check:.*}", server.health)
    r.add_get("/openapi/v2", server.openapi_v2)
    r.add_get("/openapi/v3", server.openapi_v3_index)
    r.add_get("/openapi/v3/", server.openapi_v3_index)
    r.add_get("/openapi/v3/{path:.+}", server.openapi_v3_document)
    r.add_get("/api", server.api_root)
    r.add_get("/api/", server.api_root)
    r.add_get("/apis", server.apis_root)
    r.add_get("/apis/", server.apis_root)
    creds = server.node_credentials
    if creds is not None:
        r.add_get(CACERTS_PATH, creds.cacerts)
        r.add_post(CLIENT_KUBELET_PATH, lambda request: creds.client_kubelet(request, request[USER]))
    r.add_route("*", "/api/{tail:.+}", server.dispatch)
    r.add_route("*", "/apis/{tail:.+}", server.dispatch)
    return app


def bootstrap_objects(host: str = "127.0.0.1", port: int = 6443, service_cidr: str = "10.43.0.0/16",
                      dns: bool = True) -> list[dict[str, Any]]:
    """Objects every cluster has from the start, in creation order; the ``kubernetes`` Service's
    Endpoints and EndpointSlice point at this API server (``host:port``). The ``kubernetes``
    Service takes the first address of the service range, ``kube-dns`` (when ``dns``) the tenth
    (as in k3s)."""
    namespaces: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                                        for n in ("default", "kube-system", "kube-public", "kube-node-lease")]
    services = ipaddress.ip_network(service_cidr, strict=False)
    labels = {"component": "apiserver", "provider": "kubernetes"}
    kubernetes = {"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
                  "spec": {"type": "ClusterIP", "clusterIP": str(services[1]),
                           "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}}
    endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": "kubernetes", "namespace": "default",
                              "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                 "subsets": [{"addresses": [{"ip": host}],
                              "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "kubernetes", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "kubernetes"}},
              "addressType": "IPv4",
              "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
              "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
    # endpoints may not be loopback addresses: a server advertised on 127.0.0.1 has none
    reachable = [endpoints, slice_] if not _is_loopback(host) else []
    dns_service = [kube_dns_service(str(services[10]))] if dns else []
    return [*namespaces, kubernetes, *reachable, *dns_service, *SYSTEM_PRIORITY_CLASSES, *bootstrappolicy.objects()]


def kube_dns_service(cluster_ip: str) -> dict[str, Any]:
    """kube-system/kube-dns as k3s ships it (ports dns/UDP 53, dns-tcp/TCP 53, metrics/TCP 9153,
    selector ``k8s-app: kube-dns``). The cluster DNS serving it is not a pod, so no pod matches the
    selector: the DNS component publishes its own EndpointSlice (another manager than the
    EndpointSlice controller's, so the two coexist)."""
    dns_labels = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": dns_labels,
                         "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "selector": {"k8s-app": "kube-dns"},
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                               {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
