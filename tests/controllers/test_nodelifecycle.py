"""Node lifecycle: heartbeats through Leases and status, Unknown after the grace period, condition taints,
pods marked not ready, zone disruption. Fake informers, a recording client, an injected clock."""

from __future__ import annotations

from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client.rest import LEASES, NODES, PODS
from kybernetes.controllers.nodelifecycle import NodeLifecycleController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"


def node(name: str, ready: str | None = "True", at: float = T0, zone: str = "z1", **spec: Any) -> Obj:
    status: Obj = {}
    if ready is not None:
        status["conditions"] = [
            {"type": t, "status": s, "lastHeartbeatTime": format_time(at), "lastTransitionTime": format_time(at - 100),
             "reason": "KubeletReady" if t == "Ready" else "KubeletHasSufficient", "message": "ok"}
            for t, s in (("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False"),
                         ("Ready", ready))]
    return {"metadata": {"name": name, "labels": {ZONE: zone}, "creationTimestamp": format_time(at - 1000)},
            "spec": dict(spec), "status": status}


def lease(name: str, at: float = T0) -> Obj:
    return {"metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": format_time(at, micro=True)}}


def setup(*nodes: Obj, pods: tuple[Obj, ...] = (), grace: float = 40.0) -> tuple[NodeLifecycleController, FakeClient,
                                                                                  FakeRecorder, Clock]:
    clock = Clock(T0)
    client, rec = FakeClient(clock), FakeRecorder()
    for n in nodes:
        client.add(NODES, n)
        client.add(LEASES, lease(n["metadata"]["name"]))
    for p in pods:
        client.add(PODS, p)
    ctrl = NodeLifecycleController(client.informer(NODES), client.informer(LEASES), client.informer(PODS),
                                   as_client(client), rec, grace_period=grace, clock=clock)
    return ctrl, client, rec, clock


async def renew(client: FakeClient, name: str, at: float) -> None:
    current = client.stored(LEASES, name, "kube-node-lease")
    assert current is not None
    await client.replace(LEASES, {**current, "spec": {**current["spec"], "renewTime": format_time(at, micro=True)}},
                         "kube-node-lease")


def taints(client: FakeClient, name: str) -> list[Obj]:
    stored = client.stored(NODES, name)
    assert stored is not None
    return list(stored["spec"].get("taints") or [])


def conditions(client: FakeClient, name: str) -> dict[str, Obj]:
    stored = client.stored(NODES, name)
    assert stored is not None
    return {c["type"]: c for c in stored["status"]["conditions"]}


async def sync_all(ctrl: NodeLifecycleController, *names: str) -> None:
    for n in names:
        await ctrl.sync(n)


