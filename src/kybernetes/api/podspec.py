"""PodSpec defaulting and validation shared by pods and every kind with a pod template.

Pods (``api/kinds/core/pod.py``) and templates (Deployments, ReplicaSets, StatefulSets, DaemonSets,
Jobs, CronJobs, ReplicationControllers, PodTemplates) call these so that a template is defaulted and
validated exactly like the pod it will become. Defaults follow Kubernetes 1.32's ``SetDefaults_PodSpec``
family plus the v1 serialisation quirks (``resources: {}``, canonical quantities, fields of features
that are off by default dropped); validation follows ``ValidatePodSpec`` with Kubernetes' messages.
Pod-only rules (``SetDefaults_Pod``, QoS, update rules) live in the pod kind module.

This module is long on purpose: it is one concept (the PodSpec), split into a defaults half and a
validation half.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from kybernetes.api import errors, validation
from kybernetes.api.errors import FieldError

# --- defaults ---------------------------------------------------------------------------------------

TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE_PERIOD = 30
DEFAULT_FILE_MODE = 420  # 0644

#: Volume source keys in the order Kubernetes' ``validateVolumeSource`` checks them.
VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
    "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "downwardAPI", "fc", "flexVolume",
    "configMap", "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "projected", "scaleIO", "storageos", "csi", "ephemeral", "image",
)
#: Declarative (``+default``) values of in-tree volume sources, shared with PersistentVolumes.
VOLUME_SOURCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "iscsi": {"iscsiInterface": "default"},
    "rbd": {"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"},
    "azureDisk": {"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False, "kind": "Shared"},
    "scaleIO": {"storageMode": "ThinProvisioned", "fsType": "xfs"},
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_IMAGE_RE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}))?$")


def image_tag(image: str) -> str:
    """The tag ``parsers.ParseImageName`` sees: ``latest`` without tag and digest, ``""`` if unparseable."""
    m = _IMAGE_RE.match(image or "")
    if not m or len(m.group("name")) > 255:
        return ""
    if m.group("tag"):
        return m.group("tag")
    return "" if m.group("digest") else "latest"


def default_pod_spec(spec: dict[str, Any]) -> None:
    """Apply Kubernetes' PodSpec defaults in place (restartPolicy, dnsPolicy, containers' fields…)."""
    if not isinstance(spec, dict):
        return
    drop_disabled_fields(spec)
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_GRACE_PERIOD
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER
    # v1 conversion: serviceAccount is a deprecated alias that mirrors serviceAccountName
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    else:
        spec.pop("serviceAccount", None)
    for vol in _dicts(spec.get("volumes")):
        default_volume(vol)
    for key in _CONTAINER_LISTS:
        for ctr in _dicts(spec.get(key)):
            default_container(ctr)
    if isinstance(spec.get("overhead"), dict):
        validation.canonicalize_resource_list(spec["overhead"])


def default_pod_template(template: dict[str, Any]) -> None:
    """Defaults of a PodTemplateSpec (``{metadata, spec}``).

    Go always serialises the template's ObjectMeta, whose zero ``creationTimestamp`` is ``null``.
    """
    if not isinstance(template, dict):
        return
    md = template.get("metadata")
    if not isinstance(md, dict):
        md = template["metadata"] = {}
    md.setdefault("creationTimestamp", None)
    spec = template.get("spec")
    if not isinstance(spec, dict):
        spec = template["spec"] = {}
    default_pod_spec(spec)


def drop_disabled_fields(spec: dict[str, Any]) -> None:
    """Fields of features that are off by default in 1.32 are dropped (``DropDisabledPodFields``)."""
    for key in ("resourceClaims", "resources", "hostUsers"):  # DRA, PodLevelResources, UserNamespaces
        spec.pop(key, None)
    sc = spec.get("securityContext")
    if isinstance(sc, dict):
        sc.pop("supplementalGroupsPolicy", None)
        sc.pop("seLinuxChangePolicy", None)
    image_vols = {v.get("name") for v in _dicts(spec.get("volumes")) if "image" in v}
    if image_vols:
        spec["volumes"] = [v for v in spec["volumes"] if not (isinstance(v, dict) and v.get("name") in image_vols)]
    for key in _CONTAINER_LISTS:
        for ctr in _dicts(spec.get(key)):
            ctr.pop("resizePolicy", None)
            if isinstance(ctr.get("resources"), dict):
                ctr["resources"].pop("claims", None)
            if image_vols and isinstance(ctr.get("volumeMounts"), list):
                ctr["volumeMounts"] = [m for m in ctr["volumeMounts"]
                                       if not (isinstance(m, dict) and m.get("name") in image_vols)]


def default_container(ctr: dict[str, Any]) -> None:
    """``SetDefaults_Container`` plus the declarative defaults of its nested types."""
    if not ctr.get("imagePullPolicy"):
        ctr["imagePullPolicy"] = "Always" if image_tag(str(ctr.get("image") or "")) == "latest" else "IfNotPresent"
    if not ctr.get("terminationMessagePath"):
        ctr["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
    if not ctr.get("terminationMessagePolicy"):
        ctr["terminationMessagePolicy"] = "File"
    for port in _dicts(ctr.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for env in _dicts(ctr.get("env")):
        ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env.get("valueFrom"), dict) else None
        if isinstance(ref, dict) and not ref.get("apiVersion"):
            ref["apiVersion"] = "v1"
    res = ctr.get("resources")
    if not isinstance(res, dict):
        res = ctr["resources"] = {}
    for key in ("limits", "requests"):
        validation.canonicalize_resource_list(res.get(key))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(ctr.get(key), dict):
            default_probe(ctr[key])
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for key in ("postStart", "preStop"):
            if isinstance(lifecycle.get(key), dict):
                _default_handler(lifecycle[key])


def default_probe(probe: dict[str, Any]) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not probe.get(key):
            probe[key] = value
    _default_handler(probe)


def _default_handler(handler: dict[str, Any]) -> None:
    http = handler.get("httpGet")
    if isinstance(http, dict):
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"
    grpc = handler.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def default_volume(vol: dict[str, Any]) -> None:
    """``SetDefaults_Volume`` and the defaults of each volume source."""
    if not any(isinstance(vol.get(k), dict) for k in VOLUME_SOURCES):
        vol["emptyDir"] = {}
    default_volume_source(vol)
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        src = vol.get(key)
        if isinstance(src, dict) and src.get("defaultMode") is None:
            src["defaultMode"] = DEFAULT_FILE_MODE
    host = vol.get("hostPath")
    if isinstance(host, dict) and host.get("type") is None:
        host["type"] = ""
    empty = vol.get("emptyDir")
    if isinstance(empty, dict) and "sizeLimit" in empty and empty["sizeLimit"] is not None:
        empty["sizeLimit"] = validation.canonical_quantity(empty["sizeLimit"])
    for item in _dicts((vol.get("downwardAPI") or {}).get("items") if isinstance(vol.get("downwardAPI"), dict)
                       else None):
        _default_field_ref(item)
    projected = vol.get("projected")
    if isinstance(projected, dict):
        for source in _dicts(projected.get("sources")):
            if isinstance(source.get("downwardAPI"), dict):
                for item in _dicts(source["downwardAPI"].get("items")):
                    _default_field_ref(item)
            token = source.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600
    ephemeral = vol.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        tmpl = ephemeral["volumeClaimTemplate"]
        tmpl.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        if isinstance(tmpl.get("spec"), dict):
            default_pvc_spec(tmpl["spec"])


def default_volume_source(source: dict[str, Any]) -> None:
    """Declarative defaults of the in-tree sources (also used for PersistentVolume specs)."""
    for key, defaults in VOLUME_SOURCE_DEFAULTS.items():
        src = source.get(key)
        if isinstance(src, dict):
            for field, value in defaults.items():
                if src.get(field) is None or src.get(field) == "":
                    src[field] = value


def default_pvc_spec(spec: dict[str, Any]) -> None:
    """``SetDefaults_PersistentVolumeClaimSpec`` (shared with ephemeral volumes and StatefulSet templates)."""
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    res = spec.get("resources")
    if not isinstance(res, dict):
        res = spec["resources"] = {}
    for key in ("limits", "requests"):
        validation.canonicalize_resource_list(res.get(key))


def _default_field_ref(item: dict[str, Any]) -> None:
    ref = item.get("fieldRef")
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# --- validation -------------------------------------------------------------------------------------

FILE_MODE_ERR = "must be a number between 0 and 0777 (octal), both inclusive"
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
ENV_FIELD_PATHS = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
VOLUME_FIELD_PATHS = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                      "metadata.uid"]
RESOURCE_FIELD_PATHS = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                        "requests.ephemeral-storage", "requests.memory"]
_EPHEMERAL_ALLOWED = {"name", "image", "command", "args", "workingDir", "env", "envFrom", "volumeMounts",
                      "volumeDevices", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
                      "securityContext", "stdin", "stdinOnce", "tty", "targetContainerName"}
_NOT_POSITIVE = "must be greater than zero"
_MAX_INT32 = 2147483647
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")
_HTTP_HEADER_RE = re.compile(r"^[-A-Za-z0-9]+$")
_ENV_NAME_ERR = ("a valid environment variable name must consist only of printable ASCII characters other than "
                 "'='")
_SUBSCRIPT_RE = re.compile(r"^(metadata\.(?:annotations|labels))\['(.*)'\]$")


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


# --- volumes ----------------------------------------------------------------------------------------

def validate_volumes(volumes: Any, path: str) -> tuple[dict[str, dict[str, Any]], list[FieldError]]:
    """``ValidateVolumes``: the valid volumes by name (mounts may only use those) and every error."""
    errs: list[FieldError] = []
    valid: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    for i, vol in enumerate(_dicts(volumes)):
        p = f"{path}[{i}]"
        name = str(vol.get("name") or "")
        el = _validate_volume_source(vol, p)
        if not name:
            el.append(errors.required(f"{p}.name"))
        else:
            el.extend(validation.validate_dns1123_label(name, f"{p}.name"))
        if name in names:
            el.append(errors.duplicate(f"{p}.name", name))
        if el:
            errs.extend(el)
        else:
            names.add(name)
            valid[name] = vol
    return valid, errs


def _validate_volume_source(vol: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in VOLUME_SOURCES:
        src = vol.get(key)
        if not isinstance(src, dict):
            continue
        if count:
            errs.append(errors.forbidden(f"{p}.{key}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errs.extend(validate_one_volume_source(key, src, f"{p}.{key}"))
    if not count:
        errs.append(errors.required(p, "must specify a volume type"))
    return errs


def validate_one_volume_source(key: str, src: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if key == "hostPath":
        if not src.get("path"):
            return [errors.required(f"{p}.path")]
        errs.extend(_no_backsteps(str(src["path"]), f"{p}.path"))
        if src.get("type") is not None and src["type"] not in HOST_PATH_TYPES:
            errs.append(errors.not_supported(f"{p}.type", src["type"], HOST_PATH_TYPES))
    elif key == "emptyDir":
        if src.get("sizeLimit") is not None:
            amount = validation.quantity_value(src["sizeLimit"])
            if amount is None:
                errs.extend(validation.validate_quantity(src["sizeLimit"], f"{p}.sizeLimit"))
            elif amount < 0:
                errs.append(errors.forbidden(f"{p}.sizeLimit", "SizeLimit field must be a valid resource quantity"))
    elif key in ("secret", "configMap"):
        ref = "secretName" if key == "secret" else "name"
        if not src.get(ref):
            errs.append(errors.required(f"{p}.{ref}"))
        errs.extend(_file_mode(src.get("defaultMode"), f"{p}.defaultMode"))
        for i, item in enumerate(_dicts(src.get("items"))):
            errs.extend(_validate_key_to_path(item, f"{p}.items[{i}]"))
    elif key == "downwardAPI":
        errs.extend(_file_mode(src.get("defaultMode"), f"{p}.defaultMode"))
        for item in _dicts(src.get("items")):
            errs.extend(_validate_downward_file(item, p))
    elif key == "projected":
        errs.extend(_file_mode(src.get("defaultMode"), f"{p}.defaultMode"))
        errs.extend(_validate_projection_sources(src, p))
    elif key == "persistentVolumeClaim":
        if not src.get("claimName"):
            errs.append(errors.required(f"{p}.claimName"))
    elif key == "nfs":
        if not src.get("server"):
            errs.append(errors.required(f"{p}.server"))
        if not src.get("path"):
            errs.append(errors.required(f"{p}.path"))
        elif not str(src["path"]).startswith("/"):
            errs.append(errors.invalid(f"{p}.path", src["path"], "must be an absolute path"))
    elif key == "csi":
        if not src.get("driver"):
            errs.append(errors.required(f"{p}.driver"))
    elif key == "ephemeral" and not isinstance(src.get("volumeClaimTemplate"), dict):
        errs.append(errors.required(f"{p}.volumeClaimTemplate"))
    return errs


def _validate_projection_sources(projected: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    paths: set[str] = set()
    for i, source in enumerate(_dicts(projected.get("sources"))):
        sp = f"{p}.sources[{i}]"
        count = 0
        for key in ("secret", "configMap"):
            src = source.get(key)
            if not isinstance(src, dict):
                continue
            count += 1
            if not src.get("name"):
                errs.append(errors.required(f"{sp}.{key}.name"))
            for j, item in enumerate(_dicts(src.get("items"))):
                errs.extend(_validate_key_to_path(item, f"{sp}.{key}.items[{j}]"))
                if item.get("path"):
                    if item["path"] in paths:
                        errs.append(errors.invalid(p, src.get("name", ""), "conflicting duplicate paths"))
                    paths.add(item["path"])
        if isinstance(source.get("downwardAPI"), dict):
            count += 1
            for item in _dicts(source["downwardAPI"].get("items")):
                errs.extend(_validate_downward_file(item, f"{sp}.downwardAPI"))
                if item.get("path"):
                    if item["path"] in paths:
                        errs.append(errors.invalid(p, item["path"], "conflicting duplicate paths"))
                    paths.add(item["path"])
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            count += 1
            seconds = token.get("expirationSeconds") or 0
            if isinstance(seconds, int) and seconds < 600:
                errs.append(errors.invalid(f"{sp}.serviceAccountToken.expirationSeconds", seconds,
                                           "may not specify a duration less than 10 minutes"))
            if isinstance(seconds, int) and seconds > 1 << 32:
                errs.append(errors.invalid(f"{sp}.serviceAccountToken.expirationSeconds", seconds,
                                           "may not specify a duration larger than 2^32 seconds"))
            if not token.get("path"):
                errs.append(errors.required(f"{p}.path"))
        if isinstance(source.get("clusterTrustBundle"), dict):
            count += 1
        if count > 1:
            errs.append(errors.forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def _validate_key_to_path(item: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.get("key"):
        errs.append(errors.required(f"{p}.key"))
    if not item.get("path"):
        errs.append(errors.required(f"{p}.path"))
    errs.extend(_local_non_reserved_path(str(item.get("path") or ""), f"{p}.path"))
    errs.extend(_file_mode(item.get("mode"), f"{p}.mode"))
    return errs


def _validate_downward_file(item: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.get("path"):
        errs.append(errors.required(f"{p}.path"))
    errs.extend(_local_non_reserved_path(str(item.get("path") or ""), f"{p}.path"))
    if isinstance(item.get("fieldRef"), dict):
        errs.extend(_validate_field_ref(item["fieldRef"], VOLUME_FIELD_PATHS, f"{p}.fieldRef"))
        if item.get("resourceFieldRef") is not None:
            errs.append(errors.invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified "
                                                      "simultaneously"))
    elif isinstance(item.get("resourceFieldRef"), dict):
        errs.extend(_validate_resource_field_ref(item["resourceFieldRef"], f"{p}.resourceFieldRef", True))
    else:
        errs.append(errors.required(p, "one of fieldRef and resourceFieldRef is required"))
    errs.extend(_file_mode(item.get("mode"), f"{p}.mode"))
    return errs


def _file_mode(mode: Any, p: str) -> list[FieldError]:
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        return [errors.invalid(p, mode, FILE_MODE_ERR)]
    return []


def _no_backsteps(target: str, p: str) -> list[FieldError]:
    if ".." in target.split("/"):
        return [errors.invalid(p, target, "must not contain '..'")]
    return []


def _local_descending_path(target: str, p: str) -> list[FieldError]:
    errs = [errors.invalid(p, target, "must be a relative path")] if posixpath.isabs(target) else []
    return errs + _no_backsteps(target, p)


def _local_non_reserved_path(target: str, p: str) -> list[FieldError]:
    errs = _local_descending_path(target, p)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(errors.invalid(p, target, "must not start with '..'"))
    return errs


# --- containers -------------------------------------------------------------------------------------

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


# --- scheduling fields ------------------------------------------------------------------------------

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


def _enum(value: Any, allowed: list[str], p: str) -> list[FieldError]:
    if not value:
        return [errors.required(p)]
    if value not in allowed:
        return [errors.not_supported(p, value, allowed)]
    return []


# --- warnings ---------------------------------------------------------------------------------------

_DEPRECATED_NODE_LABELS = {
    "beta.kubernetes.io/arch": ("v1.14", "kubernetes.io/arch"),
    "beta.kubernetes.io/os": ("v1.14", "kubernetes.io/os"),
    "failure-domain.beta.kubernetes.io/region": ("v1.17", "topology.kubernetes.io/region"),
    "failure-domain.beta.kubernetes.io/zone": ("v1.17", "topology.kubernetes.io/zone"),
    "beta.kubernetes.io/instance-type": ("v1.17", "node.kubernetes.io/instance-type"),
}


def warnings_for_pod_spec(spec: dict[str, Any], path: str = "spec") -> list[str]:
    """A subset of ``GetWarningsForPodTemplate``: deprecated node labels, negative grace periods,
    fractional memory and duplicate container ports."""
    spec = spec if isinstance(spec, dict) else {}
    out: list[str] = []
    for key in sorted((spec.get("nodeSelector") or {}) if isinstance(spec.get("nodeSelector"), dict) else {}):
        if key in _DEPRECATED_NODE_LABELS:
            since, use = _DEPRECATED_NODE_LABELS[key]
            out.append(f'{path}.nodeSelector[{key}]: deprecated since {since}; use "{use}" instead')
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        out.append(f"{path}.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be "
                   "treated as 1")
    for key in _CONTAINER_LISTS:
        for i, ctr in enumerate(_dicts(spec.get(key))):
            res = _dict(ctr.get("resources"))
            for kind in ("limits", "requests"):
                value = (res.get(kind) or {}).get("memory") if isinstance(res.get(kind), dict) else None
                amount = validation.quantity_value(value) if value is not None else None
                if amount is not None and amount.denominator != 1:
                    out.append(f'{path}.{key}[{i}].resources.{kind}[memory]: fractional byte value "{value}" is '
                               "invalid, must be an integer")
            seen: dict[tuple[Any, ...], int] = {}
            for j, port in enumerate(_dicts(ctr.get("ports"))):
                ident = (port.get("containerPort"), port.get("protocol"), port.get("hostIP"), port.get("hostPort"))
                if ident in seen:
                    out.append(f"{path}.{key}[{i}].ports[{j}]: duplicate port definition with "
                               f"{path}.{key}[{i}].ports[{seen[ident]}]")
                else:
                    seen[ident] = j
    return out
