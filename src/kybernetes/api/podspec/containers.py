"""Validation of containers, init and ephemeral containers: ports, env, volume mounts, resources,
probes and lifecycle handlers, security contexts.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.podspec._common import (
    _ENV_NAME_ERR,
    _EPHEMERAL_ALLOWED,
    _HANDLERS,
    _HTTP_HEADER_RE,
    _MAX_INT32,
    _SUBSCRIPT_RE,
    ENV_FIELD_PATHS,
    PROTOCOLS,
    PULL_POLICIES,
    RESOURCE_FIELD_PATHS,
    VOLUME_FIELD_PATHS,
    _dict,
    _dicts,
    _enum,
    _local_descending_path,
)


def _validate_containers(spec: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> list[FieldError]:
    containers = _dicts(spec.get("containers"))
    if not containers:
        return [errors.required(path)]
    errs: list[FieldError] = []
    names: set[str] = set()
    grace = spec.get("terminationGracePeriodSeconds")
    for i, ctr in enumerate(containers):
        p = f"{path}[{i}]"
        errs.extend(_validate_container_common(ctr, volumes, p))
        name = str(ctr.get("name") or "")
        if name in names:
            errs.append(errors.duplicate(f"{p}.name", name))
        else:
            names.add(name)
        errs.extend(_validate_lifecycle_and_probes(ctr, grace, p))
        if ctr.get("restartPolicy") is not None:
            errs.append(errors.forbidden(f"{p}.restartPolicy", "may not be set for non-init containers"))
    errs.extend(_unique_host_ports(containers, path))
    return errs


def _validate_init_containers(spec: dict[str, Any], volumes: dict[str, dict[str, Any]],
                              path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names = {str(c.get("name") or "") for c in _dicts(spec.get("containers"))}
    grace = spec.get("terminationGracePeriodSeconds")
    for i, ctr in enumerate(_dicts(spec.get("initContainers"))):
        p = f"{path}[{i}]"
        errs.extend(_validate_container_common(ctr, volumes, p))
        restart = ctr.get("restartPolicy")
        if restart is not None and restart != "Always":
            errs.append(errors.not_supported(f"{p}.restartPolicy", restart, ["Always"]))
        name = str(ctr.get("name") or "")
        if name in names:
            errs.append(errors.duplicate(f"{p}.name", name))
        elif name:
            names.add(name)
        errs.extend(_unique_host_ports([ctr], path))
        if restart == "Always":
            errs.extend(_validate_lifecycle_and_probes(ctr, grace, p))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(key) is not None:
                    errs.append(errors.forbidden(f"{p}.{key}",
                                                 "may not be set for init containers without restartPolicy=Always"))
    return errs


def _validate_ephemeral_containers(spec: dict[str, Any], volumes: dict[str, dict[str, Any]],
                                   path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    others = {str(c.get("name") or "") for key in ("containers", "initContainers") for c in _dicts(spec.get(key))}
    names = set(others)
    for i, ctr in enumerate(_dicts(spec.get("ephemeralContainers"))):
        p = f"{path}[{i}]"
        errs.extend(_validate_container_common(ctr, volumes, p))
        image = str(ctr.get("image") or "")
        if image != image.strip():
            errs.append(errors.invalid(f"{p}.image", image, "must not have leading or trailing whitespace"))
        name = str(ctr.get("name") or "")
        if name in names:
            errs.append(errors.duplicate(f"{p}.name", name))
        else:
            names.add(name)
        target = ctr.get("targetContainerName")
        if target and target not in others:
            errs.append(errors.not_found_field(f"{p}.targetContainerName", target))
        for key, value in ctr.items():
            if key not in _EPHEMERAL_ALLOWED and value not in (None, "", [], {}, False, 0):
                errs.append(errors.forbidden(f"{p}.{key}", "cannot be set for an Ephemeral Container"))
        for j, mount in enumerate(_dicts(ctr.get("volumeMounts"))):
            for key in ("subPath", "subPathExpr"):
                if mount.get(key):
                    errs.append(errors.forbidden(f"{p}.volumeMounts[{j}].{key}",
                                                 "cannot be set for an Ephemeral Container"))
    return errs


def _validate_container_common(ctr: dict[str, Any], volumes: dict[str, dict[str, Any]], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = str(ctr.get("name") or "")
    if not name:
        errs.append(errors.required(f"{p}.name"))
    else:
        errs.extend(validation.validate_dns1123_label(name, f"{p}.name"))
    if not ctr.get("image"):
        errs.append(errors.required(f"{p}.image"))
    errs.extend(_enum(ctr.get("terminationMessagePolicy"), ["File", "FallbackToLogsOnError"],
                      f"{p}.terminationMessagePolicy"))
    errs.extend(_validate_ports(ctr.get("ports"), f"{p}.ports"))
    errs.extend(_validate_env(ctr.get("env"), f"{p}.env"))
    errs.extend(_validate_env_from(ctr.get("envFrom"), f"{p}.envFrom"))
    errs.extend(_validate_volume_mounts(ctr, volumes, f"{p}.volumeMounts"))
    errs.extend(_enum(ctr.get("imagePullPolicy"), PULL_POLICIES, f"{p}.imagePullPolicy"))
    errs.extend(validate_resource_requirements(ctr.get("resources"), f"{p}.resources"))
    errs.extend(_validate_security_context(ctr.get("securityContext"), f"{p}.securityContext"))
    return errs


def _validate_ports(ports: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(_dicts(ports)):
        p = f"{path}[{i}]"
        name = str(port.get("name") or "")
        if name:
            msgs = validation.is_valid_port_name(name)
            if msgs:
                errs.extend(errors.invalid(f"{p}.name", name, m) for m in msgs)
            elif name in names:
                errs.append(errors.duplicate(f"{p}.name", name))
            else:
                names.add(name)
        cport = port.get("containerPort")
        if not cport:
            errs.append(errors.required(f"{p}.containerPort"))
        else:
            errs.extend(errors.invalid(f"{p}.containerPort", cport, m) for m in validation.is_valid_port_num(cport))
        if port.get("hostPort"):
            errs.extend(errors.invalid(f"{p}.hostPort", port["hostPort"], m)
                        for m in validation.is_valid_port_num(port["hostPort"]))
        if not port.get("protocol"):
            errs.append(errors.required(f"{p}.protocol"))
        elif port["protocol"] not in PROTOCOLS:
            errs.append(errors.not_supported(f"{p}.protocol", port["protocol"], PROTOCOLS))
    return errs


def _unique_host_ports(containers: list[dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, ctr in enumerate(containers):
        for j, port in enumerate(_dicts(ctr.get("ports"))):
            if not port.get("hostPort"):
                continue
            key = f"{port.get('protocol') or ''}/{port.get('hostIP') or ''}/{port['hostPort']}"
            if key in seen:
                errs.append(errors.duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
            seen.add(key)
    return errs


def _validate_host_network(spec: dict[str, Any], path: str) -> list[FieldError]:
    if not spec.get("hostNetwork"):
        return []
    errs: list[FieldError] = []
    for key in ("containers", "initContainers"):
        for i, ctr in enumerate(_dicts(spec.get(key))):
            for j, port in enumerate(_dicts(ctr.get("ports"))):
                if port.get("hostPort") != port.get("containerPort"):
                    errs.append(errors.invalid(f"{path}.{key}[{i}].ports[{j}].hostPort", port.get("hostPort") or 0,
                                               "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _validate_env(env: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, var in enumerate(_dicts(env)):
        p = f"{path}[{i}]"
        name = str(var.get("name") or "")
        if not name:
            errs.append(errors.required(f"{p}.name"))
        errs.extend(errors.invalid(f"{p}.name", name, m) for m in _env_name_errors(name))
        source = var.get("valueFrom")
        if not isinstance(source, dict):
            continue
        vp = f"{p}.valueFrom"
        count = 0
        if isinstance(source.get("fieldRef"), dict):
            count += 1
            errs.extend(_validate_field_ref(source["fieldRef"], ENV_FIELD_PATHS, f"{vp}.fieldRef"))
        if isinstance(source.get("resourceFieldRef"), dict):
            count += 1
            errs.extend(_validate_resource_field_ref(source["resourceFieldRef"], f"{vp}.resourceFieldRef", False))
        for key in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(source.get(key), dict):
                count += 1
                errs.extend(_validate_key_selector(source[key], f"{vp}.{key}"))
        if count == 0:
            errs.append(errors.invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                               "`configMapKeyRef` or `secretKeyRef`"))
        elif var.get("value"):
            errs.append(errors.invalid(vp, "", "may not be specified when `value` is not empty"))
        elif count > 1:
            errs.append(errors.invalid(vp, "", "may not have more than one field specified at a time"))
    return errs


def _env_name_errors(name: str) -> list[str]:
    """``IsRelaxedEnvVarName`` (RelaxedEnvironmentVariableValidation is on in 1.32)."""
    msgs = [] if name else ["environment variable name must be non-empty"]
    if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in name):
        msgs.append(_ENV_NAME_ERR)
    return msgs


def _validate_env_from(env_from: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, source in enumerate(_dicts(env_from)):
        p = f"{path}[{i}]"
        if source.get("prefix"):
            errs.extend(errors.invalid(f"{p}.prefix", source["prefix"], m)
                        for m in _env_name_errors(str(source["prefix"])))
        count = 0
        for key in ("configMapRef", "secretRef"):
            ref = source.get(key)
            if not isinstance(ref, dict):
                continue
            count += 1
            if not ref.get("name"):
                errs.append(errors.required(f"{p}.{key}.name"))
            else:
                errs.extend(validation.validate_dns1123_subdomain(str(ref["name"]), f"{p}.{key}.name"))
        if count == 0:
            errs.append(errors.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(errors.invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_key_selector(ref: dict[str, Any], p: str) -> list[FieldError]:
    errs = validation.validate_dns1123_subdomain(str(ref.get("name") or ""), f"{p}.name")
    key = str(ref.get("key") or "")
    if not key:
        errs.append(errors.required(f"{p}.key"))
    else:
        errs.extend(errors.invalid(f"{p}.key", key, m) for m in validation.is_config_map_key(key))
    return errs


def _validate_field_ref(ref: dict[str, Any], allowed: list[str], p: str) -> list[FieldError]:
    if not ref.get("apiVersion"):
        return [errors.required(f"{p}.apiVersion")]
    field_path = str(ref.get("fieldPath") or "")
    if not field_path:
        return [errors.required(f"{p}.fieldPath")]
    if ref["apiVersion"] != "v1":
        return [errors.invalid(f"{p}.fieldPath", field_path,
                               f"error converting fieldPath: unsupported pod version: {ref['apiVersion']}")]
    m = _SUBSCRIPT_RE.match(field_path)
    if m:
        if m.group(1) == "metadata.annotations":
            return validation.validate_qualified_name(m.group(2).lower(), p)
        return validation.validate_qualified_name(m.group(2), p)
    known = ENV_FIELD_PATHS + VOLUME_FIELD_PATHS + ["spec.schedulerName", "status.phase"]
    if field_path not in known:
        return [errors.invalid(f"{p}.fieldPath", field_path,
                               f"error converting fieldPath: field label not supported: {field_path}")]
    if field_path not in allowed:
        return [errors.not_supported(f"{p}.fieldPath", field_path, sorted(allowed))]
    return []


def _validate_resource_field_ref(ref: dict[str, Any], p: str, volume: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if volume and not ref.get("containerName"):
        errs.append(errors.required(f"{p}.containerName"))
    resource = str(ref.get("resource") or "")
    if not resource:
        errs.append(errors.required(f"{p}.resource"))
    elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(("requests.hugepages-",
                                                                           "limits.hugepages-")):
        errs.append(errors.not_supported(f"{p}.resource", resource, RESOURCE_FIELD_PATHS))
    if ref.get("divisor") is not None:
        errs.extend(validation.validate_quantity(ref["divisor"], f"{p}.divisor"))
    return errs


def _validate_volume_mounts(ctr: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    mount_paths: set[str] = set()
    devices = {str(d.get("name")): str(d.get("devicePath")) for d in _dicts(ctr.get("volumeDevices"))}
    for i, mount in enumerate(_dicts(ctr.get("volumeMounts"))):
        p = f"{path}[{i}]"
        name = str(mount.get("name") or "")
        if not name:
            errs.append(errors.required(f"{p}.name"))
        if name not in volumes:
            errs.append(errors.not_found_field(f"{p}.name", name))
        mpath = str(mount.get("mountPath") or "")
        if not mpath:
            errs.append(errors.required(f"{p}.mountPath"))
        if mpath in mount_paths:
            errs.append(errors.invalid(f"{p}.mountPath", mpath, "must be unique"))
        mount_paths.add(mpath)
        if name in devices:
            errs.append(errors.invalid(f"{p}.name", name, "must not already exist in volumeDevices"))
        if mpath in devices.values():
            errs.append(errors.invalid(f"{p}.mountPath", mpath, "must not already exist as a path in volumeDevices"))
        if mount.get("subPath"):
            errs.extend(_local_descending_path(str(mount["subPath"]), f"{path}.subPath"))
        if mount.get("subPathExpr"):
            if mount.get("subPath"):
                errs.append(errors.invalid(f"{p}.subPathExpr", mount["subPathExpr"],
                                           "subPathExpr and subPath are mutually exclusive"))
            errs.extend(_local_descending_path(str(mount["subPathExpr"]), f"{path}.subPathExpr"))
        prop = mount.get("mountPropagation")
        if prop is not None and prop not in ("Bidirectional", "HostToContainer", "None"):
            errs.append(errors.not_supported(f"{p}.mountPropagation", prop,
                                             ["Bidirectional", "HostToContainer", "None"]))
    return errs


def validate_resource_requirements(resources: Any, path: str) -> list[FieldError]:
    """``ValidateResourceRequirements`` for a container: names, quantities, requests ≤ limits."""
    if not isinstance(resources, dict):
        return []
    errs: list[FieldError] = []
    limits = _dict(resources.get("limits"))
    requests = _dict(resources.get("requests"))
    for name, value in limits.items():
        p = f"{path}.limits[{name}]"
        errs.extend(validate_container_resource_name(str(name), p))
        errs.extend(_validate_resource_quantity(str(name), value, p))
    for name, value in requests.items():
        p = f"{path}.requests[{name}]"
        errs.extend(validate_container_resource_name(str(name), p))
        errs.extend(_validate_resource_quantity(str(name), value, p))
        req = validation.quantity_value(value)
        if name in limits:
            lim = validation.quantity_value(limits[name])
            if req is None or lim is None:
                continue
            text, lim_text = validation.canonical_quantity(value), validation.canonical_quantity(limits[name])
            if req != lim and not overcommit_allowed(str(name)):
                errs.append(errors.invalid(f"{path}.requests", text, f"must be equal to {name} limit of {lim_text}"))
            elif req > lim:
                errs.append(errors.invalid(f"{path}.requests", text,
                                           f"must be less than or equal to {name} limit of {lim_text}"))
        elif not overcommit_allowed(str(name)):
            errs.append(errors.required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    return errs


def overcommit_allowed(name: str) -> bool:
    """Native resources other than hugepages may be overcommitted; extended resources may not."""
    return is_native_resource(name) and not name.startswith("hugepages-")


def is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended_resource(name: str) -> bool:
    """``IsExtendedResourceName``: a qualified, non-native name not starting with ``requests.``."""
    return (not is_native_resource(name) and not name.startswith("requests.")
            and not validation.is_qualified_name("requests." + name))


def validate_container_resource_name(name: str, p: str) -> list[FieldError]:
    errs = validation.validate_qualified_name(name, p)
    if "/" not in name:
        if name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
            errs.append(errors.invalid(p, name, "must be a standard resource for containers"))
    elif not is_native_resource(name) and not is_extended_resource(name):
        errs.append(errors.invalid(p, name, "doesn't follow extended resource name standard"))
    return errs


def _validate_resource_quantity(name: str, value: Any, p: str) -> list[FieldError]:
    """``ValidateResourceQuantityValue``: parseable, non-negative, whole for integer resources."""
    errs = validation.validate_nonnegative_quantity(value, p)
    amount = validation.quantity_value(value)
    if amount is not None and not is_native_resource(name) and amount.denominator != 1:
        errs.append(errors.invalid(p, validation.canonical_quantity(value), "must be an integer"))
    return errs


def _validate_lifecycle_and_probes(ctr: dict[str, Any], grace: Any, p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for key in ("postStart", "preStop"):
            if isinstance(lifecycle.get(key), dict):
                errs.extend(_validate_handler(lifecycle[key], grace, f"{p}.lifecycle.{key}"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = ctr.get(key)
        if not isinstance(probe, dict):
            continue
        pp = f"{p}.{key}"
        errs.extend(_validate_handler(probe, grace, pp))
        for field in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                      "failureThreshold"):
            errs.extend(validation.validate_nonnegative(probe.get(field), f"{pp}.{field}"))
        tgps = probe.get("terminationGracePeriodSeconds")
        if isinstance(tgps, int) and tgps <= 0:
            errs.append(errors.invalid(f"{pp}.terminationGracePeriodSeconds", tgps, "must be greater than 0"))
        if key != "readinessProbe" and probe.get("successThreshold") != 1:
            errs.append(errors.invalid(f"{pp}.successThreshold", probe.get("successThreshold"), "must be 1"))
        if key == "readinessProbe" and tgps is not None:
            errs.append(errors.invalid(f"{pp}.terminationGracePeriodSeconds", tgps,
                                       "must not be set for readinessProbes"))
    return errs


def _validate_handler(handler: dict[str, Any], grace: Any, p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in _HANDLERS:
        action = handler.get(key)
        if not isinstance(action, dict):
            continue
        if count:
            errs.append(errors.forbidden(f"{p}.{key}", "may not specify more than 1 handler type"))
            continue
        count += 1
        ap = f"{p}.{key}"
        if key == "exec" and not action.get("command"):
            errs.append(errors.required(f"{ap}.command"))
        elif key == "httpGet":
            if not action.get("path"):
                errs.append(errors.required(f"{ap}.path"))
            errs.extend(validate_port_num_or_name(action.get("port"), f"{ap}.port"))
            if action.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(errors.not_supported(f"{ap}.scheme", action.get("scheme") or "", ["HTTP", "HTTPS"]))
            for header in _dicts(action.get("httpHeaders")):
                hname = str(header.get("name") or "")
                if not _HTTP_HEADER_RE.match(hname):
                    errs.append(errors.invalid(f"{ap}.httpHeaders", hname, "a valid HTTP header must consist of "
                                               "alphanumeric characters or '-' (e.g. 'X-Header-Name',  regex used "
                                               "for validation is '[-A-Za-z0-9]+')"))
        elif key == "tcpSocket":
            errs.extend(validate_port_num_or_name(action.get("port"), f"{ap}.port"))
        elif key == "grpc":
            errs.extend(errors.invalid(f"{ap}.port", action.get("port"), m)
                        for m in validation.is_valid_port_num(action.get("port")))
        elif key == "sleep" and isinstance(grace, int):
            seconds = action.get("seconds") or 0
            if not 0 < seconds <= grace:
                errs.append(errors.invalid(ap, seconds, f"must be greater than 0 and less than "
                                           f"terminationGracePeriodSeconds ({grace}). Enable "
                                           f"AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep."))
    if not count:
        errs.append(errors.required(p, "must specify a handler type"))
    return errs


def validate_port_num_or_name(port: Any, p: str) -> list[FieldError]:
    """``ValidatePortNumOrName`` for an int-or-string port."""
    if isinstance(port, str):
        return [errors.invalid(p, port, m) for m in validation.is_valid_port_name(port)]
    return [errors.invalid(p, port if isinstance(port, int) else 0, m) for m in validation.is_valid_port_num(port)]


def _validate_security_context(sc: Any, p: str) -> list[FieldError]:
    if not isinstance(sc, dict):
        return []
    errs: list[FieldError] = []
    for field in ("runAsUser", "runAsGroup"):
        value = sc.get(field)
        if isinstance(value, int) and not 0 <= value <= _MAX_INT32:
            errs.append(errors.invalid(f"{p}.{field}", value, validation.inclusive_range_error(0, _MAX_INT32)))
    if sc.get("allowPrivilegeEscalation") is False and sc.get("privileged"):
        errs.append(errors.invalid(p, validation.GoValue("&core.SecurityContext{...}"),
                                   "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
    return errs


def _validate_pod_security_context(sc: Any, p: str) -> list[FieldError]:
    if not isinstance(sc, dict):
        return []
    errs = _validate_security_context(sc, p)
    fs_group = sc.get("fsGroup")
    if isinstance(fs_group, int) and not 0 <= fs_group <= _MAX_INT32:
        errs.append(errors.invalid(f"{p}.fsGroup", fs_group, validation.inclusive_range_error(0, _MAX_INT32)))
    for i, gid in enumerate(sc.get("supplementalGroups") or []):
        if isinstance(gid, int) and not 0 <= gid <= _MAX_INT32:
            errs.append(errors.invalid(f"{p}.supplementalGroups[{i}]", gid,
                                       validation.inclusive_range_error(0, _MAX_INT32)))
    return errs
