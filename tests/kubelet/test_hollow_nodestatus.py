"""Node objects a kubelet registers: labels, capacity/allocatable, conditions, nodeInfo, leases, flags."""

from __future__ import annotations

import pytest

from kybernetes.kubelet import nodestatus
from kybernetes.kubelet.nodestatus import NodeConfig


def test_build_node():
    n = nodestatus.build_node(NodeConfig("hollow-0", "198.18.0.1", labels={"disktype": "ssd"},
                                         taints=({"key": "k", "value": "v", "effect": "NoSchedule"},),
                                         pod_cidr="10.42.0.0/24", arch="amd64"), now="2026-01-01T00:00:00Z")
    md, spec, status = n["metadata"], n["spec"], n["status"]
    assert md["labels"] == {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "hollow-0",
                            "kubernetes.io/os": "linux", "disktype": "ssd"}
    assert spec == {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"],
                    "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}
    assert status["capacity"]["pods"] == "110" and status["allocatable"]["cpu"] == "4"
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in status["conditions"]] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]
    assert status["addresses"] == [{"type": "InternalIP", "address": "198.18.0.1"},
                                   {"type": "Hostname", "address": "hollow-0"}]
    info = status["nodeInfo"]
    assert info["kubeletVersion"].startswith("v1.32") and info["operatingSystem"] == "linux"
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}


def test_conditions_keep_transition_times():
    old = {"status": {"conditions": nodestatus.conditions("2026-01-01T00:00:00Z")}}
    new = nodestatus.conditions("2026-01-01T00:01:00Z", nodestatus.transition_times(old))
    assert all(c["lastTransitionTime"] == "2026-01-01T00:00:00Z" for c in new)
    assert all(c["lastHeartbeatTime"] == "2026-01-01T00:01:00Z" for c in new)


def test_allocatable_subtracts_reservations():
    alloc = nodestatus.allocatable(NodeConfig("n", "1.1.1.1", reserved={"cpu": "250m", "memory": "1Gi"}))
    assert alloc["cpu"] == "3750m" and alloc["memory"] == "15Gi"


def test_lease_is_owned_by_the_node():
    lease = nodestatus.lease({"metadata": {"name": "n1", "uid": "u1"}}, 40, "2026-01-01T00:00:00.000000Z")
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u1"}]
    assert lease["spec"] == {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                             "renewTime": "2026-01-01T00:00:00.000000Z"}


@pytest.mark.parametrize(("spec", "want"), [
    ("", ()),
    ("dedicated=db:NoSchedule", ({"key": "dedicated", "value": "db", "effect": "NoSchedule"},)),
    ("a:NoExecute,b=1:PreferNoSchedule", ({"key": "a", "effect": "NoExecute"},
                                          {"key": "b", "value": "1", "effect": "PreferNoSchedule"})),
])
def test_parse_taints(spec, want):
    assert nodestatus.parse_taints(spec) == want


def test_parse_errors_name_the_fix():
    with pytest.raises(ValueError, match="use key=value:NoSchedule"):
        nodestatus.parse_taints("dedicated=db")
    with pytest.raises(ValueError, match="use key=value"):
        nodestatus.parse_labels("nokey")
    assert nodestatus.parse_labels("a=1, b=") == {"a": "1", "b": ""}
