"""The Node object a kubelet registers and the status it posts: labels the kubelet owns, capacity and
allocatable, addresses, nodeInfo, and the MemoryPressure/DiskPressure/PIDPressure/Ready conditions
with Kubernetes' reasons and messages (a pressure condition turns True while :mod:`.pressure` reports
it). Shared by the hollow kubelet (``hollow.py``) and the real one (``node.py``); it builds dicts and
does no I/O. Upstream: pkg/kubelet/nodestatus/setters.go.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from typing import Any

from kybernetes import KUBERNETES_VERSION
from kybernetes.api.printing import format_time
from kybernetes.api.validation import format_quantity, parse_quantity

Obj = dict[str, Any]

LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_OS = "kubernetes.io/os"
LABEL_ARCH = "kubernetes.io/arch"
LABEL_BETA_OS = "beta.kubernetes.io/os"
LABEL_BETA_ARCH = "beta.kubernetes.io/arch"
KUBELET_PORT = 10250

# type → (status when healthy, reason, message), in the order the kubelet reports them
HEALTHY_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
# pressure condition type → (reason, message) while the eviction thresholds say the node is under it
PRESSURE_CONDITIONS: dict[str, tuple[str, str]] = {
    "MemoryPressure": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
}
# pressure condition type → (event reason when it clears, event reason when it sets in) on the Node
PRESSURE_EVENTS: dict[str, tuple[str, str]] = {
    "MemoryPressure": ("NodeHasSufficientMemory", "NodeHasInsufficientMemory"),
    "DiskPressure": ("NodeHasNoDiskPressure", "NodeHasDiskPressure"),
    "PIDPressure": ("NodeHasSufficientPID", "NodeHasInsufficientPID"),
}


def go_arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(m, m or "amd64")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    name: str
    internal_ip: str
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()
    pod_cidr: str = ""
    os_image: str = "Kybernetes hollow node"
    kernel_version: str = field(default_factory=platform.release)
    container_runtime_version: str = "hollow://0.1.0"
    arch: str = field(default_factory=go_arch)
    reserved: dict[str, str] = field(default_factory=dict)  # allocatable = capacity - reserved


def parse_taints(spec: str) -> tuple[Obj, ...]:
    """``key=value:Effect,key2:Effect`` (the ``--register-with-taints`` syntax) → taint dicts."""
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        kv, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"invalid taint {item!r}: use key=value:NoSchedule|PreferNoSchedule|NoExecute")
        key, _, value = kv.partition("=")
        taint: Obj = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        out.append(taint)
    return tuple(out)


def parse_labels(spec: str) -> dict[str, str]:
    """``k=v,k2=v2`` (the ``--node-labels`` syntax) → labels."""
    labels = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValueError(f"invalid label {item!r}: use key=value")
        labels[k] = v
    return labels


def node_labels(cfg: NodeConfig) -> dict[str, str]:
    return {LABEL_BETA_ARCH: cfg.arch, LABEL_BETA_OS: "linux", LABEL_ARCH: cfg.arch, LABEL_HOSTNAME: cfg.name,
            LABEL_OS: "linux", **cfg.labels}


def capacity(cfg: NodeConfig) -> dict[str, str]:
    return {"cpu": cfg.cpu, "ephemeral-storage": cfg.ephemeral_storage, "hugepages-1Gi": "0",
            "hugepages-2Mi": "0", "memory": cfg.memory, "pods": str(cfg.pods)}


def allocatable(cfg: NodeConfig) -> dict[str, str]:
    cap = capacity(cfg)
    for name, amount in cfg.reserved.items():
        have, want = parse_quantity(cap.get(name, "0")), parse_quantity(amount)
        if have and want:
            cap[name] = format_quantity(max(have[0] - want[0], 0), have[1])
    return cap


def conditions(now: str, transitions: dict[str, tuple[str, str]] | None = None,
               pressure: frozenset[str] = frozenset()) -> list[Obj]:
    """The four kubelet conditions: healthy, except the pressure types in ``pressure``. ``transitions``
    (from :func:`transition_times`) keeps a lastTransitionTime while a condition's status stays the same."""
    transitions = transitions or {}
    out = []
    for t, s, r, m in HEALTHY_CONDITIONS:
        if t in pressure and t in PRESSURE_CONDITIONS:
            s, (r, m) = "True", PRESSURE_CONDITIONS[t]
        status, since = transitions.get(t, ("", ""))
        out.append({"type": t, "status": s, "lastHeartbeatTime": now,
                    "lastTransitionTime": since if status == s and since else now, "reason": r, "message": m})
    return out


def node_info(cfg: NodeConfig) -> Obj:
    digest = hashlib.sha256(cfg.name.encode()).hexdigest()
    return {"machineID": digest[:32], "systemUUID": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-"
            f"{digest[16:20]}-{digest[20:32]}", "bootID": digest[32:64], "kernelVersion": cfg.kernel_version,
            "osImage": cfg.os_image, "containerRuntimeVersion": cfg.container_runtime_version,
            "kubeletVersion": KUBERNETES_VERSION, "kubeProxyVersion": "", "operatingSystem": "linux",
            "architecture": cfg.arch}


def addresses(cfg: NodeConfig) -> list[Obj]:
    return [{"type": "InternalIP", "address": cfg.internal_ip}, {"type": "Hostname", "address": cfg.name}]


def node_status(cfg: NodeConfig, now: str, transitions: dict[str, tuple[str, str]] | None = None,
                pressure: frozenset[str] = frozenset()) -> Obj:
    return {"capacity": capacity(cfg), "allocatable": allocatable(cfg),
            "conditions": conditions(now, transitions, pressure),
            "addresses": addresses(cfg), "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": node_info(cfg)}


def build_node(cfg: NodeConfig, now: str | None = None) -> Obj:
    """The Node a kubelet registers (``initialNode``)."""
    now = now or format_time()
    spec: Obj = {}
    if cfg.pod_cidr:
        spec["podCIDR"] = cfg.pod_cidr
        spec["podCIDRs"] = [cfg.pod_cidr]
    if cfg.taints:
        spec["taints"] = [dict(t) for t in cfg.taints]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": cfg.name, "labels": node_labels(cfg),
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": spec, "status": node_status(cfg, now)}


def lease(node: Obj, duration_seconds: int, now_micro: str) -> Obj:
    """The node's heartbeat Lease in kube-node-lease, owned by the Node."""
    md = node.get("metadata") or {}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": md["name"], "namespace": "kube-node-lease",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": md["name"],
                                              "uid": md.get("uid", "")}]},
            "spec": {"holderIdentity": md["name"], "leaseDurationSeconds": duration_seconds, "renewTime": now_micro}}


def transition_times(node: Obj) -> dict[str, tuple[str, str]]:
    """(status, lastTransitionTime) per condition type of a stored node."""
    return {c.get("type", ""): (c.get("status", ""), c.get("lastTransitionTime", ""))
            for c in (node.get("status") or {}).get("conditions") or []}
