"""core/v1 Service: defaults, ClusterIP and NodePort allocation, validation, ``/status`` and the table.

The generic write path calls ``ServiceStrategy``; cluster IPs and node ports come from
``ctx.allocators["cluster-ip"]`` and ``ctx.allocators["node-port"]`` (the apiserver rolls back what a
failed or dry-run write took and frees what stored Services no longer hold). Validation rules live in
``_service_validation.py``; the endpoints controller and kube-proxy read what this stores.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError, StatusError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.kinds.core import _service_validation as sv
from kybernetes.api.strategy import (
    AGE_COLUMN,
    NAME_COLUMN,
    Column,
    ResourceInfo,
    StatusStrategy,
    Strategy,
    Subresource,
    WriteContext,
)
from kybernetes.api.types import Object

CLUSTER_FAMILIES = ("IPv4",)  # the service CIDR is single-stack IPv4 (10.43.0.0/16)


def externally_accessible(spec: dict[str, Any]) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type") != "ExternalName"


def needs_node_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def needs_hc_node_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def default_service(obj: Object) -> None:
    """``SetDefaults_Service`` plus the always-serialised ``status.loadBalancer``."""
    spec = c.ensure(obj, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client = c.section(c.section(spec, "sessionAffinityConfig"), "clientIP")
        if client.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in c.dicts(spec.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    lb = c.ensure(c.ensure(obj, "status"), "loadBalancer")
    if spec["type"] == "LoadBalancer":
        for ingress in c.dicts(lb.get("ingress")):
            if ingress.get("ip") and ingress.get("ipMode") is None:
                ingress["ipMode"] = "VIP"


def init_ip_families(spec: dict[str, Any], old_spec: dict[str, Any] | None) -> None:
    """``initIPFamilyFields`` for a single-stack cluster (``ipFamilyPolicy``/``ipFamilies`` defaults)."""
    if spec.get("type") == "ExternalName":
        return
    headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        if old_spec and old_spec.get("ipFamilyPolicy") is not None:
            spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
        else:
            spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
    families = list(spec.get("ipFamilies") or [])
    for i, ip in enumerate(spec.get("clusterIPs") or []):
        if ip == "None":
            break
        if i >= len(families) and ip:
            families.append("IPv6" if ":" in str(ip) else "IPv4")
    if headless_selectorless:
        families = families or [CLUSTER_FAMILIES[0]]
        if len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    elif not families:
        families = [CLUSTER_FAMILIES[0]]
    spec["ipFamilies"] = families


def _reraise(exc: StatusError, name: str, path: str, value: Any) -> StatusError:
    """Re-address an allocator's Invalid error to this Service and field."""
    if exc.code != 422 or ": Invalid value: " not in exc.message:
        return exc
    detail = exc.message.split(": Invalid value: ", 1)[1]
    detail = detail.split(": ", 1)[1] if ": " in detail else detail
    return errors.invalid_object("Service", "", name, [errors.invalid(path, value, detail)])


def allocate(obj: Object, old: Object | None, ctx: WriteContext) -> None:
    """Take the cluster IP, node ports and health-check node port this Service needs and lacks."""
    spec, name = c.ensure(obj, "spec"), c.name(obj)
    old_spec = c.section(old, "spec") if old is not None else {}
    ips = ctx.allocators.get("cluster-ip")
    ports = ctx.allocators.get("node-port")
    cluster_ips = list(spec.get("clusterIPs") or [])
    if needs_cluster_ip(spec) and ips is not None and (not cluster_ips or cluster_ips[0] != "None"):
        owned = set(old_spec.get("clusterIPs") or []) if needs_cluster_ip(old_spec) else set()
        families = spec.get("ipFamilies") or list(CLUSTER_FAMILIES)
        while len(cluster_ips) < len(families):
            cluster_ips.append("")
        for i, ip in enumerate(cluster_ips[:1]):
            if ip in owned:
                continue
            try:
                cluster_ips[i] = str(ips.allocate(ip or None))
            except StatusError as exc:
                raise _reraise(exc, name, "spec.clusterIPs", validation.GoValue(
                    "[]string{" + ", ".join(validation.go_quote(str(x)) for x in spec.get("clusterIPs") or []) + "}")
                ) from None
        spec["clusterIPs"] = cluster_ips[:1]
        spec["clusterIP"] = cluster_ips[0]
    if ports is None:
        return
    owned_ports = {p.get("nodePort") for p in c.dicts(old_spec.get("ports"))} if needs_node_port(old_spec) else set()
    owned_ports.add(old_spec.get("healthCheckNodePort"))
    auto = spec.get("type") == "NodePort" or (spec.get("type") == "LoadBalancer"
                                               and spec.get("allocateLoadBalancerNodePorts") is not False)
    taken: dict[int, int] = {}
    if needs_node_port(spec):
        for i, port in enumerate(c.dicts(spec.get("ports"))):
            wanted = port.get("nodePort")
            if wanted in owned_ports and wanted:
                continue
            if not wanted and not auto:
                continue
            if wanted and wanted in taken:
                continue
            try:
                port["nodePort"] = int(ports.allocate(wanted or None))
            except StatusError as exc:
                raise _reraise(exc, name, f"spec.ports[{i}].nodePort", wanted or 0) from None
            taken[port["nodePort"]] = i
    if needs_hc_node_port(spec):
        wanted = spec.get("healthCheckNodePort")
        if not (wanted and wanted in owned_ports):
            try:
                spec["healthCheckNodePort"] = int(ports.allocate(wanted or None))
            except StatusError as exc:
                raise _reraise(exc, name, "spec.healthCheckNodePort", wanted or 0) from None


