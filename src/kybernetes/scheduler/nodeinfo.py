"""Precomputed views of pods and nodes the plugins read: ``PodInfo`` (requests, host ports, parsed
affinity terms) and ``NodeInfo`` (allocatable, requested, pods, used host ports, images).

Both are computed once per object change (by ``cache.py`` and the queue), never per scheduling
attempt, so a Filter is a few attribute reads. Objects inside are shared informer dicts: read only.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.persistentvolumes import pod_claims
from kybernetes.api.selectors import LabelSelector, selector_from_label_selector
from kybernetes.api.validation import parse_quantity

Obj = dict[str, Any]

DEFAULT_MILLI_CPU_REQUEST = 100  # what scoring assumes for a container without a cpu request
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
NATIVE = frozenset({"cpu", "memory", "ephemeral-storage", "pods"})
# Process-wide, strictly increasing: equal generations mean an unchanged NodeInfo (clones included),
# which lets plugins memoize per-node results across scheduling cycles.
_GENERATIONS = itertools.count(1)


@functools.lru_cache(maxsize=8192)
def milli_value(q: str) -> int:
    """``Quantity.MilliValue()``, rounded up; malformed → 0."""
    parsed = parse_quantity(q)
    return math.ceil(parsed[0] * 1000) if parsed else 0


@functools.lru_cache(maxsize=8192)
def int_value(q: str) -> int:
    """``Quantity.Value()``, rounded up; malformed → 0."""
    parsed = parse_quantity(q)
    return math.ceil(parsed[0]) if parsed else 0


def quantity(name: str, q: Any) -> int:
    q = str(q)
    return milli_value(q) if name == "cpu" else int_value(q)


class Resource:
    """Amounts in Kubernetes' scheduler units: milli-cpu, bytes, counts."""

    __slots__ = ("allowed_pod_number", "ephemeral_storage", "memory", "milli_cpu", "scalar")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0,
                 allowed_pod_number: int = 0, scalar: dict[str, int] | None = None) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pod_number = allowed_pod_number
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_list(cls, rl: dict[str, Any] | None) -> Resource:
        r = cls()
        for name, q in (rl or {}).items():
            r.set_amount(name, quantity(name, q))
        return r

    def amount(self, name: str) -> int:
        if name == "cpu":
            return self.milli_cpu
        if name == "memory":
            return self.memory
        if name == "ephemeral-storage":
            return self.ephemeral_storage
        if name == "pods":
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def set_amount(self, name: str, v: int) -> None:
        if name == "cpu":
            self.milli_cpu = v
        elif name == "memory":
            self.memory = v
        elif name == "ephemeral-storage":
            self.ephemeral_storage = v
        elif name == "pods":
            self.allowed_pod_number = v
        else:
            self.scalar[name] = v

    def names(self) -> set[str]:
        return {"cpu", "memory", "ephemeral-storage", *self.scalar}

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) + sign * v

    def set_max(self, other: Resource) -> None:
        for name in other.names():
            self.set_amount(name, max(self.amount(name), other.amount(name)))

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def clone(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                        dict(self.scalar))

    def __repr__(self) -> str:
        return (f"Resource(cpu={self.milli_cpu}m, memory={self.memory}, eph={self.ephemeral_storage}, "
                f"pods={self.allowed_pod_number}, {self.scalar})")


def _container_requests(c: Obj, non_zero: bool) -> Resource:
    res = c.get("resources") or {}
    requests = dict(res.get("limits") or {})  # defaulting: a limit without a request is the request
    requests.update(res.get("requests") or {})
    r = Resource.from_list(requests)
    if non_zero:
        if "cpu" not in requests:
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
        if "memory" not in requests:
            r.memory = DEFAULT_MEMORY_REQUEST
    return r


