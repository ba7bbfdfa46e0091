"""Async REST client for the Kubernetes API (ours or anyone's): kubeconfig loading, TLS client
certificates or bearer tokens, JSON in and out, list/watch streams, typed errors.

Paths are built from ``Resource`` descriptors so callers never format URLs by hand.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import yaml

from kybernetes.client import http
from kybernetes.client.errors import ApiError, from_status


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


PODS = Resource("", "v1", "pods", kind="Pod")
NODES = Resource("", "v1", "nodes", namespaced=False, kind="Node")
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
SERVICES = Resource("", "v1", "services", kind="Service")
ENDPOINTS = Resource("", "v1", "endpoints", kind="Endpoints")
EVENTS = Resource("", "v1", "events", kind="Event")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
SECRETS = Resource("", "v1", "secrets", kind="Secret")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
PVCS = Resource("", "v1", "persistentvolumeclaims", kind="PersistentVolumeClaim")
DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment")
REPLICASETS = Resource("apps", "v1", "replicasets", kind="ReplicaSet")
STATEFULSETS = Resource("apps", "v1", "statefulsets", kind="StatefulSet")
DAEMONSETS = Resource("apps", "v1", "daemonsets", kind="DaemonSet")
CONTROLLERREVISIONS = Resource("apps", "v1", "controllerrevisions", kind="ControllerRevision")
JOBS = Resource("batch", "v1", "jobs", kind="Job")
CRONJOBS = Resource("batch", "v1", "cronjobs", kind="CronJob")
LEASES = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")
REPLICATIONCONTROLLERS = Resource("", "v1", "replicationcontrollers", kind="ReplicationController")
PVS = Resource("", "v1", "persistentvolumes", namespaced=False, kind="PersistentVolume")
STORAGECLASSES = Resource("storage.k8s.io", "v1", "storageclasses", namespaced=False, kind="StorageClass")
PODDISRUPTIONBUDGETS = Resource("policy", "v1", "poddisruptionbudgets", kind="PodDisruptionBudget")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    server: str
    ssl: ssl.SSLContext | bool
    token: str | None = None
    user_agent: str = "kybernetes"
    unix_socket: str = ""  # reach ``server`` through this socket instead (components inside the server)


def _pem(data: str | None, path: str | None, base: Path) -> bytes | None:
    """A kubeconfig's ``*-data`` (base64) or file path, as the PEM bytes themselves."""
    if data:
        return base64.b64decode(data)
    if path:
        return (base / path).read_bytes()
    return None


