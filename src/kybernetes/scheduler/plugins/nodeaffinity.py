"""NodeAffinity (PreFilter, Filter, PreScore, Score): ``spec.nodeSelector`` and required node affinity
must match the node's labels (``matchFields`` on ``metadata.name`` narrow the candidate nodes up
front); preferred terms add their weights to the score. Upstream: plugins/nodeaffinity."""

from __future__ import annotations

from typing import Any

from kybernetes.api.nodeselection import RequiredNodeAffinity, preferred_node_affinity, term_matches
from kybernetes.scheduler.framework import (
    NODE,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    Handle,
    PreFilterResult,
    Status,
    default_normalize_score,
)
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_REJECT = Status.unresolvable(ERR_REASON_POD)
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME


def _node_names_from_fields(required: dict[str, Any] | None) -> set[str] | None:
    """Node names every required term pins through ``matchFields metadata.name In``; None: no pin."""
    if required is None:
        return None
    names: set[str] = set()
    for term in required.get("nodeSelectorTerms") or []:
        pinned: set[str] | None = None
        for r in term.get("matchFields") or []:
            if r.get("key") == "metadata.name" and r.get("operator") == "In":
                vals = set(r.get("values") or [])
                pinned = vals if pinned is None else pinned & vals
        if pinned is None:
            return None  # this term can match any node name
        names |= pinned
    return names


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        req = RequiredNodeAffinity(pod.spec)
        if req.empty:
            return None, SKIP
        state.write(_PRE_FILTER_KEY, req)
        names = _node_names_from_fields(req.required)
        return (PreFilterResult(names) if names is not None else None), None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        req: RequiredNodeAffinity | None = state.read(_PRE_FILTER_KEY)
        if req is None:
            req = RequiredNodeAffinity(pod.spec)
        return None if req.matches(node.labels, node.name) else _REJECT

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        preferred = preferred_node_affinity(pod.spec)
        if not preferred:
            return SKIP
        state.write(_PRE_SCORE_KEY, preferred)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        preferred: list[tuple[int, dict[str, Any]]] = state.read(_PRE_SCORE_KEY) or preferred_node_affinity(pod.spec)
        return sum(w for w, term in preferred if term_matches(term, node.labels, node.name))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores, reverse=False)

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]


def new(args: dict[str, Any] | None, handle: Handle) -> NodeAffinity:
    return NodeAffinity()
