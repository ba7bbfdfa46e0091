"""DefaultPreemption: victims, candidate choice (PDBs, priorities, counts), eligibility, messages."""

from __future__ import annotations

from kybernetes.scheduler.framework import Code, CycleState, NodeToStatus, Status
from kybernetes.scheduler.nodeinfo import PodInfo
from kybernetes.scheduler.plugins import defaultpreemption
from kybernetes.scheduler.plugins.defaultpreemption import Candidate, select_candidate, split_by_pdb_violation
from tests.scheduler.fixtures import RecordingClient, RecordingRecorder, cache_with, framework, node, pod


def setup(nodes, pods, pdbs=()):
    c = cache_with(nodes, pods)
    fw = framework(c, PodDisruptionBudget=list(pdbs))
    fw._client = RecordingClient()  # type: ignore[assignment]
    fw._recorder = RecordingRecorder()  # type: ignore[assignment]
    return c, fw, defaultpreemption.DefaultPreemption(None, fw)


def insufficient(*names):
    return NodeToStatus({n: Status.unschedulable("Insufficient cpu") for n in names})


def pdb(name, labels, allowed):
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"selector": {"matchLabels": labels}},
            "status": {"disruptionsAllowed": allowed}}


async def test_prefers_node_whose_victims_have_lower_priority():
    pods = [pod("a", cpu="2", priority=10, node_name="na"), pod("b", cpu="2", priority=5, node_name="nb")]
    _, fw, pl = setup([node("na", cpu="2"), node("nb", cpu="2")], pods)
    res, st = await pl.post_filter(CycleState(), PodInfo(pod("vip", cpu="2", priority=100)), insufficient("na", "nb"))
    assert st is None and res is not None and res.nominated_node_name == "nb"
    assert [c[4]["name"] for c in fw.client.calls if c[0] == "delete"] == ["b"]
    assert fw.recorder.events == [("b", "Normal", "Preempted", "Preempted by pod uid-vip on node nb")]


async def test_avoids_violating_a_disruption_budget():
    pods = [pod("a", cpu="2", priority=10, node_name="na"),
            pod("b", cpu="2", priority=5, node_name="nb", labels={"app": "db"})]
    _, _, pl = setup([node("na", cpu="2"), node("nb", cpu="2")], pods, [pdb("db", {"app": "db"}, 0)])
    res, _ = await pl.post_filter(CycleState(), PodInfo(pod("vip", cpu="2", priority=100)), insufficient("na", "nb"))
    assert res is not None and res.nominated_node_name == "na"


async def test_minimal_victims_are_kept_to_what_is_needed():
    pods = [pod(f"p{i}", cpu="1", priority=i, node_name="n1") for i in range(4)]
    _, fw, pl = setup([node("n1", cpu="4")], pods)
    await pl.post_filter(CycleState(), PodInfo(pod("vip", cpu="2", priority=100)), insufficient("n1"))
    assert sorted(c[4]["name"] for c in fw.client.calls if c[0] == "delete") == ["p0", "p1"]


async def test_no_victims_and_not_helpful_messages():
    _, _, pl = setup([node("n1", cpu="1"), node("tainted")], [pod("hi", cpu="1", priority=500, node_name="n1")])
    statuses = NodeToStatus({"n1": Status.unschedulable("Insufficient cpu"),
                             "tainted": Status.unresolvable("node(s) had untolerated taint {x: }")})
    res, st = await pl.post_filter(CycleState(), PodInfo(pod("vip", cpu="1", priority=100)), statuses)
    assert res is not None and res.nominated_node_name == ""
    assert st is not None and st.code == Code.UNSCHEDULABLE
    assert st.reasons == ("preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
                          "1 Preemption is not helpful for scheduling.",)


async def test_removing_all_lower_priority_pods_still_not_enough_reports_the_filter_reason():
    _, _, pl = setup([node("n1", cpu="1")], [pod("low", cpu="500m", priority=1, node_name="n1")])
    _, st = await pl.post_filter(CycleState(), PodInfo(pod("vip", cpu="2", priority=100)), insufficient("n1"))
    assert st is not None and st.reasons == ("preemption: 0/1 nodes are available: 1 Insufficient cpu.",)


async def test_terminating_victim_on_nominated_node_makes_pod_wait():
    dying = pod("low", cpu="1", priority=1, node_name="n1")
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    _, _, pl = setup([node("n1", cpu="1")], [dying])
    vip = pod("vip", cpu="1", priority=100)
    vip["status"]["nominatedNodeName"] = "n1"
    _, st = await pl.post_filter(CycleState(), PodInfo(vip), insufficient("n1"))
    assert st is not None and st.reasons == ("preemption: not eligible due to a terminating pod on the nominated "
                                             "node.",)


def test_split_by_pdb_violation_counts_down_budgets():
    pods = [PodInfo(pod(f"p{i}", labels={"app": "db"})) for i in range(3)]
    violating, fine = split_by_pdb_violation(pods, [pdb("db", {"app": "db"}, 2)])
    assert [p.name for p in fine] == ["p0", "p1"] and [p.name for p in violating] == ["p2"]


def test_select_candidate_order():
    lo, hi = PodInfo(pod("lo", priority=1)), PodInfo(pod("hi", priority=50))
    assert select_candidate([Candidate("a", [hi], 0), Candidate("b", [lo], 1)]).node == "a"  # PDBs first
    assert select_candidate([Candidate("a", [hi], 0), Candidate("b", [lo], 0)]).node == "b"  # then priority
    assert select_candidate([Candidate("a", [lo, lo], 0), Candidate("b", [lo], 0)]).node == "b"  # then count
