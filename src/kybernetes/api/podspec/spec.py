"""``ValidatePodSpec`` and ``ValidatePodTemplateSpec``: the whole-spec checks, delegating volumes,
containers and scheduling fields to their modules.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.podspec._common import _MAX_INT32, DNS_POLICIES, RESTART_POLICIES, _dict, _dicts, _enum
from kybernetes.api.podspec.containers import (
    _validate_containers,
    _validate_ephemeral_containers,
    _validate_host_network,
    _validate_init_containers,
    _validate_pod_security_context,
    _validate_resource_quantity,
)
from kybernetes.api.podspec.scheduling import (
    _validate_affinity,
    _validate_dns_config,
    _validate_scheduling_gates,
    _validate_topology_spread,
    validate_tolerations,
)
from kybernetes.api.podspec.volumes import validate_volumes


def validate_pod_template(template: dict[str, Any], path: str) -> list[FieldError]:
    """Every problem of a PodTemplateSpec at ``path`` (e.g. ``spec.template``)."""
    template = _dict(template)
    md = _dict(template.get("metadata"))
    errs = validation.validate_labels(md.get("labels"), f"{path}.labels")
    errs.extend(validation.validate_annotations(md.get("annotations"), f"{path}.annotations"))
    spec = _dict(template.get("spec"))
    errs.extend(validate_pod_spec(spec, f"{path}.spec"))
    if spec.get("ephemeralContainers"):
        errs.append(errors.forbidden(f"{path}.spec.ephemeralContainers",
                                     "ephemeral containers not allowed in pod template"))
    return errs


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """Every problem of a PodSpec at ``path`` (e.g. ``spec`` or ``spec.template.spec``)."""
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(errors.required(f"{path}.terminationGracePeriodSeconds"))
    volumes, vol_errs = validate_volumes(spec.get("volumes"), f"{path}.volumes")
    errs.extend(vol_errs)
    errs.extend(_validate_containers(spec, volumes, f"{path}.containers"))
    errs.extend(_validate_init_containers(spec, volumes, f"{path}.initContainers"))
    errs.extend(_validate_ephemeral_containers(spec, volumes, f"{path}.ephemeralContainers"))
    errs.extend(_validate_host_network(spec, path))
    errs.extend(_enum(spec.get("restartPolicy"), RESTART_POLICIES, f"{path}.restartPolicy"))
    errs.extend(_enum(spec.get("dnsPolicy"), DNS_POLICIES, f"{path}.dnsPolicy"))
    errs.extend(validation.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector"))
    errs.extend(_validate_pod_security_context(spec.get("securityContext"), f"{path}.securityContext"))
    errs.extend(_validate_affinity(spec.get("affinity"), f"{path}.affinity"))
    errs.extend(_validate_dns_config(spec.get("dnsConfig"), spec.get("dnsPolicy"), f"{path}.dnsConfig"))
    for i, gate in enumerate(_dicts(spec.get("readinessGates"))):
        errs.extend(validation.validate_qualified_name(str(gate.get("conditionType") or ""),
                                                       f"{path}.readinessGates[{i}].conditionType"))
    errs.extend(_validate_scheduling_gates(spec.get("schedulingGates"), f"{path}.schedulingGates"))
    errs.extend(_validate_topology_spread(spec.get("topologySpreadConstraints"),
                                          f"{path}.topologySpreadConstraints"))
    for field in ("serviceAccountName", "nodeName", "priorityClassName", "runtimeClassName"):
        if spec.get(field):
            errs.extend(validation.validate_dns1123_subdomain(str(spec[field]), f"{path}.{field}"))
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= _MAX_INT32:
        errs.append(errors.invalid(f"{path}.activeDeadlineSeconds", ads,
                                   validation.inclusive_range_error(1, _MAX_INT32)))
    for field in ("hostname", "subdomain"):
        if spec.get(field):
            errs.extend(validation.validate_dns1123_label(str(spec[field]), f"{path}.{field}"))
    errs.extend(validate_tolerations(spec.get("tolerations"), f"{path}.tolerations"))
    for alias in _dicts(spec.get("hostAliases")):
        errs.extend(validation.validate_ip(str(alias.get("ip") or ""), f"{path}.hostAliases.ip"))
        for hostname in alias.get("hostnames") or []:
            errs.extend(validation.validate_dns1123_subdomain(str(hostname), f"{path}.hostAliases.hostnames"))
    policy = spec.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        errs.append(errors.not_supported(f"{path}.preemptionPolicy", policy, ["Never", "PreemptLowerPriority"]))
    if isinstance(spec.get("overhead"), dict):
        for name, value in spec["overhead"].items():
            errs.extend(_validate_resource_quantity(str(name), value, f"{path}.overhead[{name}]"))
    os_ = spec.get("os")
    if isinstance(os_, dict):
        if not os_.get("name"):
            errs.append(errors.required(f"{path}.os.name"))
        elif os_["name"] not in ("linux", "windows"):
            errs.append(errors.not_supported(f"{path}.os.name", os_["name"], ["linux", "windows"]))
    return errs


def validate_pod_spec_for_pod(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """The checks Kubernetes applies to pods but not templates (``validateContainersOnlyForPod``)."""
    errs: list[FieldError] = []
    for key in ("containers", "initContainers"):
        for i, ctr in enumerate(_dicts(spec.get(key))):
            image = str(ctr.get("image") or "")
            if image != image.strip():
                errs.append(errors.invalid(f"{path}.{key}[{i}].image", image,
                                           "must not have leading or trailing whitespace"))
    return errs
