"""core/v1 Pod strategy: kubectl run's dry-run output, QoS, update rules, deletion, selectors, table."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from kybernetes.api import printing
from kybernetes.api.kinds.core import pod
from kybernetes.api.strategy import WriteContext

NOW_TS = "2025-01-01T01:00:00Z"
NOW = printing.parse_time(NOW_TS) or 0.0
S = pod.STRATEGY

#: What ``kubectl run nginx --image=nginx --dry-run=server -o yaml`` sends (kubectl 1.32).
KUBECTL_RUN_REQUEST: dict[str, Any] = {
    "kind": "Pod", "apiVersion": "v1",
    "metadata": {"name": "nginx", "creationTimestamp": None, "labels": {"run": "nginx"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}],
             "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"},
    "status": {},
}

#: What a Kubernetes 1.32 cluster answers (``-o yaml``; kubectl hides managedFields).
KUBECTL_RUN_RESPONSE = yaml.safe_load("""
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2025-01-01T01:00:00Z"
  labels:
    run: nginx
  name: nginx
  namespace: default
  uid: 0f2ae9bc-7f0e-4a43-8d0e-b7f1b5c4f3a1
spec:
  containers:
  - image: nginx
    imagePullPolicy: Always
    name: nginx
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
    volumeMounts:
    - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      name: kube-api-access-x7k2p
      readOnly: true
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  serviceAccount: default
  serviceAccountName: default
  terminationGracePeriodSeconds: 30
  tolerations:
  - effect: NoExecute
    key: node.kubernetes.io/not-ready
    operator: Exists
    tolerationSeconds: 300
  - effect: NoExecute
    key: node.kubernetes.io/unreachable
    operator: Exists
    tolerationSeconds: 300
  volumes:
  - name: kube-api-access-x7k2p
    projected:
      defaultMode: 420
      sources:
      - serviceAccountToken:
          expirationSeconds: 3607
          path: token
      - configMap:
          items:
          - key: ca.crt
            path: ca.crt
          name: kube-root-ca.crt
      - downwardAPI:
          items:
          - fieldRef:
              apiVersion: v1
              fieldPath: metadata.namespace
            path: namespace
status:
  phase: Pending
  qosClass: BestEffort
