"""NodeResourcesFit (filter reasons, requests arithmetic, LeastAllocated) and BalancedAllocation."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.framework import Code, CycleState
from kybernetes.scheduler.nodeinfo import PodInfo, pod_requests
from kybernetes.scheduler.plugins import balancedallocation, noderesourcesfit
from tests.scheduler.fixtures import node, node_info, pod, reasons, run_filter


@pytest.mark.parametrize(("p", "existing", "n", "want"), [
    (pod("a", cpu="1"), [], node("n1", cpu="2"), ()),
    (pod("a", cpu="3"), [], node("n1", cpu="2"), ("Insufficient cpu",)),
    (pod("a", cpu="1"), [pod("x", cpu="1500m")], node("n1", cpu="2"), ("Insufficient cpu",)),
    (pod("a", cpu="500m"), [pod("x", cpu="1500m")], node("n1", cpu="2"), ()),
    (pod("a", memory="2Gi"), [], node("n1", memory="1Gi"), ("Insufficient memory",)),
    (pod("a", cpu="3", memory="2Gi"), [], node("n1", cpu="2", memory="1Gi"),
     ("Insufficient cpu", "Insufficient memory")),
    (pod("a"), [pod("x")], node("n1", pods=1), ("Too many pods",)),
    (pod("a", cpu="3"), [pod("x")], node("n1", cpu="2", pods=1), ("Too many pods", "Insufficient cpu")),
    (pod("a"), [], node("n1", cpu="0"), ()),  # best effort fits anywhere with room for a pod
])
def test_fit_filter(p, existing, n, want):
    st = run_filter(noderesourcesfit.Fit(), p, node_info(n, *existing))
    assert reasons(st) == want
    if want:
        assert st.code == Code.UNSCHEDULABLE


def _gpu_pod(count):
    p = pod("g")
    p["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": str(count)}}
    return p


@pytest.mark.parametrize(("count", "extended", "want"), [
    (1, {"nvidia.com/gpu": "2"}, ()),
    (3, {"nvidia.com/gpu": "2"}, ("Insufficient nvidia.com/gpu",)),
    (1, {}, ("Insufficient nvidia.com/gpu",)),
])
def test_fit_extended_resources(count, extended, want):
    assert reasons(run_filter(noderesourcesfit.Fit(), _gpu_pod(count), node_info(node("n1", extended=extended)))) == want


def _c(name, cpu=None, memory=None, restart_policy=None):
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    c = {"name": name, "image": "x", "resources": {"requests": req}}
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


@pytest.mark.parametrize(("spec", "cpu", "mem"), [
    ({"containers": [_c("a", "100m", "1Mi"), _c("b", "200m", "2Mi")]}, 300, 3 * 2**20),
    # init containers: the max of each, against the sum of the app containers
    ({"containers": [_c("a", "100m")], "initContainers": [_c("i", "500m"), _c("j", "50m")]}, 500, 0),
    ({"containers": [_c("a", "1")], "initContainers": [_c("i", "500m")]}, 1000, 0),
    # sidecars (restartable init containers) add to everything after them
    ({"containers": [_c("a", "100m")], "initContainers": [_c("s", "200m", restart_policy="Always"),
                                                          _c("i", "250m")]}, 450, 0),
    ({"containers": [_c("a", "1")], "initContainers": [_c("s", "200m", restart_policy="Always")]}, 1200, 0),
    ({"containers": [_c("a", "100m")], "overhead": {"cpu": "250m", "memory": "120Mi"}}, 350, 120 * 2**20),
])
def test_pod_requests(spec, cpu, mem):
    r = pod_requests(spec)
    assert (r.milli_cpu, r.memory) == (cpu, mem)


def test_least_allocated_scores_with_non_zero_defaults():
    pl = noderesourcesfit.Fit()
    n = node_info(node("n1", cpu="4", memory="8Gi"), pod("x", cpu="1", memory="2Gi"))
    # requested cpu 1000+500 of 4000 → 62; memory (2Gi+1Gi)/8Gi → 62
    assert pl.score(CycleState(), PodInfo(pod("a", cpu="500m", memory="1Gi")), n) == 62
    # a best-effort pod counts as 100m / 200Mi
    assert pl.score(CycleState(), PodInfo(pod("b")), node_info(node("n2", cpu="1", memory="1000Mi"))) == 85


def test_most_allocated_strategy():
    pl = noderesourcesfit.Fit({"scoringStrategy": {"type": "MostAllocated"}})
    n = node_info(node("n1", cpu="4", memory="8Gi"))
    assert pl.score(CycleState(), PodInfo(pod("a", cpu="2", memory="4Gi")), n) == 50
    with pytest.raises(ValueError, match="not supported"):
        noderesourcesfit.Fit({"scoringStrategy": {"type": "Bogus"}})


@pytest.mark.parametrize(("p", "n", "existing", "want"), [
    (pod("a", cpu="1", memory="4Gi"), node("n1", cpu="4", memory="16Gi"), [], 100),
    (pod("a", cpu="2", memory="1Gi"), node("n1", cpu="4", memory="16Gi"), [], 78),  # |0.5-0.0625|/2
    (pod("a", cpu="1"), node("n1", cpu="4", memory="16Gi"), [pod("x", memory="16Gi")], 62),
])
def test_balanced_allocation(p, n, existing, want):
    pl = balancedallocation.BalancedAllocation()
    pi = PodInfo(p)
    ni = node_info(n, *existing)
    assert pl.pre_score(CycleState(), pi, [ni]) is None
    assert pl.score(CycleState(), pi, ni) == want


def test_balanced_allocation_skips_best_effort():
    st = balancedallocation.BalancedAllocation().pre_score(CycleState(), PodInfo(pod("a")), [])
    assert st is not None and st.code == Code.SKIP
