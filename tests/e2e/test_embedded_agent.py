"""One `kyb server` with its embedded agent runs a real container: scheduled, started on
containerd, logs through the apiserver's pods/log proxy to the kubelet, deleted gracefully."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import DISPATCHER, Cluster, Kubectl, bare_server, free_port, kubectl_137, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    before = _links()
    forward = open("/proc/sys/net/ipv4/ip_forward").read().strip()
    node = f"kybe2e-{uuid.uuid4().hex[:6]}"
    try:
        with bare_server(tmp_path_factory.mktemp("kyb-agent"), "--node-name", node, "--kubelet-port",
                         str(free_port()), agent=True) as c:
            c.proc.args = node  # type: ignore[misc]  # remembered for the tests below
            yield c
    finally:
        for link in _links() - before:  # the pod bridge the agent made (veths went with the pods)
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write(forward)


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
