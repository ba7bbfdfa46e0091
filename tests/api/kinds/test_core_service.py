"""core/v1 Service strategy: defaults, allocation, update rules, validation and the table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.kinds.core import service
from kybernetes.api.strategy import WriteContext

S = service.STRATEGY


class FakeAllocator:
    """Hands out values in order and refuses taken ones, like the apiserver's allocators."""

    def __init__(self, values: list[Any]) -> None:
        self.free = list(values)
        self.used: set[Any] = set()

    def allocate(self, requested: Any = None) -> Any:
        if requested:
            if requested in self.used:
                raise errors.invalid_object("Service", "", "", [errors.invalid(
                    "spec.ports[0].nodePort", requested, "provided port is already allocated")])
            self.used.add(requested)
            return requested
        value = next(v for v in self.free if v not in self.used)
        self.used.add(value)
        return value

    def release(self, value: Any) -> None:
        self.used.discard(value)


def context() -> WriteContext:
    return WriteContext(allocators={"cluster-ip": FakeAllocator([f"10.43.0.{i}" for i in range(10, 20)]),
                                    "node-port": FakeAllocator(list(range(30000, 30010)))})


def svc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}}


def create(obj: dict[str, Any], ctx: WriteContext | None = None) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    ctx = ctx or context()
    S.default(obj)
    S.prepare_for_create(obj, ctx)
    assert [e.message() for e in S.validate(obj, ctx)] == []
    return obj


def update(old: dict[str, Any], change: Any, ctx: WriteContext | None = None) -> tuple[dict[str, Any], list[str]]:
    new = copy.deepcopy(old)
    change(new["spec"])
    ctx = ctx or context()
    S.default(new)
    S.prepare_for_update(new, old, ctx)
    return new, [e.message() for e in S.validate_update(new, old, ctx)]


def test_cluster_ip_service_as_kubectl_expose_creates_it() -> None:
    obj = create(svc(ports=[{"port": 80, "targetPort": 8080}]))
    assert obj["spec"] == {
        "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "web"},
        "sessionAffinity": "None", "type": "ClusterIP"}
    assert obj["status"] == {"loadBalancer": {}}


def test_node_port_and_load_balancer_defaults() -> None:
    np = create(svc(type="NodePort"))["spec"]
    assert np["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000}]
    assert np["externalTrafficPolicy"] == "Cluster"
    lb = create(svc(type="LoadBalancer", externalTrafficPolicy="Local"))["spec"]
    assert lb["allocateLoadBalancerNodePorts"] is True
    assert lb["ports"][0]["nodePort"] == 30000
    assert lb["healthCheckNodePort"] == 30001
    no_np = create(svc(type="LoadBalancer", allocateLoadBalancerNodePorts=False))["spec"]
    assert "nodePort" not in no_np["ports"][0]


def test_headless_and_external_name_get_no_cluster_ip() -> None:
    headless = create(svc(clusterIP="None"))["spec"]
    assert (headless["clusterIPs"], headless["ipFamilyPolicy"], headless["ipFamilies"]) == (
        ["None"], "SingleStack", ["IPv4"])
    selectorless = create({"metadata": {"name": "h", "namespace": "default"},
                           "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})["spec"]
    assert (selectorless["ipFamilyPolicy"], selectorless["ipFamilies"]) == ("RequireDualStack", ["IPv4", "IPv6"])
    ext = create({"metadata": {"name": "ext", "namespace": "default"},
                  "spec": {"type": "ExternalName", "externalName": "example.com"}})["spec"]
    assert ext == {"externalName": "example.com", "sessionAffinity": "None", "type": "ExternalName"}


def test_requested_node_port_and_cluster_ip() -> None:
    obj = create(svc(type="NodePort", clusterIP="10.43.0.99", ports=[{"port": 80, "nodePort": 30080}]))
    assert obj["spec"]["clusterIPs"] == ["10.43.0.99"]
    assert obj["spec"]["ports"][0]["nodePort"] == 30080


def test_taken_node_port_is_reported_on_this_service() -> None:
    ctx = context()
    create(svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]), ctx)
    obj = svc(type="NodePort", ports=[{"port": 81, "nodePort": 30080}])
    obj["metadata"]["name"] = "other"
    S.default(obj)
    with pytest.raises(errors.StatusError) as exc:
        S.prepare_for_create(obj, ctx)
    assert exc.value.message == ('Service "other" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided '
                                 "port is already allocated")


def test_update_keeps_allocated_values_when_omitted() -> None:
    old = create(svc(type="NodePort"))

    def omit(spec: dict[str, Any]) -> None:
        spec.pop("clusterIP")
        spec.pop("clusterIPs")
        spec["ports"][0].pop("nodePort")
    new, errs = update(old, omit)
    assert errs == []
    assert (new["spec"]["clusterIP"], new["spec"]["ports"][0]["nodePort"]) == ("10.43.0.10", 30000)


def test_cluster_ip_may_not_change() -> None:
    old = create(svc())

    def change(spec: dict[str, Any]) -> None:
        spec["clusterIP"] = "10.43.0.77"
        spec["clusterIPs"] = ["10.43.0.77"]
    _, errs = update(old, change)
    assert errs == ['spec.clusterIPs[0]: Invalid value: []string{"10.43.0.77"}: may not change once set']


def test_type_change_drops_and_allocates() -> None:
    old = create(svc(type="NodePort"))
    to_cluster_ip, errs = update(old, lambda spec: spec.__setitem__("type", "ClusterIP"))
    assert errs == []
    assert "nodePort" not in to_cluster_ip["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in to_cluster_ip["spec"]
    plain = create(svc())
    to_np, errs = update(plain, lambda spec: spec.__setitem__("type", "NodePort"))
    assert errs == [] and to_np["spec"]["ports"][0]["nodePort"] == 30000
    to_ext, errs = update(plain, lambda spec: spec.update(type="ExternalName", externalName="db.example.com"))
    assert errs == []
    assert "clusterIP" not in to_ext["spec"] and "ipFamilies" not in to_ext["spec"]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"ports": []}, ["spec.ports: Required value"]),
    ({"type": "Magic"}, ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
                         '"LoadBalancer", "NodePort"']),
    ({"ports": [{"port": 80}, {"port": 81}]}, ["spec.ports[0].name: Required value",
                                               "spec.ports[1].name: Required value"]),
    ({"ports": [{"port": 0}]}, ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"]),
    ({"ports": [{"port": 80, "nodePort": 30001}]},
     ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
    ({"type": "NodePort", "clusterIP": "None"},
     ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]),
    ({"sessionAffinity": "Sticky"}, ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: '
                                     '"ClientIP", "None"']),
    ({"ipFamilyPolicy": "RequireDualStack"}, ['spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster '
                                              "is not configured for dual-stack services"]),
    ({"externalTrafficPolicy": "Local"}, ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for '
                                          "externally-accessible services"]),
])
def test_validation(spec: dict[str, Any], expected: list[str]) -> None:
    obj = svc(**spec)
    S.default(obj)
    ctx = context()
    S.prepare_for_create(obj, ctx)
    assert [e.message() for e in S.validate(obj, ctx)] == expected


