"""PodSpec defaulting (``SetDefaults_PodSpec`` and friends, plus the v1 serialisation quirks:
``resources: {}``, canonical quantities, fields of off-by-default features dropped).
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import validation
from kybernetes.api.podspec._common import _dicts

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
