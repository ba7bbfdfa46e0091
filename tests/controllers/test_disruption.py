"""PodDisruptionBudget status: minAvailable/maxUnavailable as ints and percentages, scale from the owning
controllers, disrupted pods, the fail-safe."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.printing import format_time
from kybernetes.client.rest import (
    DEPLOYMENTS,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    STATEFULSETS,
)
from kybernetes.controllers.disruption import DisruptionController, scaled_value
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client

Obj = dict[str, Any]


def pdb(name: str = "web", min_available: Any = None, max_unavailable: Any = None, status: Obj | None = None) -> Obj:
    spec: Obj = {"selector": {"matchLabels": {"app": "web"}}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "default", "generation": 1}, "spec": spec,
            "status": status or {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}}


RESOURCES = {"PodDisruptionBudget": PODDISRUPTIONBUDGETS, "Pod": PODS, "ReplicaSet": REPLICASETS,
             "Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS}


def setup(*objs: Obj) -> tuple[DisruptionController, FakeClient, FakeRecorder, Clock]:
    clock = Clock(T0)
    client, rec = FakeClient(clock), FakeRecorder()
    for o in objs:
        client.add(RESOURCES[o["kind"]], o)
    inf = client.informer
    ctrl = DisruptionController(inf(PODDISRUPTIONBUDGETS), inf(PODS), inf(REPLICASETS), inf(DEPLOYMENTS),
                                inf(STATEFULSETS), inf(REPLICATIONCONTROLLERS), as_client(client), rec, clock=clock)
    return ctrl, client, rec, clock


def owned_pods(client: FakeClient, owner: Obj, ready: int, total: int) -> None:
    for i in range(total):
        client.add(PODS, b.pod(f"web-{i}", owner=owner, phase="Running", ready=i < ready, node="n1"))


def status(client: FakeClient, name: str = "web") -> Obj:
    stored = client.stored(PODDISRUPTIONBUDGETS, name, "default")
    assert stored is not None
    return dict(stored["status"])


async def test_min_available_int_counts_the_pods_it_sees() -> None:
    ctrl, client, _, clock = setup(pdb(min_available=2), b.replicaset("web-rs", 3))
    owned_pods(client, client.stored(REPLICASETS, "web-rs", "default") or {}, ready=3, total=3)
    await ctrl.sync("default/web")
    st = status(client)
    assert {k: st[k] for k in ("currentHealthy", "desiredHealthy", "expectedPods", "disruptionsAllowed",
                               "observedGeneration")} == {"currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3,
                                                          "disruptionsAllowed": 1, "observedGeneration": 1}
    assert st["conditions"] == [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                                 "message": "", "observedGeneration": 1, "lastTransitionTime": format_time(clock())}]
    client.clear()
    await ctrl.sync("default/web")
    assert client.actions == []  # nothing changed, nothing written


async def test_min_available_percentage_scales_by_the_deployment_and_rounds_up() -> None:
    ctrl, client, _, _ = setup(pdb(min_available="50%"), b.deployment("web", replicas=5))
    dep = client.stored(DEPLOYMENTS, "web", "default") or {}
    client.add(REPLICASETS, b.replicaset("web-abc", 5, owner=dep))
    owned_pods(client, client.stored(REPLICASETS, "web-abc", "default") or {}, ready=4, total=4)
    await ctrl.sync("default/web")
    st = status(client)
    assert (st["expectedPods"], st["desiredHealthy"], st["currentHealthy"], st["disruptionsAllowed"]) == (5, 3, 4, 1)


@pytest.mark.parametrize(("max_unavailable", "ready", "desired", "allowed", "reason"), [
    ("25%", 4, 3, 1, "SufficientPods"),
    ("25%", 3, 3, 0, "InsufficientPods"),
    (2, 4, 2, 2, "SufficientPods"),
    ("100%", 0, 0, 0, "InsufficientPods"),
])
async def test_max_unavailable(max_unavailable: Any, ready: int, desired: int, allowed: int, reason: str) -> None:
    ctrl, client, _, _ = setup(pdb(max_unavailable=max_unavailable), b.replicaset("web-rs", 4))
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
           "spec": {"replicas": 4}}
    client.add(STATEFULSETS, sts)
    owned_pods(client, client.stored(STATEFULSETS, "db", "default") or {}, ready=ready, total=4)
    await ctrl.sync("default/web")
    st = status(client)
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (4, desired, allowed)
    assert st["conditions"][0]["reason"] == reason
    assert st["conditions"][0]["status"] == ("True" if allowed else "False")


async def test_pods_being_deleted_or_recently_evicted_are_not_healthy() -> None:
    recent = format_time(T0 - 30)
    ctrl, client, rec, clock = setup(pdb(min_available=1, status={"disruptedPods": {"web-0": recent,
                                                                                    "web-1": format_time(T0 - 600)}}),
                                     b.replicaset("web-rs", 3))
    owned_pods(client, client.stored(REPLICASETS, "web-rs", "default") or {}, ready=3, total=3)
    going = copy.deepcopy(client.stored(PODS, "web-2", "default") or {})
    going["metadata"]["deletionTimestamp"] = format_time(T0)
    client.informers["pods"].update(going)
    await ctrl.sync("default/web")
    st = status(client)
    assert st["currentHealthy"] == 1 and st["disruptionsAllowed"] == 0
    assert st["disruptedPods"] == {"web-0": recent}  # web-1's eviction is too old: forgotten
    assert rec.messages("NotDeleted") == ["Pod was expected by PDB default/default to be deleted but it wasn't"]
    assert "default/web" in ctrl.queue._timers  # looked at again when web-0's entry expires
    clock.advance(91)
    await ctrl.sync("default/web")
    assert "disruptedPods" not in status(client) and status(client)["currentHealthy"] == 2


async def test_unmanaged_pods_and_missing_controllers() -> None:
    ctrl, client, rec, _ = setup(pdb(min_available="50%"))
    client.add(PODS, b.pod("loner", phase="Running", ready=True))
    await ctrl.sync("default/web")
    assert rec.reasons() == ["UnmanagedPods"]
    assert rec.messages()[0].startswith("Pods selected by this PodDisruptionBudget (selector: &LabelSelector{"
                                        "MatchLabels:map[string]string{app: web,},MatchExpressions:[]")
    assert status(client)["expectedPods"] == 0 and status(client)["disruptionsAllowed"] == 0
    client.add(PODS, b.pod("orphaned", owner={"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "metadata": {"name": "gone", "uid": "u-gone"}}, phase="Running"))
    with pytest.raises(Exception, match='found no controllers for pod "orphaned"'):
        await ctrl.sync("default/web")
    assert rec.messages("CalculateExpectedPodCountFailed") == [
        'Failed to calculate the number of expected pods: found no controllers for pod "orphaned"']
    cond = status(client)["conditions"][0]
    assert (cond["reason"], cond["status"], cond["message"]) == ("SyncFailed", "False",
                                                                 'found no controllers for pod "orphaned"')
    assert status(client)["disruptionsAllowed"] == 0


async def test_no_pods_event() -> None:
    ctrl, client, rec, _ = setup(pdb(min_available=1))
    await ctrl.sync("default/web")
    assert rec.events == [("web", "Normal", "NoPods", "No matching pods found")]
    assert status(client)["disruptionsAllowed"] == 0


def test_scaled_value() -> None:
    assert scaled_value("50%", 5, True) == 3
    assert scaled_value("50%", 5, False) == 2
    assert scaled_value(7, 5, True) == 7
    with pytest.raises(Exception, match="invalid type: string is not a percentage"):
        scaled_value("five", 5, True)
