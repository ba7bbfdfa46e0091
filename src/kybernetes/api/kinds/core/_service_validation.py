"""Service validation as Kubernetes 1.32's ``ValidateService``/``ValidateServiceUpdate`` word for word.

Used by ``service.py`` (which also calls ``validate_cluster_ip_fields`` before allocating, like the
allocator's loose pre-validation).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, podspec, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.types import Object

TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]
_IP_ERR = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _go_list(values: Any) -> validation.GoValue:
    items = values if isinstance(values, list) else []
    return validation.GoValue("[]string{" + ", ".join(validation.go_quote(str(v)) for v in items) + "}")


def _is_ip(value: str) -> bool:
    return not validation.validate_ip(value, "_")


def validate_cluster_ip_fields(spec: dict[str, Any]) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields``."""
    errs: list[FieldError] = []
    ip, ips = spec.get("clusterIP") or "", list(spec.get("clusterIPs") or [])
    families, policy = list(spec.get("ipFamilies") or []), spec.get("ipFamilyPolicy")
    if spec.get("type") == "ExternalName":
        if ip:
            errs.append(errors.forbidden("spec.clusterIP", "may not be set for ExternalName services"))
        if ips:
            errs.append(errors.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if families:
            errs.append(errors.forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if policy is not None:
            errs.append(errors.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        return errs
    if not ip and ips:
        errs.append(errors.invalid("spec.clusterIPs", _go_list(ips), "must be empty when `clusterIP` is not specified"))
    if ip and ips and ips[0] != ip:
        errs.append(errors.invalid("spec.clusterIPs", _go_list(ips), "first value must match `clusterIP`"))
    if policy is not None and policy not in POLICIES:
        errs.append(errors.not_supported("spec.ipFamilyPolicy", policy, POLICIES))
    if len(ips) > 2:
        errs.append(errors.invalid("spec.clusterIPs", _go_list(ips), "may only hold up to 2 values"))
    for i, value in enumerate(ips):
        if value == "None":
            if i != 0 or len(ips) > 1:
                errs.append(errors.invalid(f"spec.clusterIPs[{i}]", value, "'None' must be the first and only value"))
        elif not _is_ip(str(value)):
            errs.append(errors.invalid(f"spec.clusterIPs[{i}]", value, _IP_ERR))
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            errs.append(errors.not_supported(f"spec.ipFamilies[{i}]", family, ["IPv4", "IPv6"]))
        elif family in families[:i]:
            errs.append(errors.duplicate(f"spec.ipFamilies[{i}]", family))
    if len(families) > 2:
        errs.append(errors.invalid("spec.ipFamilies", _go_list(families), "may only hold up to 2 values"))
    if policy == "SingleStack" and len(ips) == 2:
        errs.append(errors.invalid("spec.ipFamilyPolicy", policy,
                                   "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are "
                                   "specified"))
    if policy == "SingleStack" and len(families) == 2:
        errs.append(errors.invalid("spec.ipFamilyPolicy", policy,
                                   "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are "
                                   "specified"))
    if policy == "RequireDualStack" and not (ip == "None" and not spec.get("selector")):
        errs.append(errors.invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack "
                                                                  "services"))
    for i, family in enumerate(families):
        if family == "IPv6" and not (ip == "None" and not spec.get("selector")):
            errs.append(errors.invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
    for i, value in enumerate(ips):
        if value != "None" and _is_ip(str(value)) and i < len(families) and \
                families[i] != ("IPv6" if ":" in str(value) else "IPv4"):
            errs.append(errors.invalid(f"spec.clusterIPs[{i}]", _go_list(ips),
                                       f"expected an {families[i]} value as indicated by `ipFamilies[{i}]`"))
    return errs


def validate_service(obj: Object) -> list[FieldError]:
    spec = c.section(obj, "spec")
    kind = spec.get("type") or ""
    headless = (spec.get("clusterIPs") or [""])[0] == "None" or spec.get("clusterIP") == "None"
    ports = c.dicts(spec.get("ports"))
    errs: list[FieldError] = []
    if not ports and not headless and kind != "ExternalName":
        errs.append(errors.required("spec.ports"))
    if kind in ("LoadBalancer", "NodePort") and headless:
        errs.append(errors.invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    if kind == "ExternalName":
        cname = str(spec.get("externalName") or "").removesuffix(".")
        if cname:
            errs.extend(validation.validate_dns1123_subdomain(cname, "spec.externalName"))
        else:
            errs.append(errors.required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs.extend(_validate_port(port, len(ports) > 1, names, f"spec.ports[{i}]"))
    if spec.get("selector") is not None:
        errs.extend(validation.validate_labels(spec.get("selector"), "spec.selector"))
    errs.extend(_validate_session_affinity(spec))
    errs.extend(validate_cluster_ip_fields(spec))
    for i, ip in enumerate(spec.get("externalIPs") or []):
        if not _is_ip(str(ip)):
            errs.append(errors.invalid(f"spec.externalIPs[{i}]", ip, _IP_ERR))
    if not kind:
        errs.append(errors.required("spec.type"))
    elif kind not in TYPES:
        errs.append(errors.not_supported("spec.type", kind, TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if port.get("nodePort"):
                errs.append(errors.forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    seen_node: set[tuple[Any, Any]] = set()
    seen_port: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if port.get("nodePort"):
            key = (port.get("nodePort"), port.get("protocol"))
            if key in seen_node:
                errs.append(errors.duplicate(f"spec.ports[{i}].nodePort", port["nodePort"]))
            seen_node.add(key)
    for i, port in enumerate(ports):
        key = (port.get("protocol"), port.get("port"))
        if key in seen_port:
            errs.append(errors.duplicate(f"spec.ports[{i}]", validation.GoValue(
                f"core.ServicePort{{Name:\"\", Protocol:{validation.go_quote(str(key[0] or ''))}, AppProtocol:(*string)"
                f"(nil), Port:{key[1] or 0}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, "
                "NodePort:0}")))
        seen_port.add(key)
    errs.extend(_validate_traffic_policies(spec))
    if kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            errs.append(errors.required("spec.allocateLoadBalancerNodePorts"))
    elif spec.get("allocateLoadBalancerNodePorts") is not None:
        errs.append(errors.forbidden("spec.allocateLoadBalancerNodePorts",
                                     "may only be used when `type` is 'LoadBalancer'"))
    if kind != "LoadBalancer":
        for field in ("loadBalancerSourceRanges", "loadBalancerClass"):
            if spec.get(field):
                errs.append(errors.forbidden(f"spec.{field}", "may only be used when `type` is 'LoadBalancer'"))
    for i, cidr in enumerate(spec.get("loadBalancerSourceRanges") or []):
        errs.extend(validation.validate_cidr(str(cidr).strip(), f"spec.loadBalancerSourceRanges[{i}]"))
    return errs


def _validate_port(port: dict[str, Any], require_name: bool, names: set[str], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = str(port.get("name") or "")
    if require_name and not name:
        errs.append(errors.required(f"{p}.name"))
    elif name:
        errs.extend(validation.validate_dns1123_label(name, f"{p}.name"))
        if name in names:
            errs.append(errors.duplicate(f"{p}.name", name))
        names.add(name)
    errs.extend(errors.invalid(f"{p}.port", port.get("port") or 0, m)
                for m in validation.is_valid_port_num(port.get("port")))
    if not port.get("protocol"):
        errs.append(errors.required(f"{p}.protocol"))
    elif port["protocol"] not in PROTOCOLS:
        errs.append(errors.not_supported(f"{p}.protocol", port["protocol"], PROTOCOLS))
    errs.extend(podspec.validate_port_num_or_name(port.get("targetPort"), f"{p}.targetPort"))
    if port.get("nodePort"):
        errs.extend(errors.invalid(f"{p}.nodePort", port["nodePort"], m)
                    for m in validation.is_valid_port_num(port["nodePort"]))
    return errs


def _validate_session_affinity(spec: dict[str, Any]) -> list[FieldError]:
    affinity = spec.get("sessionAffinity")
    if not affinity:
        return [errors.required("spec.sessionAffinity")]
    if affinity not in ("ClientIP", "None"):
        return [errors.not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"])]
    config = spec.get("sessionAffinityConfig")
    if affinity == "None" and config is not None:
        return [errors.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")]
    if affinity == "ClientIP":
        timeout = c.section(c.section(spec, "sessionAffinityConfig"), "clientIP").get("timeoutSeconds")
        if not isinstance(timeout, int) or not 0 < timeout <= 86400:
            return [errors.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout or 0,
                                   "must be greater than 0 and less than 86400")]
    return []


def _validate_traffic_policies(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    etp = spec.get("externalTrafficPolicy") or ""
    accessible = spec.get("type") in ("LoadBalancer", "NodePort") or \
        (spec.get("type") == "ClusterIP" and bool(spec.get("externalIPs")))
    if not accessible:
        if etp:
            errs.append(errors.invalid("spec.externalTrafficPolicy", etp,
                                       "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(errors.required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        errs.append(errors.not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    hc = spec.get("healthCheckNodePort")
    if hc and not (spec.get("type") == "LoadBalancer" and etp == "Local"):
        errs.append(errors.invalid("spec.healthCheckNodePort", hc, "may only be set when `type` is 'LoadBalancer' and "
                                                                   "`externalTrafficPolicy` is 'Local'"))
    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
            errs.append(errors.required("spec.internalTrafficPolicy"))
    elif itp not in ("Cluster", "Local"):
        errs.append(errors.not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    return errs


def validate_service_update(obj: Object, old: Object) -> list[FieldError]:
    """``validateUpgradeDowngradeClusterIPs`` and ``…IPFamilies``: the primary IP and family are fixed."""
    spec, old_spec = c.section(obj, "spec"), c.section(old, "spec")
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    new_ips, old_ips = list(spec.get("clusterIPs") or []), list(old_spec.get("clusterIPs") or [])
    errs: list[FieldError] = []
    headless = (new_ips or [""])[0] == "None" and (old_ips or [""])[0] == "None"
    if not headless:
        if len(new_ips) == len(old_ips):
            for i, ip in enumerate(old_ips):
                if ip != new_ips[i]:
                    errs.append(errors.invalid(f"spec.clusterIPs[{i}]", _go_list(new_ips), "may not change once set"))
        elif len(new_ips) < len(old_ips):
            if not new_ips:
                errs.append(errors.invalid("spec.clusterIPs[0]", _go_list(new_ips), "primary clusterIP can not be unset"))
            elif new_ips[0] != old_ips[0]:
                errs.append(errors.invalid("spec.clusterIPs[0]", _go_list(new_ips), "may not change once set"))
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.append(errors.invalid("spec.clusterIPs[0]", _go_list(new_ips), "may not change once set"))
    new_fam, old_fam = list(spec.get("ipFamilies") or []), list(old_spec.get("ipFamilies") or [])
    if old_fam and new_fam and new_fam[0] != old_fam[0] and not headless:
        errs.append(errors.invalid("spec.ipFamilies[0]", _go_list(new_fam), "may not change once set"))
    return errs


def validate_load_balancer_status(obj: Object) -> list[FieldError]:
    """``ValidateLoadBalancerStatus`` for ``services/status``."""
    errs: list[FieldError] = []
    ingress = c.dicts(c.section(c.section(obj, "status"), "loadBalancer").get("ingress"))
    if ingress and c.section(obj, "spec").get("type") != "LoadBalancer":
        return [errors.forbidden("status.loadBalancer.ingress", "may only be used when `spec.type` is 'LoadBalancer'")]
    for i, ing in enumerate(ingress):
        p = f"status.loadBalancer.ingress[{i}]"
        ip, host, mode = str(ing.get("ip") or ""), str(ing.get("hostname") or ""), ing.get("ipMode")
        if ip:
            errs.extend(validation.validate_ip(ip, f"{p}.ip"))
        if mode is None and ip:
            errs.append(errors.required(f"{p}.ipMode", "must be specified when `ip` is set"))
        elif mode is not None and not ip:
            errs.append(errors.forbidden(f"{p}.ipMode", "may not be specified when `ip` is not set"))
        elif mode is not None and mode not in ("Proxy", "VIP"):
            errs.append(errors.not_supported(f"{p}.ipMode", mode, ["Proxy", "VIP"]))
        if host:
            errs.extend(validation.validate_dns1123_subdomain(host, f"{p}.hostname"))
            if _is_ip(host):
                errs.append(errors.invalid(f"{p}.hostname", host, "must be a DNS name, not an IP address"))
    return errs
