"""PodTopologySpread: DoNotSchedule skew filtering (minDomains, policies, missing labels) and scoring."""

from __future__ import annotations

from kybernetes.scheduler.framework import Code, CycleState
from kybernetes.scheduler.nodeinfo import PodInfo
from kybernetes.scheduler.plugins import podtopologyspread
from tests.scheduler.fixtures import cache_with, framework, node, pod, reasons

ZONE = "topology.kubernetes.io/zone"
SKEW = "node(s) didn't match pod topology spread constraints"
MISSING = "node(s) didn't match pod topology spread constraints (missing required label)"
NODES = [node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"}),
         node("nozone")]


def spread(max_skew=1, key=ZONE, when="DoNotSchedule", **extra):
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}, **extra}


def web(name, node_name="", **kw):
    return pod(name, labels={"app": "web"}, node_name=node_name, **kw)


def filter_all(p, existing, nodes=NODES):
    c = cache_with(nodes, existing)
    pl = podtopologyspread.PodTopologySpread(framework(c))
    state, pi = CycleState(), PodInfo(p)
    _, st = pl.pre_filter(state, pi)
    assert st is None
    return {ni.name: reasons(pl.filter(state, pi, ni)) for ni in c.list()}


def test_skew_filtering():
    got = filter_all(web("new", topologySpreadConstraints=[spread()]), [web("w1", "a1")])
    assert got == {"a1": (SKEW,), "a2": (SKEW,), "b1": (), "nozone": (MISSING,)}


def test_max_skew_two_allows_uneven():
    got = filter_all(web("new", topologySpreadConstraints=[spread(2)]), [web("w1", "a1")])
    assert got["a1"] == () and got["b1"] == ()


def test_min_domains_treats_global_minimum_as_zero():
    # one domain with a pod; minDomains 3 → min is 0 → both zones over skew 1 once they hold a pod
    existing = [web("w1", "a1"), web("w2", "b1")]
    got = filter_all(web("new", topologySpreadConstraints=[spread(minDomains=3)]), existing)
    assert got["a1"] == (SKEW,) and got["b1"] == (SKEW,)
    got = filter_all(web("new", topologySpreadConstraints=[spread()]), existing)
    assert got["a1"] == () and got["b1"] == ()


def test_node_affinity_policy_honor_excludes_non_matching_nodes_from_counting():
    # zone b is excluded by the nodeSelector, so its emptiness doesn't count as the minimum
    p = web("new", nodeSelector={"disk": "ssd"}, topologySpreadConstraints=[spread()])
    nodes = [node("a1", labels={ZONE: "a", "disk": "ssd"}), node("b1", labels={ZONE: "b"})]
    assert filter_all(p, [web("w1", "a1")], nodes)["a1"] == ()
    p = web("new", nodeSelector={"disk": "ssd"}, topologySpreadConstraints=[spread(nodeAffinityPolicy="Ignore")])
    assert filter_all(p, [web("w1", "a1")], nodes)["a1"] == (SKEW,)


def test_other_namespaces_and_terminating_pods_do_not_count():
    other = web("o", "a1", namespace="other")
    dying = web("d", "a1")
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    got = filter_all(web("new", topologySpreadConstraints=[spread()]), [other, dying])
    assert got["a1"] == ()


def test_skip_without_constraints():
    pl = podtopologyspread.PodTopologySpread(framework(cache_with(NODES)))
    _, st = pl.pre_filter(CycleState(), PodInfo(pod("x")))
    assert st is not None and st.code == Code.SKIP


def test_schedule_anyway_scoring_prefers_emptier_zone():
    c = cache_with(NODES[:3], [web("w1", "a1"), web("w2", "a2")])
    pl = podtopologyspread.PodTopologySpread(framework(c))
    p = PodInfo(web("new", topologySpreadConstraints=[spread(when="ScheduleAnyway")]))
    nodes = c.list()
    state = CycleState()
    assert pl.pre_score(state, p, nodes) is None
    scores = [pl.score(state, p, n) for n in nodes]
    pl.normalize_score(state, p, nodes, scores)
    by = dict(zip([n.name for n in nodes], scores, strict=True))
    assert by["b1"] == 100 and by["a1"] == by["a2"] < 100


def test_add_remove_pod_updates_counts():
    c = cache_with(NODES)
    pl = podtopologyspread.PodTopologySpread(framework(c))
    state, p = CycleState(), PodInfo(web("new", topologySpreadConstraints=[spread()]))
    pl.pre_filter(state, p)
    assert pl.filter(state, p, c.get("a1")) is None
    w = PodInfo(web("w", "a2"))
    pl.add_pod(state, p, w, c.get("a2"))
    assert reasons(pl.filter(state, p, c.get("a1"))) == (SKEW,)
    pl.remove_pod(state, p, w, c.get("a2"))
    assert pl.filter(state, p, c.get("a1")) is None
