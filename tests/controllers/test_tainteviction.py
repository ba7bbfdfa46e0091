"""Taint eviction: pods on nodes with NoExecute taints go now, after tolerationSeconds, or never."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.client.rest import NODES, PODS
from kybernetes.controllers import tainteviction
from kybernetes.controllers.tainteviction import TaintEvictionController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client

Obj = dict[str, Any]
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2023-11-14T22:13:20Z"}


def tainted_node(name: str = "n1", *taints: Obj) -> Obj:
    return {"metadata": {"name": name}, "spec": {"taints": list(taints)}}


def pod(name: str, tolerations: list[Obj] | None = None, node: str = "n1") -> Obj:
    p = b.pod(name, node=node, phase="Running", ready=True)
    if tolerations is not None:
        p["spec"]["tolerations"] = tolerations
    return p


def setup(*objs: Obj) -> tuple[TaintEvictionController, FakeClient, FakeRecorder, Clock]:
    clock = Clock(T0)
    client, rec = FakeClient(clock), FakeRecorder()
    for o in objs:
        client.add(PODS if o.get("kind") == "Pod" else NODES, o)
    ctrl = TaintEvictionController(client.informer(NODES), client.informer(PODS), as_client(client), rec, clock=clock)
    return ctrl, client, rec, clock


def toleration(seconds: int | None, key: str = "node.kubernetes.io/unreachable") -> Obj:
    t: Obj = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return t


async def test_pod_evicted_after_toleration_seconds() -> None:
    ctrl, client, rec, clock = setup(tainted_node("n1", UNREACHABLE), pod("web", [toleration(30)]))
    await ctrl.sync("default/web")
    assert client.stored(PODS, "web", "default") is not None
    assert ctrl.queue._timers.get("default/web") is not None  # rechecked when the toleration runs out
    clock.advance(29)
    await ctrl.sync("default/web")
    assert client.stored(PODS, "web", "default") is not None
    clock.advance(1)
    await ctrl.sync("default/web")
    assert client.stored(PODS, "web", "default") is None
    assert rec.events == [("web", "Normal", "TaintManagerEviction", "Marking for deletion Pod default/web")]
    patch = next(a for a in client.actions if a.verb == "patch")
    assert patch.subresource == "status"
    assert patch.body["status"]["conditions"][0] | {"lastTransitionTime": "x"} == {
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": "x"}


async def test_pod_without_toleration_is_evicted_at_once() -> None:
    ctrl, client, rec, _ = setup(tainted_node("n1", UNREACHABLE), pod("web", []))
    await ctrl.sync("default/web")
    assert client.stored(PODS, "web", "default") is None
    assert rec.messages("TaintManagerEviction") == ["Marking for deletion Pod default/web"]


async def test_pod_tolerating_forever_stays() -> None:
    everything = {"operator": "Exists"}
    ctrl, client, rec, clock = setup(tainted_node("n1", UNREACHABLE), pod("web", [toleration(None)]),
                                     pod("any", [everything]))
    for _ in range(3):
        await ctrl.sync("default/web")
        await ctrl.sync("default/any")
        clock.advance(86400)
    assert client.stored(PODS, "web", "default") is not None
    assert client.stored(PODS, "any", "default") is not None
    assert rec.events == [] and client.verbs("pods") == []


async def test_every_no_execute_taint_must_be_tolerated() -> None:
    other = {"key": "maintenance", "value": "true", "effect": "NoExecute"}
    ctrl, client, _, _ = setup(tainted_node("n1", UNREACHABLE, other), pod("web", [toleration(None)]))
    await ctrl.sync("default/web")
    assert client.stored(PODS, "web", "default") is None


async def test_no_schedule_taints_and_healthy_nodes_are_ignored() -> None:
    no_schedule = {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}
    ctrl, client, _, _ = setup(tainted_node("n1", no_schedule), pod("web", []), pod("elsewhere", [], node="n2"))
    await ctrl.sync("default/web")
    await ctrl.sync("default/elsewhere")
    assert client.verbs("pods") == []


async def test_countdown_cancelled_when_taint_goes_away() -> None:
    ctrl, client, rec, clock = setup(tainted_node("n1", UNREACHABLE), pod("web", [toleration(300)]))
    await ctrl.sync("default/web")
    node = client.stored(NODES, "n1")
    assert node is not None
    await client.replace(NODES, {**node, "spec": {}})
    await ctrl.sync("default/web")
    assert rec.messages("TaintManagerEviction") == ["Cancelling deletion of Pod default/web"]
    clock.advance(301)
    await ctrl.sync("default/web")
    assert client.stored(PODS, "web", "default") is not None


async def test_node_taint_change_enqueues_pods_on_it() -> None:
    ctrl, client, _, _ = setup(tainted_node("n1"), pod("web", []), pod("other", [], node="n2"))
    while len(ctrl.queue):
        key = await ctrl.queue.get()
        assert key is not None
        ctrl.queue.done(key)
    node = client.stored(NODES, "n1")
    assert node is not None
    await client.replace(NODES, {**node, "spec": {"taints": [UNREACHABLE]}})
    key = await ctrl.queue.get()
    assert key == "default/web" and len(ctrl.queue) == 0


@pytest.mark.parametrize(("tolerations", "expected"), [
    ([toleration(30), toleration(10, key="")], 30.0),  # the first toleration matching a taint is the one used
    ([toleration(None)], None),
    ([{"key": "node.kubernetes.io/unreachable", "operator": "Equal", "value": "x", "effect": "NoExecute"}], 0.0),
    ([toleration(-5)], 0.0),
    ([{"effect": "NoSchedule", "operator": "Exists"}], 0.0),
])
def test_toleration_seconds(tolerations: list[Obj], expected: float | None) -> None:
    assert tainteviction.toleration_seconds([UNREACHABLE], tolerations) == expected


def test_smallest_toleration_over_all_taints_wins() -> None:
    not_ready = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
    tolerations = [toleration(300), toleration(20, key="node.kubernetes.io/not-ready")]
    assert tainteviction.toleration_seconds([UNREACHABLE, not_ready], tolerations) == 20.0
