"""Builders for Services and EndpointSlices as the API server would store them."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def service(name: str, cluster_ip: str = "10.43.0.10", ns: str = "default",
            ports: list[tuple[str, int, str]] | None = None, type_: str = "ClusterIP",
            node_ports: dict[str, int] | None = None, etp: str = "Cluster", itp: str = "Cluster",
            affinity_seconds: int = 0, external_ips: list[str] | None = None, lb_ips: list[str] | None = None,
            external_name: str = "", selector: dict[str, str] | None = None) -> Obj:
    """``ports``: (name, port, protocol) with targetPort = the name (named target ports)."""
    ports = [("http", 80, "TCP")] if ports is None else ports
    spec: Obj = {"type": type_, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip] if cluster_ip != "None" else ["None"],
                 "ports": [], "sessionAffinity": "None", "internalTrafficPolicy": itp,
                 "selector": selector if selector is not None else {"app": name}}
    for pname, port, proto in ports:
        p: Obj = {"name": pname, "port": port, "protocol": proto, "targetPort": pname or port}
        if node_ports and pname in node_ports:
            p["nodePort"] = node_ports[pname]
        spec["ports"].append(p)
    if type_ in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = etp
    if affinity_seconds:
        spec["sessionAffinity"] = "ClientIP"
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": affinity_seconds}}
    if external_ips:
        spec["externalIPs"] = list(external_ips)
    if type_ == "ExternalName":
        spec = {"type": "ExternalName", "externalName": external_name}
    obj: Obj = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}", "resourceVersion": "1"},
                "spec": spec, "status": {"loadBalancer": {}}}
    if lb_ips:
        obj["status"]["loadBalancer"]["ingress"] = [{"ip": ip, "ipMode": "VIP"} for ip in lb_ips]
    return obj


def endpoint(ip: str, ready: bool = True, node: str = "node-1", hostname: str = "",
             terminating: bool = False, serving: bool | None = None) -> Obj:
    ep: Obj = {"addresses": [ip], "nodeName": node,
               "conditions": {"ready": ready, "serving": ready if serving is None else serving,
                              "terminating": terminating}}
    if hostname:
        ep["hostname"] = hostname
    return ep


def endpoint_slice(svc: str, endpoints: list[Obj], ns: str = "default",
                   ports: list[tuple[str, int, str]] | None = None, name: str = "", version: int = 1) -> Obj:
    ports = [("http", 8080, "TCP")] if ports is None else ports
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name or f"{svc}-abcde", "namespace": ns, "resourceVersion": str(version),
                         "labels": {"kubernetes.io/service-name": svc,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}
