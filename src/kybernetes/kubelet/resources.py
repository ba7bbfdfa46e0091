"""Container requests/limits → CRI ``LinuxContainerResources``, QoS class, pod cgroup parent.

Role: :mod:`.containers` calls :func:`container_resources` for every container it creates and
:mod:`.sandbox` :func:`cgroup_parent` for the sandbox. CPU shares come from the request (or the limit
when only a limit is set), CFS quota from the limit, the memory limit in bytes, and the OOM score from
the QoS class the way the kubelet computes it (Guaranteed -997, BestEffort 1000, Burstable by the share
of node memory requested), clamped to ``min_oom_score_adj`` (0 on hosts where containerd cannot lower
scores). The arithmetic itself is :mod:`kybernetes.runtime.criconfig`'s. Upstream:
pkg/kubelet/kuberuntime/kuberuntime_container_linux.go, pkg/kubelet/qos/policy.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from kybernetes.api.quantity import parse_quantity
from kybernetes.runtime import criconfig
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["QOSClass", "cgroup_parent", "container_resources", "milli", "qos_class", "value"]

QOSClass = Literal["Guaranteed", "Burstable", "BestEffort"]
_COMPUTE = ("cpu", "memory")


def milli(quantity: Any) -> int:
    """A quantity in thousandths (``500m`` → 500, ``1`` → 1000); 0 when unset or malformed."""
    if quantity in (None, ""):
        return 0
    try:
        return parse_quantity(quantity).milli_value()
    except ValueError:
        return 0


def value(quantity: Any) -> int:
    """A quantity as a whole number (``64Mi`` → 67108864), rounded up; 0 when unset or malformed."""
    if quantity in (None, ""):
        return 0
    try:
        return parse_quantity(quantity).int_value()
    except ValueError:
        return 0


def qos_class(spec: Mapping[str, Any]) -> QOSClass:
    """The pod's QoS class (upstream ``GetPodQOS``) from cpu/memory requests and limits of all containers."""
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    guaranteed = True
    for ctr in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        res = ctr.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for name in _COMPUTE:
            if milli(req.get(name)):
                requests[name] = requests.get(name, 0) + milli(req.get(name))
            if milli(lim.get(name)):
                limits[name] = limits.get(name, 0) + milli(lim.get(name))
        if not all(milli(lim.get(n)) for n in _COMPUTE):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(requests.get(n, limits.get(n)) == limits.get(n) for n in _COMPUTE):
        return "Guaranteed"
    return "Burstable"


def cgroup_parent(uid: str, qos: QOSClass, root: str = "/kubepods") -> str:
    """``<root>/pod<uid>`` (Guaranteed), ``<root>/burstable/pod<uid>``, ``<root>/besteffort/pod<uid>``."""
    return criconfig.pod_cgroup_parent(uid, qos, root)


def container_resources(container: Mapping[str, Any], qos: QOSClass, *, memory_capacity: int,
                        min_oom_score_adj: int = -1000) -> api.LinuxContainerResources:
    """The CRI resources of one container of a pod of class ``qos`` on a node with ``memory_capacity`` bytes."""
    res = container.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    cpu_request = milli(req.get("cpu")) or milli(lim.get("cpu"))
    memory_request = value(req.get("memory")) or value(lim.get("memory"))
    oom = criconfig.oom_score_adj(qos, memory_request, memory_capacity)
    if qos == "Guaranteed":
        oom = -997
    return criconfig.linux_resources(cpu_request_millicores=cpu_request,
                                     cpu_limit_millicores=milli(lim.get("cpu")),
                                     memory_limit=value(lim.get("memory")),
                                     oom_score=max(oom, min_oom_score_adj))
