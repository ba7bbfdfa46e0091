"""Which nodes a pod may use: tolerations against taints (``v1helper.TolerationsTolerateTaint``) and
node selectors / required node affinity (``nodeaffinity.RequiredNodeAffinity``).

Shared by the scheduler's plugins and by the controllers that place or evict pods themselves
(DaemonSet, taint eviction), so all three agree on one reading of the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]


def toleration_tolerates(t: Obj, taint: Obj) -> bool:
    effect = t.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = t.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = t.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (t.get("value") or "") == (taint.get("value") or "")
    return False


def tolerations_tolerate(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(toleration_tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(taints: list[Obj], tolerations: list[Obj],
                           include: Callable[[Obj], bool]) -> Obj | None:
    for taint in taints:
        if include(taint) and not tolerations_tolerate(tolerations, taint):
            return taint
    return None


def do_not_schedule(taint: Obj) -> bool:
    return taint.get("effect") in ("NoSchedule", "NoExecute")


def _requirement_matches(req: Obj, value: str | None) -> bool:
    op = req.get("operator")
    values = req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            v, bound = int(value), int(values[0])
        except ValueError:
            return False
        return v > bound if op == "Gt" else v < bound
    return False


def term_matches(term: Obj, labels: dict[str, str], node_name: str) -> bool:
    """A NodeSelectorTerm: all expressions and fields must hold; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    for r in exprs:
        if not _requirement_matches(r, labels.get(r.get("key", ""))):
            return False
    for r in fields:
        if r.get("key") != "metadata.name" or r.get("operator") not in ("In", "NotIn"):
            return False
        if not _requirement_matches(r, node_name):
            return False
    return True


def node_selector_matches(selector: Obj | None, labels: dict[str, str], node_name: str) -> bool:
    """A NodeSelector: its terms are ORed."""
    if selector is None:
        return True
    return any(term_matches(t, labels, node_name) for t in selector.get("nodeSelectorTerms") or [])


class RequiredNodeAffinity:
    """``spec.nodeSelector`` AND ``requiredDuringSchedulingIgnoredDuringExecution``."""

    __slots__ = ("node_selector", "required")

    def __init__(self, spec: Obj) -> None:
        self.node_selector: dict[str, str] = spec.get("nodeSelector") or {}
        na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        self.required: Obj | None = na.get("requiredDuringSchedulingIgnoredDuringExecution")

    @property
    def empty(self) -> bool:
        return not self.node_selector and self.required is None

    def matches(self, labels: dict[str, str], node_name: str) -> bool:
        for k, v in self.node_selector.items():
            if labels.get(k) != v:
                return False
        return node_selector_matches(self.required, labels, node_name)


def preferred_node_affinity(spec: Obj) -> list[tuple[int, Obj]]:
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return [(int(p.get("weight") or 0), p.get("preference") or {})
            for p in na.get("preferredDuringSchedulingIgnoredDuringExecution") or []
            if int(p.get("weight") or 0) != 0]
