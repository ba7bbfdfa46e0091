"""NodeAffinity: nodeSelector, required terms (operators, matchFields), preferred scoring."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.framework import Code, CycleState
from kybernetes.scheduler.nodeinfo import PodInfo
from kybernetes.scheduler.plugins import nodeaffinity
from tests.scheduler.fixtures import node, node_info, pod, reasons, run_filter

NO_MATCH = ("node(s) didn't match Pod's node affinity/selector",)


def required(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key, op, *values):
    return {"matchExpressions": [{"key": key, "operator": op, **({"values": list(values)} if values else {})}]}


SSD = {"disktype": "ssd", "gen": "5"}


@pytest.mark.parametrize(("spec", "labels", "want"), [
    ({}, {}, ()),
    ({"nodeSelector": {"disktype": "ssd"}}, SSD, ()),
    ({"nodeSelector": {"disktype": "ssd"}}, {}, NO_MATCH),
    ({"nodeSelector": {"disktype": "ssd", "zone": "a"}}, SSD, NO_MATCH),
    ({"affinity": required(expr("disktype", "In", "ssd", "nvme"))}, SSD, ()),
    ({"affinity": required(expr("disktype", "NotIn", "ssd"))}, SSD, NO_MATCH),
    ({"affinity": required(expr("disktype", "NotIn", "ssd"))}, {}, ()),
    ({"affinity": required(expr("disktype", "Exists"))}, SSD, ()),
    ({"affinity": required(expr("disktype", "DoesNotExist"))}, SSD, NO_MATCH),
    ({"affinity": required(expr("gen", "Gt", "4"))}, SSD, ()),
    ({"affinity": required(expr("gen", "Lt", "4"))}, SSD, NO_MATCH),
    ({"affinity": required(expr("zone", "In", "a"), expr("disktype", "In", "ssd"))}, SSD, ()),  # terms are ORed
    ({"affinity": required({})}, SSD, NO_MATCH),  # an empty term matches nothing
    ({"nodeSelector": {"disktype": "ssd"}, "affinity": required(expr("gen", "In", "4"))}, SSD, NO_MATCH),
    ({"affinity": required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]})},
     SSD, ()),
    ({"affinity": required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]})},
     SSD, NO_MATCH),
])
def test_filter(spec, labels, want):
    st = run_filter(nodeaffinity.NodeAffinity(), pod("a", **spec), node_info(node("n1", labels=labels)))
    assert reasons(st) == want
    if want:
        assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_pre_filter_narrows_to_match_fields_node_names():
    pl = nodeaffinity.NodeAffinity()
    p = pod("a", affinity=required(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n3"]}]}))
    res, st = pl.pre_filter(CycleState(), PodInfo(p))
    assert st is None and res is not None and res.node_names == {"n1", "n2", "n3"}
    res, st = pl.pre_filter(CycleState(), PodInfo(pod("b", affinity=required(expr("x", "Exists")))))
    assert res is None and st is None
    _, st = pl.pre_filter(CycleState(), PodInfo(pod("c")))
    assert st is not None and st.code == Code.SKIP


def test_preferred_scoring():
    pl = nodeaffinity.NodeAffinity()
    p = PodInfo(pod("a", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": expr("disktype", "In", "ssd")},
        {"weight": 30, "preference": expr("zone", "In", "a")}]}}))
    nodes = [node_info(node("both", labels={"disktype": "ssd", "zone": "a"})),
             node_info(node("ssd", labels={"disktype": "ssd"})), node_info(node("none"))]
    st = CycleState()
    assert pl.pre_score(st, p, nodes) is None
    scores = [pl.score(st, p, n) for n in nodes]
    assert scores == [40, 10, 0]
    pl.normalize_score(st, p, nodes, scores)
    assert scores == [100, 25, 0]
