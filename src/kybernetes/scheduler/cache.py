"""The scheduler cache: every node's ``NodeInfo`` with the pods bound to it, plus *assumed* pods —
placed by a scheduling cycle but not yet seen bound through the informer — so a burst of pods
never overcommits a node while bindings are in flight.

The scheduler's event handlers feed it (assigned pods, nodes); a scheduling cycle reads it as its
snapshot. A cycle runs without yielding to the event loop, so the live cache *is* a consistent
snapshot for its duration: no per-cycle copying. Upstream: pkg/scheduler/backend/cache.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

log = logging.getLogger(__name__)

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


@dataclass(slots=True)
class _PodState:
    info: PodInfo
    node: str
    assumed: bool
    binding_finished: bool = False


def _zone_of(labels: dict[str, str]) -> str:
    region = next((labels[k] for k in REGION_LABELS if k in labels), "")
    zone = next((labels[k] for k in ZONE_LABELS if k in labels), "")
    return f"{region}:\x00:{zone}" if region or zone else ""


class Cache:
    """Nodes and pods as the scheduler sees them; also the ``SharedLister`` plugins read."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self._ordered: list[NodeInfo] | None = None
        self._with_affinity: dict[str, NodeInfo] = {}
        self._with_anti_affinity: dict[str, NodeInfo] = {}
        self._image_nodes: dict[str, int] = {}
        self._zones: dict[str, str] = {}
        self.prefer_no_schedule_nodes = 0  # nodes carrying a PreferNoSchedule taint (TaintToleration scoring)

    # --- SharedLister -------------------------------------------------------------------------------
    def list(self) -> list[NodeInfo]:
        """Nodes in upstream's node-tree order: zones interleaved, insertion order within a zone."""
        if self._ordered is None:
            zones: dict[str, list[NodeInfo]] = {}
            for ni in self._nodes.values():
                if ni.node:
                    zones.setdefault(_zone_of(ni.labels), []).append(ni)
            ordered: list[NodeInfo] = []
            lists = list(zones.values())
            for i in range(max((len(z) for z in lists), default=0)):
                ordered.extend(z[i] for z in lists if i < len(z))
            self._ordered = ordered
        return self._ordered

    def get(self, name: str) -> NodeInfo | None:
        ni = self._nodes.get(name)
        return ni if ni is not None and ni.node else None

    def have_pods_with_affinity(self) -> builtins.list[NodeInfo]:
        return [ni for ni in self._with_affinity.values() if ni.node]

    def have_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]:
        return [ni for ni in self._with_anti_affinity.values() if ni.node]

    def image_num_nodes(self, image: str) -> int:
        return self._image_nodes.get(image, 0)

    @property
    def node_count(self) -> int:
        return len(self.list())

    # --- nodes --------------------------------------------------------------------------------------
    def add_node(self, node: dict[str, Any]) -> NodeInfo:
        name = node["metadata"]["name"]
        ni = self._nodes.get(name)
        if ni is None:
            ni = self._nodes[name] = NodeInfo()
        was_listed = bool(ni.node)
        self._images(ni, -1)
        self._prefer(ni, -1)
        ni.set_node(node)
        self._images(ni, 1)
        self._prefer(ni, 1)
        zone = _zone_of(ni.labels)
        if not was_listed or self._zones.get(name) != zone:
            self._zones[name] = zone
            self._ordered = None
        return ni

    update_node = add_node

    def remove_node(self, name: str) -> None:
        ni = self._nodes.get(name)
        if ni is None:
            return
        self._images(ni, -1)
        self._prefer(ni, -1)
        self._zones.pop(name, None)
        if ni.pods:  # pods still bound there: keep a placeholder until they go (as upstream does)
            ni.node = {}
        else:
            del self._nodes[name]
            self._with_affinity.pop(name, None)
            self._with_anti_affinity.pop(name, None)
        self._ordered = None

    def _images(self, ni: NodeInfo, sign: int) -> None:
        if not ni.node:
            return
        for image in ni.image_sizes:
            n = self._image_nodes.get(image, 0) + sign
            if n > 0:
                self._image_nodes[image] = n
            else:
                self._image_nodes.pop(image, None)

    def _prefer(self, ni: NodeInfo, sign: int) -> None:
        if ni.node and any(t.get("effect") == "PreferNoSchedule" for t in ni.taints):
            self.prefer_no_schedule_nodes += sign

    # --- pods ---------------------------------------------------------------------------------------
    def _place(self, pi: PodInfo, node: str) -> None:
        ni = self._nodes.get(node)
        if ni is None:
            ni = self._nodes[node] = NodeInfo()
            ni.name = node  # placeholder until the node itself is seen
        ni.add_pod(pi)
        self._track(ni)

    def _unplace(self, key: str, node: str) -> None:
        ni = self._nodes.get(node)
        if ni is None:
            return
        ni.remove_pod(key)
        self._track(ni)
        if not ni.node and not ni.pods:
            del self._nodes[node]

    def _track(self, ni: NodeInfo) -> None:
        if ni.pods_with_affinity:
            self._with_affinity[ni.name] = ni
        else:
            self._with_affinity.pop(ni.name, None)
        if ni.pods_with_required_anti_affinity:
            self._with_anti_affinity[ni.name] = ni
        else:
            self._with_anti_affinity.pop(ni.name, None)

    def assume_pod(self, pi: PodInfo, node: str) -> None:
        """Account ``pi`` on ``node`` before the binding is observed."""
        if pi.key in self._pods:
            raise ValueError(f"pod {pi.key} is already in the cache, so can't be assumed")
        self._pods[pi.key] = _PodState(pi, node, assumed=True)
        self._place(pi, node)

    def finish_binding(self, key: str) -> None:
        st = self._pods.get(key)
        if st is not None and st.assumed:
            st.binding_finished = True

    def forget_pod(self, key: str) -> None:
        """Undo ``assume_pod`` after a failed reserve/permit/bind."""
        st = self._pods.get(key)
        if st is not None and st.assumed:
            del self._pods[key]
            self._unplace(key, st.node)

    def is_assumed(self, key: str) -> bool:
        st = self._pods.get(key)
        return st is not None and st.assumed

    def add_pod(self, pod: dict[str, Any]) -> None:
        """An assigned pod seen through the informer (confirms an assumed one)."""
        md = pod.get("metadata") or {}
        key = f"{md.get('namespace', '')}/{md.get('name', '')}"
        st = self._pods.get(key)
        if st is not None and st.assumed and st.info.uid == md.get("uid") and \
                st.node == (pod.get("spec") or {}).get("nodeName") and st.info.labels == (md.get("labels") or {}) \
                and not md.get("deletionTimestamp"):
            st.info.pod = pod  # the binding we made: the assumed PodInfo is already right
            st.assumed = False
            return
        pi = PodInfo(pod)
        if st is not None:
            self._unplace(pi.key, st.node)
        self._pods[pi.key] = _PodState(pi, pi.node_name, assumed=False)
        self._place(pi, pi.node_name)

    def update_pod(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """A status-only change (the kubelet reporting) keeps the derived PodInfo; anything else redoes it."""
        md = new.get("metadata") or {}
        st = self._pods.get(f"{md.get('namespace', '')}/{md.get('name', '')}")
        if st is not None and not st.assumed and _same_shape(old, new):
            st.info.pod = new
            return
        self.add_pod(new)

    def remove_pod(self, pod: dict[str, Any]) -> None:
        md = pod.get("metadata") or {}
        key = f"{md.get('namespace', '')}/{md.get('name', '')}"
        st = self._pods.pop(key, None)
        if st is not None:
            self._unplace(key, st.node)

    def pod_count(self) -> int:
        return len(self._pods)

    def pod_node(self, key: str) -> str | None:
        st = self._pods.get(key)
        return st.node if st is not None else None

    def get_pod(self, key: str) -> PodInfo | None:
        st = self._pods.get(key)
        return st.info if st is not None else None



def _same_shape(old: dict[str, Any], new: dict[str, Any]) -> bool:
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (om.get("uid") == nm.get("uid") and om.get("labels") == nm.get("labels")
            and om.get("deletionTimestamp") == nm.get("deletionTimestamp") and old.get("spec") == new.get("spec"))
