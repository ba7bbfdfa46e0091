"""networking.k8s.io/v1 Ingress: rules/backends validation, status subresource and the table.

The apiserver's generic write path calls this strategy; the ingress controller (``ingress/``)
reads the objects and writes ``status.loadBalancer`` through ``ingresses/status``.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
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

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def validate_backend(backend: Any, path: str) -> list[FieldError]:
    """An IngressBackend: exactly one of ``service`` (name + port name or number) and ``resource``."""
    if not isinstance(backend, dict):
        backend = {}
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [errors.invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return validate_typed_reference(resource, f"{path}.resource")
    if service is None:
        return [errors.invalid(path, "", "resource or service backend is required")]
    errs: list[FieldError] = []
    name = service.get("name") or ""
    if not name:
        errs.append(errors.required(f"{path}.service.name"))
    else:
        errs.extend(errors.invalid(f"{path}.service.name", name, m) for m in validation.is_dns1035_label(name))
    port = service.get("port") or {}
    port_name, port_number = port.get("name") or "", port.get("number") or 0
    if port_name and port_number:
        errs.append(errors.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs.extend(errors.invalid(f"{path}.service.port.name", port_name, m)
                    for m in validation.is_valid_port_name(port_name))
    elif port_number:
        errs.extend(errors.invalid(f"{path}.service.port.number", port_number, m)
                    for m in validation.is_valid_port_num(port_number))
    else:
        errs.append(errors.required(path, "port name or number is required"))
    return errs


def validate_typed_reference(ref: Any, path: str) -> list[FieldError]:
    """A TypedLocalObjectReference (resource backends, IngressClass parameters)."""
    ref = ref if isinstance(ref, dict) else {}
    errs: list[FieldError] = []
    group = ref.get("apiGroup")
    if group is not None:
        errs.extend(errors.invalid(f"{path}.apiGroup", group, m) for m in validation.is_dns1123_subdomain(group))
    for f in ("kind", "name"):
        value = ref.get(f) or ""
        if not value:
            errs.append(errors.required(f"{path}.{f}", f"{f} is required"))
        else:
            errs.extend(errors.invalid(f"{path}.{f}", value, m) for m in validation.is_path_segment_name(value))
    return errs


def _validate_path(p: dict[str, Any], path: str) -> list[FieldError]:
    path_type = p.get("pathType")
    if path_type is None:
        return [errors.required(f"{path}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    value = p.get("path") or ""
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(errors.invalid(f"{path}.path", value, "must be an absolute path"))
        if value:
            errs.extend(errors.invalid(f"{path}.path", value, f"must not contain '{seq}'")
                        for seq in _INVALID_PATH_SEQUENCES if seq in value)
            errs.extend(errors.invalid(f"{path}.path", value, f"cannot end with '{suf}'")
                        for suf in _INVALID_PATH_SUFFIXES if value.endswith(suf))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(errors.invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(errors.not_supported(f"{path}.pathType", path_type, list(PATH_TYPES)))
    errs.extend(validate_backend(p.get("backend"), f"{path}.backend"))
    return errs


def _validate_rules(rules: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        rule = rule if isinstance(rule, dict) else {}
        host = rule.get("host") or ""
        if host:
            if _is_ip(host):
                errs.append(errors.invalid(f"{path}[{i}].host", host, "must be a DNS name, not an IP address"))
            check = validation.is_wildcard_dns1123_subdomain if "*" in host else validation.is_dns1123_subdomain
            errs.extend(errors.invalid(f"{path}[{i}].host", host, m) for m in check(host))
        http = rule.get("http")
        if isinstance(http, dict):
            paths = http.get("paths") or []
            if not paths:
                errs.append(errors.required(f"{path}[{i}].http.paths"))
            for j, p in enumerate(paths):
                errs.extend(_validate_path(p if isinstance(p, dict) else {}, f"{path}[{i}].http.paths[{j}]"))
    return errs


def _validate_tls(tls: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, entry in enumerate(tls):
        entry = entry if isinstance(entry, dict) else {}
        for j, host in enumerate(entry.get("hosts") or []):
            check = validation.is_wildcard_dns1123_subdomain if "*" in host else validation.is_dns1123_subdomain
            errs.extend(errors.invalid(f"{path}[{i}].hosts[{j}]", host, m) for m in check(host))
        secret = entry.get("secretName") or ""
        if secret:
            errs.extend(errors.invalid(f"{path}[{i}].secretName", secret, m)
                        for m in validation.is_dns1123_subdomain(secret))
    return errs


def validate_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs: list[FieldError] = []
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        shown = validation.GoValue("[]networking.IngressRule{}" if isinstance(spec.get("rules"), list)
                                   else "[]networking.IngressRule(nil)")
        errs.append(errors.invalid(path, shown, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs.extend(validate_backend(spec["defaultBackend"], f"{path}.defaultBackend"))
    errs.extend(_validate_rules(rules, f"{path}.rules"))
    errs.extend(_validate_tls(spec.get("tls") or [], f"{path}.tls"))
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errs.extend(errors.invalid(f"{path}.ingressClassName", class_name, m)
                    for m in validation.is_dns1123_subdomain(class_name))
    return errs


def load_balancer_string(status: dict[str, Any] | None) -> str:
    """Sorted unique IPs (or hostnames) of ``status.loadBalancer.ingress``, comma-joined."""
    found = set()
    for entry in (status or {}).get("ingress") or []:
        if entry.get("ip"):
            found.add(entry["ip"])
        elif entry.get("hostname"):
            found.add(entry["hostname"])
    return ",".join(sorted(found))


def _hosts(rules: list[dict[str, Any]]) -> str:
    shown: list[str] = []
    more = False
    for rule in rules:
        if len(shown) == 3:
            more = True
        if not more and rule.get("host"):
            shown.append(rule["host"])
    if not shown:
        return "*"
    text = ",".join(shown)
    return f"{text} + {len(rules) - 3} more..." if more else text


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        Column("Class", description="The name of the IngressClass resource that should be used for additional "
                                    "configuration"),
        Column("Hosts", description="Hosts that incoming requests are matched against before the ingress rule"),
        Column("Address", description="Address is a list containing ingress points for the load-balancer"),
        Column("Ports", description="Ports of TLS configurations that open"),
        AGE_COLUMN,
    )


class IngressStrategy(Strategy):
    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validate_spec(obj.get("spec") or {})
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        class_name = (obj.get("spec") or {}).get("ingressClassName")
        if _CLASS_ANNOTATION in annotations and class_name is not None and annotations[_CLASS_ANNOTATION] != class_name:
            errs.append(errors.invalid(f"annotations.{_CLASS_ANNOTATION}", annotations[_CLASS_ANNOTATION],
                                       "must match `ingressClassName` when both are specified"))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(obj.get("spec") or {})

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        spec = obj.get("spec") or {}
        class_name = spec.get("ingressClassName")
        return [
            (obj.get("metadata") or {}).get("name", ""),
            "<none>" if class_name is None else class_name,
            _hosts(spec.get("rules") or []),
            load_balancer_string((obj.get("status") or {}).get("loadBalancer")),
            "80, 443" if spec.get("tls") else "80",
            printing.age(obj, now),
        ]


class IngressStatusStrategy(StatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs: list[FieldError] = []
        lb = (obj.get("status") or {}).get("loadBalancer") or {}
        for i, entry in enumerate(lb.get("ingress") or []):
            p = f"status.loadBalancer.ingress[{i}]"
            if entry.get("ip"):
                errs.extend(validation.validate_ip(entry["ip"], f"{p}.ip"))
            hostname = entry.get("hostname") or ""
            if hostname:
                errs.extend(errors.invalid(f"{p}.hostname", hostname, m)
                            for m in validation.is_dns1123_subdomain(hostname))
                if _is_ip(hostname):
                    errs.append(errors.invalid(f"{p}.hostname", hostname, "must be a DNS name, not an IP address"))
        return errs


STRATEGY = IngressStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="networking.k8s.io", version="v1", kind="Ingress", plural="ingresses", singular="ingress",
        namespaced=True, strategy=STRATEGY, short_names=("ing",),
        subresources=(Subresource("status", "Ingress", "networking.k8s.io", "v1"),),
        status_strategy=IngressStatusStrategy(STRATEGY),
    ),
)
