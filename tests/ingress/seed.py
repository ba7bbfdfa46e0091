"""The seed's multi-path Ingress ("Ingress rewrites nginx.conf"), converted to networking.k8s.io/v1.

The seed wrote it for extensions/v1beta1 (``serviceName``/``servicePort``); in v1 each path carries
``pathType: ImplementationSpecific`` and ``backend.service.name`` / ``port.number``.
"""

from __future__ import annotations

from typing import Any

from tests.ingress import builders

NAMESPACE = "test-sit"
HOST = "www.gxcospower.cn"
PATHS: tuple[tuple[str, str, int], ...] = (
    ("/v1/repair/", "kct-cos-power-repair", 8081),
    ("/repair/", "kct-cos-power-repair-web-admin-svc", 80),
    ("/v1/customer/", "cos-power-customer-service-admin", 8081),
    ("/v1_admin/customer/", "cos-power-customer-service-admin", 8081),
    ("/app_v1/customer/", "cos-power-customer-service-admin", 8081),
    ("/customer/", "cos-power-customer-service-web-admin-svc", 80),
    ("/mobile/", "cos-power-mobile-h5-svc", 80),
    ("/v1/customer/jmx", "cos-power-customer-service-admin", 9001),
)
# service → its ports (name, port)
SERVICES: dict[str, tuple[tuple[str, int], ...]] = {
    "kct-cos-power-repair": (("http", 8081),),
    "kct-cos-power-repair-web-admin-svc": (("http", 80),),
    "cos-power-customer-service-admin": (("http", 8081), ("jmx", 9001)),
    "cos-power-customer-service-web-admin-svc": (("http", 80),),
    "cos-power-mobile-h5-svc": (("http", 80),),
}
BACKENDS: tuple[tuple[str, str], ...] = tuple((svc, pname) for svc, ports in SERVICES.items() for pname, _ in ports)


def ingress(class_name: str | None = "nginx") -> dict[str, Any]:
    return builders.ingress("www-kct-ingress", builders.rule(HOST, *(builders.path(p, s, n) for p, s, n in PATHS)),
                            ns=NAMESPACE, class_name=class_name)


def services() -> list[dict[str, Any]]:
    return [builders.service(name, *ports, ns=NAMESPACE) for name, ports in SERVICES.items()]


def upstream(service: str, port: int) -> str:
    return f"{NAMESPACE}-{service}-{port}"
