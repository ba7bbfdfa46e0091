"""Builders for scheduler tests: nodes, pods, NodeInfos, a framework over a cache, a recording client."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState
from kybernetes.scheduler.frameworkrunner import DictLister, Framework
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo
from kybernetes.scheduler.profile import default_profile

Obj = dict[str, Any]


def node(name: str, cpu: str = "4", memory: str = "16Gi", pods: int = 110, labels: dict[str, str] | None = None,
         taints: list[Obj] | None = None, unschedulable: bool = False, images: list[Obj] | None = None,
         extended: dict[str, str] | None = None) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "100Gi", **(extended or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"uid-{name}",
                         "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": {"capacity": dict(alloc), "allocatable": alloc, "images": images or []}}


def pod(name: str, cpu: str | None = None, memory: str | None = None, namespace: str = "default",
        labels: dict[str, str] | None = None, node_name: str = "", priority: int | None = None,
        image: str = "nginx", **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: Obj = {"name": "c", "image": image, "resources": {"requests": requests} if requests else {}}
    s: Obj = {"containers": [container], "schedulerName": "default-scheduler", **spec}
    if node_name:
        s["nodeName"] = node_name
    if priority is not None:
        s["priority"] = priority
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": labels or {}},
            "spec": s, "status": {"phase": "Pending"}}


def node_info(n: Obj, *pods: Obj) -> NodeInfo:
    ni = NodeInfo(n)
    for p in pods:
        ni.add_pod(PodInfo(p))
    return ni


def cache_with(nodes: list[Obj], pods: list[Obj] = ()) -> Cache:  # type: ignore[assignment]
    c = Cache()
    for n in nodes:
        c.add_node(n)
    for p in pods:
        c.add_pod(p)
    return c


def framework(cache: Cache | None = None, **listers: list[Obj]) -> Framework:
    return Framework(default_profile(), cache or Cache(), listers={k: DictLister(v) for k, v in listers.items()})


def run_filter(plugin: Any, p: Obj, ni: NodeInfo, state: CycleState | None = None) -> Any:
    """PreFilter (if any; a Skip means the filter passes) then Filter, as the framework runs them."""
    state = state or CycleState()
    pi = PodInfo(p)
    if hasattr(plugin, "pre_filter"):
        _, st = plugin.pre_filter(state, pi)
        if st is not None and st.code == 5:  # Skip
            return None
        if st is not None:
            return st
    return plugin.filter(state, pi, ni)


def reasons(status: Any) -> tuple[str, ...]:
    return () if status is None else tuple(status.reasons)


class RecordingClient:
    """Answers create/patch/delete with the body and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None, str | None, Any]] = []
        self.fail_bind: Exception | None = None

    async def create(self, res: Any, obj: Obj, namespace: str | None = None, subresource: str | None = None,
                     name: str | None = None, **params: Any) -> Obj:
        self.calls.append(("create", res.plural, namespace, subresource, obj))
        if subresource == "binding" and self.fail_bind is not None:
            raise self.fail_bind
        return obj

    async def patch(self, res: Any, name: str, patch: Any, namespace: str | None = None,
                    subresource: str | None = None, **kw: Any) -> Obj:
        self.calls.append(("patch", res.plural, namespace, subresource, {"name": name, "patch": patch}))
        return {}

    async def replace(self, res: Any, obj: Obj, namespace: str | None = None, subresource: str | None = None) -> Obj:
        self.calls.append(("replace", res.plural, namespace, subresource, obj))
        return obj

    async def delete(self, res: Any, name: str, namespace: str | None = None, **options: Any) -> Obj:
        self.calls.append(("delete", res.plural, namespace, None, {"name": name, **options}))
        return {}

    def of(self, verb: str, subresource: str | None = None) -> list[Any]:
        return [c[4] for c in self.calls if c[0] == verb and c[3] == subresource]


class RecordingRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(((obj.get("metadata") or {}).get("name", ""), type_, reason, message))
