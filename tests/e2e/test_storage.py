"""Persistent storage on a real node, as on k3s: the default ``local-path`` class provisions a hostPath
volume under <data-dir>/storage when the first pod using the claim is scheduled; the data outlives the
pod; deleting the claim deletes the volume and its directory. StatefulSet claim templates get Bound
claims, and a static hostPath PersistentVolume is bound by a claim of its class.

Needs root (the node agent); run with the other host-level tests under ``flock /tmp/kyb-host.lock``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, Kubectl, agent_server, kubectl_137, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = f"kybstore-{uuid.uuid4().hex[:6]}"
    with agent_server(tmp_path_factory.mktemp("kyb-storage"), name, "--disable", "ingress") as c:
        c.node = name  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def k(node: Cluster) -> Kubectl:
    return Kubectl(node, kubectl_137(), "1.37")


def claim(name: str, cls: str | None = None, size: str = "64Mi") -> str:
    spec: dict[str, object] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return json.dumps({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                       "spec": spec})


def pod(name: str, claim_name: str, script: str, *, read_only: bool = False, sub_path: str = "") -> str:
    mounts: list[dict[str, object]] = [{"name": "data", "mountPath": "/data"}]
    if sub_path:
        mounts.append({"name": "data", "mountPath": "/sub", "subPath": sub_path})
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script], "volumeMounts": mounts}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name, "readOnly": read_only}}]}})


def events_for(k: Kubectl, kind: str, name: str) -> list[tuple[str, str, str]]:
    items = json.loads(k("get", "events", "--field-selector", f"involvedObject.kind={kind},involvedObject.name={name}",
                         "-o", "json"))["items"]
    return [(e["reason"], e["message"], e["source"].get("component", "")) for e in items]


def test_local_path_is_the_default_class(k: Kubectl) -> None:
    out = k("get", "storageclass", "local-path", "-o", "jsonpath={.provisioner} {.volumeBindingMode} "
            "{.reclaimPolicy} {.metadata.annotations.storageclass\\.kubernetes\\.io/is-default-class}")
    assert out == "rancher.io/local-path WaitForFirstConsumer Delete true"
    assert "local-path (default)" in k("get", "storageclass")


def test_claim_data_outlives_the_pod_and_goes_with_the_claim(node: Cluster, k: Kubectl) -> None:
    k("apply", "-f", "-", input=claim("notes"))
    assert k("get", "pvc", "notes", "-o", "jsonpath={.spec.storageClassName}") == "local-path"  # defaulted
    wait_until("WaitForFirstConsumer event", lambda: any(
        r == "WaitForFirstConsumer" and m == "waiting for first consumer to be created before binding"
        for r, m, _ in events_for(k, "PersistentVolumeClaim", "notes")), 30, 0.2)
    assert k("get", "pvc", "notes", "-o", "jsonpath={.status.phase}") == "Pending"

    k("apply", "-f", "-", input=pod("writer", "notes", "echo hello > /data/msg; mkdir -p /data/sub; "
                                    "echo from-sub > /data/sub/f"))
    k("wait", "pod/writer", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s", timeout=130)
    pvc = json.loads(k("get", "pvc", "notes", "-o", "json"))
    volume = pvc["spec"]["volumeName"]
    assert pvc["status"]["phase"] == "Bound" and volume == f"pvc-{pvc['metadata']['uid']}"
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node.node  # type: ignore[attr-defined]
    pv = json.loads(k("get", "pv", volume, "-o", "json"))
    directory = Path(pv["spec"]["hostPath"]["path"])
    assert directory == node.data_dir / "storage" / f"{volume}_default_notes"
    assert (directory / "msg").read_text() == "hello\n"
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [node.node]  # type: ignore[attr-defined]
    reasons = [r for r, _, _ in events_for(k, "PersistentVolumeClaim", "notes")]
    for reason in ("WaitForFirstConsumer", "ExternalProvisioning", "Provisioning", "ProvisioningSucceeded"):
        assert reason in reasons
    assert k("get", "pv", volume, "-o", "jsonpath={.status.phase} {.spec.claimRef.name}") == "Bound notes"

    k("delete", "pod", "writer")
    k("apply", "-f", "-", input=pod("reader", "notes", "cat /data/msg /sub/f; touch /data/x 2>/dev/null && "
                                    "echo writable || echo read-only", read_only=True, sub_path="sub"))
    k("wait", "pod/reader", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s", timeout=130)
    assert k("logs", "reader") == "hello\nfrom-sub\nread-only\n"
    k("delete", "pod", "reader")

    k("delete", "pvc", "notes")
    wait_until("the volume to be deleted", lambda: k.run("get", "pv", volume, check=False).returncode != 0, 90, 0.2)
    assert not directory.exists()  # the teardown helper removed it on the node
    assert k("get", "pods", "-n", "kube-system", "-o", "name").count("helper-pod") == 0


def test_statefulset_claim_templates_are_bound(k: Kubectl) -> None:
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"}, "spec": {
        "serviceName": "web", "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "busybox",
                            "command": ["sh", "-c", "hostname > /www/name; exec sleep 3600"],
                            "volumeMounts": [{"name": "www", "mountPath": "/www"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}}]}}
    k("apply", "-f", "-", input=json.dumps(sts))
    k("rollout", "status", "statefulset/web", "--timeout=180s", timeout=190)
    for i in (0, 1):
        out = k("get", "pvc", f"www-web-{i}", "-o", "jsonpath={.status.phase} {.spec.storageClassName}")
        assert out == "Bound local-path"
        volume = k("get", "pvc", f"www-web-{i}", "-o", "jsonpath={.spec.volumeName}")
        path = Path(k("get", "pv", volume, "-o", "jsonpath={.spec.hostPath.path}"))
        assert (path / "name").read_text() == f"web-{i}\n"
    k("delete", "statefulset", "web", "--wait=true", "--timeout=60s", timeout=70)


def test_static_hostpath_volume_is_bound_by_a_claim_of_its_class(k: Kubectl, tmp_path: Path) -> None:
    (tmp_path / "greeting").write_text("static hello\n")
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "static-pv"}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
        "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(tmp_path)}}}
    k("apply", "-f", "-", input=json.dumps(pv))
    k("wait", "pv/static-pv", "--for=jsonpath={.status.phase}=Available", "--timeout=30s")
    k("apply", "-f", "-", input=claim("static", "manual", "100Mi"))
    k("wait", "pvc/static", "--for=jsonpath={.status.phase}=Bound", "--timeout=30s")
    assert k("get", "pvc", "static", "-o", "jsonpath={.spec.volumeName} {.status.capacity.storage}") == "static-pv 1Gi"
    k("apply", "-f", "-", input=pod("static-reader", "static", "cat /data/greeting"))
    k("wait", "pod/static-reader", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s", timeout=130)
    assert k("logs", "static-reader") == "static hello\n"
    k("delete", "pod", "static-reader")
    k("delete", "pvc", "static")
    k("wait", "pv/static-pv", "--for=jsonpath={.status.phase}=Released", "--timeout=30s")
    assert (tmp_path / "greeting").exists()  # Retain keeps the data
    k("delete", "pv", "static-pv")


def test_class_less_claim_without_volumes_reports_failed_binding(k: Kubectl) -> None:
    k("apply", "-f", "-", input=claim("nothing", ""))
    wait_until("FailedBinding event", lambda: ("FailedBinding",
                                               "no persistent volumes available for this claim and no storage class "
                                               "is set", "persistentvolume-controller")
               in events_for(k, "PersistentVolumeClaim", "nothing"), 30, 0.2)
    assert k("get", "pvc", "nothing", "-o", "jsonpath={.status.phase}") == "Pending"
    k("delete", "pvc", "nothing")


def test_a_claim_in_use_is_deleted_only_after_its_pod(k: Kubectl) -> None:
    k("apply", "-f", "-", input=claim("busy"))
    k("apply", "-f", "-", input=pod("holder", "busy", "exec sleep 3600"))
    k("wait", "pod/holder", "--for=condition=Ready", "--timeout=120s", timeout=130)
    assert json.loads(k("get", "pvc", "busy", "-o", "json"))["metadata"]["finalizers"] == [
        "kubernetes.io/pvc-protection"]
    volume = k("get", "pvc", "busy", "-o", "jsonpath={.spec.volumeName}")
    assert k("get", "pv", volume, "-o", "jsonpath={.metadata.finalizers}") == '["kubernetes.io/pv-protection"]'
    k("delete", "pvc", "busy", "--wait=false")
    # Terminating while the pod runs: kubectl prints the status from the deletion timestamp
    wait_until("the claim to be Terminating", lambda: "Terminating" in k("get", "pvc", "busy"), 30, 0.2)
    assert k("get", "pod", "holder", "-o", "jsonpath={.status.phase}") == "Running"
    assert json.loads(k("get", "pvc", "busy", "-o", "json"))["metadata"]["finalizers"] == [
        "kubernetes.io/pvc-protection"]
    k("delete", "pod", "holder", "--timeout=60s", timeout=70)
    k("wait", "pvc/busy", "--for=delete", "--timeout=60s", timeout=70)
    wait_until("the volume to be deleted", lambda: k.run("get", "pv", volume, check=False).returncode != 0, 90, 0.2)
