"""discovery.k8s.io/v1 EndpointSlice: port defaults, address/port validation and the table.

The endpointslice controller writes these; kube-proxy and DNS read them.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS, MAX_ADDRESSES, MAX_PORTS = 1000, 100, 100


def _too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError(path, "FieldValueTooMany", f"must have at most {limit} items", actual, True)


def _non_special_ip(value: str, path: str) -> list[FieldError]:
    """``ValidateNonSpecialIP``: endpoints may not point at unspecified, loopback or link-local IPs."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return []
    if ip.is_unspecified:
        return [errors.invalid(path, value, "may not be unspecified (0.0.0.0)")]
    if ip.is_loopback:
        return [errors.invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    if ip.is_link_local:
        return [errors.invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    if ip in ipaddress.ip_network("224.0.0.0/24") or ip in ipaddress.ip_network("ff02::/16"):
        return [errors.invalid(path, value,
                               "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")]
    return []


def _fqdn(value: str, path: str) -> list[FieldError]:
    """``IsFullyQualifiedDomainName``."""
    if not value:
        return [errors.required(path)]
    name = value[:-1] if value.endswith(".") else value
    msgs = validation.is_dns1123_subdomain(name)
    if msgs:
        return [errors.invalid(path, name, ",".join(msgs))]
    if len(name.split(".")) < 2:
        return [errors.invalid(path, name, "should be a domain with at least two segments separated by dots")]
    for label in name.split("."):
        msgs = validation.is_dns1123_label(label)
        if msgs:
            return [errors.invalid(path, label, ",".join(msgs))]
    return []


def _validate_endpoints(endpoints: list[Any], address_type: str) -> list[FieldError]:
    if len(endpoints) > MAX_ENDPOINTS:
        return [_too_many("endpoints", len(endpoints), MAX_ENDPOINTS)]
    errs: list[FieldError] = []
    for i, ep in enumerate(endpoints):
        ep = ep if isinstance(ep, dict) else {}
        ap = f"endpoints[{i}].addresses"
        addresses = ep.get("addresses") or []
        if not addresses:
            errs.append(errors.required(ap, "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(_too_many(ap, len(addresses), MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            p = f"{ap}[{j}]"
            if address_type in ("IPv4", "IPv6"):
                bad = validation.validate_ip(address, p, 4 if address_type == "IPv4" else 6)
                errs.extend(bad or _non_special_ip(address, p))
            elif address_type == "FQDN":
                errs.extend(_fqdn(address, p))
        hostname = ep.get("hostname")
        if hostname is not None:
            errs.extend(errors.invalid(f"endpoints[{i}].hostname", hostname, m)
                        for m in validation.is_dns1123_label(hostname))
    return errs


def _validate_ports(ports: list[Any]) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [_too_many("ports", len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port = port if isinstance(port, dict) else {}
        name = port.get("name") or ""
        if name:
            errs.extend(errors.invalid(f"ports[{i}].name", name, m) for m in validation.is_dns1123_label(name))
        if name in seen:
            errs.append(errors.duplicate(f"ports[{i}].name", name))
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(errors.required(f"ports[{i}].protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(errors.not_supported(f"ports[{i}].protocol", protocol, list(PROTOCOLS)))
        app = port.get("appProtocol")
        if app is not None:
            errs.extend(errors.invalid(f"ports[{i}].appProtocol", app, m) for m in validation.is_qualified_name(app))
    return errs


def _list_with_more(items: list[str], count: int, limit: int = 3) -> str:
    text = ",".join(items)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def format_ports(ports: list[dict[str, Any]]) -> str:
    shown = []
    for port in ports[:3]:
        if port.get("port") is not None:
            shown.append(str(port["port"]))
        elif port.get("name") is not None:
            shown.append(port["name"])
        else:
            shown.append("*")
    return _list_with_more(shown, len(ports))


def format_endpoints(endpoints: list[dict[str, Any]]) -> str:
    addresses = [a for ep in endpoints for a in ep.get("addresses") or []]
    return _list_with_more(addresses[:3], len(addresses))


@functools.cache
def _columns() -> tuple[Column, ...]:
    doc = functools.partial(printing.field_doc, "io.k8s.api.discovery.v1.EndpointSlice")
    return (NAME_COLUMN, Column("AddressType", description=doc("addressType")),
            Column("Ports", description=doc("ports")), Column("Endpoints", description=doc("endpoints")),
            AGE_COLUMN)


class EndpointSliceStrategy(Strategy):
    has_status = False

    def default(self, obj: Object) -> None:
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("name", "")
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs: list[FieldError] = []
        address_type = obj.get("addressType") or ""
        if not address_type:
            errs.append(errors.required("addressType"))
        elif address_type not in ADDRESS_TYPES:
            errs.append(errors.not_supported("addressType", address_type, list(ADDRESS_TYPES)))
        errs.extend(_validate_endpoints(obj.get("endpoints") or [], address_type))
        errs.extend(_validate_ports(obj.get("ports") or []))
        return errs

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.validate(obj, ctx)
        if old.get("addressType") == "IP" and any(e.path == "addressType" for e in errs):
            errs = [e for e in errs if e.path != "addressType"]  # the deprecated type stays valid on update
        return errs + validation.immutable(obj.get("addressType"), old.get("addressType"), "addressType")

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return [(obj.get("metadata") or {}).get("name", ""), obj.get("addressType", ""),
                format_ports(obj.get("ports") or []), format_endpoints(obj.get("endpoints") or []),
                printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="discovery.k8s.io", version="v1", kind="EndpointSlice", plural="endpointslices",
        singular="endpointslice", namespaced=True, strategy=EndpointSliceStrategy(),
    ),
)
