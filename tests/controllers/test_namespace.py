"""Namespace controller: a terminating namespace is emptied, its conditions report progress, and it is
finalized through ``namespaces/<ns>/finalize`` once empty."""

from __future__ import annotations

from kybernetes.client import discovery
from kybernetes.client.rest import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, PODS, Client, Resource
from kybernetes.controllers.namespace import NamespaceController
from tests.controllers import builders as b
from tests.controllers.fakes import FakeClient, FakeRecorder, as_client

SERVED = discovery.DiscoveryResult((
    discovery.DiscoveredResource(PODS, frozenset({"list", "delete", "deletecollection", "watch"})),
    discovery.DiscoveredResource(CONFIGMAPS, frozenset({"list", "delete", "watch"})),  # no deletecollection
    discovery.DiscoveredResource(DEPLOYMENTS, frozenset({"list", "delete", "deletecollection"})),
    discovery.DiscoveredResource(Resource("", "v1", "bindings", kind="Binding"), frozenset({"create"})),
    discovery.DiscoveredResource(NAMESPACES, frozenset({"list", "delete"})),
), {})


async def fake_discover(_client: Client) -> discovery.DiscoveryResult:
    return SERVED


def setup(*objs: tuple[Resource, dict]) -> tuple[NamespaceController, FakeClient]:
    client = FakeClient()
    for res, obj in objs:
        client.add(res, obj)
    ctrl = NamespaceController(client.informer(NAMESPACES), as_client(client), FakeRecorder(), discover=fake_discover)
    return ctrl, client


def cond(ns: dict, type_: str) -> dict:
    return next(c for c in ns["status"]["conditions"] if c["type"] == type_)


async def test_empties_and_finalizes_terminating_namespace() -> None:
    ctrl, client = setup((NAMESPACES, b.namespace("demo", terminating=True)),
                         (PODS, b.pod("p1", ns="demo")), (PODS, b.pod("p2", ns="demo")),
                         (CONFIGMAPS, {"metadata": {"name": "c", "namespace": "demo"}}),
                         (DEPLOYMENTS, b.deployment(ns="demo")),
                         (PODS, b.pod("elsewhere", ns="default")))
    await ctrl.sync("demo")
    assert client.all(PODS, "demo") == [] and client.all(CONFIGMAPS, "demo") == [] and client.all(DEPLOYMENTS) == []
    assert [p["metadata"]["name"] for p in client.all(PODS)] == ["elsewhere"]
    dc = [a for a in client.actions if a.verb == "deletecollection"]
    assert {a.resource for a in dc} == {"pods", "deployments"}
    assert all(a.body == {"propagationPolicy": "Background"} for a in dc)
    assert any(a.verb == "delete" and a.resource == "configmaps" for a in client.actions)  # one by one
    finalize = [a for a in client.actions if a.subresource == "finalize"]
    assert len(finalize) == 1 and finalize[0].body["spec"]["finalizers"] == []
    assert client.stored(NAMESPACES, "demo") is None  # no finalizers left: gone
    status_puts = [a for a in client.actions if a.subresource == "status"]
    ns = status_puts[-1].body
    assert ns["status"]["phase"] == "Terminating"
    assert (cond(ns, "NamespaceDeletionDiscoveryFailure")["status"], cond(ns, "NamespaceDeletionDiscoveryFailure")
            ["reason"]) == ("False", "ResourcesDiscovered")
    assert cond(ns, "NamespaceContentRemaining")["message"] == "All content successfully removed"


async def test_waits_for_content_with_finalizers() -> None:
    cm = {"metadata": {"name": "held", "namespace": "demo", "finalizers": ["example.com/hold"]}}
    ctrl, client = setup((NAMESPACES, b.namespace("demo", terminating=True)), (CONFIGMAPS, cm))
    later: list[tuple[str, float]] = []
    ctrl.queue.add_after = lambda key, delay: later.append((key, delay))  # type: ignore[method-assign]
    await ctrl.sync("demo")
    assert not [a for a in client.actions if a.subresource == "finalize"]
    assert later[-1] == ("demo", 15 / 2 + 1)  # (the status write itself also re-enqueues after the grace)
    ns = client.stored(NAMESPACES, "demo")
    assert cond(ns, "NamespaceContentRemaining")["message"] == \
        "Some resources are remaining: configmaps. has 1 resource instances"
    assert (cond(ns, "NamespaceFinalizersRemaining")["reason"], cond(ns, "NamespaceFinalizersRemaining")["message"]) == \
        ("SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/hold in 1 "
                                 "resource instances")
    # the finalizer goes away; the next pass finalizes
    await client.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, "demo")
    await ctrl.sync("demo")
    assert client.stored(NAMESPACES, "demo") is None


async def test_active_namespace_is_left_alone() -> None:
    ctrl, client = setup((NAMESPACES, b.namespace("demo")), (PODS, b.pod("p1", ns="demo")))
    await ctrl.sync("demo")
    assert client.actions == []


async def test_only_deletion_enqueues() -> None:
    ctrl, client = setup((NAMESPACES, b.namespace("live")))
    delayed: list[str] = []
    ctrl.queue.add_after = lambda key, delay: delayed.append(key)  # type: ignore[method-assign]
    await client.delete(NAMESPACES, "live")
    assert delayed == ["live"]