""")


def admit(obj: dict[str, Any]) -> None:
    """What the ServiceAccount, DefaultTolerationSeconds and Priority admission plugins add (not this module)."""
    spec = obj["spec"]
    spec["serviceAccountName"] = "default"
    spec["volumes"] = [{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}]}}]
    spec["containers"][0]["volumeMounts"] = [{"name": "kube-api-access-x7k2p", "readOnly": True,
                                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    spec["tolerations"] = [{"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": 300} for k in ("not-ready", "unreachable")]
    spec["priority"], spec["preemptionPolicy"] = 0, "PreemptLowerPriority"


def create(obj: dict[str, Any], admission: bool = False) -> dict[str, Any]:
    """The create path: decode defaults → (admission → defaults) → metadata → prepare → validate."""
    obj = copy.deepcopy(obj)
    S.default(obj)
    if admission:
        admit(obj)
        S.default(obj)
    md = obj["metadata"]
    md.update({"namespace": "default", "uid": "0f2ae9bc-7f0e-4a43-8d0e-b7f1b5c4f3a1", "creationTimestamp": NOW_TS})
    ctx = WriteContext(now=NOW_TS)
    S.prepare_for_create(obj, ctx)
    assert [e.message() for e in S.validate(obj, ctx)] == []
    return obj


def test_kubectl_run_dry_run_server_output_matches_kubernetes() -> None:
    assert create(KUBECTL_RUN_REQUEST, admission=True) == KUBECTL_RUN_RESPONSE


def test_kubectl_run_without_admission_differs_only_by_admission_fields() -> None:
    expected = copy.deepcopy(KUBECTL_RUN_RESPONSE)
    for key in ("serviceAccount", "serviceAccountName", "tolerations", "volumes", "priority", "preemptionPolicy"):
        del expected["spec"][key]
    del expected["spec"]["containers"][0]["volumeMounts"]
    assert create(KUBECTL_RUN_REQUEST) == expected


def pod_with(resources: dict[str, Any], init: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x", "resources": resources}]}}
    if init is not None:
        obj["spec"]["initContainers"] = [{"name": "i", "image": "x", "resources": init}]
    return obj


@pytest.mark.parametrize(("resources", "init", "qos"), [
    ({}, None, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, None, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, None, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, None, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, {"limits": {"cpu": "1"}}, "Burstable"),
    ({"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}, None, "BestEffort"),
])
def test_qos_class_on_create(resources: dict[str, Any], init: dict[str, Any] | None, qos: str) -> None:
    assert create(pod_with(resources, init))["status"]["qosClass"] == qos


def test_requests_default_to_limits_for_pods_only() -> None:
    obj = create(pod_with({"limits": {"cpu": "1", "memory": "128Mi"}}))
    assert obj["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "128Mi"}


def test_host_network_defaults_host_ports() -> None:
    obj = {"metadata": {"name": "p"}, "spec": {"hostNetwork": True, "containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]}}
    assert create(obj)["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "hostPort": 8080,
                                                              "protocol": "TCP"}]


def test_scheduling_gates_set_condition_and_forbid_node_name() -> None:
    obj = create({"metadata": {"name": "p"}, "spec": {"schedulingGates": [{"name": "example.com/gate"}],
                                                      "containers": [{"name": "c", "image": "x"}]}})
    assert obj["status"]["conditions"] == [pod.SCHEDULING_GATED]
    obj["spec"]["nodeName"] = "n1"
    assert [e.message() for e in S.validate(obj, WriteContext())] == [
        "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"]


def test_ephemeral_containers_cannot_be_set_on_create() -> None:
    obj = copy.deepcopy(KUBECTL_RUN_REQUEST)
    obj["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox"}]
    S.default(obj)
    assert "spec.ephemeralContainers: Forbidden: cannot be set on create" in [
        e.message() for e in S.validate(obj, WriteContext())]


def updated(change: Any) -> list[str]:
    old = create(KUBECTL_RUN_REQUEST)
    new = copy.deepcopy(old)
    change(new["spec"])
    S.default(new)
    S.prepare_for_update(new, old, WriteContext())
    return [e.message() for e in S.validate_update(new, old, WriteContext())]


def test_image_tolerations_and_deadline_may_change() -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["containers"][0]["image"] = "nginx:1.27"
        spec["activeDeadlineSeconds"] = 60
        spec["tolerations"] = [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
    assert updated(change) == []


def test_other_spec_changes_are_forbidden() -> None:
    msgs = updated(lambda spec: spec.__setitem__("restartPolicy", "Never"))
    assert len(msgs) == 1
    assert msgs[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n")
    assert '-  restartPolicy: "Always"' in msgs[0]


def test_containers_may_not_be_added() -> None:
    assert updated(lambda spec: spec["containers"].append({"name": "b", "image": "x"})) == [
        "spec.containers: Forbidden: pod updates may not add or remove containers"]


def test_status_is_kept_on_main_update() -> None:
    old = create(KUBECTL_RUN_REQUEST)
    old["status"]["phase"] = "Running"
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Failed"}
    S.prepare_for_update(new, old, WriteContext())
    assert new["status"]["phase"] == "Running"


@pytest.mark.parametrize(("node", "phase", "grace_spec", "requested", "expected"), [
    ("n1", "Running", 30, None, 30),
    ("n1", "Running", 30, 5, 5),
    ("n1", "Running", 30, 0, None),
    ("", "Pending", 30, None, None),
    ("n1", "Succeeded", 30, None, None),
    ("n1", "Running", -3, None, 1),
])
def test_graceful_delete(node: str, phase: str, grace_spec: int, requested: int | None,
                         expected: int | None) -> None:
    obj = {"spec": {"nodeName": node, "terminationGracePeriodSeconds": grace_spec}, "status": {"phase": phase}}
    assert S.check_graceful_delete(obj, requested) == expected


def test_field_selectors() -> None:
    obj = create(KUBECTL_RUN_REQUEST)
    obj["spec"]["nodeName"] = "n1"
    obj["status"]["podIPs"] = [{"ip": "10.42.0.5"}]
    assert S.field_selectors(obj) == {
        "metadata.name": "nginx", "metadata.namespace": "default", "spec.nodeName": "n1",
        "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler", "spec.serviceAccountName": "",
        "spec.hostNetwork": "false", "status.phase": "Pending", "status.podIP": "10.42.0.5",
        "status.nominatedNodeName": ""}


def test_status_update_keeps_spec_and_owner_references() -> None:
    old = create(KUBECTL_RUN_REQUEST)
    old["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u"}]
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "sneaky"
    new["metadata"].pop("ownerReferences")
    new["status"] = {"phase": "Running", "podIP": "10.42.0.9"}
    pod.STATUS_STRATEGY.prepare_for_update(new, old, WriteContext())
    assert "nodeName" not in new["spec"]
    assert new["metadata"]["ownerReferences"] == old["metadata"]["ownerReferences"]
    assert new["status"] == {"phase": "Running", "podIP": "10.42.0.9", "podIPs": [{"ip": "10.42.0.9"}],
                             "qosClass": "BestEffort"}
    new["status"]["podIPs"] = [{"ip": "not-an-ip"}]
    assert [e.message() for e in pod.STATUS_STRATEGY.validate_update(new, old, WriteContext())] == [
        'status.podIPs[0]: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']


def test_ephemeral_containers_may_only_be_added() -> None:
    old = create(KUBECTL_RUN_REQUEST)
    es = pod.EPHEMERAL_CONTAINERS_STRATEGY
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox", "targetContainerName": "nginx"}]
    new["spec"]["restartPolicy"] = "Never"  # ignored: only ephemeral containers are taken from the request
    es.default(new)
    es.prepare_for_update(new, old, WriteContext())
    assert new["spec"]["restartPolicy"] == "Always"
    assert es.validate_update(new, old, WriteContext()) == []
    removed = copy.deepcopy(old)
    assert [e.message() for e in es.validate_update(removed, new, WriteContext())] == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "debug" may not be removed\n']


# --- table ------------------------------------------------------------------------------------------

def running(name: str = "c", **extra: Any) -> dict[str, Any]:
    return {"name": name, "ready": True, "restartCount": 0, "started": True,
            "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}, **extra}


def table_pod(status: dict[str, Any], spec: dict[str, Any] | None = None, **md: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "creationTimestamp": "2025-01-01T00:00:00Z", **md},
            "spec": spec or {"containers": [{"name": "c", "image": "x"}]}, "status": status}


@pytest.mark.parametrize(("obj", "cells"), [
    (table_pod({"phase": "Pending"}), ["web", "0/1", "Pending", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}], "containerStatuses": [running()],
                "conditions": [{"type": "Ready", "status": "True"}]},
               {"nodeName": "n1", "containers": [{"name": "c"}]}),
     ["web", "1/1", "Running", "0", "60m", "10.42.0.5", "n1", "<none>", "<none>"]),
    (table_pod({"phase": "Running", "containerStatuses": [{
        "name": "c", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-01T00:55:00Z"}}}]}),
     ["web", "0/1", "CrashLoopBackOff", "3 (5m ago)", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Pending", "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0,
                                                           "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
     ["web", "0/1", "ContainerCreating", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Succeeded", "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0, "state": {
        "terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
     ["web", "0/1", "Completed", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Failed", "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0, "state": {
        "terminated": {"exitCode": 2}}}]}),
     ["web", "0/1", "ExitCode:2", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Pending", "initContainerStatuses": [{"name": "init", "ready": False, "restartCount": 0,
                                                               "state": {"waiting": {"reason": "PodInitializing"}}}]},
               {"initContainers": [{"name": "init"}], "containers": [{"name": "c"}]}),
     ["web", "0/1", "Init:0/1", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Pending", "initContainerStatuses": [{"name": "init", "ready": False, "restartCount": 1,
                                                               "state": {"terminated": {"exitCode": 1,
                                                                                        "reason": "Error"}}}]},
               {"initContainers": [{"name": "init"}], "containers": [{"name": "c"}]}),
     ["web", "0/1", "Init:Error", "1", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Running", "initContainerStatuses": [running("side")], "containerStatuses": [running()],
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]},
               {"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "c"}]}),
     ["web", "2/2", "Running", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Running", "containerStatuses": [running()]}, deletionTimestamp="2025-01-01T01:00:30Z"),
     ["web", "1/1", "Terminating", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                    "reason": "SchedulingGated"}]}),
     ["web", "0/1", "SchedulingGated", "0", "60m", "<none>", "<none>", "<none>", "<none>"]),
    (table_pod({"phase": "Running", "nominatedNodeName": "n2", "conditions": [{"type": "example.com/ok",
                                                                               "status": "True"}]},
               {"readinessGates": [{"conditionType": "example.com/ok"}, {"conditionType": "example.com/no"}],
                "containers": [{"name": "c"}]}),
     ["web", "0/1", "Running", "0", "60m", "<none>", "<none>", "n2", "1/2"]),
])
def test_table_rows(obj: dict[str, Any], cells: list[Any]) -> None:
    assert S.row(obj, NOW) == cells


def test_table_columns() -> None:
    cols = S.columns()
    assert [(c.name, c.type, c.format, c.priority) for c in cols] == [
        ("Name", "string", "name", 0), ("Ready", "string", "", 0), ("Status", "string", "", 0),
        ("Restarts", "string", "", 0), ("Age", "string", "", 0), ("IP", "string", "", 1), ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1), ("Readiness Gates", "string", "", 1)]
    assert all(c.description for c in cols)


def test_discovery_facts() -> None:
    (info,) = pod.RESOURCES
    assert (info.plural, info.singular, info.short_names, info.categories, info.namespaced) == (
        "pods", "pod", ("po",), ("all",), True)
    subs = {s.name: (s.kind, s.group, s.version, s.verbs) for s in info.subresources}
    assert subs["eviction"] == ("Eviction", "policy", "v1", ("create",))
    assert subs["exec"] == ("PodExecOptions", "", "v1", ("create", "get"))
    assert subs["log"] == ("Pod", "", "v1", ("get",))
    assert subs["binding"] == ("Binding", "", "v1", ("create",))
    assert "resize" not in subs  # off by default in 1.32
