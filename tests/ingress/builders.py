"""Builders for the objects the ingress controller reads, as the API server would store them."""

from __future__ import annotations

import base64
from typing import Any

from kybernetes.ingress import certs

Obj = dict[str, Any]


def path(p: str, service: str, port: int | str, path_type: str = "ImplementationSpecific") -> Obj:
    ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"path": p, "pathType": path_type, "backend": {"service": {"name": service, "port": ref}}}


def rule(host: str, *paths: Obj) -> Obj:
    r: Obj = {"http": {"paths": list(paths)}}
    if host:
        r["host"] = host
    return r


def ingress(name: str, *rules: Obj, ns: str = "default", class_name: str | None = "nginx",
            annotations: dict[str, str] | None = None, tls: list[Obj] | None = None,
            default_backend: tuple[str, int] | None = None, created: str = "2024-01-01T00:00:00Z") -> Obj:
    spec: Obj = {"rules": list(rules)} if rules else {}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    if tls:
        spec["tls"] = tls
    if default_backend:
        spec["defaultBackend"] = {"service": {"name": default_backend[0], "port": {"number": default_backend[1]}}}
    md: Obj = {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}", "creationTimestamp": created,
               "generation": 1}
    if annotations:
        md["annotations"] = dict(annotations)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": md, "spec": spec, "status": {}}


def service(name: str, *ports: tuple[str, int], ns: str = "default") -> Obj:
    """``ports``: (name, port); targetPort = the name."""
    ports = ports or (("http", 80),)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-svc-{ns}-{name}"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.10", "selector": {"app": name},
                     "ports": [{"name": pn, "port": p, "protocol": "TCP", "targetPort": pn or p} for pn, p in ports]}}


def endpoint_slice(service_name: str, port_name: str, port: int, *addresses: str, ns: str = "default",
                   not_ready: tuple[str, ...] = (), suffix: str = "abcde") -> Obj:
    eps = [{"addresses": [a], "conditions": {"ready": True, "serving": True, "terminating": False}}
           for a in addresses]
    eps += [{"addresses": [a], "conditions": {"ready": False, "serving": False, "terminating": False}}
            for a in not_ready]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{service_name}-{suffix}", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}], "endpoints": eps}


def tls_secret(name: str, common_name: str, ns: str = "default") -> Obj:
    bundle = certs.self_signed(common_name)
    split = bundle.index(b"-----BEGIN PRIVATE KEY-----")
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": ns},
            "data": {"tls.crt": base64.b64encode(bundle[:split]).decode(),
                     "tls.key": base64.b64encode(bundle[split:]).decode()}}


def ingress_class(name: str = "nginx", controller: str = "kybernetes.io/ingress-nginx", default: bool = True) -> Obj:
    md: Obj = {"name": name}
    if default:
        md["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": md,
            "spec": {"controller": controller}}
