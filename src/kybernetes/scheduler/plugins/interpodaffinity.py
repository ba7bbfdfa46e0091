"""InterPodAffinity (PreFilter, Filter, PreScore, Score): required pod affinity / anti-affinity of the
incoming pod, the required anti-affinity of pods already running, and preferred terms (plus existing
pods' required affinity at ``hardPodAffinityWeight``) as scores, all by topology domain.
Upstream: plugins/interpodaffinity (filtering.go, scoring.go)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE,
    POD,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    Handle,
    PreFilterResult,
    Status,
)
from kybernetes.scheduler.nodeinfo import AffinityTerm, NodeInfo, PodInfo, WeightedTerm

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]


def _update(counts: Counter[Pair], node: NodeInfo, key: str, value: int) -> None:
    tv = node.labels.get(key)
    if tv is None:
        return
    pair = (key, tv)
    counts[pair] += value
    if counts[pair] == 0:
        del counts[pair]


def _matches_all(terms: tuple[AffinityTerm, ...], pod: PodInfo, ns_labels: dict[str, str] | None) -> bool:
    return all(t.matches(pod, ns_labels) for t in terms)


class _FilterState:
    __slots__ = ("affinity", "anti_affinity", "existing_anti", "handle", "ns_labels", "pod")

    def __init__(self, pod: PodInfo, handle: Handle) -> None:
        self.pod = pod
        self.handle = handle
        self.ns_labels = handle.namespace_labels(pod.namespace)
        self.existing_anti: Counter[Pair] = Counter()
        self.affinity: Counter[Pair] = Counter()
        self.anti_affinity: Counter[Pair] = Counter()

    def clone(self) -> _FilterState:
        c = _FilterState.__new__(_FilterState)
        c.pod, c.handle, c.ns_labels = self.pod, self.handle, self.ns_labels
        c.existing_anti, c.affinity = Counter(self.existing_anti), Counter(self.affinity)
        c.anti_affinity = Counter(self.anti_affinity)
        return c

    def update_with_pod(self, other: PodInfo, node: NodeInfo, sign: int) -> None:
        for t in other.required_anti_affinity:
            if t.matches(self.pod, self.ns_labels):
                _update(self.existing_anti, node, t.topology_key, sign)
        self._count_incoming(other, node, sign)

    def _count_incoming(self, other: PodInfo, node: NodeInfo, sign: int) -> None:
        pod = self.pod
        needs_ns = any(t.namespace_selector is not None for t in (*pod.required_affinity, *pod.required_anti_affinity))
        other_ns = self.handle.namespace_labels(other.namespace) if needs_ns else None
        if pod.required_affinity and _matches_all(pod.required_affinity, other, other_ns):
            for t in pod.required_affinity:
                _update(self.affinity, node, t.topology_key, sign)
        for t in pod.required_anti_affinity:
            if t.matches(other, other_ns):
                _update(self.anti_affinity, node, t.topology_key, sign)


class InterPodAffinity:
    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Handle) -> None:
        self.handle = handle
        self.hard_pod_affinity_weight = int((args or {}).get("hardPodAffinityWeight", 1))

    # --- filtering ----------------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        snap = self.handle.snapshot()
        s = _FilterState(pod, self.handle)
        for ni in snap.have_pods_with_required_anti_affinity():
            for other in ni.pods_with_required_anti_affinity.values():
                for t in other.required_anti_affinity:
                    if t.matches(pod, s.ns_labels):
                        _update(s.existing_anti, ni, t.topology_key, 1)
        if pod.required_affinity or pod.required_anti_affinity:
            for ni in snap.list():
                for other in ni.pods.values():
                    s._count_incoming(other, ni, 1)
        elif not s.existing_anti:
            return None, SKIP
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(added, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(removed, node, -1)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is None:
            return None
        labels = node.labels
        if pod.required_affinity:
            exist = True
            for t in pod.required_affinity:
                tv = labels.get(t.topology_key)
                if tv is None:
                    return Status.unresolvable(ERR_REASON_AFFINITY)
                if s.affinity.get((t.topology_key, tv), 0) <= 0:
                    exist = False
            if not exist and not (not s.affinity and _matches_all(pod.required_affinity, pod, None)):
                return Status.unresolvable(ERR_REASON_AFFINITY)
        for t in pod.required_anti_affinity:
            tv = labels.get(t.topology_key)
            if tv is not None and s.anti_affinity.get((t.topology_key, tv), 0) > 0:
                return Status.unschedulable(ERR_REASON_ANTI_AFFINITY)
        for (key, value), n in s.existing_anti.items():
            if n > 0 and labels.get(key) == value:
                return Status.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
        return None

    # --- scoring ------------------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        snap = self.handle.snapshot()
        has_constraints = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        candidates = snap.list() if has_constraints else snap.have_pods_with_affinity()
        if not nodes or not candidates:
            return SKIP
        ns_labels = self.handle.namespace_labels(pod.namespace)
        scores: dict[str, Counter[str]] = {}
        for ni in candidates:
            if not ni.labels:
                continue
            others = ni.pods if has_constraints else ni.pods_with_affinity
            for other in others.values():
                self._process_existing(scores, pod, ns_labels, other, ni)
        if not any(scores.values()):
            return SKIP
        state.write(_PRE_SCORE_KEY, scores)
        return None

    def _process_existing(self, scores: dict[str, Counter[str]], pod: PodInfo, ns_labels: dict[str, str],
                          other: PodInfo, node: NodeInfo) -> None:
        other_ns: dict[str, str] | None = None
        if any(w.term.namespace_selector is not None for w in (*pod.preferred_affinity, *pod.preferred_anti_affinity)):
            other_ns = self.handle.namespace_labels(other.namespace)
        _terms(scores, pod.preferred_affinity, other, other_ns, node, 1)
        _terms(scores, pod.preferred_anti_affinity, other, other_ns, node, -1)
        if self.hard_pod_affinity_weight > 0:
            for t in other.required_affinity:
                _term(scores, t, self.hard_pod_affinity_weight, pod, ns_labels, node)
        _terms(scores, other.preferred_affinity, pod, ns_labels, node, 1)
        _terms(scores, other.preferred_anti_affinity, pod, ns_labels, node, -1)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: dict[str, Counter[str]] = state.read(_PRE_SCORE_KEY) or {}
        total = 0
        for key, values in scores.items():
            tv = node.labels.get(key)
            if tv is not None:
                total += values.get(tv, 0)
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        if not scores:
            return
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * ((s - lo) / diff)) if diff > 0 else 0

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]


def _term(scores: dict[str, Counter[str]], t: AffinityTerm, weight: int, pod: PodInfo,
          ns_labels: dict[str, str] | None, node: NodeInfo) -> None:
    tv = node.labels.get(t.topology_key)
    if tv is not None and t.matches(pod, ns_labels):
        scores.setdefault(t.topology_key, Counter())[tv] += weight


def _terms(scores: dict[str, Counter[str]], terms: tuple[WeightedTerm, ...], pod: PodInfo,
           ns_labels: dict[str, str] | None, node: NodeInfo, multiplier: int) -> None:
    for w in terms:
        _term(scores, w.term, w.weight * multiplier, pod, ns_labels, node)


def new(args: dict[str, Any] | None, handle: Handle) -> InterPodAffinity:
    return InterPodAffinity(args, handle)