async def test_node_goes_unknown_after_grace_period_with_taints_and_recovers() -> None:
    pod = b.pod("web", node="n2", phase="Running", ready=True)
    ctrl, client, rec, clock = setup(node("n1"), node("n2"), pods=(pod,))
    await sync_all(ctrl, "n1", "n2")
    assert rec.messages("RegisteredNode") == ["Node n1 event: Registered Node n1 in Controller",
                                              "Node n2 event: Registered Node n2 in Controller"]
    assert client.verbs("nodes") == []  # healthy nodes: nothing to write
    clock.advance(30)
    await renew(client, "n1", clock())
    await sync_all(ctrl, "n1", "n2")
    assert client.verbs("nodes") == []  # n2 is silent, but still within its 40 s
    clock.advance(11)  # n2 last heard of 41 s ago; n1 11 s ago
    await sync_all(ctrl, "n1", "n2")
    conds = conditions(client, "n2")
    for t in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        assert conds[t]["status"] == "Unknown"
        assert conds[t]["reason"] == "NodeStatusUnknown"
        assert conds[t]["message"] == "Kubelet stopped posting node status."
        assert conds[t]["lastTransitionTime"] == format_time(clock())
    assert conds["Ready"]["lastHeartbeatTime"] == format_time(T0)
    assert taints(client, "n2") == [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": format_time(clock())}]
    assert conditions(client, "n1")["Ready"]["status"] == "True" and taints(client, "n1") == []
    assert rec.messages("NodeNotReady") == ["Node n2 status is now: NodeNotReady", "Node is not ready"]
    stored_pod = client.stored(PODS, "web", "default")
    assert stored_pod is not None
    ready = next(c for c in stored_pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["lastTransitionTime"] == format_time(clock())
    # idempotent: a second pass writes nothing new
    client.clear()
    await sync_all(ctrl, "n1", "n2")
    assert client.actions == []
    # the kubelet comes back: taints go away
    clock.advance(5)
    await renew(client, "n2", clock())
    fresh = node("n2", at=clock())
    current = client.stored(NODES, "n2")
    assert current is not None
    await client.replace(NODES, {**current, "status": fresh["status"]}, subresource="status")
    await ctrl.sync("n2")
    assert taints(client, "n2") == []


async def test_lease_renewals_alone_keep_a_node_healthy() -> None:
    ctrl, client, _, clock = setup(node("n1"), node("n2"))
    await sync_all(ctrl, "n1", "n2")
    for _ in range(5):
        clock.advance(30)
        await renew(client, "n1", clock())
        await renew(client, "n2", clock())
        await sync_all(ctrl, "n1", "n2")
    assert client.verbs("nodes") == []


async def test_not_ready_node_gets_not_ready_taints() -> None:
    ctrl, client, _, _ = setup(node("n1"), node("n2", ready="False"))
    await sync_all(ctrl, "n1", "n2")
    added = taints(client, "n2")
    assert {(t["key"], t["effect"]) for t in added} == {("node.kubernetes.io/not-ready", "NoSchedule"),
                                                        ("node.kubernetes.io/not-ready", "NoExecute")}
    assert all("timeAdded" in t for t in added if t["effect"] == "NoExecute")
    assert conditions(client, "n2")["Ready"]["status"] == "False"  # the kubelet's own report is kept


async def test_not_ready_taint_swaps_to_unreachable_when_the_kubelet_goes_silent() -> None:
    ctrl, client, _, clock = setup(node("n1"), node("n2", ready="False"))
    await sync_all(ctrl, "n1", "n2")
    clock.advance(41)
    await renew(client, "n1", clock())
    await sync_all(ctrl, "n1", "n2")
    assert {(t["key"], t["effect"]) for t in taints(client, "n2")} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}


async def test_condition_and_unschedulable_no_schedule_taints() -> None:
    pressured = node("n2", unschedulable=True)
    for c in pressured["status"]["conditions"]:
        if c["type"] == "MemoryPressure":
            c["status"] = "True"
    pressured["spec"]["taints"] = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    ctrl, client, _, _ = setup(node("n1"), pressured)
    await sync_all(ctrl, "n1", "n2")
    assert taints(client, "n2") == [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                                    {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
                                    {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]


async def test_node_that_never_posted_status_gets_startup_grace() -> None:
    fresh = node("n2", ready=None, at=T0 + 1000)  # created at T0, no conditions
    ctrl, client, _, clock = setup(node("n1"), fresh)
    client.objects.pop(("leases", "kube-node-lease", "n2"))
    ctrl.lease_informer.delete(lease("n2"))
    await sync_all(ctrl, "n1", "n2")
    assert client.verbs("nodes") == []
    clock.advance(61)
    await renew(client, "n1", clock())
    await sync_all(ctrl, "n1", "n2")
    conds = conditions(client, "n2")
    assert conds["Ready"]["reason"] == "NodeStatusNeverUpdated"
    assert conds["Ready"]["message"] == "Kubelet never posted node status."
    assert conds["Ready"]["status"] == "Unknown"


async def test_no_eviction_taints_when_every_node_is_down() -> None:
    ctrl, client, rec, clock = setup(node("solo"))
    await ctrl.sync("solo")
    clock.advance(41)
    await ctrl.sync("solo")
    assert conditions(client, "solo")["Ready"]["status"] == "Unknown"
    assert taints(client, "solo") == [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]
    assert rec.messages("NodeNotReady") == ["Node solo status is now: NodeNotReady"]


async def test_mostly_down_small_zone_holds_new_no_execute_taints() -> None:
    names = ["a", "b", "c", "d"]
    ctrl, client, _, clock = setup(*(node(n) for n in names))
    await sync_all(ctrl, *names)
    clock.advance(41)
    await renew(client, "a", clock())
    await sync_all(ctrl, *names)  # b, c, d go Unknown: 3 of 4 down
    await sync_all(ctrl, *names)
    no_execute = [n for n in names if any(t["effect"] == "NoExecute" for t in taints(client, n))]
    assert no_execute == ["b", "c"]  # d went down once the zone counted as partially disrupted: held back


async def test_deleted_node_is_removed_from_controller() -> None:
    ctrl, client, rec, _ = setup(node("n1"), node("n2"))
    await sync_all(ctrl, "n1", "n2")
    await client.delete(NODES, "n2")
    await ctrl.sync("n2")
    assert rec.messages("RemovingNode") == ["Node n2 event: Removing Node n2 from Controller"]