def pod_requests(spec: Obj, non_zero: bool = False) -> Resource:
    """What a pod asks of a node: containers summed, init containers as a running maximum (sidecars —
    restartable init containers — add to everything after them), plus pod overhead."""
    total = Resource()
    for c in spec.get("containers") or ():
        total.add(_container_requests(c, non_zero))
    restartable = Resource()
    init_max = Resource()
    for c in spec.get("initContainers") or ():
        req = _container_requests(c, non_zero)
        if c.get("restartPolicy") == "Always":
            total.add(req)
            restartable.add(req)
            req = restartable.clone()
        else:
            req.add(restartable)
        init_max.set_max(req)
    total.set_max(init_max)
    overhead = spec.get("overhead")
    if overhead:
        total.add(Resource.from_list(overhead))
    return total


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    namespaces: frozenset[str]
    selector: LabelSelector | None  # None matches nothing
    topology_key: str
    namespace_selector: LabelSelector | None = None  # None: only ``namespaces``

    def matches(self, pod: PodInfo, ns_labels: dict[str, str] | None = None) -> bool:
        if pod.namespace not in self.namespaces:
            if self.namespace_selector is None or ns_labels is None or \
                    not self.namespace_selector.matches(ns_labels):
                return False
        return self.selector is not None and self.selector.matches(pod.labels)


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    term: AffinityTerm
    weight: int


def _terms(raw: list[Obj] | None, namespace: str) -> tuple[AffinityTerm, ...]:
    out = []
    for t in raw or ():
        ns_sel_raw = t.get("namespaceSelector")
        namespaces = frozenset(t.get("namespaces") or ())
        if not namespaces and ns_sel_raw is None:
            namespaces = frozenset((namespace,))
        try:
            sel = selector_from_label_selector(t.get("labelSelector"))
            ns_sel = selector_from_label_selector(ns_sel_raw)
        except StatusError:  # the API server rejects invalid selectors; if one slips through, match nothing
            sel, ns_sel = None, None
        out.append(AffinityTerm(namespaces, sel, t.get("topologyKey", ""), ns_sel))
    return tuple(out)


def _weighted(raw: list[Obj] | None, namespace: str) -> tuple[WeightedTerm, ...]:
    return tuple(WeightedTerm(term, int(w.get("weight") or 0))
                 for w in raw or () for term in _terms([w.get("podAffinityTerm") or {}], namespace))


def normalized_image_name(name: str) -> str:
    """Add ``:latest`` to an image reference that has neither tag nor digest."""
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        return name + ":latest"
    return name


class PodInfo:
    """A pod plus everything the plugins derive from it."""

    __slots__ = (
        "host_ports",
        "images",
        "key",
        "labels",
        "name",
        "namespace",
        "node_name",
        "non_zero_cpu",
        "non_zero_mem",
        "pod",
        "preferred_affinity",
        "preferred_anti_affinity",
        "priority",
        "pvcs",
        "requests",
        "required_affinity",
        "required_anti_affinity",
        "terminating",
        "tolerations",
        "uid",
    )

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        md = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.namespace: str = md.get("namespace", "")
        self.name: str = md.get("name", "")
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = md.get("uid", "")
        self.labels: dict[str, str] = md.get("labels") or {}
        self.terminating = bool(md.get("deletionTimestamp"))
        self.priority: int = int(spec.get("priority") or 0)
        self.node_name: str = spec.get("nodeName") or ""
        self.tolerations: list[Obj] = spec.get("tolerations") or []
        self.requests = pod_requests(spec)
        nz = pod_requests(spec, non_zero=True)
        self.non_zero_cpu = nz.milli_cpu
        self.non_zero_mem = nz.memory
        ports = []
        for c in spec.get("containers") or ():
            for p in c.get("ports") or ():
                hp = int(p.get("hostPort") or 0)
                if hp > 0:
                    ports.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", hp))
        self.host_ports: tuple[tuple[str, str, int], ...] = tuple(ports)
        self.images = tuple(normalized_image_name(c.get("image") or "")
                            for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())])
        # (claim name, is a generic ephemeral volume's claim)
        self.pvcs: tuple[tuple[str, bool], ...] = tuple(pod_claims(pod))
        aff = spec.get("affinity") or {}
        pa = aff.get("podAffinity") or {}
        paa = aff.get("podAntiAffinity") or {}
        self.required_affinity = _terms(pa.get("requiredDuringSchedulingIgnoredDuringExecution"), self.namespace)
        self.required_anti_affinity = _terms(paa.get("requiredDuringSchedulingIgnoredDuringExecution"),
                                             self.namespace)
        self.preferred_affinity = _weighted(pa.get("preferredDuringSchedulingIgnoredDuringExecution"),
                                            self.namespace)
        self.preferred_anti_affinity = _weighted(paa.get("preferredDuringSchedulingIgnoredDuringExecution"),
                                                 self.namespace)

    @property
    def spec(self) -> Obj:
        return self.pod.get("spec") or {}

    def assumed_on(self, node: str) -> PodInfo:
        """A copy placed on ``node`` (the informer's pod dict is shared: it is not touched)."""
        c = copy.copy(self)
        c.node_name = node
        return c

    @property
    def has_affinity(self) -> bool:
        return bool(self.required_affinity or self.required_anti_affinity or self.preferred_affinity
                    or self.preferred_anti_affinity)

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


