"""The EndpointSlice that makes the cluster DNS server the endpoint of the ``kube-dns`` Service.

The API server's bootstrap creates kube-system/kube-dns (ClusterIP = the tenth address of the
service range, selector ``k8s-app: kube-dns``). Our DNS server is not a pod, so no pod matches the
selector; the DNS component writes this slice itself. Its ``managed-by`` label names another
manager than the EndpointSlice controller, which therefore leaves it alone (as it leaves the slices
of any other endpoint manager), and the proxy and DNS read both the controller's empty slice and
this one.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "kube-system"
NAME = "kube-dns"
SLICE_NAME = f"{NAME}-server"
MANAGED_BY = "cluster-dns.kybernetes.io"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}


def kube_dns_endpoint_slice(addresses: list[str], port: int = 53, node_name: str = "") -> dict[str, Any]:
    """An EndpointSlice sending the kube-dns ports (dns/UDP, dns-tcp/TCP) to ``addresses:port``."""
    ep: dict[str, Any] = {"conditions": {"ready": True, "serving": True, "terminating": False}}
    if node_name:
        ep["nodeName"] = node_name
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": SLICE_NAME, "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": NAME, **LABELS,
                                "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
        "endpoints": [{**ep, "addresses": [a]} for a in addresses],
        "ports": [{"name": "dns", "port": port, "protocol": "UDP"},
                  {"name": "dns-tcp", "port": port, "protocol": "TCP"}],
    }
