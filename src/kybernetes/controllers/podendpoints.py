"""How a pod becomes an endpoint of a Service: shared by the Endpoints and EndpointSlice controllers.

Which services select a pod (for the pod callbacks), whether a pod belongs in endpoints at all
(has an IP, not terminal, terminating only when tolerated), its address for the service's IP
family, named target ports resolved against the pod's containers, and the per-service callbacks
both controllers register.
"""

from __future__ import annotations

from typing import Any

from kybernetes.client.informer import Informer, key_of
from kybernetes.client.workqueue import WorkQueue
from kybernetes.controllers import podstate
from kybernetes.controllers.loop import Obj


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def selects(service: Obj, pod: Obj) -> bool:
    selector = (service.get("spec") or {}).get("selector")
    if not selector:
        return False  # a nil selector selects nothing (its endpoints are managed by someone else)
    labels = _md(pod).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def services_for_pod(services: Informer, pod: Obj) -> list[Obj]:
    return [s for s in services.list(_md(pod).get("namespace", "")) if selects(s, pod)]


def pods_for_service(pods: Informer, service: Obj) -> list[Obj]:
    return [p for p in pods.list(_md(service).get("namespace", "")) if selects(service, p)]


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    if podstate.is_pod_terminal(pod):
        return False
    status = pod.get("status") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not _md(pod).get("deletionTimestamp")


def is_ip_service(service: Obj) -> bool:
    ip = (service.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def pod_ip(pod: Obj, family: str = "IPv4") -> str:
    status = pod.get("status") or {}
    ips = [str(e.get("ip")) for e in status.get("podIPs") or [] if isinstance(e, dict) and e.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    for ip in ips:
        if (":" in ip) == (family == "IPv6"):
            return ip
    return ""


def service_family(service: Obj) -> str:
    families = (service.get("spec") or {}).get("ipFamilies") or []
    return str(families[0]) if families else "IPv4"


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == _md(service).get("name") and \
        _md(service).get("namespace") == _md(pod).get("namespace")


def target_ref(pod: Obj) -> dict[str, Any]:
    md = _md(pod)
    return {"kind": "Pod", "namespace": md.get("namespace", ""), "name": md.get("name", ""), "uid": md.get("uid", "")}


def find_port(pod: Obj, service_port: dict[str, Any]) -> int:
    """The container port a service port targets: a number as is, a name looked up in the pod's
    containers (and sidecar init containers) with the service port's protocol."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []),
                  *(c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always")]
    for c in containers:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    raise ValueError(f"no suitable port for manifest: {_md(pod).get('uid', '')}")


def endpoint_port(service_port: dict[str, Any], number: int) -> dict[str, Any]:
    port: dict[str, Any] = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def register(queue: WorkQueue, services: Informer, pods: Informer) -> None:
    """Service changes enqueue the service; pod changes enqueue every service selecting the pod
    (before and after a label change)."""
    services.add_handlers(lambda s: queue.add(key_of(s)), lambda _o, s: queue.add(key_of(s)),
                          lambda s: queue.add(key_of(s)))

    def pod_changed(pod: Obj) -> None:
        for s in services_for_pod(services, pod):
            queue.add(key_of(s))

    def pod_updated(old: Obj, cur: Obj) -> None:
        if _md(old).get("resourceVersion") == _md(cur).get("resourceVersion"):
            return
        pod_changed(cur)
        if _md(old).get("labels") != _md(cur).get("labels"):
            pod_changed(old)

    pods.add_handlers(pod_changed, pod_updated, pod_changed)
