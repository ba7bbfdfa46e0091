"""Node lifecycle controller: notice nodes that stopped heartbeating, say so in their status, and taint them.

Kubelets prove they are alive two ways: renewing their Lease in ``kube-node-lease`` and posting
``status.conditions`` (Ready's ``lastHeartbeatTime``). ``sync(node)`` remembers, on this controller's
own clock, when either last changed (as Kubernetes does, so clock skew between machines is
harmless). Past the grace period (40 s; 60 s for a node that never posted status) the Ready,
MemoryPressure, DiskPressure and PIDPressure conditions become Unknown ("Kubelet stopped posting
node status."), the pods on the node are marked not Ready, and the node gets the
``node.kubernetes.io/unreachable:NoExecute`` taint (``not-ready`` while Ready is False), which
``tainteviction.py`` turns into evictions. NoSchedule taints follow the conditions (and
``spec.unschedulable``). As in Kubernetes, NoExecute tainting pauses when every zone has lost all
its nodes (the control plane is the likelier culprit) and in small zones that are mostly down.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from typing import Any, cast

from kybernetes.api.printing import format_time, parse_time
from kybernetes.client.errors import NotFoundError
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer
from kybernetes.client.rest import NODES, PODS, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
NODE_NAME_INDEX = "spec.nodeName"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
#: (condition type, status) → the NoSchedule taint key that mirrors it (``nodeConditionToTaintKeyStatusMap``).
CONDITION_TAINTS = {("Ready", "False"): NOT_READY, ("Ready", "Unknown"): UNREACHABLE,
                    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
                    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
                    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
                    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure"}
_MANAGED_NO_SCHEDULE = frozenset([*CONDITION_TAINTS.values(), UNSCHEDULABLE])
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
UNHEALTHY_ZONE_THRESHOLD = 0.55
LARGE_CLUSTER_THRESHOLD = 50
NORMAL_ZONE, PARTIAL_DISRUPTION, FULL_DISRUPTION = "Normal", "PartialDisruption", "FullDisruption"


def condition(node: Obj, type_: str) -> dict[str, Any] | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def ready_status(node: Obj) -> str:
    c = condition(node, "Ready")
    return str(c.get("status")) if c is not None else "Unknown"


def zone_key(node: Obj) -> str:
    """``topology.GetZoneKey``: region and zone labels (current or beta), "" when unlabelled."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def zone_state(ready: int, not_ready: int) -> str:
    """``ComputeZoneState``."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return PARTIAL_DISRUPTION
    return NORMAL_ZONE


@dataclass
class _Health:
    probe: float  # our clock's time of the last heartbeat we saw
    heartbeat: Any  # Ready's lastHeartbeatTime then
    renew: Any  # the Lease's renewTime then
    ready: str  # Ready's status at the end of the last sync


class NodeLifecycleController(loop.Controller):
    name = "nodelifecycle"

    def __init__(self, node_informer: Informer, lease_informer: Informer, pod_informer: Informer, client: Client,
                 recorder: loop.Recorder, *, grace_period: float = 40.0, startup_grace_period: float = 60.0,
                 monitor_period: float = 5.0, clock: loop.Clock = time.time) -> None:
        super().__init__([node_informer, lease_informer, pod_informer])
        self.node_informer = node_informer
        self.lease_informer = lease_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        self.grace_period = grace_period
        self.startup_grace_period = startup_grace_period
        self.monitor_period = monitor_period
        self.clock = clock
        self._health: dict[str, _Health] = {}
        self._known: dict[str, Obj] = {}
        self._retry: set[str] = set()
        self._zones: dict[str, tuple[str, int]] = {}  # zone → (state, size)
        self._zones_at = float("-inf")
        self._all_disrupted = False
        pod_informer.add_index(NODE_NAME_INDEX, node_name_index)
        node_informer.add_handlers(self.enqueue, lambda _old, cur: self.enqueue(cur), self.enqueue)
        lease_informer.add_handlers(self._lease_changed, lambda _old, cur: self._lease_changed(cur))
        pod_informer.add_handlers(self._pod_added, self._pod_updated)

    # --- callbacks ----------------------------------------------------------------------------------
    def _lease_changed(self, lease: Obj) -> None:
        md = lease.get("metadata") or {}
        if md.get("namespace") == NODE_LEASE_NAMESPACE:
            self.queue.add(md["name"])

    def _pod_added(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self.queue.add(node)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        node = (cur.get("spec") or {}).get("nodeName")
        if node and node != (old.get("spec") or {}).get("nodeName"):
            self.queue.add(node)

    # --- health -----------------------------------------------------------------------------------
    def _observe(self, node: Obj, now: float) -> tuple[_Health, float]:
        """Update when we last saw a heartbeat (``tryUpdateNodeHealth``); returns it and the grace period."""
        md = node.get("metadata") or {}
        ready = condition(node, "Ready")
        heartbeat = ready.get("lastHeartbeatTime") if ready is not None else None
        lease = self.lease_informer.get(f"{NODE_LEASE_NAMESPACE}/{md['name']}")
        renew = (lease.get("spec") or {}).get("renewTime") if lease is not None else None
        grace = self.grace_period if ready is not None else self.startup_grace_period
        health = self._health.get(md["name"])
        if health is None:
            created = parse_time(md.get("creationTimestamp"))
            probe = created if ready is None and created is not None else now
            health = self._health[md["name"]] = _Health(probe, heartbeat, None, ready_status(node))
        elif heartbeat != health.heartbeat:
            health.probe, health.heartbeat = now, heartbeat
        if renew is not None and renew != health.renew:
            health.probe, health.renew = now, renew
        return health, grace

    async def _mark_unknown(self, node: Obj, now: float) -> Obj:
        """Conditions the kubelet stopped posting become Unknown; returns the node as written."""
        updated = copy.deepcopy(node)
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        changed = False
        for type_ in MONITORED_CONDITIONS:
            c = condition(updated, type_)
            if c is None:
                conditions.append({"type": type_, "status": "Unknown", "lastHeartbeatTime":
                                   updated["metadata"].get("creationTimestamp"), "lastTransitionTime": format_time(now),
                                   "reason": "NodeStatusNeverUpdated", "message": "Kubelet never posted node status."})
                changed = True
            elif c.get("status") != "Unknown":
                c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                         lastTransitionTime=format_time(now))
                changed = True
        if not changed:
            return node
        log.info("node %s stopped posting status; marking its conditions Unknown", node["metadata"]["name"])
        return await self.client.replace(NODES, updated, subresource="status")

    # --- zones ------------------------------------------------------------------------------------
    def _refresh_zones(self, now: float, changed: Obj | None = None) -> None:
        """Zone states from every node's Ready condition, at most once per monitor period (or when
        ``changed``, a node just written, turned its Ready condition)."""
        if changed is None and now - self._zones_at < self.monitor_period:
            return
        self._zones_at = now
        counts: dict[str, list[int]] = {}
        for node in self.node_informer.list():
            name = node["metadata"]["name"]
            if changed is not None and name == changed["metadata"]["name"]:
                node = changed
            if EXCLUDE_DISRUPTION_LABEL in ((node.get("metadata") or {}).get("labels") or {}):
                continue
            c = counts.setdefault(zone_key(node), [0, 0])
            c[0 if ready_status(node) == "True" else 1] += 1
        self._zones = {z: (zone_state(r, n), r + n) for z, (r, n) in counts.items()}
        all_disrupted = bool(self._zones) and all(s == FULL_DISRUPTION for s, _ in self._zones.values())
        if all_disrupted != self._all_disrupted:
            log.info("%s", "Controller detected that all Nodes are not-Ready. Entering master disruption mode"
                     if all_disrupted else "Controller detected that some Nodes are Ready. Exiting master disruption mode")
            self._all_disrupted = all_disrupted
            for other in self.node_informer.list():
                self.enqueue(other)

    def _may_add_no_execute(self, node: Obj) -> bool:
        state, size = self._zones.get(zone_key(node), (NORMAL_ZONE, 0))
        return not (state == PARTIAL_DISRUPTION and size <= LARGE_CLUSTER_THRESHOLD)

    # --- sync -------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        node = self.node_informer.get(key)
        if node is None:
            gone = self._known.pop(key, None)
            self._health.pop(key, None)
            self._retry.discard(key)
            if gone is not None:
                self.recorder.record(gone, NORMAL, "RemovingNode", f"Node {key} event: Removing Node {key} from Controller")
            return
        if key not in self._known:
            self.recorder.record(node, NORMAL, "RegisteredNode", f"Node {key} event: Registered Node {key} in Controller")
        self._known[key] = {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": key, "uid": (node.get("metadata") or {}).get("uid", "")}}
        now = self.clock()
        health, grace = self._observe(node, now)
        before = health.ready
        if now > health.probe + grace:
            node = await self._mark_unknown(node, now)
        else:
            self.queue.add_after(key, health.probe + grace - now + 0.001)
        status = ready_status(node)
        self._refresh_zones(now, node if status != before else None)
        if status != "True" and before == "True":
            self.recorder.record(node, NORMAL, "NodeNotReady", f"Node {key} status is now: NodeNotReady")
        health.ready = status
        if status == "Unknown" or (status == "False" and (before == "True" or key in self._retry)):
            self._retry.add(key)  # until every pod is marked (``nodesToRetry``)
            await self._mark_pods_not_ready(key, now)
        self._retry.discard(key)
        await self._reconcile_taints(node, status, now)

    async def _mark_pods_not_ready(self, node_name: str, now: float) -> None:
        """``MarkPodsNotReady``: the Ready condition of the node's pods turns False."""
        for pod in pods_on(self.pod_informer, node_name):
            cond = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
            if cond is None or cond.get("status") == "False":
                continue
            updated = copy.deepcopy(pod)
            for c in updated["status"]["conditions"]:
                if c.get("type") == "Ready":
                    c.update(status="False", lastTransitionTime=format_time(now))
            md = pod.get("metadata") or {}
            try:
                await self.client.replace(PODS, updated, md.get("namespace"), subresource="status")
            except NotFoundError:
                continue
            self.recorder.record(pod, WARNING, "NodeNotReady", "Node is not ready")

    def desired_taints(self, node: Obj, status: str, now: float) -> list[dict[str, Any]]:
        """The node's taints after the NoSchedule pass (conditions) and the NoExecute pass (Ready)."""
        spec = node.get("spec") or {}
        taints = [dict(t) for t in spec.get("taints") or []]
        wanted = {key for c in (node.get("status") or {}).get("conditions") or []
                  if (key := CONDITION_TAINTS.get((c.get("type"), c.get("status")))) is not None}
        if spec.get("unschedulable"):
            wanted.add(UNSCHEDULABLE)
        taints = [t for t in taints if not (t.get("effect") == "NoSchedule" and t.get("key") in _MANAGED_NO_SCHEDULE
                                            and t.get("key") not in wanted)]
        have = {t.get("key") for t in taints if t.get("effect") == "NoSchedule"}
        taints += [{"key": k, "effect": "NoSchedule"} for k in sorted(wanted - have)]
        if condition(node, "Ready") is None:
            return taints  # NoExecute taints wait for a Ready condition (as Kubernetes' tainting pass does)
        no_execute = {"False": NOT_READY, "Unknown": UNREACHABLE}.get(status)
        present = {t.get("key") for t in taints if t.get("effect") == "NoExecute"} & {NOT_READY, UNREACHABLE}
        if self._all_disrupted:
            no_execute = None
        elif no_execute is not None and not present and not self._may_add_no_execute(node):
            return taints  # this zone is mostly down: hold new NoExecute taints (Kubernetes' eviction rate 0)
        taints = [t for t in taints if not (t.get("effect") == "NoExecute" and t.get("key") in (NOT_READY, UNREACHABLE)
                                            and t.get("key") != no_execute)]
        if no_execute is not None and no_execute not in present:
            taints.append({"key": no_execute, "effect": "NoExecute", "timeAdded": format_time(now)})
        return taints

    async def _reconcile_taints(self, node: Obj, status: str, now: float) -> None:
        current = list((node.get("spec") or {}).get("taints") or [])
        taints = self.desired_taints(node, status, now)
        if taints == current:
            return
        md = node.get("metadata") or {}
        log.info("node %s: taints %s", md.get("name"), [f"{t.get('key')}:{t.get('effect')}" for t in taints])
        patch = {"metadata": {"resourceVersion": md.get("resourceVersion")}, "spec": {"taints": taints or None}}
        await self.client.patch(NODES, md["name"], patch)


def pods_on(pod_informer: Informer, node_name: str) -> list[Obj]:
    """The pods bound to ``node_name``, from an informer carrying the ``spec.nodeName`` index."""
    return cast("list[Obj]", pod_informer.by_index(NODE_NAME_INDEX, node_name))


def node_name_index(pod: Obj) -> list[str]:
    """Index function: pods by ``spec.nodeName`` (unassigned pods are not indexed)."""
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []
