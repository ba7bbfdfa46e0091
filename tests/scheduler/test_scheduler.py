"""The scheduling loop with a recording client and hand-fed informer events: bindings, Scheduled and
FailedScheduling events with Kubernetes' aggregated messages, PodScheduled conditions, preemption."""

from __future__ import annotations

import asyncio
import random

import pytest

from kybernetes.scheduler.eventhandlers import EventHandlers
from kybernetes.scheduler.scheduler import Scheduler, num_feasible_nodes_to_find
from tests.scheduler.fixtures import RecordingClient, RecordingRecorder, node, pod

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


class Harness:
    def __init__(self, nodes, pods=()):
        self.client = RecordingClient()
        self.recorder = RecordingRecorder()
        self.now = 1000.0
        self.sched = Scheduler(self.client, self.recorder, rng=random.Random(1),  # type: ignore[arg-type]
                               clock=lambda: self.now)
        self.pods = {}
        self.sched.pod_lookup = self.pods.get
        self.h = EventHandlers(self.sched)
        for n in nodes:
            self.h.on_node_add(n)
        for p in pods:
            self.add(p)

    def add(self, p):
        self.pods[f"{p['metadata']['namespace']}/{p['metadata']['name']}"] = p
        self.h.on_pod_add(p)

    async def cycle(self, n=1):
        for _ in range(n):
            assert await asyncio.wait_for(self.sched.schedule_one(), 5)
        await asyncio.gather(*list(self.sched._tasks))

    def bindings(self):
        return {b["metadata"]["name"]: b["target"]["name"] for b in self.client.of("create", "binding")}

    def events(self, reason):
        return [(name, msg) for name, _, r, msg in self.recorder.events if r == reason]


async def test_binds_and_records_scheduled():
    t = Harness([node("node1")], [pod("web-1", cpu="100m")])
    await t.cycle()
    assert t.bindings() == {"web-1": "node1"}
    assert t.events("Scheduled") == [("web-1", "Successfully assigned default/web-1 to node1")]
    assert t.sched.cache.is_assumed("default/web-1")


async def test_failed_scheduling_message_aggregates_reasons_and_preemption():
    t = Harness([node("cp", cpu="8", taints=[CP_TAINT]), node("w1", cpu="1"), node("w2", cpu="1")],
                [pod("big", cpu="2")])
    await t.cycle()
    msg = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
           "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
           "2 No preemption victims found for incoming pod..")
    assert t.events("FailedScheduling") == [("big", msg)]
    (status_patch,) = t.client.of("patch", "status")
    cond = status_patch["patch"]["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == ("PodScheduled", "False",
                                                                              "Unschedulable", msg)
    assert t.sched.queue.where("default/big") == "unschedulable"


async def test_no_nodes():
    t = Harness([], [pod("a")])
    await t.cycle()
    assert t.events("FailedScheduling") == [("a", "no nodes available to schedule pods")]


async def test_node_selector_and_taints_steer_pods():
    t = Harness([node("plain"), node("ssd", labels={"disktype": "ssd"}),
                 node("tainted", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])])
    for i in range(5):
        t.add(pod(f"s{i}", nodeSelector={"disktype": "ssd"}))
    t.add(pod("tol", nodeSelector={"kubernetes.io/hostname": "tainted"},
              tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]))
    for i in range(6):
        t.add(pod(f"any{i}"))
    await t.cycle(12)
    b = t.bindings()
    assert {b[f"s{i}"] for i in range(5)} == {"ssd"}
    assert b["tol"] == "tainted"
    assert "tainted" not in {b[f"any{i}"] for i in range(6)}


async def test_burst_does_not_overcommit_before_bindings_are_observed():
    t = Harness([node("n1", cpu="1"), node("n2", cpu="1")], [pod(f"p{i}", cpu="400m") for i in range(5)])
    await t.cycle(5)
    b = t.bindings()
    assert len(b) == 4 and sorted(b.values()).count("n1") == 2
    assert [m for _, m in t.events("FailedScheduling")] == [
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
        "2 No preemption victims found for incoming pod.."]


async def test_remembered_verdicts_follow_node_changes():
    """Alike pods reuse the last cycle's Filter/Score results per node only while the node is unchanged."""
    t = Harness([node("n1", cpu="1")], [pod("a", cpu="400m")])
    await t.cycle()
    t.h.on_node_update(node("n1", cpu="1"), node("n1", cpu="1", taints=[CP_TAINT]))
    t.add(pod("b", cpu="400m"))
    await t.cycle()
    assert t.bindings() == {"a": "n1"}
    assert [m for _, m in t.events("FailedScheduling")] == [
        "0/1 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."]
    t.h.on_node_update(node("n1", cpu="1", taints=[CP_TAINT]), node("n1", cpu="1"))
    t.now += 1.0
    t.sched.queue.flush_backoff_completed()
    t.add(pod("c", cpu="800m"))  # another shape: its own verdict (too big once b is placed)
    await t.cycle(2)
    assert t.bindings() == {"a": "n1", "b": "n1"}
    assert t.events("FailedScheduling")[-1][0] == "c"


