"""``kyb kubectl`` and describe/event output through the real kubectl."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, Kubectl, bare_server, kubectl_137

pytestmark = pytest.mark.e2e


def test_kyb_kubectl_uses_server_kubeconfig(cluster: Cluster) -> None:
    p = subprocess.run([sys.executable, "-m", "kybernetes.cli.main", "kubectl", "--data-dir", str(cluster.data_dir),
                        "get", "ns", "kube-system", "-o", "name"], capture_output=True, text=True, timeout=60,
                       env={"HOME": str(cluster.home), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "namespace/kube-system"


def test_describe_pod_and_events(kubectl: Kubectl) -> None:
    ns = f"d-{kubectl.version.replace('.', '')}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "ns", ns)
    kubectl("-n", ns, "run", "web", "--image=nginx", "--labels=app=web")
    uid = kubectl("-n", ns, "get", "pod", "web", "-o", "jsonpath={.metadata.uid}")
    event = f"""
apiVersion: v1
kind: Event
metadata: {{name: web.1, namespace: {ns}}}
involvedObject: {{kind: Pod, name: web, namespace: {ns}, uid: {uid}}}
reason: Scheduled
message: Successfully assigned {ns}/web to node1
type: Normal
source: {{component: default-scheduler}}
count: 1
"""
    kubectl("-n", ns, "create", "-f", "-", input=event)
    desc = kubectl("-n", ns, "describe", "pod", "web")
    for text in ("Name:", "web", "Namespace:", ns, "Labels:", "app=web", "Status:", "Pending", "Containers:",
                 "Image:", "nginx", "QoS Class:", "BestEffort", "Events:", "Scheduled"):
        assert text in desc, (text, desc)
    events = kubectl("-n", ns, "get", "events")
    assert events.splitlines()[0].split()[:5] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT"]
    assert "pod/web" in events and "Successfully assigned" in events
    sel = kubectl("-n", ns, "get", "events", "--field-selector", "involvedObject.kind=Pod,reason=Scheduled",
                  "-o", "name")
    assert sel.strip() == "event/web.1"


def test_python_client_create_from_yaml(k8s_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client, utils

    ns = f"cy-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(k8s_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    f = tmp_path / "objs.yaml"
    f.write_text("""apiVersion: v1
kind: ConfigMap
metadata: {name: one}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
""")
    utils.create_from_yaml(k8s_client, str(f), namespace=ns)
    assert client.AppsV1Api(k8s_client).read_namespaced_deployment("web", ns).spec.replicas == 1
    assert client.CoreV1Api(k8s_client).read_namespaced_config_map("one", ns).data == {"a": "1"}


def test_disabled_dns_has_no_kube_dns_service(tmp_path: Path) -> None:
    # --disable dns (k3s: --disable coredns) leaves the name free for a DNS of the user's own
    with bare_server(tmp_path, "--disable", "dns") as c:
        k = Kubectl(c, kubectl_137(), "1.37")
        missing = k.run("get", "service", "kube-dns", "-n", "kube-system", check=False)
        assert missing.returncode != 0 and 'services "kube-dns" not found' in missing.stderr
        assert "kubernetes" in k("get", "service", "-n", "default", "-o", "name")
