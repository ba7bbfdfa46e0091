"""FitError message formatting, Status helpers, normalization, CycleState cloning, the framework runner."""

from __future__ import annotations

from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    NodeToStatus,
    Status,
    default_normalize_score,
    fit_error_message,
)
from kybernetes.scheduler.nodeinfo import PodInfo
from tests.scheduler.fixtures import cache_with, framework, node, pod


def test_fit_error_message_histogram_sorted_as_strings():
    d = Diagnosis(node_to_status=NodeToStatus({
        "a": Status.unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
        "b": Status.unschedulable("Insufficient cpu", "Insufficient memory"),
        "c": Status.unschedulable("Insufficient cpu")}))
    assert fit_error_message(3, d) == ("0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated "
                                       "taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")


def test_fit_error_message_absent_nodes_and_post_filter():
    d = Diagnosis(node_to_status=NodeToStatus({"a": Status.unschedulable("Too many pods")},
                                              absent=Status.unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]")))
    d.post_filter_msg = "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    assert fit_error_message(4, d) == (
        "0/4 nodes are available: 1 Too many pods, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling..")


def test_fit_error_message_pre_filter():
    d = Diagnosis(pre_filter_msg='persistentvolumeclaim "x" not found')
    assert fit_error_message(2, d) == '0/2 nodes are available: persistentvolumeclaim "x" not found.'


def test_status_helpers():
    assert Status.unschedulable("a", "b").message() == "a, b"
    assert Status(Code.PENDING).is_rejected and not Status.error("x").is_rejected


def test_default_normalize_score():
    s = [0, 5, 10]
    default_normalize_score(s, reverse=False)
    assert s == [0, 50, 100]
    s = [0, 5, 10]
    default_normalize_score(s, reverse=True)
    assert s == [100, 50, 0]
    s = [0, 0]
    default_normalize_score(s, reverse=True)
    assert s == [100, 100]


def test_cycle_state_clone_is_independent():
    class Counter:
        def __init__(self, n):
            self.n = n

        def clone(self):
            return Counter(self.n)

    s = CycleState()
    s.write("k", Counter(1))
    s.skip_filter.add("X")
    c = s.clone()
    c.read("k").n = 2
    c.skip_filter.add("Y")
    assert s.read("k").n == 1 and s.skip_filter == {"X"}


def test_pre_filter_result_intersection_that_is_empty_rejects():
    fw = framework(cache_with([node("n1"), node("n2")]))
    terms = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gone"]}]}]
    p = PodInfo(pod("a", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": terms}}}))
    res, st, plugins = fw.run_pre_filter(CycleState(), p)
    assert res is not None and res.node_names == {"gone"} and st is None and plugins == {"NodeAffinity"}


def test_unknown_plugin_is_a_clear_error():
    import pytest

    from kybernetes.scheduler.cache import Cache
    from kybernetes.scheduler.frameworkrunner import Framework
    from kybernetes.scheduler.profile import PluginSpec, Profile

    with pytest.raises(ValueError, match="unknown scheduler plugin 'Nope'"):
        Framework(Profile(plugins=(PluginSpec("Nope"),)), Cache())