def test_names_are_dns1035_labels() -> None:
    assert S.name_validator("web") == []
    assert S.name_validator("1web") != []


def test_status_strategy_keeps_spec_and_validates_ingress() -> None:
    old = create(svc(type="LoadBalancer"))
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
    status = service.RESOURCES[0].status_strategy
    assert status is not None
    status.default(new)
    status.prepare_for_update(new, old, WriteContext())
    assert new["spec"]["type"] == "LoadBalancer"
    assert new["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.10", "ipMode": "VIP"}]
    assert status.validate_update(new, old, WriteContext()) == []


@pytest.mark.parametrize(("spec", "status", "cells"), [
    ({"type": "ClusterIP", "clusterIPs": ["10.43.0.1"], "ports": [{"port": 443, "protocol": "TCP"}]}, {},
     ["web", "ClusterIP", "10.43.0.1", "<none>", "443/TCP", "60m", "<none>"]),
    ({"type": "NodePort", "clusterIPs": ["10.43.0.2"], "selector": {"app": "web", "tier": "fe"},
      "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}, {},
     ["web", "NodePort", "10.43.0.2", "<none>", "80:30080/TCP,53/UDP", "60m", "app=web,tier=fe"]),
    ({"type": "LoadBalancer", "clusterIPs": ["10.43.0.3"], "ports": [{"port": 80, "nodePort": 31000,
                                                                      "protocol": "TCP"}]}, {},
     ["web", "LoadBalancer", "10.43.0.3", "<pending>", "80:31000/TCP", "60m", "<none>"]),
    ({"type": "LoadBalancer", "clusterIPs": ["10.43.0.3"], "externalIPs": ["198.51.100.1"], "ports": []},
     {"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}, {"hostname": "lb.example.com"}]}},
     ["web", "LoadBalancer", "10.43.0.3", "192.0.2.2,lb.example.com,198.51.100.1", "<none>", "60m", "<none>"]),
    ({"type": "ExternalName", "externalName": "db.example.com"}, {},
     ["web", "ExternalName", "<none>", "db.example.com", "<none>", "60m", "<none>"]),
    ({"type": "ClusterIP", "clusterIPs": ["None"], "ports": [{"port": 80, "protocol": "TCP"}]}, {},
     ["web", "ClusterIP", "None", "<none>", "80/TCP", "60m", "<none>"]),
])
def test_table_rows(spec: dict[str, Any], status: dict[str, Any], cells: list[Any]) -> None:
    obj = {"metadata": {"name": "web", "creationTimestamp": "2025-01-01T00:00:00Z"}, "spec": spec, "status": status}
    assert S.row(obj, 1735693200.0) == cells


def test_columns_and_discovery() -> None:
    assert [(c.name, c.priority) for c in S.columns()] == [
        ("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0), ("Port(s)", 0), ("Age", 0), ("Selector", 1)]
    (info,) = service.RESOURCES
    assert (info.short_names, info.categories) == (("svc",), ("all",))
    assert [(s.name, s.kind, s.verbs) for s in info.subresources] == [
        ("proxy", "ServiceProxyOptions", ("create", "delete", "get", "patch", "update")),
        ("status", "Service", ("get", "patch", "update"))]
    assert S.field_selectors(create(svc())) == {"metadata.name": "web", "metadata.namespace": "default",
                                                "spec.clusterIP": "10.43.0.10", "spec.type": "ClusterIP"}