def patch_allocated_values(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """``patchAllocatedValues``: an update that omits allocated values keeps the old ones."""
    if needs_cluster_ip(old_spec) and needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_port(old_spec) and needs_node_port(spec):
        new_ports = c.dicts(spec.get("ports"))
        used = {p.get("nodePort") for p in c.dicts(old_spec.get("ports")) if p.get("nodePort")} & \
            {p.get("nodePort") for p in new_ports if p.get("nodePort")}
        by_name = {str(p.get("name") or ""): p.get("nodePort") for p in c.dicts(old_spec.get("ports"))}
        for port in new_ports:
            if not port.get("nodePort"):
                old_value = by_name.get(str(port.get("name") or ""))
                if old_value and old_value not in used:
                    port["nodePort"] = old_value
    if needs_hc_node_port(old_spec) and needs_hc_node_port(spec) and not spec.get("healthCheckNodePort"):
        if old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def normalize_cluster_ips(spec: dict[str, Any], old_spec: dict[str, Any] | None) -> None:
    """``normalizeClusterIPs``: keep ``clusterIP`` and ``clusterIPs`` in step."""
    if spec.get("type") == "ExternalName":
        return
    ip, ips = spec.get("clusterIP") or "", list(spec.get("clusterIPs") or [])
    if old_spec is None:
        if ip and not ips:
            spec["clusterIPs"] = [ip]
        return
    same_ips = ips == list(old_spec.get("clusterIPs") or [])
    if not ip and same_ips and ips:
        spec.pop("clusterIPs", None)
    elif ip and ip != old_spec.get("clusterIP") and same_ips:
        spec["clusterIPs"] = [ip] if len(ips) <= 1 else [ip, *ips[1:]]


def drop_type_dependent_fields(obj: Object, old: Object) -> None:
    """``dropTypeDependentFields``: fields the old type needed and the user did not touch go away."""
    spec, old_spec = c.ensure(obj, "spec"), c.section(old, "spec")
    if needs_cluster_ip(old_spec) and not needs_cluster_ip(spec):
        if spec.get("clusterIP") == old_spec.get("clusterIP") and spec.get("clusterIPs") == old_spec.get("clusterIPs"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if spec.get(key) == old_spec.get(key):
                spec.pop(key, None)
    if needs_node_port(old_spec) and not needs_node_port(spec):
        old_ports = {p.get("nodePort") for p in c.dicts(old_spec.get("ports")) if p.get("nodePort")}
        if {p.get("nodePort") for p in c.dicts(spec.get("ports")) if p.get("nodePort")} <= old_ports:
            for port in c.dicts(spec.get("ports")):
                port.pop("nodePort", None)
    if needs_hc_node_port(old_spec) and not needs_hc_node_port(spec) and \
            spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if old_spec.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if key in spec and spec.get(key) == old_spec.get(key):
                spec.pop(key)
    if externally_accessible(old_spec) and not externally_accessible(spec) and \
            spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)
    if spec.get("type") != "LoadBalancer":
        c.ensure(obj, "status")["loadBalancer"] = {}


def service_warnings(obj: Object) -> list[str]:
    """A subset of ``GetWarningsForService``."""
    spec, out = c.section(obj, "spec"), []
    if "service.kubernetes.io/topology-aware-hints" in (c.meta(obj).get("annotations") or {}):
        out.append("annotation service.kubernetes.io/topology-aware-hints is deprecated, please use "
                   "service.kubernetes.io/topology-mode instead")
    if spec.get("type") == "ExternalName" and spec.get("externalIPs"):
        out.append('spec.externalIPs is ignored when spec.type is "ExternalName"')
    if spec.get("type") != "ExternalName" and spec.get("externalName"):
        out.append('spec.externalName is ignored when spec.type is not "ExternalName"')
    return out


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, c.column("Type", "ServiceSpec", "type"), c.column("Cluster-IP", "ServiceSpec", "clusterIP"),
            c.column("External-IP", "ServiceSpec", "externalIPs"), c.column("Port(s)", "ServiceSpec", "ports"),
            AGE_COLUMN, c.column("Selector", "ServiceSpec", "selector", priority=1))


