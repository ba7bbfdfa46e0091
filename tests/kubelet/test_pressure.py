"""Node pressure from injected stats readings: eviction thresholds, the conditions the kubelet posts
(reasons, messages, transition times, the transition period), and the NoSchedule taints the node
lifecycle controller derives from them."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest

from kybernetes.api.printing import format_time
from kybernetes.client.rest import NODES
from kybernetes.kubelet import nodestatus, pressure
from kybernetes.kubelet.config import DEFAULT_EVICTION_HARD
from kybernetes.kubelet.pressure import PressureTracker, Threshold
from tests.controllers.test_nodelifecycle import node, setup, taints

Mi, Gi = 1 << 20, 1 << 30
DEFAULTS = pressure.parse_thresholds(DEFAULT_EVICTION_HARD)


def summary(*, mem_available: int = 4 * Gi, working_set: int = 4 * Gi, fs_available: int = 50 * Gi,
            fs_capacity: int = 100 * Gi, inodes_free: int = 900, inodes: int = 1000, image_available: int | None = None,
            maxpid: int = 32768, curproc: int = 100) -> dict[str, Any]:
    fs = {"availableBytes": fs_available, "capacityBytes": fs_capacity, "inodesFree": inodes_free, "inodes": inodes}
    image = dict(fs, availableBytes=fs_available if image_available is None else image_available)
    return {"node": {"memory": {"availableBytes": mem_available, "workingSetBytes": working_set}, "fs": fs,
                     "runtime": {"imageFs": image}, "rlimit": {"maxpid": maxpid, "curproc": curproc}}, "pods": []}


def test_default_thresholds_are_the_kubelets():
    assert set(DEFAULTS) == {Threshold("memory.available", quantity=100 * Mi),
                             Threshold("nodefs.available", percentage=Fraction(1, 10)),
                             Threshold("nodefs.inodesFree", percentage=Fraction(1, 20)),
                             Threshold("imagefs.available", percentage=Fraction(15, 100))}


@pytest.mark.parametrize(("spec", "message"), [
    ({"memory.free": "1Gi"}, "unsupported eviction signal memory.free"),
    ({"nodefs.available": "0%"}, "must be > 0% and <= 100%"),
    ({"nodefs.available": "150%"}, "must be > 0% and <= 100%"),
    ({"memory.available": "lots"}, "invalid quantity"),
])
def test_bad_thresholds_are_rejected(spec, message):
    with pytest.raises(ValueError, match=message):
        pressure.parse_thresholds(spec)


def test_observations_from_a_summary():
    obs = pressure.observations(summary(mem_available=3 * Gi, working_set=1 * Gi, curproc=768))
    assert obs["memory.available"] == (3 * Gi, 4 * Gi)
    assert obs["nodefs.available"] == (50 * Gi, 100 * Gi) and obs["imagefs.inodesFree"] == (900, 1000)
    assert obs["pid.available"] == (32000, 32768)
    assert pressure.observations({"node": {}}) == {}


@pytest.mark.parametrize(("reading", "conditions"), [
    ({}, set()),
    ({"mem_available": 99 * Mi}, {"MemoryPressure"}),
    ({"mem_available": 100 * Mi}, set()),  # "less than", not "at most"
    ({"fs_available": 9 * Gi, "image_available": 30 * Gi}, {"DiskPressure"}),  # nodefs below 10 %
    ({"fs_available": 12 * Gi}, {"DiskPressure"}),  # the same filesystem is the imagefs: below 15 %
    ({"inodes_free": 40}, {"DiskPressure"}),
    ({"mem_available": 10 * Mi, "fs_available": 1 * Gi}, {"MemoryPressure", "DiskPressure"}),
    ({"curproc": 32700}, set()),  # no pid.available threshold by default, as upstream
])
def test_default_thresholds_met(reading, conditions):
    t = PressureTracker(DEFAULTS)
    t.observe(summary(**reading), now=0.0)
    assert t.conditions == frozenset(conditions)


def test_pid_threshold_when_configured():
    t = PressureTracker(pressure.parse_thresholds({"pid.available": "10%"}))
    assert not t.observe(summary(curproc=1000), now=0.0)
    assert t.observe(summary(curproc=30000), now=1.0) and t.conditions == {"PIDPressure"}


def test_condition_holds_for_the_transition_period():
    t = PressureTracker(DEFAULTS, transition_period=300.0)
    assert t.observe(summary(mem_available=50 * Mi), now=1000.0)
    assert t.conditions == {"MemoryPressure"}
    assert not t.observe(summary(), now=1200.0)  # recovered, but within 5 minutes of the last breach
    assert t.conditions == {"MemoryPressure"} and t.met == []
    assert t.observe(summary(), now=1301.0)
    assert t.conditions == frozenset()


def test_node_conditions_under_pressure():
    got = nodestatus.conditions("2026-01-01T00:00:00Z", pressure=frozenset({"MemoryPressure", "PIDPressure"}))
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in got] == [
        ("MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]
    disk = nodestatus.conditions("2026-01-01T00:00:00Z", pressure=frozenset({"DiskPressure"}))
    assert (disk[1]["status"], disk[1]["reason"], disk[1]["message"]) == (
        "True", "KubeletHasDiskPressure", "kubelet has disk pressure")


def test_transition_time_moves_only_when_the_status_changes():
    t0, t1, t2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
    first = {"status": {"conditions": nodestatus.conditions(t0)}}
    hot = {"status": {"conditions": nodestatus.conditions(t1, nodestatus.transition_times(first),
                                                           frozenset({"DiskPressure"}))}}
    times = {c["type"]: c["lastTransitionTime"] for c in hot["status"]["conditions"]}
    assert times == {"MemoryPressure": t0, "DiskPressure": t1, "PIDPressure": t0, "Ready": t0}
    still = nodestatus.conditions(t2, nodestatus.transition_times(hot), frozenset({"DiskPressure"}))
    assert {c["type"]: c["lastTransitionTime"] for c in still}["DiskPressure"] == t1


@pytest.mark.parametrize(("condition", "taint"), [
    ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "node.kubernetes.io/disk-pressure"),
    ("PIDPressure", "node.kubernetes.io/pid-pressure"),
])
async def test_pressure_conditions_become_no_schedule_taints_and_go_away(condition, taint):
    n = node("n1")
    ctrl, client, _, clock = setup(n)
    now = format_time(clock())
    stored = client.stored(NODES, "n1")
    assert stored is not None
    hot = nodestatus.conditions(now, None, frozenset({condition}))
    await client.replace(NODES, {**stored, "status": {"conditions": hot}}, subresource="status")
    await ctrl.sync("n1")
    assert taints(client, "n1") == [{"key": taint, "effect": "NoSchedule"}]
    stored = client.stored(NODES, "n1")
    assert stored is not None
    await client.replace(NODES, {**stored, "status": {"conditions": nodestatus.conditions(now)}},
                         subresource="status")
    await ctrl.sync("n1")
    assert taints(client, "n1") == []


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None:
        self.events.append((obj["kind"], obj["metadata"]["name"], reason, message))


class _Node:
    def __init__(self) -> None:
        self.posted = 0

    async def post_status(self) -> None:
        self.posted += 1


async def test_agent_posts_status_and_node_events_when_pressure_changes():
    from kybernetes.kubelet.agent import Agent

    agent = SimpleNamespace(pressure=PressureTracker(DEFAULTS, transition_period=0.0), node=_Node(),
                            recorder=_Recorder(), cfg=SimpleNamespace(node_name="n1"))
    observe = Agent._observe_pressure
    await observe(agent, summary())  # type: ignore[arg-type]
    assert agent.node.posted == 0 and agent.recorder.events == []
    await observe(agent, summary(mem_available=1 * Mi, fs_available=1 * Gi))  # type: ignore[arg-type]
    assert agent.node.posted == 1
    assert agent.recorder.events == [("Node", "n1", "NodeHasDiskPressure", "Node n1 status is now: NodeHasDiskPressure"),
                                     ("Node", "n1", "NodeHasInsufficientMemory",
                                      "Node n1 status is now: NodeHasInsufficientMemory")]
    await observe(agent, summary(fs_available=1 * Gi))  # type: ignore[arg-type]
    assert agent.node.posted == 2
    assert agent.recorder.events[-1] == ("Node", "n1", "NodeHasSufficientMemory",
                                         "Node n1 status is now: NodeHasSufficientMemory")
