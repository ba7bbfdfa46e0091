"""Garbage collector: background, foreground and orphan propagation over a Deployment → ReplicaSet → Pod
chain, dangling references, replaced owners, owners of unknown kinds."""

from __future__ import annotations

from kybernetes.client.rest import DEPLOYMENTS, PODS, REPLICASETS
from kybernetes.controllers.garbagecollector import GarbageCollector
from tests.controllers import builders as b
from tests.controllers.fakes import FakeClient, FakeRecorder, as_client


class World:
    def __init__(self) -> None:
        self.client = FakeClient()
        self.d = self.client.add(DEPLOYMENTS, b.deployment())
        self.rs = self.client.add(REPLICASETS, b.replicaset("web-1", 2, owner=self.d))
        self.pods = [self.client.add(PODS, b.pod(f"web-1-{i}", owner=self.rs)) for i in range(2)]
        self.gc = GarbageCollector([self.client.informer(r) for r in (DEPLOYMENTS, REPLICASETS, PODS)],
                                   as_client(self.client), FakeRecorder())
        self.deletes: list[tuple[str, str, str | None]] = []

    async def drain(self) -> None:
        gc = self.gc
        for _ in range(100):
            busy = False
            for queue, handler in ((gc.attempt_to_delete, gc.attempt_to_delete_item),
                                   (gc.attempt_to_orphan, gc.attempt_to_orphan_item)):
                while len(queue):
                    key = await queue.get()
                    assert key is not None
                    await handler(key)
                    queue.done(key)
                    busy = True
            if not busy:
                return
        raise AssertionError("GC did not settle")

    def names(self, res: object) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.client.all(res))  # type: ignore[arg-type]

    def delete_actions(self) -> list[tuple[str, str, str | None]]:
        return [(a.resource, a.name, a.body.get("propagationPolicy")) for a in self.client.actions
                if a.verb == "delete"]


async def test_nothing_happens_while_owners_live() -> None:
    w = World()
    await w.drain()
    assert "delete" not in w.client.verbs() and "patch" not in w.client.verbs()


async def test_background_cascade() -> None:
    w = World()
    await w.drain()
    await w.client.delete(DEPLOYMENTS, "web", "default", propagationPolicy="Background")
    await w.drain()
    assert w.names(REPLICASETS) == [] and w.names(PODS) == []
    deletes = w.delete_actions()
    assert ("replicasets", "web-1", "Background") in deletes
    assert {("pods", p["metadata"]["name"], "Background") for p in w.pods} <= set(deletes)
    rs_delete = next(a for a in w.client.actions if a.verb == "delete" and a.resource == "replicasets")
    assert rs_delete.body["preconditions"] == {"uid": w.rs["metadata"]["uid"]}
    # the owner's absence was confirmed by a live GET before deleting
    assert any(a.verb == "get" and a.resource == "deployments" for a in w.client.actions)


async def test_foreground_cascade_deletes_dependents_first() -> None:
    w = World()
    await w.drain()
    await w.client.delete(DEPLOYMENTS, "web", "default", propagationPolicy="Foreground")
    assert w.client.stored(DEPLOYMENTS, "web", "default")["metadata"]["finalizers"] == ["foregroundDeletion"]
    await w.drain()
    assert w.names(DEPLOYMENTS) == [] and w.names(REPLICASETS) == [] and w.names(PODS) == []
    order = [(a.resource, a.body.get("propagationPolicy")) for a in w.client.actions if a.verb == "delete"]
    assert order[1] == ("replicasets", "Foreground")  # after the user's own delete of the deployment
    finalizer_patches = [a.resource for a in w.client.actions if a.verb == "patch"
                         and "finalizers" in a.body.get("metadata", {})]
    assert finalizer_patches == ["replicasets", "deployments"]  # the RS lets go first, then the Deployment


async def test_orphan_strips_references_and_keeps_dependents() -> None:
    w = World()
    await w.drain()
    await w.client.delete(DEPLOYMENTS, "web", "default", propagationPolicy="Orphan")
    await w.drain()
    assert w.names(DEPLOYMENTS) == []
    assert w.names(REPLICASETS) == ["web-1"]
    assert "ownerReferences" not in w.client.stored(REPLICASETS, "web-1", "default")["metadata"]
    assert len(w.names(PODS)) == 2  # the RS still owns its pods
    assert not [a for a in w.client.actions if a.verb == "delete" and a.resource != "deployments"]


async def test_dangling_reference_removed_when_another_owner_lives() -> None:
    w = World()
    pod = b.pod("shared", owner=w.rs)
    pod["metadata"]["ownerReferences"].append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "gone",
                                               "uid": "gone-uid"})
    w.client.add(PODS, pod)
    await w.drain()
    assert "shared" in w.names(PODS)
    refs = w.client.stored(PODS, "shared", "default")["metadata"]["ownerReferences"]
    assert [r["uid"] for r in refs] == [w.rs["metadata"]["uid"]]


async def test_owner_replaced_under_same_name_counts_as_gone() -> None:
    w = World()
    pod = b.pod("stale")
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                           "uid": "an-older-uid", "controller": True}]
    w.client.add(PODS, pod)
    await w.drain()
    assert "stale" not in w.names(PODS)
    assert "web-1-0" in w.names(PODS)


async def test_unknown_owner_kind_is_left_alone() -> None:
    w = World()
    pod = b.pod("custom-owned")
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
                                           "uid": "widget-uid"}]
    w.client.add(PODS, pod)
    await w.drain()
    assert "custom-owned" in w.names(PODS)
