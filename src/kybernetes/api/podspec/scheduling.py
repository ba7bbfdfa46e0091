"""Validation of the scheduling fields of a PodSpec: tolerations, affinity, DNS config,
scheduling gates and topology spread constraints.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.podspec._common import _NOT_POSITIVE, TAINT_EFFECTS, _dicts


def validate_tolerations(tolerations: Any, path: str) -> list[FieldError]:
    """``ValidateTolerations``."""
    errs: list[FieldError] = []
    for i, tol in enumerate(_dicts(tolerations)):
        p = f"{path}[{i}]"
        key, op, value = str(tol.get("key") or ""), tol.get("operator") or "", str(tol.get("value") or "")
        effect = tol.get("effect") or ""
        if key:
            errs.extend(validation.validate_qualified_name(key, f"{p}.key"))
        if not key and op != "Exists":
            errs.append(errors.invalid(f"{p}.operator", op, 'operator must be Exists when `key` is empty, which '
                                                            'means "match all values and all keys"'))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(errors.invalid(f"{p}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` "
                                                              "is set"))
        if op in ("Equal", ""):
            msgs = validation.is_label_value(value)
            if msgs:
                errs.append(errors.invalid(f"{p}.operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(errors.invalid(f"{p}.operator", _go_toleration(tol),
                                           "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(errors.not_supported(f"{p}.operator", op, ["Equal", "Exists"]))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(errors.not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
    return errs


def _go_toleration(tol: dict[str, Any]) -> validation.GoValue:
    secs = tol.get("tolerationSeconds")
    secs_text = "(*int64)(nil)" if secs is None else "(*int64)(0xc000010000)"
    q = validation.go_quote
    return validation.GoValue(f"core.Toleration{{Key:{q(str(tol.get('key') or ''))}, "
                              f"Operator:{q(str(tol.get('operator') or ''))}, Value:{q(str(tol.get('value') or ''))}, "
                              f"Effect:{q(str(tol.get('effect') or ''))}, TolerationSeconds:{secs_text}}}")


def _validate_affinity(affinity: Any, path: str) -> list[FieldError]:
    if not isinstance(affinity, dict):
        return []
    errs: list[FieldError] = []
    node = affinity.get("nodeAffinity")
    if isinstance(node, dict):
        np = f"{path}.nodeAffinity"
        required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(required, dict):
            rp = f"{np}.requiredDuringSchedulingIgnoredDuringExecution"
            terms = _dicts(required.get("nodeSelectorTerms"))
            if not terms:
                errs.append(errors.required(f"{rp}.nodeSelectorTerms", "must have at least one node selector term"))
            for i, term in enumerate(terms):
                errs.extend(_validate_node_selector_term(term, f"{rp}.nodeSelectorTerms[{i}]"))
        for i, pref in enumerate(_dicts(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            pp = f"{np}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            errs.extend(_validate_weight(pref.get("weight"), f"{pp}.weight"))
            errs.extend(_validate_node_selector_term(pref.get("preference") or {}, f"{pp}.preference"))
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = affinity.get(kind)
        if not isinstance(pa, dict):
            continue
        kp = f"{path}.{kind}"
        for i, term in enumerate(_dicts(pa.get("requiredDuringSchedulingIgnoredDuringExecution"))):
            errs.extend(_validate_pod_affinity_term(term, f"{kp}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"))
        for i, pref in enumerate(_dicts(pa.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            pp = f"{kp}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            errs.extend(_validate_weight(pref.get("weight"), f"{pp}.weight"))
            errs.extend(_validate_pod_affinity_term(pref.get("podAffinityTerm") or {}, f"{pp}.podAffinityTerm"))
    return errs


def _validate_weight(weight: Any, p: str) -> list[FieldError]:
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        return [errors.invalid(p, weight if isinstance(weight, int) else 0, "must be in the range 1-100")]
    return []


def _validate_node_selector_term(term: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for field in ("matchExpressions", "matchFields"):
        for i, req in enumerate(_dicts(term.get(field))):
            rp = f"{p}.{field}[{i}]"
            op, values = req.get("operator"), req.get("values") or []
            if op in ("In", "NotIn"):
                if not values:
                    errs.append(errors.required(f"{rp}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
            elif op in ("Exists", "DoesNotExist"):
                if values:
                    errs.append(errors.forbidden(f"{rp}.values",
                                                 "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
            elif op in ("Gt", "Lt"):
                if len(values) != 1:
                    errs.append(errors.required(f"{rp}.values",
                                                "must be specified single value when `operator` is 'Lt' or 'Gt'"))
            else:
                errs.append(errors.invalid(f"{rp}.operator", op or "", "not a valid selector operator"))
            if field == "matchExpressions":
                errs.extend(validation.validate_qualified_name(str(req.get("key") or ""), f"{rp}.key"))
    return errs


def _validate_pod_affinity_term(term: dict[str, Any], p: str) -> list[FieldError]:
    errs = validation.validate_label_selector(term.get("labelSelector"), f"{p}.labelSelector")
    errs.extend(validation.validate_label_selector(term.get("namespaceSelector"), f"{p}.namespaceSelector"))
    for i, ns in enumerate(term.get("namespaces") or []):
        errs.extend(validation.validate_dns1123_label(str(ns), f"{p}.namespaces[{i}]"))
    if not term.get("topologyKey"):
        errs.append(errors.required(f"{p}.topologyKey", "can not be empty"))
    else:
        errs.extend(validation.validate_qualified_name(str(term["topologyKey"]), f"{p}.topologyKey"))
    return errs


def _validate_dns_config(config: Any, policy: Any, path: str) -> list[FieldError]:
    if policy == "None":
        if not isinstance(config, dict):
            return [errors.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not config.get("nameservers"):
            return [errors.required(f"{path}.nameservers",
                                    "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if not isinstance(config, dict):
        return []
    errs: list[FieldError] = []
    servers = config.get("nameservers") or []
    if len(servers) > 3:
        errs.append(errors.invalid(f"{path}.nameservers", validation.GoValue(_go_strings(servers)),
                                   "must not have more than 3 nameservers"))
    for i, ns in enumerate(servers):
        errs.extend(validation.validate_ip(str(ns), f"{path}.nameservers[{i}]"))
    searches = config.get("searches") or []
    if len(searches) > 32:
        errs.append(errors.invalid(f"{path}.searches", validation.GoValue(_go_strings(searches)),
                                   "must not have more than 32 search paths"))
    for i, search in enumerate(searches):
        if search != ".":
            errs.extend(validation.validate_dns1123_subdomain(str(search).removesuffix("."), f"{path}.searches[{i}]"))
    for i, option in enumerate(_dicts(config.get("options"))):
        if not option.get("name"):
            errs.append(errors.required(f"{path}.options[{i}]", "must not be empty"))
    return errs


def _go_strings(values: list[Any]) -> str:
    return "[]string{" + ", ".join(validation.go_quote(str(v)) for v in values) + "}"


def _validate_scheduling_gates(gates: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, gate in enumerate(_dicts(gates)):
        name = str(gate.get("name") or "")
        errs.extend(validation.validate_qualified_name(name, f"{path}[{i}].name"))
        if name in seen:
            errs.append(errors.duplicate(f"{path}[{i}]", name))
        seen.add(name)
    return errs


def _validate_topology_spread(constraints: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(_dicts(constraints)):
        p = f"{path}[{i}]"
        skew = c.get("maxSkew")
        if not isinstance(skew, int) or skew <= 0:
            errs.append(errors.invalid(f"{p}.maxSkew", skew if isinstance(skew, int) else 0, _NOT_POSITIVE))
        key = str(c.get("topologyKey") or "")
        if not key:
            errs.append(errors.required(f"{p}.topologyKey", "can not be empty"))
        else:
            errs.extend(validation.validate_qualified_name(key, f"{p}.topologyKey"))
        when = c.get("whenUnsatisfiable") or ""
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(errors.not_supported(f"{p}.whenUnsatisfiable", when, ["DoNotSchedule", "ScheduleAnyway"]))
        if (key, when) in seen:
            errs.append(errors.duplicate(f"{p}.{{topologyKey, whenUnsatisfiable}}", f"{{{key}, {when}}}"))
        seen.add((key, when))
        errs.extend(validation.validate_label_selector(c.get("labelSelector"), f"{p}.labelSelector"))
    return errs
