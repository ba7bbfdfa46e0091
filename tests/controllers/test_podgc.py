"""Pod GC: terminated pods beyond the threshold (evicted and oldest first), orphans of deleted nodes
after the quarantine (marked Failed with DisruptionTarget, deleted with no grace), unscheduled
terminating pods, and terminating pods on out-of-service nodes.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client.rest import NODES, PODS
from kybernetes.controllers.podgc import PodGCController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client


def node(name: str, ready: bool = True, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": str(ready)}]}}


def setup(*objs: dict[str, Any], threshold: int = 12500) -> tuple[PodGCController, FakeClient]:
    client = FakeClient(Clock(T0))
    for o in objs:
        client.add(NODES if o.get("kind") != "Pod" else PODS, o)
    ctrl = PodGCController(client.informer(PODS), client.informer(NODES), as_client(client), FakeRecorder(),
                           terminated_pod_threshold=threshold, clock=client.clock)
    return ctrl, client


def names(client: FakeClient) -> list[str]:
    return sorted(p["metadata"]["name"] for p in client.all(PODS))


async def test_terminated_pods_beyond_threshold() -> None:
    pods = [b.pod(f"p{i}", phase="Succeeded", node="n1", created=T0 + i) for i in range(4)]
    evicted = b.pod("ev", phase="Failed", node="n1", created=T0 + 10)
    evicted["status"]["reason"] = "Evicted"
    running = b.pod("run", phase="Running", node="n1", created=T0 - 100)
    ctrl, client = setup(node("n1"), *pods, evicted, running, threshold=3)
    await ctrl.gc()
    assert names(client) == ["p1", "p2", "p3", "run"]  # 5 terminated, 3 kept: the evicted and the oldest go
    deletes = [a for a in client.actions if a.verb == "delete"]
    assert all(a.body == {"gracePeriodSeconds": 0} for a in deletes)
    assert "patch" not in client.verbs()  # already terminal: no status change


async def test_orphans_after_quarantine() -> None:
    ctrl, client = setup(node("n1"), b.pod("a", phase="Running", node="gone"), b.pod("b", phase="Running", node="n1"))
    await ctrl.gc()
    assert names(client) == ["a", "b"]
    client.clock.advance(39)
    await ctrl.gc()
    assert names(client) == ["a", "b"]
    client.clock.advance(1)
    await ctrl.gc()
    assert names(client) == ["b"]
    patch = next(a for a in client.actions if a.verb == "patch")
    assert patch.subresource == "status" and patch.params["type"] == "application/apply-patch+yaml"
    assert patch.params["fieldManager"] == "PodGC" and patch.params["force"] is True
    assert patch.body["status"] == {"phase": "Failed", "conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
        "message": "PodGC: node no longer exists", "lastTransitionTime": format_time(T0 + 40)}]}


async def test_node_back_in_time_saves_pods() -> None:
    ctrl, client = setup(b.pod("a", phase="Running", node="late"))
    await ctrl.gc()
    client.add(NODES, node("late"))
    client.clock.advance(60)
    await ctrl.gc()
    assert names(client) == ["a"]


async def test_unscheduled_terminating_and_out_of_service() -> None:
    stuck = b.pod("stuck")
    stuck["metadata"]["deletionTimestamp"] = format_time(T0)
    stuck["metadata"]["finalizers"] = ["example.com/hold"]
    oos = b.pod("oos", phase="Running", node="dead")
    oos["metadata"]["deletionTimestamp"] = format_time(T0)
    oos["metadata"]["finalizers"] = ["example.com/hold"]
    fine = b.pod("fine", phase="Running", node="n1")
    ctrl, client = setup(node("n1"), node("dead", ready=False, taints=[
        {"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]), stuck, oos, fine)
    await ctrl.gc()
    deleted = sorted(a.name for a in client.actions if a.verb == "delete")
    assert deleted == ["oos", "stuck"]