async def test_alike_pods_spread_as_scores_change():
    t = Harness([node(f"n{i}") for i in range(4)], [pod(f"p{i}", cpu="500m", memory="1Gi") for i in range(12)])
    await t.cycle(12)
    assert sorted(t.bindings().values()) == sorted([f"n{i}" for i in range(4)] * 3)


async def test_unschedulable_pod_retries_when_a_node_is_added():
    t = Harness([node("small", cpu="1")], [pod("big", cpu="2")])
    await t.cycle()
    assert t.sched.queue.where("default/big") == "unschedulable"
    t.h.on_node_add(node("large", cpu="4"))
    assert t.sched.queue.where("default/big") in ("active", "backoff")
    t.now += 1.0  # the first backoff (1 s) elapses
    t.sched.queue.flush_backoff_completed()
    await t.cycle()
    assert t.bindings() == {"big": "large"}


async def test_preemption_nominates_and_evicts_lower_priority():
    low = [pod(f"low{i}", cpu="1", priority=0, node_name="n1") for i in range(2)]
    t = Harness([node("n1", cpu="2")], [*low, pod("vip", cpu="2", priority=1000)])
    await t.cycle()
    deleted = sorted(d["name"] for d in t.client.of("delete"))
    assert deleted == ["low0", "low1"]
    assert sorted(t.events("Preempted")) == [("low0", "Preempted by pod uid-vip on node n1"),
                                            ("low1", "Preempted by pod uid-vip on node n1")]
    # the pod failed this cycle, without a preemption clause, and is nominated to n1
    assert t.events("FailedScheduling") == [("vip", "0/1 nodes are available: 1 Insufficient cpu.")]
    status = next(p["patch"]["status"] for p in t.client.of("patch", "status") if p["name"] == "vip")
    assert status["nominatedNodeName"] == "n1"
    victims_marked = [p for p in t.client.of("patch", "status") if p["name"].startswith("low")]
    assert victims_marked[0]["patch"]["status"]["conditions"][0]["reason"] == "PreemptionByScheduler"


async def test_preemption_policy_never():
    t = Harness([node("n1", cpu="1")], [pod("low", cpu="1", priority=0, node_name="n1"),
                                        pod("vip", cpu="1", priority=1000, preemptionPolicy="Never")])
    await t.cycle()
    assert t.events("FailedScheduling") == [("vip", "0/1 nodes are available: 1 Insufficient cpu. "
                                                    "preemption: not eligible due to preemptionPolicy=Never..")]
    assert not t.client.of("delete")


async def test_prefilter_rejection_message():
    t = Harness([node("n1"), node("n2")], [pod("a", volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "x"}}])])
    await t.cycle()
    assert t.events("FailedScheduling") == [("a", '0/2 nodes are available: persistentvolumeclaim "x" not found. '
                                                  'preemption: 0/2 nodes are available: '
                                                  '2 Preemption is not helpful for scheduling..')]


async def test_bind_failure_forgets_and_requeues():
    from kybernetes.client.errors import ConflictError

    t = Harness([node("n1", cpu="1")], [pod("a", cpu="1")])
    t.client.fail_bind = ConflictError(409, {"message": "boom"})
    await t.cycle()
    assert not t.sched.cache.is_assumed("default/a")
    assert t.sched.cache.get("n1").requested.milli_cpu == 0
    assert t.events("FailedScheduling") == [("a", "boom")]
    assert t.sched.queue.where("default/a") == "backoff"


async def test_assigned_pod_confirms_assumed():
    t = Harness([node("n1", cpu="1")], [pod("a", cpu="600m")])
    await t.cycle()
    bound = pod("a", cpu="600m", node_name="n1")
    t.h.on_pod_update(t.pods["default/a"], bound)
    assert not t.sched.cache.is_assumed("default/a")
    assert t.sched.cache.get("n1").requested.milli_cpu == 600
    t.h.on_pod_delete(bound)
    assert t.sched.cache.get("n1").requested.milli_cpu == 0


async def test_other_schedulers_pods_are_ignored():
    t = Harness([node("n1")], [pod("mine"), pod("theirs", schedulerName="custom")])
    assert t.sched.queue.pending()[0] == 1


@pytest.mark.parametrize(("n", "want"), [(10, 10), (99, 99), (100, 100), (200, 100), (1000, 420), (5000, 500),
                                         (6000, 300)])
def test_num_feasible_nodes_to_find(n, want):
    assert num_feasible_nodes_to_find(n) == want


async def test_round_robin_start_and_sampling():
    t = Harness([node(f"n{i:03d}") for i in range(1000)])
    for i in range(3):
        t.add(pod(f"p{i}"))
    await t.cycle(3)
    assert t.sched.next_start_node_index == 3 * 420 % 1000
