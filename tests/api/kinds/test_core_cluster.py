"""core/v1 Node, Event and Endpoints strategies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.kinds.core import endpoints, event, node
from kybernetes.api.strategy import WriteContext

NODE, EVENT, EP = node.STRATEGY, event.RESOURCES[0].strategy, endpoints.RESOURCES[0].strategy
T0, NOW = "2025-01-01T00:00:00Z", 1735689600.0 + 3600 * 24 * 3


def test_node_defaults_keep_status_and_fill_go_structs() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.42.0.0/24"},
                           "status": {"capacity": {"cpu": "4", "memory": "8192Mi"}}}
    NODE.default(obj)
    NODE.prepare_for_create(obj, WriteContext())
    assert obj["spec"] == {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"]}
    assert obj["status"]["capacity"] == obj["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}
    assert obj["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert obj["status"]["nodeInfo"]["kubeletVersion"] == ""
    assert NODE.validate(obj, WriteContext()) == []


def test_node_update_rules() -> None:
    old: dict[str, Any] = {"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.42.0.0/24"], "providerID": "p"}}
    NODE.default(old)
    new = copy.deepcopy(old)
    new["spec"].update(unschedulable=True, taints=[{"key": "k", "effect": "NoSchedule"}])
    assert NODE.validate_update(new, old, WriteContext()) == []
    new["spec"].update(podCIDRs=["10.42.1.0/24"], podCIDR="10.42.1.0/24", providerID="q")
    assert [e.message() for e in NODE.validate_update(new, old, WriteContext())] == [
        'spec.podCIDRs: Forbidden: may not change podCIDRs except from "" to valid',
        'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid']


def test_node_taints_validation() -> None:
    obj = {"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "a", "effect": "NoSchedule"},
                                                           {"key": "a", "effect": "NoSchedule"},
                                                           {"key": "b", "effect": "Sometimes"}]}}
    assert [e.message() for e in NODE.validate(obj, WriteContext())] == [
        'metadata.taints[1]: Duplicate value: core.Taint{Key:"a", Value:"", Effect:"NoSchedule", TimeAdded:<nil>}: '
        "taints must be unique by key and effect pair",
        'metadata.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"']


def a_node(ready: str | None, unschedulable: bool = False, labels: dict[str, str] | None = None) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {"metadata": {"name": "n1", "creationTimestamp": T0, "labels": labels or {}},
            "spec": {"unschedulable": unschedulable},
            "status": {"conditions": conditions, "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.24"}}}


@pytest.mark.parametrize(("obj", "status", "roles"), [
    (a_node("True"), "Ready", "<none>"),
    (a_node("False", labels={"node-role.kubernetes.io/control-plane": ""}), "NotReady", "control-plane"),
    (a_node(None, unschedulable=True), "Unknown,SchedulingDisabled", "<none>"),
    (a_node("True", True, {"node-role.kubernetes.io/master": "", "kubernetes.io/role": "etcd"}),
     "Ready,SchedulingDisabled", "etcd,master"),
])
def test_node_rows(obj: dict[str, Any], status: str, roles: str) -> None:
    assert NODE.row(obj, NOW) == ["n1", status, roles, "3d", "v1.32.4", "192.168.1.10", "<none>",
                                  "Debian GNU/Linux 12 (bookworm)", "6.1.0", "containerd://1.7.24"]


def test_node_selectors_and_discovery() -> None:
    assert NODE.field_selectors(a_node("True", True)) == {"metadata.name": "n1", "spec.unschedulable": "true"}
    (info,) = node.RESOURCES
    assert (info.short_names, info.namespaced, [s.name for s in info.subresources]) == (("no",), False,
                                                                                        ["proxy", "status"])


def test_event_defaults_and_validation() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "e1", "namespace": "default"}, "reason": "Started",
                           "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"}}
    EVENT.default(obj)
    assert obj["source"] == {} and obj["eventTime"] is None and obj["reportingComponent"] == ""
    assert EVENT.validate(obj, WriteContext()) == []
    obj["involvedObject"]["namespace"] = "other"
    assert [e.message() for e in EVENT.validate(obj, WriteContext())] == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    new_style = {"metadata": {"name": "e2", "namespace": "default"}, "eventTime": "2025-01-01T00:00:00.000000Z",
                 "involvedObject": {"namespace": "default"}}
    EVENT.default(new_style)
    assert [e.message() for e in EVENT.validate(new_style, WriteContext())] == [
        "reportingComponent: Required value",
        "reportingComponent: Invalid value: \"\": name part must be non-empty",
        "reportingInstance: Required value", "action: Required value", "reason: Required value"]


def test_event_row_and_selectors() -> None:
    obj = {"metadata": {"name": "web.1", "namespace": "default"}, "type": "Normal", "reason": "Pulled",
           "message": " Successfully pulled image \n", "count": 3, "firstTimestamp": "2025-01-03T23:00:00Z",
           "lastTimestamp": "2025-01-03T23:59:00Z", "source": {"component": "kubelet", "host": "n1"},
           "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                              "fieldPath": "spec.containers{web}", "uid": "u1"}}
    assert EVENT.row(obj, NOW) == ["60s", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, n1",
                                   "Successfully pulled image", "60m", 3, "web.1"]
    fields = EVENT.field_selectors(obj)
    assert (fields["involvedObject.kind"], fields["involvedObject.uid"], fields["source"], fields["reason"]) == (
        "Pod", "u1", "kubelet", "Pulled")
    assert [(c.name, c.priority) for c in EVENT.columns()] == [
        ("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1),
        ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]


def test_event_row_for_series_and_singletons() -> None:
    obj = {"metadata": {"name": "e"}, "eventTime": "2025-01-03T23:59:30.000000Z",
           "involvedObject": {"kind": "Node"}, "reportingComponent": "kube-scheduler"}
    EVENT.default(obj)
    assert EVENT.row(obj, NOW)[:8] == ["30s", "", "", "node", "", "kube-scheduler", "", "30s"]
    assert EVENT.row(obj, NOW)[8] == 1


def test_endpoints_validation_and_defaults() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 80}]},
        {"ports": [{"port": 81}, {"port": 82}]},
        {"addresses": [{"ip": "127.0.0.1"}]}]}
    EP.default(obj)
    assert obj["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert [e.message() for e in EP.validate(obj, WriteContext())] == [
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
        "subsets[1].ports[0].name: Required value", "subsets[1].ports[1].name: Required value",
        'subsets[2].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
        "::1/128)"]


@pytest.mark.parametrize(("subsets", "cell"), [
    ([], "<none>"),
    ([{"addresses": [{"ip": "10.42.0.5"}, {"ip": "10.42.0.6"}], "ports": [{"port": 80}]}], "10.42.0.5:80,10.42.0.6:80"),
    ([{"addresses": [{"ip": f"10.42.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]}],
     "10.42.0.1:80,10.42.0.2:80,10.42.0.3:80 + 2 more..."),
    ([{"addresses": [{"ip": "10.42.0.1"}]}], "10.42.0.1"),
    ([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 53}]}], "[fd00::1]:53"),
])
def test_endpoints_cell(subsets: list[dict[str, Any]], cell: str) -> None:
    obj = {"metadata": {"name": "web", "creationTimestamp": T0}, "subsets": subsets}
    assert EP.row(obj, NOW) == ["web", cell, "3d"]
