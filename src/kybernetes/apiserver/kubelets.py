"""Where a pod's kubelet listens, how the API server authenticates to it, and which container a request
means: what ``pods/log``, ``pods/exec``, ``pods/attach`` and ``pods/portforward`` share.

Role: :mod:`.podlogs` and :mod:`.podstreams` resolve their target here, then talk to the kubelet's HTTPS
endpoint (``node.status.addresses`` InternalIP, ``daemonEndpoints.kubeletEndpoint.Port``) with the cluster's
kubelet client certificate, as the real API server does.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from kybernetes.api import errors

__all__ = ["KubeletConnections", "pick_container"]

Obj = dict[str, Any]


def _names(containers: list[Obj] | None) -> str:
    return " ".join(str(c.get("name")) for c in containers or [])


def pick_container(pod: Obj, requested: str) -> str:
    """``requested``, or the only container; a BadRequest if that is ambiguous or names no container."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    if not requested:
        containers = spec.get("containers") or []
        if len(containers) == 1:
            return str(containers[0]["name"])
        message = f"a container name must be specified for pod {name}"
        if containers:
            message += f", choose one of: [{_names(containers)}]"
            if spec.get("initContainers"):
                message += f" or one of the init containers: [{_names(spec['initContainers'])}]"
        raise errors.bad_request(message)
    if not any(c.get("name") == requested for key in ("containers", "initContainers", "ephemeralContainers")
               for c in spec.get(key) or []):
        raise errors.bad_request(f"container {requested} is not valid for pod {name}")
    return requested


class KubeletConnections:
    def __init__(self, objects: Any, nodes: Any, client_cert: Path | None, client_key: Path | None) -> None:
        self.objects = objects
        self.nodes = nodes  # the Node resource descriptor
        self.client_cert, self.client_key = client_cert, client_key
        self._ssl: ssl.SSLContext | None = None

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

    async def base_url(self, pod: Obj) -> str:
        """``https://<node InternalIP>:<kubelet port>`` of the node the pod is bound to."""
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {(pod.get('metadata') or {}).get('name', '')} does not have a host "
                                     "assigned")
        node = await self.objects.get(self.nodes, "", node_name)
        address, port = kubelet_endpoint(node)
        if not address:
            raise errors.bad_request(f"node {node_name} has no InternalIP address")
        return https_url(address, port or 10250)


def kubelet_endpoint(node: Obj) -> tuple[str, int]:
    """The InternalIP and kubelet port a Node's status advertises (``""``/0 where missing)."""
    status = node.get("status") or {}
    address = next((a.get("address") or "" for a in status.get("addresses") or [] if a.get("type") == "InternalIP"),
                   "")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
    return address, int(port)


def https_url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}"
