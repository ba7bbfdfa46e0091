"""The shared parts a pod sync needs, wired once by the agent (or a test) and passed down.

Role: :mod:`.agent` builds one :class:`KubeletContext` from the config, the CRI client and the API
client; :mod:`.syncpod`, :mod:`.containers` and :mod:`.podworkers` read their collaborators from it
instead of from globals. :class:`ApiObjects` is the API-backed :class:`.env.ObjectSource` and
:class:`.volumes.TokenSource`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.printing import parse_time
from kybernetes.client.errors import NotFoundError
from kybernetes.client.rest import CONFIGMAPS, PVCS, PVS, SECRETS, SERVICEACCOUNTS, Client
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.containerref import EventSink
from kybernetes.kubelet.dns import DNSSettings
from kybernetes.kubelet.images import ImageManager
from kybernetes.kubelet.pleg import PLEG
from kybernetes.kubelet.prober import ProbeManager
from kybernetes.kubelet.volumes import VolumeManager
from kybernetes.runtime import cri

__all__ = ["ApiObjects", "EventSink", "KubeletContext"]

Obj = dict[str, Any]


@dataclass
class KubeletContext:
    """Collaborators of the pod workers."""

    cfg: KubeletConfig
    runtime: cri.RuntimeClient
    record: EventSink
    images: ImageManager
    volumes: VolumeManager
    objects: Any  # env.ObjectSource
    services: Callable[[], list[Obj]]
    probes: ProbeManager
    backoff: Backoff
    pleg: PLEG
    host_dns: DNSSettings
    allocatable: dict[str, str] = field(default_factory=dict)
    memory_capacity: int = 0


class ApiObjects:
    """ConfigMaps, Secrets, PersistentVolumeClaims/Volumes and service-account tokens read through the API."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(CONFIGMAPS, name, namespace)
        except NotFoundError:
            return None

    async def secret(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(SECRETS, name, namespace)
        except NotFoundError:
            return None

    async def pvc(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(PVCS, name, namespace)
        except NotFoundError:
            return None

    async def pv(self, name: str) -> Obj | None:
        try:
            return await self.client.get(PVS, name)
        except NotFoundError:
            return None

    async def token(self, namespace: str, service_account: str, *, audiences: list[str], expiration: int,
                    pod_name: str, pod_uid: str) -> tuple[str, float]:
        """``POST serviceaccounts/<sa>/token`` bound to the pod; returns (token, expiry epoch)."""
        spec: Obj = {"expirationSeconds": expiration,
                     "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod_name, "uid": pod_uid}}
        if audiences:
            spec["audiences"] = audiences
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        out = await self.client.create(SERVICEACCOUNTS, body, namespace, subresource="token", name=service_account)
        status = out.get("status") or {}
        expires = parse_time(status.get("expirationTimestamp")) or 0.0
        return str(status.get("token", "")), expires
