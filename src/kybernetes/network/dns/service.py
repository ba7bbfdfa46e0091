"""The ``kube-dns`` Service manifest (and a matching EndpointSlice) for the composition root.

The DNS server is not a pod, so the Service has no selector: its endpoints are written by hand
(like any Service without a selector) pointing at the address the server listens on.
"""

from __future__ import annotations

from typing import Any

CLUSTER_IP = "10.43.0.10"
NAMESPACE = "kube-system"
NAME = "kube-dns"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}


def kube_dns_service(cluster_ip: str = CLUSTER_IP) -> dict[str, Any]:
    """kube-system/kube-dns: ClusterIP 10.43.0.10, ports dns/UDP 53, dns-tcp/TCP 53, metrics/TCP 9153."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS),
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]},
    }


def kube_dns_endpoint_slice(addresses: list[str], port: int = 53, node_name: str = "") -> dict[str, Any]:
    """An EndpointSlice sending the kube-dns ports to the DNS server at ``addresses:port``."""
    ep: dict[str, Any] = {"conditions": {"ready": True, "serving": True, "terminating": False}}
    if node_name:
        ep["nodeName"] = node_name
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{NAME}-manual", "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": NAME, **LABELS,
                                "endpointslice.kubernetes.io/managed-by": "kybernetes.io/server"}},
        "endpoints": [{**ep, "addresses": [a]} for a in addresses],
        "ports": [{"name": "dns", "port": port, "protocol": "UDP"},
                  {"name": "dns-tcp", "port": port, "protocol": "TCP"}],
    }
