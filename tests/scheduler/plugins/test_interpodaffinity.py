"""InterPodAffinity: required affinity / anti-affinity, existing pods' anti-affinity, preferred scoring."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.framework import Code, CycleState
from kybernetes.scheduler.nodeinfo import PodInfo
from kybernetes.scheduler.plugins import interpodaffinity
from tests.scheduler.fixtures import cache_with, framework, node, pod, reasons

AFFINITY = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
ZONE = "topology.kubernetes.io/zone"


def term(labels, key=ZONE, **extra):
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def affinity(kind, *terms):
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


NODES = [node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"}),
         node("nozone")]


def filter_all(p, existing):
    c = cache_with(NODES, existing)
    pl = interpodaffinity.InterPodAffinity(None, framework(c))
    state = CycleState()
    pi = PodInfo(p)
    _, st = pl.pre_filter(state, pi)
    if st is not None and st.code == Code.SKIP:
        return {n["metadata"]["name"]: () for n in NODES}
    return {ni.name: reasons(pl.filter(state, pi, ni)) for ni in c.list()}


def test_required_affinity_follows_matching_pods_zone():
    got = filter_all(pod("new", affinity=affinity("podAffinity", term({"app": "db"}))),
                     [pod("db", labels={"app": "db"}, node_name="b1")])
    assert got == {"a1": (AFFINITY,), "a2": (AFFINITY,), "b1": (), "nozone": (AFFINITY,)}


def test_required_affinity_first_pod_of_a_self_affine_group_may_go_anywhere_with_the_key():
    got = filter_all(pod("web-0", labels={"app": "web"}, affinity=affinity("podAffinity", term({"app": "web"}))), [])
    assert got == {"a1": (), "a2": (), "b1": (), "nozone": (AFFINITY,)}


def test_required_anti_affinity_avoids_zone_of_matching_pods():
    got = filter_all(pod("new", affinity=affinity("podAntiAffinity", term({"app": "web"}))),
                     [pod("w", labels={"app": "web"}, node_name="a2")])
    assert got == {"a1": (ANTI,), "a2": (ANTI,), "b1": (), "nozone": ()}


def test_anti_affinity_ignores_other_namespaces_unless_listed():
    existing = [pod("w", namespace="other", labels={"app": "web"}, node_name="a2")]
    assert filter_all(pod("new", affinity=affinity("podAntiAffinity", term({"app": "web"}))), existing)["a1"] == ()
    listed = affinity("podAntiAffinity", term({"app": "web"}, namespaces=["other"]))
    assert filter_all(pod("new", affinity=listed), existing)["a1"] == (ANTI,)


def test_existing_pods_anti_affinity_is_respected():
    existing = [pod("lonely", node_name="b1", affinity=affinity(
        "podAntiAffinity", term({"app": "web"}, key="kubernetes.io/hostname")))]
    got = filter_all(pod("new", labels={"app": "web"}), existing)
    assert got == {"a1": (), "a2": (), "b1": (EXISTING_ANTI,), "nozone": ()}


def test_skip_without_any_affinity():
    pl = interpodaffinity.InterPodAffinity(None, framework(cache_with(NODES)))
    _, st = pl.pre_filter(CycleState(), PodInfo(pod("plain")))
    assert st is not None and st.code == Code.SKIP


def test_statuses_codes():
    c = cache_with(NODES, [pod("w", labels={"app": "web"}, node_name="a1")])
    pl = interpodaffinity.InterPodAffinity(None, framework(c))
    for spec, code in ((affinity("podAffinity", term({"app": "db"})), Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
                       (affinity("podAntiAffinity", term({"app": "web"})), Code.UNSCHEDULABLE)):
        state, pi = CycleState(), PodInfo(pod("n", affinity=spec))
        pl.pre_filter(state, pi)
        st = pl.filter(state, pi, c.get("a1"))
        assert st is not None and st.code == code


@pytest.mark.parametrize(("kind", "want"), [("podAffinity", {"a1": 100, "a2": 100, "b1": 0, "nozone": 0}),
                                            ("podAntiAffinity", {"a1": 0, "a2": 0, "b1": 100, "nozone": 100})])
def test_preferred_scoring(kind, want):
    c = cache_with(NODES, [pod("db", labels={"app": "db"}, node_name="a1")])
    pl = interpodaffinity.InterPodAffinity(None, framework(c))
    p = PodInfo(pod("new", affinity={kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 5, "podAffinityTerm": term({"app": "db"})}]}}))
    nodes = c.list()
    state = CycleState()
    assert pl.pre_score(state, p, nodes) is None
    scores = [pl.score(state, p, n) for n in nodes]
    pl.normalize_score(state, p, nodes, scores)
    assert dict(zip([n.name for n in nodes], scores, strict=True)) == want


def test_existing_pods_required_affinity_attracts_matching_pods():
    c = cache_with(NODES, [pod("follower", node_name="b1", affinity=affinity("podAffinity", term({"app": "leader"})))])
    pl = interpodaffinity.InterPodAffinity(None, framework(c))
    p = PodInfo(pod("leader", labels={"app": "leader"}))
    state = CycleState()
    assert pl.pre_score(state, p, c.list()) is None
    assert {n.name: pl.score(state, p, n) for n in c.list()} == {"a1": 0, "a2": 0, "b1": 1, "nozone": 0}


def test_add_and_remove_pod_keep_counts_in_step():
    c = cache_with(NODES)
    pl = interpodaffinity.InterPodAffinity(None, framework(c))
    state = CycleState()
    p = PodInfo(pod("new", affinity=affinity("podAntiAffinity", term({"app": "web"}))))
    pl.pre_filter(state, p)
    a1 = c.get("a1")
    assert pl.filter(state, p, a1) is None
    web = PodInfo(pod("w", labels={"app": "web"}, node_name="a2"))
    pl.add_pod(state, p, web, c.get("a2"))
    assert reasons(pl.filter(state, p, a1)) == (ANTI,)
    pl.remove_pod(state, p, web, c.get("a2"))
    assert pl.filter(state, p, a1) is None
