"""End-to-end: hollow nodes (``kyb agent --hollow``) and the scheduler, driven with the real kubectl.

A module-scoped ``kyb server`` (its embedded scheduler on) gets three hollow nodes: ``e2e-sched-0``
labelled ``disktype: ssd``, ``e2e-sched-2`` tainted ``dedicated=db:NoSchedule``. A second server
with ``--disable-scheduler`` checks ``kyb scheduler --kubeconfig`` on its own. No fixed sleeps:
everything polls with a deadline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    DISPATCHER,
    Cluster,
    Kubectl,
    free_port,
    kubectl_137,
    start_server,
    stop_process,
)
from tests.e2e.conftest import wait_ready as wait_server_ready

pytestmark = pytest.mark.e2e

PREFIX = "e2e-sched-"
NODES = [f"{PREFIX}{i}" for i in range(3)]
DEADLINE = 60.0


def eventually(what: str, check: Callable[[], Any], deadline_s: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline_s
    delay = 0.05
    last: Any = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def start_agent(c: Cluster, count: int, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    tls = c.data_dir / "server" / "tls"
    return subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", "agent", "--server", c.url,
                             "--token", (c.data_dir / "token").read_text().strip(), "--ca-file",
                             str(tls / "server-ca.crt"), "--hollow", str(count), "--node-name-prefix", prefix],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _start_cluster(base: Path, *flags: str) -> Cluster:
    base.mkdir(parents=True, exist_ok=True)
    home = base / "home"
    home.mkdir(exist_ok=True)
    port = free_port()
    c = Cluster(base / "data", port, start_server(base / "data", port, *flags), home)
    wait_server_ready(c)
    return c


@pytest.fixture(scope="module")
def sched_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("kyb-sched")
    c = _start_cluster(base)
    agent = start_agent(c, 3, PREFIX, base / "agent.log")
    try:
        k = Kubectl(c, kubectl_137(), "1.37")
        eventually("hollow nodes", lambda: len(json.loads(k("get", "nodes", "-o", "json"))["items"]) == 3)
        k("wait", "--for=condition=Ready", *[f"node/{n}" for n in NODES], "--timeout=60s")
        k("label", "node", NODES[0], "disktype=ssd")
        k("taint", "node", NODES[2], "dedicated=db:NoSchedule")
        yield c
    finally:
        stop_process(agent)
        stop_process(c.proc)


@pytest.fixture(params=["1.32", "1.37"], scope="module")
def kc(request: pytest.FixtureRequest, sched_cluster: Cluster) -> Kubectl:
    if request.param == "1.32":
        return Kubectl(sched_cluster, DISPATCHER, "1.32")
    return Kubectl(sched_cluster, kubectl_137(), "1.37")


def pod_manifest(name: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"e2e": "sched"}},
                       "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec}})


def node_of(k: Kubectl, pod: str) -> str:
    return str(eventually(f"{pod} bound", lambda: k("get", "pod", pod, "-o", "jsonpath={.spec.nodeName}").strip()))


def test_hollow_nodes_register_ready(kc: Kubectl) -> None:
    out = kc("get", "nodes")
    lines = out.strip().splitlines()
    assert lines[0].split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    for n in NODES:
        assert rows[n][1] == "Ready" and rows[n][4].startswith("v1.32"), out
    wide = kc("get", "node", NODES[1], "-o", "wide")
    assert "198.18.0.2" in wide and "hollow://" in wide
    lease = json.loads(kc("get", "lease", "-n", "kube-node-lease", NODES[1], "-o", "json"))
    assert lease["spec"]["holderIdentity"] == NODES[1]
    described = kc("describe", "node", NODES[1])
    assert "kubelet is posting ready status" in described and "KubeletHasSufficientMemory" in described


def test_node_selector_places_pods_only_on_labelled_nodes(kc: Kubectl) -> None:
    names = [f"ssd-{kc.version.replace('.', '')}-{i}" for i in range(4)]
    for n in names:
        kc("apply", "-f", "-", input=pod_manifest(n, nodeSelector={"disktype": "ssd"}))
    try:
        assert {node_of(kc, n) for n in names} == {NODES[0]}
        for n in names:
            events = kc("get", "events", "--field-selector", f"involvedObject.name={n}", "-o", "json")
            msgs = [e["message"] for e in json.loads(events)["items"] if e["reason"] == "Scheduled"]
            assert msgs == [f"Successfully assigned default/{n} to {NODES[0]}"]
    finally:
        kc("delete", "pod", *names, "--wait=false")


def test_tainted_node_gets_no_pods_unless_tolerated(kc: Kubectl) -> None:
    v = kc.version.replace(".", "")
    names = [f"spread-{v}-{i}" for i in range(6)]
    for n in names:
        kc("apply", "-f", "-", input=pod_manifest(n))
    tolerant = f"tolerant-{v}"
    kc("apply", "-f", "-", input=pod_manifest(tolerant, nodeSelector={"kubernetes.io/hostname": NODES[2]},
                                              tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db",
                                                            "effect": "NoSchedule"}]))
    try:
        assert NODES[2] not in {node_of(kc, n) for n in names}
        assert node_of(kc, tolerant) == NODES[2]
    finally:
        kc("delete", "pod", *names, tolerant, "--wait=false")


def test_too_large_pod_stays_pending_with_failed_scheduling(kc: Kubectl) -> None:
    name = f"huge-{kc.version.replace('.', '')}"
    kc("apply", "-f", "-", input=pod_manifest(name, containers=[
        {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100"}}}]))
    want = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient cpu. "
            "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
            "2 No preemption victims found for incoming pod..")
    try:
        def failed_scheduling() -> str:
            d = kc("describe", "pod", name)
            return d if "FailedScheduling" in d else ""

        described = eventually("FailedScheduling", failed_scheduling)
        assert re.search(r"^Status:\s+Pending$", described, re.M), described
        flat = " ".join(described.split())
        assert "Warning FailedScheduling" in flat and want in flat, described
        pod = json.loads(kc("get", "pod", name, "-o", "json"))
        cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", want)
        assert not pod["spec"].get("nodeName")
    finally:
        kc("delete", "pod", name, "--wait=false")


def test_bound_pod_runs_and_is_ready(kc: Kubectl) -> None:
    name = f"runner-{kc.version.replace('.', '')}"
    kc("apply", "-f", "-", input=pod_manifest(name))
    try:
        kc("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
        pod = json.loads(kc("get", "pod", name, "-o", "json"))
        st = pod["status"]
        assert st["phase"] == "Running" and st["podIP"].startswith("10.42.") and st["hostIP"].startswith("198.18.")
        cs = st["containerStatuses"][0]
        assert cs["ready"] and cs["started"] and cs["containerID"].startswith("containerd://")
        row = kc("get", "pod", name).splitlines()[1].split()
        assert row[1:3] == ["1/1", "Running"]
    finally:
        kc("delete", "pod", name, "--wait=false")
    eventually(f"{name} deleted", lambda: kc.run("get", "pod", name, check=False).returncode != 0)


def test_standalone_scheduler_by_kubeconfig(tmp_path: Path) -> None:
    """``kyb scheduler --kubeconfig`` against a second server that runs no scheduler of its own."""
    c = _start_cluster(tmp_path / "second", "--disable-scheduler")
    agent = start_agent(c, 1, "solo-", tmp_path / "agent.log")
    sched = subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", "scheduler", "--kubeconfig",
                              str(c.kubeconfig)], stdout=(tmp_path / "sched.log").open("ab"), stderr=subprocess.STDOUT)
    try:
        k = Kubectl(c, kubectl_137(), "1.37")
        eventually("lease", lambda: k.run("get", "lease", "-n", "kube-system", "kube-scheduler", "-o",
                                          "jsonpath={.spec.holderIdentity}", check=False).stdout.strip())
        eventually("node", lambda: k.run("get", "node", "solo-0", check=False).returncode == 0)
        k("apply", "-f", "-", input=pod_manifest("solo"))
        assert node_of(k, "solo") == "solo-0"
        k("wait", "--for=condition=Ready", "pod/solo", "--timeout=60s")
    finally:
        for p in (sched, agent):
            stop_process(p)
        stop_process(c.proc)
