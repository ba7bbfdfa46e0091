"""networking.k8s.io/v1 NetworkPolicy: defaults (policyTypes, port protocol) and rule validation.

Enforcement lives in ``network/``; this module only decides what a valid policy is.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")


def _validate_port(port: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        errs.append(errors.not_supported(f"{path}.protocol", protocol, list(PROTOCOLS)))
    value, end = port.get("port"), port.get("endPort")
    if value is None:
        if end is not None:
            errs.append(errors.invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(value, int):
        errs.extend(errors.invalid(f"{path}.port", value, m) for m in validation.is_valid_port_num(value))
        if end is not None:
            if isinstance(end, int) and end < value:
                errs.append(errors.invalid(f"{path}.endPort", value, "must be greater than or equal to `port`"))
            errs.extend(errors.invalid(f"{path}.endPort", end, m) for m in validation.is_valid_port_num(end))
    else:
        if end is not None:
            errs.append(errors.invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        errs.extend(errors.invalid(f"{path}.port", value, m) for m in validation.is_valid_port_name(str(value)))
    return errs


def _validate_ip_block(block: dict[str, Any], path: str) -> list[FieldError]:
    cidr = block.get("cidr") or ""
    if not cidr:
        return [errors.required(f"{path}.cidr")]
    errs = validation.validate_cidr(cidr, f"{path}.cidr")
    if errs:
        return errs
    net = ipaddress.ip_network(cidr, strict=False)
    for i, text in enumerate(block.get("except") or []):
        p = f"{path}.except[{i}]"
        bad = validation.validate_cidr(text, p)
        if bad:
            errs.extend(bad)
            continue
        sub = ipaddress.ip_network(text, strict=False)
        if sub.version != net.version or sub.network_address not in net or net.prefixlen >= sub.prefixlen:
            errs.append(errors.invalid(p, text, "must be a strict subset of `cidr`"))
    return errs


def _validate_peer(peer: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs.extend(validation.validate_label_selector(peer[key], f"{path}.{key}"))
    if peer.get("ipBlock") is not None:
        count += 1
        errs.extend(_validate_ip_block(peer["ipBlock"], f"{path}.ipBlock"))
    if count == 0:
        errs.append(errors.required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(errors.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs = validation.validate_label_selector(spec.get("podSelector") or {}, f"{path}.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            rp = f"{path}.{direction}[{i}]"
            for j, port in enumerate(rule.get("ports") or []):
                errs.extend(_validate_port(port, f"{rp}.ports[{j}]"))
            for j, peer in enumerate(rule.get(peers) or []):
                errs.extend(_validate_peer(peer, f"{rp}.{peers}[{j}]"))
    types = spec.get("policyTypes") or []
    if len(types) > len(POLICY_TYPES):
        errs.append(errors.invalid(f"{path}.policyTypes", types, "may not specify more than two policyTypes"))
        return errs
    errs.extend(errors.not_supported(f"{path}.policyTypes[{i}]", t, list(POLICY_TYPES))
                for i, t in enumerate(types) if t not in POLICY_TYPES)
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN,
            Column("Pod-Selector", description=printing.field_doc("io.k8s.api.networking.v1.NetworkPolicySpec",
                                                                  "podSelector")),
            AGE_COLUMN)


class NetworkPolicyStrategy(Strategy):
    has_status = False

    def default(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("podSelector", {})
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in (rule.get("ports") or []) if isinstance(rule, dict) else []:
                    if isinstance(port, dict) and port.get("protocol") is None:
                        port["protocol"] = "TCP"
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(obj.get("spec") or {})

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        selector = (obj.get("spec") or {}).get("podSelector") or {}
        return [(obj.get("metadata") or {}).get("name", ""), printing.format_label_selector(selector),
                printing.age(obj, now)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="networking.k8s.io", version="v1", kind="NetworkPolicy", plural="networkpolicies",
        singular="networkpolicy", namespaced=True, strategy=NetworkPolicyStrategy(), short_names=("netpol",),
    ),
)
