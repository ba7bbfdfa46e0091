"""ServiceLB: LoadBalancer Services get the node addresses as ingress, through services/status."""

from __future__ import annotations

import asyncio

from kybernetes.client.rest import NODES, SERVICES
from kybernetes.network import servicelb
from tests.controllers.fakes import FakeClient, FakeRecorder
from tests.network.builders import service


def node(name: str, ip: str, ready: bool = True, labels: dict[str, str] | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def setup(*svcs: dict, nodes: tuple[dict, ...] = ()) -> tuple[FakeClient, servicelb.ServiceLBController, FakeRecorder]:
    client = FakeClient()
    for n in nodes:
        client.add(NODES, n)
    for s in svcs:
        client.add(SERVICES, s)
    rec = FakeRecorder()
    ctrl = servicelb.ServiceLBController(client.informer(SERVICES), client.informer(NODES), client, rec)
    return client, ctrl, rec


def ingress(client: FakeClient, name: str) -> list[dict] | None:
    svc = client.stored(SERVICES, name, "default")
    assert svc is not None
    return ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")


async def test_loadbalancer_gets_ready_node_addresses_via_status() -> None:
    client, ctrl, rec = setup(service("web", type_="LoadBalancer", node_ports={"http": 30080}),
                              nodes=(node("n2", "10.99.0.10"), node("n1", "10.99.0.9"), node("n3", "10.99.0.11", False)))
    await ctrl.sync("default/web")
    assert ingress(client, "web") == [{"ip": "10.99.0.9", "ipMode": "VIP"}, {"ip": "10.99.0.10", "ipMode": "VIP"}]
    patch = [a for a in client.actions if a.verb == "patch"]
    assert len(patch) == 1 and patch[0].subresource == "status"
    assert rec.reasons() == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]
    client.clear()
    await ctrl.sync("default/web")  # idempotent: nothing to write
    assert client.verbs("services") == []


async def test_opt_in_label_and_foreign_classes() -> None:
    lb_class = service("other", type_="LoadBalancer")
    lb_class["spec"]["loadBalancerClass"] = "example.com/lb"
    client, ctrl, _ = setup(service("web", type_="LoadBalancer"), lb_class,
                            nodes=(node("n1", "10.99.0.9"), node("n2", "10.99.0.10", labels={servicelb.ENABLE_LABEL: "true"})))
    await ctrl.sync("default/web")
    await ctrl.sync("default/other")
    assert ingress(client, "web") == [{"ip": "10.99.0.10", "ipMode": "VIP"}]
    assert ingress(client, "other") is None


async def test_type_change_clears_ingress_and_node_changes_resync() -> None:
    client, ctrl, _ = setup(service("web", type_="ClusterIP", lb_ips=["10.99.0.9"]), nodes=(node("n1", "10.99.0.9"),))
    await ctrl.sync("default/web")
    assert ingress(client, "web") is None
    await client.patch(SERVICES, "web", {"spec": {"type": "LoadBalancer"}}, "default")
    task = asyncio.create_task(ctrl.run())
    try:
        await client.wait_for(lambda: ingress(client, "web") == [{"ip": "10.99.0.9", "ipMode": "VIP"}], 5)
        await client.patch(NODES, "n1", {"status": {"addresses": [{"type": "InternalIP", "address": "10.99.0.19"}]}},
                           subresource="status")
        await client.wait_for(lambda: ingress(client, "web") == [{"ip": "10.99.0.19", "ipMode": "VIP"}], 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