def external_ip(obj: Object) -> str:
    """``getServiceExternalIP`` (server-side tables are wide, so nothing is clipped)."""
    spec = c.section(obj, "spec")
    kind, external = spec.get("type"), [str(ip) for ip in spec.get("externalIPs") or []]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        ingress = c.dicts(c.section(c.section(obj, "status"), "loadBalancer").get("ingress"))
        lb = sorted({str(i.get("ip") or i.get("hostname")) for i in ingress if i.get("ip") or i.get("hostname")})
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def ports_cell(spec: dict[str, Any]) -> str:
    pieces = []
    for port in c.dicts(spec.get("ports")):
        node = f":{port['nodePort']}" if port.get("nodePort") else ""
        pieces.append(f"{port.get('port') or 0}{node}/{port.get('protocol') or ''}")
    return ",".join(pieces) or "<none>"


class ServiceStrategy(Strategy):
    has_status = True
    tracks_generation = False
    return_deleted_object = True
    name_validator = staticmethod(validation.is_dns1035_label)

    def default(self, obj: Object) -> None:
        default_service(obj)

    def allow_create_on_update(self) -> bool:
        return True

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = {"loadBalancer": {}}
        spec = c.ensure(obj, "spec")
        normalize_cluster_ips(spec, None)
        if sv.validate_cluster_ip_fields(spec):
            return  # validation reports it; nothing sensible to allocate
        init_ip_families(spec, None)
        allocate(obj, None, ctx)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return sv.validate_service(obj)

    def warnings_on_create(self, obj: Object) -> list[str]:
        return service_warnings(obj)

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = copy.deepcopy(old.get("status", {"loadBalancer": {}}))
        spec, old_spec = c.ensure(obj, "spec"), c.section(old, "spec")
        patch_allocated_values(spec, old_spec)
        normalize_cluster_ips(spec, old_spec)
        drop_type_dependent_fields(obj, old)
        if sv.validate_cluster_ip_fields(spec):
            return
        init_ip_families(spec, old_spec)
        allocate(obj, old, ctx)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return sv.validate_service_update(obj, old) + sv.validate_service(obj)

    def warnings_on_update(self, obj: Object, old: Object) -> list[str]:
        return service_warnings(obj)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        spec = c.section(obj, "spec")
        fields = c.namespaced_fields(obj)
        fields.update({"spec.clusterIP": str(spec.get("clusterIP") or ""), "spec.type": str(spec.get("type") or "")})
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec = c.section(obj, "spec")
        ips = spec.get("clusterIPs") or []
        return [c.name(obj), spec.get("type") or "", ips[0] if ips else "<none>", external_ip(obj), ports_cell(spec),
                printing.age(obj, now), printing.map_selector_string(spec.get("selector"))]


class ServiceStatusStrategy(StatusStrategy):
    """``services/status`` (load-balancer controllers): the old spec wins."""

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        super().prepare_for_update(obj, old, ctx)
        default_service(obj)  # ingress ipMode defaults depend on the (restored) spec.type

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return sv.validate_load_balancer_status(obj)


STRATEGY = ServiceStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="", version="v1", kind="Service", plural="services", singular="service", namespaced=True,
        strategy=STRATEGY, short_names=("svc",), categories=("all",), status_strategy=ServiceStatusStrategy(STRATEGY),
        subresources=(Subresource("proxy", "ServiceProxyOptions", verbs=("create", "delete", "get", "patch", "update")),
                      Subresource("status", "Service")),
    ),
)
