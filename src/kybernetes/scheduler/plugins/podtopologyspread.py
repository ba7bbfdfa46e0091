"""PodTopologySpread (PreFilter, Filter, PreScore, Score): ``topologySpreadConstraints``.
DoNotSchedule constraints filter (matching pods per domain + self - global minimum <= maxSkew, with
minDomains, nodeAffinityPolicy, nodeTaintsPolicy and matchLabelKeys); ScheduleAnyway constraints
score. No system default constraints. Upstream: plugins/podtopologyspread."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kybernetes.api.nodeselection import (
    RequiredNodeAffinity,
    do_not_schedule,
    find_untolerated_taint,
)
from kybernetes.api.selectors import LabelSelector, Requirement, selector_from_label_selector
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
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
LABEL_HOSTNAME = "kubernetes.io/hostname"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    honor_affinity: bool = True  # nodeAffinityPolicy: Honor (default)
    honor_taints: bool = False  # nodeTaintsPolicy: Ignore (default)

    def includes(self, pod: PodInfo, node: NodeInfo, affinity: RequiredNodeAffinity) -> bool:
        if self.honor_affinity and not affinity.matches(node.labels, node.name):
            return False
        return not (self.honor_taints and node.taints
                    and find_untolerated_taint(node.taints, pod.tolerations, do_not_schedule) is not None)


def constraints(pod: PodInfo, action: str) -> list[Constraint]:
    out = []
    for c in pod.spec.get("topologySpreadConstraints") or []:
        if c.get("whenUnsatisfiable") != action:
            continue
        sel = selector_from_label_selector(c.get("labelSelector")) or LabelSelector((Requirement("", "in", ()),))
        extra = tuple(Requirement(k, "in", (pod.labels[k],)) for k in c.get("matchLabelKeys") or []
                      if k in pod.labels)
        if extra:
            sel = LabelSelector(sel.requirements + extra)
        out.append(Constraint(int(c.get("maxSkew") or 1), c.get("topologyKey", ""), sel,
                              int(c.get("minDomains") or 1), c.get("nodeAffinityPolicy", "Honor") != "Ignore",
                              c.get("nodeTaintsPolicy", "Ignore") == "Honor"))
    return out


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str) -> int:
    return sum(1 for p in node.pods.values()
               if p.namespace == namespace and not p.terminating and selector.matches(p.labels))


def _has_all_keys(labels: dict[str, str], cs: list[Constraint]) -> bool:
    return all(c.topology_key in labels for c in cs)


class _FilterState:
    __slots__ = ("affinity", "constraints", "match_num", "mins")

    def __init__(self, cs: list[Constraint], affinity: RequiredNodeAffinity) -> None:
        self.constraints = cs
        self.affinity = affinity
        self.match_num: dict[Pair, int] = {}
        self.mins: dict[str, tuple[int, int]] = {}  # key → (min matching, number of domains)

    def recompute(self) -> None:
        per_key: dict[str, list[int]] = {c.topology_key: [] for c in self.constraints}
        for (key, _), n in self.match_num.items():
            per_key.setdefault(key, []).append(n)
        self.mins = {k: (min(v) if v else 0, len(v)) for k, v in per_key.items()}

    def clone(self) -> _FilterState:
        c = _FilterState(self.constraints, self.affinity)
        c.match_num = dict(self.match_num)
        c.mins = dict(self.mins)
        return c

    def update(self, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        if other.namespace != pod.namespace or not _has_all_keys(node.labels, self.constraints):
            return
        for c in self.constraints:
            if c.includes(pod, node, self.affinity) and c.selector.matches(other.labels):
                pair = (c.topology_key, node.labels[c.topology_key])
                self.match_num[pair] = self.match_num.get(pair, 0) + delta
        self.recompute()


class _ScoreState:
    __slots__ = ("constraints", "counts", "ignored", "weights")

    def __init__(self, cs: list[Constraint]) -> None:
        self.constraints = cs
        self.ignored: set[str] = set()
        self.counts: dict[Pair, int] = {}
        self.weights: list[float] = []


class PodTopologySpread:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        cs = constraints(pod, "DoNotSchedule")
        if not cs:
            return None, SKIP
        s = _FilterState(cs, RequiredNodeAffinity(pod.spec))
        for ni in self.handle.snapshot().list():
            if not _has_all_keys(ni.labels, cs):
                continue
            for c in cs:
                if c.includes(pod, ni, s.affinity):
                    pair = (c.topology_key, ni.labels[c.topology_key])
                    s.match_num[pair] = s.match_num.get(pair, 0) + count_matching(ni, c.selector, pod.namespace)
        s.recompute()
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is not None:
            s.update(pod, added, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is not None:
            s.update(pod, removed, node, -1)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is None:
            return None
        for c in s.constraints:
            tv = node.labels.get(c.topology_key)
            if tv is None:
                return Status.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
            min_match, domains = s.mins.get(c.topology_key, (0, 0))
            if domains < c.min_domains:
                min_match = 0
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = s.match_num.get((c.topology_key, tv), 0) + self_match - min_match
            if skew > c.max_skew:
                return Status.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        cs = constraints(pod, "ScheduleAnyway")
        if not cs or not nodes:
            return SKIP
        s = _ScoreState(cs)
        sizes = [0] * len(cs)
        for ni in nodes:
            if not _has_all_keys(ni.labels, cs):
                s.ignored.add(ni.name)
                continue
            for i, c in enumerate(cs):
                if c.topology_key == LABEL_HOSTNAME:
                    continue
                pair = (c.topology_key, ni.labels[c.topology_key])
                if pair not in s.counts:
                    s.counts[pair] = 0
                    sizes[i] += 1
        for i, c in enumerate(cs):
            size = len(nodes) - len(s.ignored) if c.topology_key == LABEL_HOSTNAME else sizes[i]
            s.weights.append(math.log(size + 2))
        affinity = RequiredNodeAffinity(pod.spec)
        for ni in self.handle.snapshot().list():
            if not _has_all_keys(ni.labels, cs):
                continue
            for c in cs:
                pair = (c.topology_key, ni.labels[c.topology_key])
                if pair in s.counts and c.includes(pod, ni, affinity):
                    s.counts[pair] += count_matching(ni, c.selector, pod.namespace)
        state.write(_PRE_SCORE_KEY, s)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _ScoreState = state.read(_PRE_SCORE_KEY)
        if s is None or node.name in s.ignored:
            return 0
        total = 0.0
        for i, c in enumerate(s.constraints):
            tv = node.labels.get(c.topology_key)
            if tv is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                cnt = count_matching(node, c.selector, pod.namespace)
            else:
                cnt = s.counts.get((c.topology_key, tv), 0)
            total += cnt * s.weights[i] + (c.max_skew - 1)
        return math.floor(total + 0.5)

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        s: _ScoreState | None = state.read(_PRE_SCORE_KEY)
        ignored = s.ignored if s is not None else set()
        valid = [sc for n, sc in zip(nodes, scores, strict=True) if n.name not in ignored]
        lo, hi = min(valid, default=0), max(valid, default=0)
        for i, n in enumerate(nodes):
            if n.name in ignored:
                scores[i] = 0
            elif hi == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (hi + lo - scores[i]) // hi

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                ClusterEvent(NODE, ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL
                             | ActionType.UPDATE_NODE_TAINT)]


def new(args: dict[str, Any] | None, handle: Handle) -> PodTopologySpread:
    return PodTopologySpread(handle)
