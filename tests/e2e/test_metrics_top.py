"""``kubectl top`` against ``kyb server`` with its embedded agent (root only; run under
``flock /tmp/kyb-host.lock``): a busy busybox pod shows CPU in ``kubectl top pod`` (1.32 and 1.37, with
``--containers``), ``kubectl top node`` prints the node, the Python client reads metrics.k8s.io, and a
HorizontalPodAutoscaler scales a busy Deployment on the same numbers."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import DISPATCHER, Cluster, Kubectl, agent_server, kubectl_137, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]

SPIN = ["sh", "-c", "while :; do :; done"]


def busy_pod(name: str, cpu_limit: str = "300m") -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
                       "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                           {"name": "spin", "image": "busybox", "command": SPIN,
                            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": cpu_limit}}},
                           {"name": "idle", "image": "busybox", "command": ["sleep", "3600"]}]}})


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    node = f"kybtop-{uuid.uuid4().hex[:6]}"
    with agent_server(tmp_path_factory.mktemp("kyb-top"), node, "--disable", "ingress") as c:
        k = Kubectl(c, kubectl_137(), "1.37")
        k("apply", "-f", "-", input=busy_pod("busy"))
        k("wait", "pod/busy", "--for=condition=Ready", "--timeout=90s")
        yield c, node


def millicores(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(text) * 1000


@pytest.mark.parametrize("version", ["1.32", "1.37"])
def test_top_pod_and_node(node_cluster: tuple[Cluster, str], version: str) -> None:
    c, node = node_cluster
    k = Kubectl(c, DISPATCHER if version == "1.32" else kubectl_137(), version)
    resources = k("api-resources", "--api-group=metrics.k8s.io", "--no-headers").split("\n")
    assert {line.split()[0] for line in resources if line} == {"nodes", "pods"}

    def busy_row() -> list[str] | None:
        p = k.run("top", "pod", "busy", "--no-headers", check=False)
        row = p.stdout.split()
        return row if p.returncode == 0 and len(row) == 3 and millicores(row[1]) > 0 else None

    name, cpu, memory = wait_until("kubectl top pod to show the busy pod's CPU", busy_row, 120, 1.0)
    assert name == "busy" and 100 <= millicores(cpu) <= 400, cpu  # spinning, held to its 300m limit
    assert memory.endswith("Mi") or memory.endswith("Ki")
    header = k("top", "pod", "--containers").splitlines()[0].split()
    assert header == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    rows = {tuple(line.split()[:2]): line.split()[2] for line in k("top", "pod", "--containers", "--no-headers",
                                                                     "-l", "app=busy").splitlines()}
    assert set(rows) == {("busy", "spin"), ("busy", "idle")} and millicores(rows[("busy", "spin")]) > 0
    top_node = k("top", "node").splitlines()
    assert top_node[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    row = next(line.split() for line in top_node[1:] if line.split()[0] == node)
    assert millicores(row[1]) > 0 and row[2].endswith("%") and row[4].endswith("%")


def test_python_client_reads_pod_metrics(node_cluster: tuple[Cluster, str]) -> None:
    from kubernetes import client, config

    c, _ = node_cluster
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(c.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        custom = client.CustomObjectsApi(api)

        def busy() -> dict | None:
            listed = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
            return next((i for i in listed["items"] if i["metadata"]["name"] == "busy"), None)

        item = wait_until("PodMetrics of the busy pod", busy, 120, 1.0)
        listed = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
        assert listed["kind"] == "PodMetricsList" and listed["apiVersion"] == "metrics.k8s.io/v1beta1"
        assert {ctr["name"] for ctr in item["containers"]} == {"spin", "idle"}
        assert item["window"].endswith("s") and item["timestamp"].endswith("Z")
        one = custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods", "busy")
        assert one["kind"] == "PodMetrics" and one["metadata"]["labels"] == {"app": "busy"}


def test_hpa_scales_a_busy_deployment_on_cpu(node_cluster: tuple[Cluster, str]) -> None:
    c, _ = node_cluster
    k = Kubectl(c, kubectl_137(), "1.37")
    pod = json.loads(busy_pod("hot", cpu_limit="200m"))
    pod["spec"]["containers"] = pod["spec"]["containers"][:1]  # every container needs a CPU request
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hot"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "hot"}},
                       "template": {"metadata": {"labels": {"app": "hot"}}, "spec": pod["spec"]}}}
    k("apply", "-f", "-", input=json.dumps(deploy))
    k("autoscale", "deployment", "hot", "--cpu-percent=50", "--min=1", "--max=3")

    def scaled() -> dict | None:
        hpa = json.loads(k("get", "hpa", "hot", "-o", "json"))
        status = hpa.get("status") or {}
        return status if status.get("desiredReplicas", 0) >= 2 else None

    # about 200m used of 100m requested: 200 %, four times the target
    status = wait_until("the HPA to scale the busy Deployment up", scaled, 180, 2.0)
    current = status["currentMetrics"][0]["resource"]
    assert current["name"] == "cpu" and current["current"]["averageUtilization"] > 50
    conditions = {cond["type"]: cond["status"] for cond in status["conditions"]}
    assert conditions.get("ScalingActive") == "True" and conditions.get("AbleToScale") == "True"
    wait_until("the Deployment to follow the HPA", lambda: json.loads(k("get", "deploy", "hot", "-o", "json"))
               ["spec"]["replicas"] >= 2, 60, 1.0)
    k("delete", "hpa", "hot")
    k("delete", "deployment", "hot", "--wait=false")
