"""core/v1 Node: registration with status, taints, podCIDRs set once, ``/status``, ``/proxy``,
the ``spec.unschedulable`` field selector and the table (STATUS, ROLES, VERSION).

Kubelets create and heartbeat their Node; the node lifecycle controller updates conditions.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kybernetes.api import errors, podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
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

NODE_INFO_FIELDS = ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                    "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture")
ROLE_PREFIX, ROLE_LABEL = "node-role.kubernetes.io/", "kubernetes.io/role"
PODCIDR_FORBIDDEN = 'may not change podCIDRs except from "" to valid'
UPDATE_FORBIDDEN = ("node updates may only change labels, taints, or capacity (or configSource, if the "
                    "DynamicKubeletConfig feature gate is enabled)")


def default_node(obj: Object) -> None:
    spec, status = c.ensure(obj, "spec"), c.ensure(obj, "status")
    # v1 conversion: podCIDR mirrors podCIDRs[0]
    if not spec.get("podCIDRs") and spec.get("podCIDR"):
        spec["podCIDRs"] = [spec["podCIDR"]]
    elif spec.get("podCIDRs"):
        spec["podCIDR"] = spec["podCIDRs"][0]
    for key in ("capacity", "allocatable"):
        validation.canonicalize_resource_list(status.get(key))
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = copy.deepcopy(status["capacity"])
    endpoint = c.ensure(c.ensure(status, "daemonEndpoints"), "kubeletEndpoint")
    endpoint.setdefault("Port", 0)
    info = c.ensure(status, "nodeInfo")
    for key in NODE_INFO_FIELDS:
        if info.get(key) is None:
            info[key] = ""


def validate_taints(taints: Any, path: str) -> list[FieldError]:
    """``validateNodeTaints``: qualified keys, label values, an effect, unique (key, effect) pairs."""
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(c.dicts(taints)):
        p = f"{path}[{i}]"
        key, value, effect = str(taint.get("key") or ""), str(taint.get("value") or ""), taint.get("effect") or ""
        errs.extend(validation.validate_qualified_name(key, f"{p}.key"))
        msgs = validation.is_label_value(value)
        if msgs:
            errs.append(errors.invalid(f"{p}.value", value, ";".join(msgs)))
        if not effect:
            errs.append(errors.required(f"{p}.effect"))
        elif effect not in podspec.TAINT_EFFECTS:
            errs.append(errors.not_supported(f"{p}.effect", effect, podspec.TAINT_EFFECTS))
        if (key, effect) in seen:
            errs.append(errors.FieldError(p, "FieldValueDuplicate", "taints must be unique by key and effect pair",
                                          validation.GoValue(f"core.Taint{{Key:{validation.go_quote(key)}, "
                                                             f"Value:{validation.go_quote(value)}, Effect:"
                                                             f"{validation.go_quote(str(effect))}, TimeAdded:<nil>}}"),
                                          True))
            continue
        seen.add((key, effect))
    return errs


def validate_node_resources(obj: Object) -> list[FieldError]:
    status = c.section(obj, "status")
    errs: list[FieldError] = []
    for key in ("capacity", "allocatable"):
        for name, value in c.section(status, key).items():
            errs.extend(validation.validate_qualified_name(str(name), f"status.{key}[{name}]"))
            errs.extend(validation.validate_nonnegative_quantity(value, f"status.{key}[{name}]"))
    return errs


def validate_node(obj: Object) -> list[FieldError]:
    spec = c.section(obj, "spec")
    errs = validate_taints(spec.get("taints"), "metadata.taints")
    errs.extend(validate_node_resources(obj))
    cidrs = list(spec.get("podCIDRs") or [])
    for i, cidr in enumerate(cidrs):
        errs.extend(validation.validate_cidr(str(cidr), f"spec.podCIDRs[{i}]"))
    if len(cidrs) > 2 or (len(cidrs) == 2 and (":" in str(cidrs[0])) == (":" in str(cidrs[1]))):
        errs.append(errors.invalid("spec.podCIDRs", validation.GoValue(
            "[]string{" + ", ".join(validation.go_quote(str(x)) for x in cidrs) + "}"),
            "may specify no more than one CIDR for each IP family"))
    for i, cidr in enumerate(cidrs):
        if cidr in cidrs[:i]:
            errs.append(errors.duplicate(f"spec.podCIDRs[{i}]", cidr))
    return errs


def validate_node_update(obj: Object, old: Object) -> list[FieldError]:
    """``ValidateNodeUpdate``: podCIDRs and providerID are set once; other spec fields are fixed."""
    spec, old_spec = c.section(obj, "spec"), c.section(old, "spec")
    errs = validate_node_resources(obj)
    seen: list[Any] = []
    for i, addr in enumerate(c.dicts(c.section(obj, "status").get("addresses"))):
        if addr in seen:
            errs.append(errors.duplicate(f"status.addresses[{i}]", validation.GoValue(
                f"core.NodeAddress{{Type:{validation.go_quote(str(addr.get('type') or ''))}, "
                f"Address:{validation.go_quote(str(addr.get('address') or ''))}}}")))
        seen.append(addr)
    old_cidrs, new_cidrs = list(old_spec.get("podCIDRs") or []), list(spec.get("podCIDRs") or [])
    if old_cidrs and (len(old_cidrs) != len(new_cidrs) or old_cidrs != new_cidrs):
        errs.append(errors.forbidden("spec.podCIDRs", PODCIDR_FORBIDDEN))
    if old_spec.get("providerID") and old_spec.get("providerID") != spec.get("providerID"):
        errs.append(errors.forbidden("spec.providerID", 'node updates may not change providerID except from "" to '
                                                        "valid"))
    if spec.get("configSource") is not None:
        errs.append(errors.forbidden("spec.configSource", "update to spec.configSource is not allowed"))
    fixed = {k: v for k, v in spec.items() if k not in ("unschedulable", "taints", "podCIDR", "podCIDRs",
                                                         "providerID", "configSource")}
    old_fixed = {k: v for k, v in old_spec.items() if k not in ("unschedulable", "taints", "podCIDR", "podCIDRs",
                                                                 "providerID", "configSource")}
    if fixed != old_fixed:
        errs.append(errors.forbidden("", UPDATE_FORBIDDEN))
    return errs + validate_taints(spec.get("taints"), "metadata.taints")


def node_status(obj: Object) -> str:
    ready = [cond for cond in c.dicts(c.section(obj, "status").get("conditions")) if cond.get("type") == "Ready"]
    parts = ["Ready" if ready[-1].get("status") == "True" else "NotReady"] if ready else ["Unknown"]
    if c.section(obj, "spec").get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(obj: Object) -> str:
    roles = set()
    for key, value in (c.meta(obj).get("labels") or {}).items():
        if key.startswith(ROLE_PREFIX) and key[len(ROLE_PREFIX):]:
            roles.add(key[len(ROLE_PREFIX):])
        elif key == ROLE_LABEL and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def node_address(obj: Object, kind: str) -> str:
    for addr in c.dicts(c.section(obj, "status").get("addresses")):
        if addr.get("type") == kind:
            return str(addr.get("address") or "")
    return "<none>"


@functools.cache
def _columns() -> tuple[Column, ...]:
    return (NAME_COLUMN, Column("Status", description="The status of the node"),
            Column("Roles", description="The roles of the node"), AGE_COLUMN,
            c.column("Version", "NodeSystemInfo", "kubeletVersion"),
            c.column("Internal-IP", "NodeStatus", "addresses", priority=1),
            c.column("External-IP", "NodeStatus", "addresses", priority=1),
            c.column("OS-Image", "NodeSystemInfo", "osImage", priority=1),
            c.column("Kernel-Version", "NodeSystemInfo", "kernelVersion", priority=1),
            c.column("Container-Runtime", "NodeSystemInfo", "containerRuntimeVersion", priority=1))


class NodeStrategy(Strategy):
    has_status = True
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        default_node(obj)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        """Nodes may set their status on create (the kubelet registers with it)."""

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_node(obj)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_node_update(obj, old)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = c.cluster_fields(obj)
        fields["spec.unschedulable"] = c.go_bool(c.section(obj, "spec").get("unschedulable"))
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        info = c.section(c.section(obj, "status"), "nodeInfo")
        return [c.name(obj), node_status(obj), node_roles(obj), printing.age(obj, now), info.get("kubeletVersion") or "",
                node_address(obj, "InternalIP"), node_address(obj, "ExternalIP"), info.get("osImage") or "<unknown>",
                info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


class NodeStatusStrategy(StatusStrategy):
    """``nodes/status`` (kubelet heartbeats, node lifecycle controller): the old spec wins."""

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_node_update(obj, old)


STRATEGY = NodeStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="", version="v1", kind="Node", plural="nodes", singular="node", namespaced=False, strategy=STRATEGY,
        short_names=("no",), status_strategy=NodeStatusStrategy(STRATEGY),
        subresources=(Subresource("proxy", "NodeProxyOptions", verbs=("create", "delete", "get", "patch", "update")),
                      Subresource("status", "Node")),
    ),
)
