"""Services + EndpointSlices → plans: which endpoints each policy uses, and the reject/drop decisions."""

from __future__ import annotations

import pytest

from kybernetes.network._mirror import mirrored_slices
from kybernetes.network.proxy import model
from tests.network.builders import endpoint, endpoint_slice, service

A, B, C = "10.42.1.11", "10.42.1.12", "10.42.2.11"


def plan_for(svc: dict, eps: list[dict], **slice_kw: object) -> model.ServicePlan:
    plans = model.build_plans([svc], [endpoint_slice(svc["metadata"]["name"], eps, **slice_kw)], "node-1")
    assert len(plans) == 1
    return plans[0]


def ips(eps: tuple[model.Endpoint, ...]) -> list[str]:
    return [e.ip for e in eps]


@pytest.mark.parametrize(("svc", "eps", "cluster", "local", "has", "internal", "external"), [
    # ready endpoints only; not-ready ones are ignored
    (service("s"), [endpoint(A), endpoint(B, ready=False), endpoint(C, node="node-2")],
     [A, C], [], True, None, None),
    # no ready endpoint: fall back to serving + terminating ones
    (service("s"), [endpoint(A, ready=False, serving=True, terminating=True), endpoint(B, ready=False)],
     [A], [], True, None, None),
    # nothing usable anywhere: reject
    (service("s"), [endpoint(A, ready=False)], [], [], False, model.REJECT, model.REJECT),
    # internalTrafficPolicy Local with no local endpoint: ClusterIP traffic dropped
    (service("s", itp="Local"), [endpoint(C, node="node-2")], [], [], True, model.DROP, None),
    (service("s", itp="Local"), [endpoint(A), endpoint(C, node="node-2")], [], [A], True, None, None),
    # externalTrafficPolicy Local: cluster endpoints kept for short-circuiting, local ones for external
    (service("s", type_="NodePort", node_ports={"http": 30080}, etp="Local"),
     [endpoint(A), endpoint(C, node="node-2")], [A, C], [A], True, None, None),
    (service("s", type_="NodePort", node_ports={"http": 30080}, etp="Local"),
     [endpoint(C, node="node-2")], [C], [], True, None, model.DROP),
    # Local policy falls back to local serving-terminating endpoints
    (service("s", type_="NodePort", node_ports={"http": 30080}, etp="Local"),
     [endpoint(A, ready=False, serving=True, terminating=True), endpoint(C, node="node-2")],
     [C], [A], True, None, None),
])
def test_categorize(svc: dict, eps: list[dict], cluster: list[str], local: list[str], has: bool,
                    internal: str | None, external: str | None) -> None:
    p = plan_for(svc, eps)
    assert (ips(p.cluster), ips(p.local), p.has_endpoints) == (cluster, local, has)
    assert (p.internal_verdict, p.external_verdict) == (internal, external)


def test_external_policy_local_needs_an_external_destination() -> None:
    p = plan_for(service("s", etp="Local"), [endpoint(A)])  # ClusterIP type: Local is meaningless
    assert not p.svc.external_local and not p.svc.uses_local_endpoints


def test_headless_and_externalname_services_get_no_rules() -> None:
    slices = [endpoint_slice("h", [endpoint(A)]), endpoint_slice("x", [endpoint(A)])]
    svcs = [service("h", cluster_ip="None"), service("x", type_="ExternalName", external_name="example.org")]
    assert model.build_plans(svcs, slices, "node-1") == []


def test_ports_match_slices_by_name_and_protocol() -> None:
    svc = service("dns", ports=[("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")])
    sl = endpoint_slice("dns", [endpoint(A), endpoint(B)],
                        ports=[("dns", 5353, "UDP"), ("dns-tcp", 5353, "TCP"), ("metrics", 9153, "TCP")])
    plans = model.build_plans([svc], [sl], "node-1")
    got = {(p.svc.port_name, p.svc.protocol): [e.address for e in p.cluster] for p in plans}
    assert got == {("dns", "udp"): [f"{A}:5353", f"{B}:5353"], ("dns-tcp", "tcp"): [f"{A}:5353", f"{B}:5353"],
                   ("metrics", "tcp"): [f"{A}:9153", f"{B}:9153"]}


def test_endpoints_merge_across_slices_sorted_and_deduplicated() -> None:
    svc = service("s")
    slices = [endpoint_slice("s", [endpoint("10.42.1.20"), endpoint(A, ready=False)], name="s-1"),
              endpoint_slice("s", [endpoint(A), endpoint("10.42.1.3")], name="s-2"),
              endpoint_slice("other", [endpoint(B)], name="o-1")]
    plan = model.build_plans([svc], slices, "node-1")[0]
    assert ips(plan.cluster) == ["10.42.1.3", A, "10.42.1.20"]


def test_service_fields() -> None:
    svc = service("s", type_="LoadBalancer", node_ports={"http": 30080}, affinity_seconds=60,
                  external_ips=["192.0.2.9", "fd00::1"], lb_ips=["192.0.2.10"])
    svc["status"]["loadBalancer"]["ingress"].append({"ip": "192.0.2.11", "ipMode": "Proxy"})
    p = plan_for(svc, [endpoint(A)]).svc
    assert (p.name_string, p.node_port, p.external_ips, p.lb_ips, p.affinity_seconds) == (
        "default/s:http", 30080, ("192.0.2.9",), ("192.0.2.10",), 60)
    clusterip = plan_for(service("c", ports=[("", 80, "TCP")], node_ports={"": 30001}), [endpoint(A)],
                         ports=[("", 8080, "TCP")]).svc
    assert (clusterip.name_string, clusterip.node_port) == ("default/c", 0)  # nodePort only for NodePort/LB


def manual_endpoints(name: str, ready: list[str], not_ready: list[str] = (), port: int = 9000) -> dict:
    return {"metadata": {"name": name, "namespace": "default"},
            "subsets": [{"addresses": [{"ip": ip, "nodeName": "node-1"} for ip in ready],
                         "notReadyAddresses": [{"ip": ip} for ip in not_ready],
                         "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}]}


def test_selectorless_service_uses_manual_endpoints_until_a_slice_exists() -> None:
    svc = service("ext", selector={})
    eps = [manual_endpoints("ext", [A], [B])]
    mirrored = mirrored_slices([svc], [], eps)
    plan = model.build_plans([svc], mirrored, "node-1")[0]
    assert [e.address for e in plan.cluster] == [f"{A}:9000"] and plan.cluster[0].local
    real = endpoint_slice("ext", [endpoint(C)])
    assert mirrored_slices([svc], [real], eps) == []  # a real slice wins
    assert mirrored_slices([service("sel")], [], [manual_endpoints("sel", [A])]) == []  # selector: controllers' job
