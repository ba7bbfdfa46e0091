"""Endpoints and EndpointSlice controllers: readiness, named ports resolved per pod,
publishNotReadyAddresses, terminating pods, placeholders, labels and ownership."""

from __future__ import annotations

import copy

import pytest

from kybernetes.client.errors import AlreadyExistsError
from kybernetes.client.rest import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from kybernetes.controllers import endpointslice
from kybernetes.controllers.endpoints import EndpointsController
from kybernetes.controllers.endpointslice import EndpointSliceController
from tests.controllers import builders as b
from tests.controllers.fakes import FakeClient, FakeRecorder, as_client


def world(*pods: dict, svc: dict | None = None) -> tuple[FakeClient, EndpointsController, EndpointSliceController]:
    client = FakeClient()
    client.add(SERVICES, svc or b.service())
    for p in pods:
        client.add(PODS, p)
    svcs, pod_inf = client.informer(SERVICES), client.informer(PODS)
    ep = EndpointsController(svcs, pod_inf, client.informer(ENDPOINTS), as_client(client), FakeRecorder())
    es = EndpointSliceController(svcs, pod_inf, client.informer(ENDPOINTSLICES), as_client(client), FakeRecorder())
    return client, ep, es


def named_port_pod(name: str, port: int, **kw: object) -> dict:
    p = b.pod(name, **kw)  # type: ignore[arg-type]
    p["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    return p


async def test_ready_and_not_ready_addresses_with_named_ports() -> None:
    client, ep, _ = world(named_port_pod("a", 8080, ip="10.42.0.2", ready=True, phase="Running", node="n1"),
                          named_port_pod("b", 9090, ip="10.42.0.3", phase="Running"),
                          named_port_pod("c", 8080, ip="10.42.0.4", ready=True, phase="Running"),
                          b.pod("noip", ready=True), b.pod("other", labels={"app": "db"}, ip="10.42.0.9", ready=True),
                          b.pod("done", ip="10.42.0.8", phase="Succeeded"))
    await ep.sync("default/web")
    e = client.stored(ENDPOINTS, "web", "default")
    assert e["metadata"]["labels"] == {"svc": "web"}
    subsets = e["subsets"]
    assert len(subsets) == 2
    by_port = {s["ports"][0]["port"]: s for s in subsets}
    assert [a["ip"] for a in by_port[8080]["addresses"]] == ["10.42.0.2", "10.42.0.4"]
    assert by_port[8080]["addresses"][0]["nodeName"] == "n1"
    assert by_port[8080]["addresses"][0]["targetRef"]["name"] == "a"
    assert by_port[8080]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert [a["ip"] for a in by_port[9090]["notReadyAddresses"]] == ["10.42.0.3"]
    assert "addresses" not in by_port[9090]
    client.clear()
    await ep.sync("default/web")
    assert client.verbs("endpoints") == []  # unchanged: no write


async def test_publish_not_ready_and_terminating() -> None:
    dying = b.pod("dying", ip="10.42.0.5", ready=True, phase="Running")
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    unready = b.pod("unready", ip="10.42.0.6", phase="Running")
    client, ep, _ = world(copy.deepcopy(dying), copy.deepcopy(unready))
    await ep.sync("default/web")
    s = client.stored(ENDPOINTS, "web", "default")["subsets"]
    assert [a["ip"] for a in s[0]["notReadyAddresses"]] == ["10.42.0.6"] and "addresses" not in s[0]
    client, ep, _ = world(dying, unready, svc=b.service(publish_not_ready=True))
    await ep.sync("default/web")
    s = client.stored(ENDPOINTS, "web", "default")["subsets"]
    assert [a["ip"] for a in s[0]["addresses"]] == ["10.42.0.5", "10.42.0.6"]


async def test_headless_service_without_ports_and_service_deletion() -> None:
    svc = b.service(cluster_ip="None", ports=[])
    client, ep, _ = world(b.pod("a", ip="10.42.0.2", ready=True), svc=svc)
    await ep.sync("default/web")
    e = client.stored(ENDPOINTS, "web", "default")
    assert e["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert e["subsets"] == [{"addresses": [e["subsets"][0]["addresses"][0]]}]
    await client.delete(SERVICES, "web", "default")
    await ep.sync("default/web")
    assert client.stored(ENDPOINTS, "web", "default") is None


async def test_pod_changes_enqueue_selecting_services() -> None:
    client, ep, _ = world()
    client.add(PODS, b.pod("a", ip="10.42.0.2"))
    assert len(ep.queue) == 1
    client.add(PODS, b.pod("x", labels={"app": "db"}))
    assert len(ep.queue) == 1


async def test_endpointslice_contents_and_reconcile() -> None:
    dying = named_port_pod("dying", 8080, ip="10.42.0.5", ready=True, phase="Running")
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    client, _, es = world(named_port_pod("a", 8080, ip="10.42.0.2", ready=True, phase="Running", node="n1"),
                          named_port_pod("b", 8080, ip="10.42.0.3", phase="Running"), dying)
    await es.sync("default/web")
    [s] = client.all(ENDPOINTSLICES)
    svc = client.stored(SERVICES, "web", "default")
    assert s["metadata"]["name"].startswith("web-") and s["metadata"]["generateName"] == "web-"
    assert s["metadata"]["labels"] == {"svc": "web", "kubernetes.io/service-name": "web",
                                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert s["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                 "uid": svc["metadata"]["uid"], "controller": True,
                                                 "blockOwnerDeletion": True}]
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    eps = {e["targetRef"]["name"]: e for e in s["endpoints"]}
    assert eps["a"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert eps["a"]["nodeName"] == "n1" and eps["a"]["addresses"] == ["10.42.0.2"]
    assert eps["b"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert eps["dying"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    client.clear()
    await es.sync("default/web")
    assert client.verbs("endpointslices") == []
    await client.delete(PODS, "b", "default")
    await es.sync("default/web")
    assert [a.verb for a in client.actions if a.resource == "endpointslices"] == ["update"]
    assert len(client.all(ENDPOINTSLICES)[0]["endpoints"]) == 2


async def test_endpointslice_placeholder_and_chunking() -> None:
    client, _, es = world()
    await es.sync("default/web")
    [s] = client.all(ENDPOINTSLICES)
    assert s["endpoints"] == [] and s["ports"] == []
    es.max_per_slice = 2
    for i in range(5):
        client.add(PODS, b.pod(f"p{i}", ip=f"10.42.0.{i + 10}", ready=True, phase="Running"))
    await es.sync("default/web")
    slices = client.all(ENDPOINTSLICES)
    assert sorted(len(x["endpoints"]) for x in slices) == [1, 2, 2]
    assert all(x["metadata"]["labels"][endpointslice.SERVICE_NAME_LABEL] == "web" for x in slices)


async def test_endpoints_the_informer_has_not_seen_yet_are_no_failure() -> None:
    # the Endpoints exist (written a moment ago) but the informer has not caught up: the create is
    # refused, which is retried later without a FailedToCreateEndpoint warning
    client, _, _ = world(b.pod("a", ip="10.42.0.2", ready=True, phase="Running"))
    recorder = FakeRecorder()
    ep = EndpointsController(client.informer(SERVICES, attach=False), client.informer(PODS, attach=False),
                             client.informer(ENDPOINTS), as_client(client), recorder)
    client.add(ENDPOINTS, {"metadata": {"name": "web", "namespace": "default"}})
    ep.ep_informer.delete(client.stored(ENDPOINTS, "web", "default"))
    with pytest.raises(AlreadyExistsError):
        await ep.sync("default/web")
    assert recorder.events == []