def ports_conflict(a: tuple[str, str, int], b: tuple[str, str, int]) -> bool:
    return a[2] == b[2] and a[1] == b[1] and (a[0] == b[0] or a[0] == "0.0.0.0" or b[0] == "0.0.0.0")


class NodeInfo:
    """A node and the pods the scheduler believes run there (bound or assumed)."""

    __slots__ = ("allocatable", "filter_verdict", "generation", "image_sizes", "labels", "name", "node",
                 "non_zero_cpu", "non_zero_mem", "pods", "pods_with_affinity", "pods_with_required_anti_affinity",
                 "requested", "score_total", "taints", "unschedulable", "used_ports")

    def __init__(self, node: Obj | None = None) -> None:
        self.node: Obj = {}
        self.name = ""
        self.labels: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.unschedulable = False
        self.allocatable = Resource()
        self.image_sizes: dict[str, int] = {}
        self.requested = Resource()
        self.non_zero_cpu = 0
        self.non_zero_mem = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: list[tuple[str, str, int]] = []
        self.generation = next(_GENERATIONS)
        # the framework's memos of this node as it is now: (pod key id, Filter verdict / Score total);
        # every change forgets them
        self.filter_verdict: tuple[int, Any] | None = None
        self.score_total: tuple[int, int] | None = None
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        self.node = node
        md = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.name = md.get("name", "")
        self.labels = md.get("labels") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_list(status.get("allocatable") or status.get("capacity"))
        sizes: dict[str, int] = {}
        for img in status.get("images") or ():
            for n in img.get("names") or ():
                sizes[n] = int(img.get("sizeBytes") or 0)
        self.image_sizes = sizes
        self._changed()

    def add_pod(self, pi: PodInfo) -> None:
        self.pods[pi.key] = pi
        self._account(pi, 1)
        if pi.has_affinity:
            self.pods_with_affinity[pi.key] = pi
        if pi.required_anti_affinity:
            self.pods_with_required_anti_affinity[pi.key] = pi
        self.used_ports.extend(pi.host_ports)
        self._changed()

    def remove_pod(self, key: str) -> PodInfo | None:
        pi = self.pods.pop(key, None)
        if pi is None:
            return None
        self._account(pi, -1)
        self.pods_with_affinity.pop(key, None)
        self.pods_with_required_anti_affinity.pop(key, None)
        for p in pi.host_ports:
            self.used_ports.remove(p)
        self._changed()
        return pi

    def _changed(self) -> None:
        self.generation = next(_GENERATIONS)
        self.filter_verdict = self.score_total = None

    def _account(self, pi: PodInfo, sign: int) -> None:
        self.requested.add(pi.requests, sign)
        self.non_zero_cpu += sign * pi.non_zero_cpu
        self.non_zero_mem += sign * pi.non_zero_mem

    def clone(self) -> NodeInfo:
        c = NodeInfo()
        c.node, c.name, c.labels, c.taints = self.node, self.name, self.labels, self.taints
        c.unschedulable, c.allocatable, c.image_sizes = self.unschedulable, self.allocatable, self.image_sizes
        c.requested = self.requested.clone()
        c.non_zero_cpu, c.non_zero_mem = self.non_zero_cpu, self.non_zero_mem
        c.pods = dict(self.pods)
        c.pods_with_affinity = dict(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        c.used_ports = list(self.used_ports)
        c.generation = self.generation
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, requested={self.requested})"