def load_cert_pem(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``ctx.load_cert_chain`` for a certificate and key held in memory. ssl reads them from files
    only: they are written for the call into a private directory that is removed at once, so no
    private key is left behind."""
    with tempfile.TemporaryDirectory(prefix="kyb-kc-") as d:
        c, k = Path(d) / "cert.pem", Path(d) / "key.pem"
        c.write_bytes(cert)
        fd = os.open(k, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        ctx.load_cert_chain(c, k)


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None,
                    user_agent: str = "kybernetes") -> ClientConfig:
    p = Path(path)
    cfg = yaml.safe_load(p.read_text())
    ctx_name = context or cfg.get("current-context")
    ctx = next(c["context"] for c in cfg.get("contexts", []) if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg.get("clusters", []) if c["name"] == ctx["cluster"])
    user: dict[str, Any] = next((u["user"] for u in cfg.get("users", []) if u["name"] == ctx.get("user")), {}) or {}
    server = cluster["server"]
    sslctx: ssl.SSLContext | bool = False
    if server.startswith("https"):
        if cluster.get("insecure-skip-tls-verify"):
            sslctx = ssl.create_default_context()
            sslctx.check_hostname = False
            sslctx.verify_mode = ssl.CERT_NONE
        else:
            ca = _pem(cluster.get("certificate-authority-data"), cluster.get("certificate-authority"), p.parent)
            sslctx = ssl.create_default_context(cadata=ca.decode() if ca else None)
        cert = _pem(user.get("client-certificate-data"), user.get("client-certificate"), p.parent)
        key = _pem(user.get("client-key-data"), user.get("client-key"), p.parent)
        if cert and key:
            load_cert_pem(sslctx, cert, key)
    return ClientConfig(server.rstrip("/"), sslctx, user.get("token"), user_agent)


def token_config(server: str, token: str, ca_file: str | None = None, insecure: bool = False,
                 user_agent: str = "kybernetes") -> ClientConfig:
    """A bearer-token client config (how agents join: ``--server``, ``--token``, ``--ca-file``)."""
    sslctx: ssl.SSLContext | bool = False
    if server.startswith("https"):
        if insecure:
            sslctx = ssl.create_default_context()
            sslctx.check_hostname = False
            sslctx.verify_mode = ssl.CERT_NONE
        else:
            sslctx = ssl.create_default_context(cafile=ca_file)
    return ClientConfig(server.rstrip("/"), sslctx, token.strip(), user_agent)


class Client:
    """One connection pool to one API server. Methods return decoded JSON dicts."""

    def __init__(self, config: ClientConfig, max_connections: int = 100) -> None:
        self.config = config
        self._pool: http.Pool | None = None
        self._max = max_connections

    @property
    def pool(self) -> http.Pool:
        if self._pool is None:
            headers = {"User-Agent": self.config.user_agent, "Accept": "application/json"}
            if self.config.token:
                headers["Authorization"] = f"Bearer {self.config.token}"
            endpoint = http.Endpoint.from_url(self.config.server, self.config.ssl, self.config.unix_socket)
            self._pool = http.Pool(endpoint, headers, self._max)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
                      content_type: str = "application/json", request_timeout: float = 60, *,
                      decode: bool = True) -> dict[str, Any]:
        """The decoded answer; ``decode=False`` (a caller that ignores it) skips decoding and returns
        ``{}`` — a whole pod takes some 25 µs to decode, as much as the rest of a small request."""
        data = orjson.dumps(body) if body is not None else None
        query = urlencode({k: _q(v) for k, v in params.items() if v is not None}, doseq=True) if params else ""
        r = await self.pool.request(method, http.request_target(path, query), data, content_type, request_timeout)
        if r.status >= 400:
            raise _error(r.status, r.body)
        return orjson.loads(r.body) if r.body and decode else {}

    # --- verbs ----------------------------------------------------------------------------------
    async def get(self, res: Resource, name: str, namespace: str | None = None,
                  subresource: str | None = None) -> dict[str, Any]:
        return await self.request("GET", res.path(namespace, name, subresource))

    async def list(self, res: Resource, namespace: str | None = None, **params: Any) -> dict[str, Any]:
        return await self.request("GET", res.path(namespace), params=params)

    async def create(self, res: Resource, obj: dict[str, Any], namespace: str | None = None,
                     subresource: str | None = None, name: str | None = None, **params: Any) -> dict[str, Any]:
        path = res.path(namespace, name, subresource) if subresource else res.path(namespace)
        return await self.request("POST", path, obj, params)

    async def replace(self, res: Resource, obj: dict[str, Any], namespace: str | None = None,
                      subresource: str | None = None) -> dict[str, Any]:
        return await self.request("PUT", res.path(namespace, obj["metadata"]["name"], subresource), obj)

    async def patch(self, res: Resource, name: str, patch: Any, namespace: str | None = None,
                    subresource: str | None = None, patch_type: str = "application/merge-patch+json", *,
                    decode: bool = True, **params: Any) -> dict[str, Any]:
        return await self.request("PATCH", res.path(namespace, name, subresource), patch, params, patch_type,
                                  decode=decode)

    async def delete(self, res: Resource, name: str, namespace: str | None = None,
                     **options: Any) -> dict[str, Any]:
        return await self.request("DELETE", res.path(namespace, name), options or None)

    async def delete_collection(self, res: Resource, namespace: str | None = None, body: dict[str, Any] | None = None,
                                **params: Any) -> dict[str, Any]:
        """``DELETE`` on the collection (``deletecollection``); ``body`` is the DeleteOptions."""
        return await self.request("DELETE", res.path(namespace), body, params)

    async def watch(self, res: Resource, namespace: str | None = None, resource_version: str = "",
                    timeout_seconds: int = 300, **params: Any) -> AsyncIterator[dict[str, Any]]:
        """Watch events (dicts with type/object) until the server ends the stream."""
        q = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": timeout_seconds,
             "allowWatchBookmarks": "true", **{k: _q(v) for k, v in params.items() if v is not None}}
        target = http.request_target(res.path(namespace), urlencode(q))
        async with self.pool.stream(target, read_timeout=timeout_seconds + 30) as r:
            if r.status >= 400:
                raise _error(r.status, await r.read())
            async for line in r:
                if line.strip():
                    yield orjson.loads(line)


def _q(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _error(code: int, raw: bytes) -> ApiError:
    try:
        status = orjson.loads(raw)
        if not isinstance(status, dict):
            raise ValueError
    except ValueError:
        status = {"kind": "Status", "status": "Failure", "message": raw.decode(errors="replace")[:500], "code": code}
    return from_status(code, status)


async def wait_ready(client: Client, deadline_s: float = 30) -> None:
    """Wait until the API server answers /readyz."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        try:
            if (await client.pool.request("GET", "/readyz", request_timeout=10)).status == 200:
                return
        except (OSError, TimeoutError):
            pass
        if loop.time() > end:
            raise TimeoutError("API server not ready")
        await asyncio.sleep(0.1)
