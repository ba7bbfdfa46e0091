"""Controller manager: the registry builds every controller over shared informers, they run against a
(fake, watchable) API until stopped, and with leader election only the Lease holder acts."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kybernetes.client.rest import DEPLOYMENTS, LEASES, NAMESPACES, PODS, REPLICASETS, SERVICEACCOUNTS
from kybernetes.controllers import manager
from tests.controllers import builders as b
from tests.controllers.fakes import FakeClient, as_client

RESOURCES = {
    "/api": {"versions": ["v1"]},
    "/apis": {"groups": [{"name": "apps", "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": {"resources": [
        {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["list", "watch", "delete", "deletecollection"]},
        {"name": "pods/status", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
        {"name": "namespaces", "namespaced": False, "kind": "Namespace", "verbs": ["list", "watch", "delete"]}]},
    "/apis/apps/v1": {"resources": [
        {"name": "deployments", "namespaced": True, "kind": "Deployment", "verbs": ["list", "watch", "delete"]},
        {"name": "replicasets", "namespaced": True, "kind": "ReplicaSet", "verbs": ["list", "watch", "delete"]}]},
}


def cluster() -> FakeClient:
    client = FakeClient()
    client.responses.update(RESOURCES)
    client.add(NAMESPACES, b.namespace("default"))
    client.add(DEPLOYMENTS, b.deployment(replicas=2))
    return client


def test_registry_names_match_kube_controller_manager() -> None:
    assert set(manager.CONTROLLERS) == {"replicaset", "replicationcontroller", "deployment", "garbagecollector",
                                        "namespace", "serviceaccount", "root-ca-cert-publisher", "endpoints",
                                        "endpointslice", "nodelifecycle", "nodeipam", "taint-eviction-controller",
                                        "resourcequota",
                                        "statefulset", "daemonset", "job", "cronjob", "ttl-after-finished", "podgc",
                                        "disruption", "horizontalpodautoscaling", "persistentvolume-binder",
                                        "pvc-protection", "pv-protection"}


async def test_controllers_run_until_stopped() -> None:
    client = cluster()
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run_controllers(as_client(client), stop, root_ca_pem="PEM"))
    await client.wait_for(lambda: len(client.all(PODS)) == 2 and bool(client.all(SERVICEACCOUNTS)))
    [rs] = client.all(REPLICASETS)
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in client.all(PODS))
    await client.wait_for(lambda: any(a.resource == "events" for a in client.actions))  # recorders run
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_unknown_controller_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown controllers"):
        await manager.run_controllers(as_client(FakeClient()), asyncio.Event(), enabled=["nope"])


async def test_only_the_lease_holder_acts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kybernetes.controllers.manager")
    client = cluster()
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(manager.run_controller_manager(as_client(client), stop_a, "a",
                                                           controllers=["deployment", "replicaset"]))
    await client.wait_for(lambda: len(client.all(PODS)) == 2)
    lease = client.stored(LEASES, "kube-controller-manager", "kube-system")
    assert lease["spec"]["holderIdentity"] == "a" and lease["spec"]["leaseDurationSeconds"] == 15
    gets = sum(1 for x in client.actions if x.resource == "leases" and x.verb == "get")
    b_task = asyncio.create_task(manager.run_controller_manager(as_client(client), stop_b, "b",
                                                                controllers=["deployment", "replicaset"]))
    await client.wait_for(lambda: sum(1 for x in client.actions if x.resource == "leases" and x.verb == "get") > gets,
                          deadline=5)
    assert client.stored(LEASES, "kube-controller-manager", "kube-system")["spec"]["holderIdentity"] == "a"
    started = [r for r in caplog.records if r.getMessage().startswith("Started ")]
    assert len(started) == 1
    stop_a.set()
    stop_b.set()
    await asyncio.wait_for(asyncio.gather(a, b_task), 10)
    assert not client.stored(LEASES, "kube-controller-manager", "kube-system")["spec"].get("holderIdentity")


async def test_custom_resources_from_crds_are_followed_by_the_gc() -> None:
    client = cluster()
    client.responses["/apis"]["groups"].append({"name": "example.com", "preferredVersion": {"version": "v1"}})
    client.responses["/apis/example.com/v1"] = {"resources": [
        {"name": "widgets", "namespaced": True, "kind": "Widget", "verbs": ["list", "watch", "delete"]}]}
    client.add(manager.CRDS, {"metadata": {"name": "widgets.example.com"},
                              "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}}})
    found, custom = await manager._discover(as_client(client), asyncio.Event())
    assert [r.plural for r in custom] == ["widgets"]
    assert found.by_kind()[("example.com/v1", "Widget")].plural == "widgets"
