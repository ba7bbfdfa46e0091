"""core/v1 Endpoints: subsets validation, port defaults and the ENDPOINTS cell.

The endpoints controller writes these from Services and ready pods; kube-proxy and DNS read them.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

PROTOCOLS = ["SCTP", "TCP", "UDP"]


def validate_non_special_ip(value: str, path: str) -> list[FieldError]:
    """``ValidateNonSpecialIP``: endpoints may not point at unspecified, loopback or link-local addresses."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return [errors.invalid(path, value, "must be a valid IP address")]
    errs: list[FieldError] = []
    if ip.is_unspecified:
        errs.append(errors.invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(errors.invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(errors.invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if ip in ipaddress.ip_network("224.0.0.0/24") or (ip.version == 6 and ip in ipaddress.ip_network("ff02::/16")):
        errs.append(errors.invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, "
                                                "ff02::/10)"))
    return errs


def _validate_address(addr: dict[str, Any], p: str) -> list[FieldError]:
    ip = str(addr.get("ip") or "")
    errs = validation.validate_ip(ip, f"{p}.ip")
    if addr.get("hostname"):
        errs.extend(validation.validate_dns1123_label(str(addr["hostname"]), f"{p}.hostname"))
    if addr.get("nodeName") is not None:
        errs.extend(validation.validate_dns1123_subdomain(str(addr["nodeName"]), f"{p}.nodeName"))
    return errs + validate_non_special_ip(ip, f"{p}.ip")


def _validate_port(port: dict[str, Any], require_name: bool, p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = str(port.get("name") or "")
    if require_name and not name:
        errs.append(errors.required(f"{p}.name"))
    elif name:
        errs.extend(validation.validate_dns1123_label(name, f"{p}.name"))
    errs.extend(errors.invalid(f"{p}.port", port.get("port") or 0, m)
                for m in validation.is_valid_port_num(port.get("port")))
    if not port.get("protocol"):
        errs.append(errors.required(f"{p}.protocol"))
    elif port["protocol"] not in PROTOCOLS:
        errs.append(errors.not_supported(f"{p}.protocol", port["protocol"], PROTOCOLS))
    return errs


def format_endpoints(obj: Object) -> str:
    """``formatEndpoints``: the first three ``ip:port`` (or bare IPs), then ``+ N more...``."""
    subsets = c.dicts(obj.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count, more = 0, False
    for ss in subsets:
        addresses = c.dicts(ss.get("addresses"))
        ports: list[dict[str, Any] | None] = [*c.dicts(ss.get("ports"))] or [None]
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == 3:
                    more = True
                    break
                ip = str(addr.get("ip") or "")
                if port is None:
                    shown.append(ip)
                else:
                    host = f"[{ip}]" if ":" in ip else ip
                    shown.append(f"{host}:{port.get('port') or 0}")
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if more else text


@functools.cache
def _columns() -> tuple[Column, ...]:
    return NAME_COLUMN, c.column("Endpoints", "Endpoints", "subsets"), AGE_COLUMN


class EndpointsStrategy(Strategy):
    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        for ss in c.dicts(obj.get("subsets")):
            for port in c.dicts(ss.get("ports")):
                if not port.get("protocol"):
                    port["protocol"] = "TCP"

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, ss in enumerate(c.dicts(obj.get("subsets"))):
            p = f"subsets[{i}]"
            if not ss.get("addresses") and not ss.get("notReadyAddresses"):
                errs.append(errors.required(p, "must specify `addresses` or `notReadyAddresses`"))
            for key in ("addresses", "notReadyAddresses"):
                for j, addr in enumerate(c.dicts(ss.get(key))):
                    errs.extend(_validate_address(addr, f"{p}.{key}[{j}]"))
            ports = c.dicts(ss.get("ports"))
            for j, port in enumerate(ports):
                errs.extend(_validate_port(port, len(ports) > 1, f"{p}.ports[{j}]"))
        return errs

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return c.namespaced_fields(obj)

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return [c.name(obj), format_endpoints(obj), printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="Endpoints", plural="endpoints", singular="endpoints",
                 namespaced=True, strategy=EndpointsStrategy(), short_names=("ep",), list_kind="EndpointsList"),
)
