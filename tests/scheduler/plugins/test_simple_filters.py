"""NodeUnschedulable, NodeName, NodePorts, TaintToleration filters: tables of (pod, node) → reasons."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.framework import Code
from kybernetes.scheduler.plugins import nodename, nodeports, nodeunschedulable, tainttoleration
from tests.scheduler.fixtures import node, node_info, pod, reasons, run_filter

UNSCHED_TOLERATION = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(("p", "n", "want"), [
    (pod("a"), node("n1"), ()),
    (pod("a"), node("n1", unschedulable=True), ("node(s) were unschedulable",)),
    (pod("a", tolerations=[UNSCHED_TOLERATION]), node("n1", unschedulable=True), ()),
    (pod("a", tolerations=[{"operator": "Exists"}]), node("n1", unschedulable=True), ()),
])
def test_node_unschedulable(p, n, want):
    st = run_filter(nodeunschedulable.NodeUnschedulable(), p, node_info(n))
    assert reasons(st) == want
    if want:
        assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize(("p", "n", "want"), [
    (pod("a"), node("n1"), ()),
    (pod("a", nodeName="n1"), node("n1"), ()),
    (pod("a", nodeName="n2"), node("n1"), ("node(s) didn't match the requested node name",)),
])
def test_node_name(p, n, want):
    assert reasons(run_filter(nodename.NodeName(), p, node_info(n))) == want


def _port_pod(name, port, proto="TCP", ip=""):
    p = pod(name)
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": port, "protocol": proto,
                                             **({"hostIP": ip} if ip else {})}]
    return p


FREE_PORTS = "node(s) didn't have free ports for the requested pod ports"


@pytest.mark.parametrize(("p", "existing", "want"), [
    (pod("a"), [_port_pod("x", 8080)], ()),
    (_port_pod("a", 8080), [], ()),
    (_port_pod("a", 8080), [_port_pod("x", 8080)], (FREE_PORTS,)),
    (_port_pod("a", 8080, "UDP"), [_port_pod("x", 8080)], ()),
    (_port_pod("a", 8080, ip="10.0.0.1"), [_port_pod("x", 8080, ip="10.0.0.2")], ()),
    (_port_pod("a", 8080, ip="10.0.0.1"), [_port_pod("x", 8080)], (FREE_PORTS,)),
    (_port_pod("a", 8081), [_port_pod("x", 8080)], ()),
])
def test_node_ports(p, existing, want):
    st = run_filter(nodeports.NodePorts(), p, node_info(node("n1"), *existing))
    assert reasons(st) == want
    if want:
        assert st.code == Code.UNSCHEDULABLE


CP = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
GPU = {"key": "gpu", "value": "true", "effect": "NoExecute"}
SOFT = {"key": "soft", "value": "x", "effect": "PreferNoSchedule"}


@pytest.mark.parametrize(("tolerations", "taints", "want"), [
    ([], [], ()),
    ([], [CP], ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)),
    ([], [GPU], ("node(s) had untolerated taint {gpu: true}",)),
    ([], [SOFT], ()),
    ([{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoExecute"}], [GPU], ()),
    ([{"key": "gpu", "operator": "Equal", "value": "false"}], [GPU], ("node(s) had untolerated taint {gpu: true}",)),
    ([{"key": "gpu", "operator": "Exists"}], [GPU], ()),
    ([{"operator": "Exists"}], [GPU, CP], ()),
    ([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}], [GPU], ("node(s) had untolerated taint {gpu: true}",)),
    ([{"key": "gpu", "operator": "Exists"}], [GPU, CP], ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)),
])
def test_taint_toleration_filter(tolerations, taints, want):
    st = run_filter(tainttoleration.TaintToleration(), pod("a", tolerations=tolerations),
                    node_info(node("n1", taints=taints)))
    assert reasons(st) == want
    if want:
        assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_taint_toleration_score_prefers_fewer_prefer_no_schedule_taints():
    from kybernetes.scheduler.framework import CycleState
    from kybernetes.scheduler.nodeinfo import PodInfo

    pl = tainttoleration.TaintToleration()
    nodes = [node_info(node("clean")), node_info(node("one", taints=[SOFT])),
             node_info(node("two", taints=[SOFT, {"key": "b", "effect": "PreferNoSchedule"}]))]
    pi = PodInfo(pod("a"))
    st = CycleState()
    assert pl.pre_score(st, pi, nodes) is None
    scores = [pl.score(st, pi, n) for n in nodes]
    assert scores == [0, 1, 2]
    pl.normalize_score(st, pi, nodes, scores)
    assert scores == [100, 50, 0]
    tolerant = PodInfo(pod("b", tolerations=[{"key": "soft", "operator": "Exists", "effect": "PreferNoSchedule"}]))
    st = CycleState()
    pl.pre_score(st, tolerant, nodes)
    assert [pl.score(st, tolerant, n) for n in nodes] == [0, 0, 1]
    assert pl.pre_score(CycleState(), pi, nodes[:1]) is not None  # Skip: nothing to prefer
