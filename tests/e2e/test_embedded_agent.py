"""One `kyb server` with its embedded agent runs a real container: scheduled, started on
containerd, logs through the apiserver's pods/log proxy to the kubelet, deleted gracefully."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import DISPATCHER, Cluster, Kubectl, agent_server, kubectl_137, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    node = f"kybe2e-{uuid.uuid4().hex[:6]}"
    with agent_server(tmp_path_factory.mktemp("kyb-agent"), node) as c:  # cleans up the host after itself
        c.proc.args = node  # type: ignore[misc]  # remembered for the tests below
        yield c


@pytest.mark.parametrize("version", ["1.32", "1.37"])
def test_pod_runs_and_logs_stream_from_the_kubelet(node_cluster: Cluster, version: str) -> None:
    k = Kubectl(node_cluster, DISPATCHER if version == "1.32" else kubectl_137(), version)
    node = str(node_cluster.proc.args)
    wait_until(f"node {node} to register", lambda: k.run("get", "node", node, check=False).returncode == 0, 60)
    k("wait", f"node/{node}", "--for=condition=Ready", "--timeout=60s")
    name = f"bb{version.replace('.', '')}"
    k("run", name, "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello from kybernetes; echo two")
    k("wait", f"pod/{name}", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s")
    assert k("logs", name) == "hello from kybernetes\ntwo\n"
    assert k("logs", name, "--tail=1") == "two\n"
    pod = k("get", "pod", name, "-o", "jsonpath={.spec.nodeName} {.status.podIP} "
            "{.status.containerStatuses[0].state.terminated.reason}")
    node_name, ip, reason = pod.split()
    assert node_name == node and ip.startswith("10.42.") and reason == "Completed"
    assert "deleted" in k("delete", "pod", name, "--wait=true")
