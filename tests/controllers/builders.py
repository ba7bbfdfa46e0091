"""Object builders for controller tests (shapes as the API server would store them)."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.printing import format_time

Obj = dict[str, Any]


def template(labels: dict[str, str], image: str = "nginx:1.25") -> Obj:
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80, "name": "http",
                                                                                   "protocol": "TCP"}]}],
                     "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}


def owner_ref(owner: Obj, controller: bool = True, block: bool = True) -> Obj:
    md = owner["metadata"]
    ref = {"apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner.get("kind", "ReplicaSet"),
           "name": md["name"], "uid": md["uid"]}
    if controller:
        ref["controller"] = True
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def pod(name: str, labels: dict[str, str] | None = None, ns: str = "default", owner: Obj | None = None,
        phase: str = "Pending", ready: bool = False, ready_at: float | None = None, node: str = "",
        created: float | None = None, ip: str = "", restarts: int = 0, uid: str | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": ns, "labels": dict(labels or {"app": "web"})}
    if uid:
        md["uid"] = uid
    if created is not None:
        md["creationTimestamp"] = format_time(created)
    if owner is not None:
        md["ownerReferences"] = [owner_ref(owner)]
    status: Obj = {"phase": phase}
    if ready or ready_at is not None:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": format_time(ready_at or 1_600_000_000.0)}]
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if restarts:
        status["containerStatuses"] = [{"name": "nginx", "restartCount": restarts}]
    spec: Obj = {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 8080, "name": "http",
                                                                                "protocol": "TCP"}]}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def replicaset(name: str, replicas: int, labels: dict[str, str] | None = None, ns: str = "default",
               owner: Obj | None = None, min_ready: int = 0, annotations: dict[str, str] | None = None,
               tmpl: Obj | None = None) -> Obj:
    labels = dict(labels or {"app": "web"})
    md: Obj = {"name": name, "namespace": ns, "labels": dict(labels), "generation": 1}
    if owner is not None:
        md["ownerReferences"] = [owner_ref(owner)]
    if annotations:
        md["annotations"] = dict(annotations)
    spec: Obj = {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": copy.deepcopy(tmpl) if tmpl is not None else template(labels)}
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": md, "spec": spec,
            "status": {"replicas": 0}}


def deployment(name: str = "web", replicas: int = 3, labels: dict[str, str] | None = None, ns: str = "default",
               strategy: str = "RollingUpdate", max_surge: Any = "25%", max_unavailable: Any = "25%",
               image: str = "nginx:1.25", history: int = 10, paused: bool = False, deadline: int | None = 600,
               min_ready: int = 0) -> Obj:
    labels = dict(labels or {"app": name})
    strat: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": max_surge, "maxUnavailable": max_unavailable}
    spec: Obj = {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": template(labels, image),
                 "strategy": strat, "revisionHistoryLimit": history}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    if paused:
        spec["paused"] = True
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels), "generation": 1},
            "spec": spec, "status": {}}


def service(name: str = "web", selector: dict[str, str] | None = None, ns: str = "default",
            ports: list[Obj] | None = None, cluster_ip: str = "10.43.0.10", publish_not_ready: bool = False) -> Obj:
    spec: Obj = {"selector": dict(selector or {"app": "web"}), "clusterIP": cluster_ip, "type": "ClusterIP",
                 "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": "http",
                                                            "protocol": "TCP"}]}
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns,
                                                                "labels": {"svc": name}}, "spec": spec}


def namespace(name: str, terminating: bool = False) -> Obj:
    ns: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    if terminating:
        ns["metadata"]["deletionTimestamp"] = format_time(1_700_000_000.0)
        ns["status"]["phase"] = "Terminating"
    return ns
