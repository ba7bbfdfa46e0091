"""Two real nodes, each in a network namespace the test makes, joined by a veth pair (host-gw):

    netns kybm-a<id>  192.168.<n>.1 ──veth── 192.168.<n>.2  netns kybm-b<id>
      kyb server (API, controllers, scheduler)       kyb agent --server https://192.168.<n>.1:<port>
      + embedded agent: node A, containerd A          node B, containerd B

Each node gets its own podCIDR from the controller manager (A, the first, 10.42.0.0/24; B 10.42.1.0/24),
writes it into its CNI config and routes the other node's range via the other node's address; then a
pod on A reaches a pod on B by pod IP and through a ClusterIP Service whose only endpoint is on B.
kubectl runs inside A's namespace (the API server listens only there). Nothing is configured in the
root namespace: traffic stays inside the two namespaces. On exit the pods are deleted through the API,
both processes stopped by PID, their leftovers (shims, mounts, the hugetlb fix, cgroup roots they made)
removed, and the namespaces deleted, which takes the veths, bridges, routes and rules with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kybernetes.kubelet import cgroups
from kybernetes.runtime import containerd, hostfix
from tests.e2e.conftest import Cluster, Kubectl, free_port, kubectl_137, stop_process, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and nodes need root")]

WEB_SCRIPT = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
# the client retries inside the pod (the route to B may land a moment after both pods run), bounded
FETCH_SCRIPT = ("for i in $(seq 30); do if timeout 5 wget -qO- http://{target}/; then exit 0; fi; sleep 1; done; "
                "exit 1")
CGROUP_ROOT = "/kubepods"


@dataclass
class Host:
    netns: str
    ip: str
    node: str
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], capture_output=True, text=True,
                              check=check, timeout=30)


@dataclass
class TwoNodes:
    a: Host
    b: Host
    k: Kubectl


def _processes() -> list[tuple[int, str]]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                out.append((int(d.name), (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")))
    return out


def _kyb(host: Host, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A ``kyb`` process inside the host's namespace (``nsenter`` execs it: the PID is kyb's)."""
    return subprocess.Popen(["nsenter", f"--net=/run/netns/{host.netns}", sys.executable, "-m",
                             "kybernetes.cli.main", "-v", *args], stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _alive(host: Host, log: Path) -> None:
    if host.proc is not None and host.proc.poll() is not None:
        raise AssertionError(f"{host.node} exited with {host.proc.returncode}; see {log}")


def _teardown(hosts: list[Host], k: Kubectl | None, made_cgroup_root: bool, run_dirs: dict[str, bool]) -> None:
    server = hosts[0]
    uids: list[str] = []
    if k is not None and server.proc is not None and server.proc.poll() is None:
        listed = k.run("get", "pods", "-o", "jsonpath={.items[*].metadata.uid}", check=False)
        uids = listed.stdout.split() if listed.returncode == 0 else []
        # the kubelets stop and remove the pods (a stopped agent would leave them running in their shims)
        k.run("delete", "pods,services", "--all", "--wait=true", "--timeout=90s", check=False, timeout=120)
        with contextlib.suppress(AssertionError):
            wait_until("both nodes to clean up their pods", lambda: not any(
                any((h.data_dir / "agent" / "pods").glob("*")) for h in hosts), 60, 0.2)
    for h in reversed(hosts):
        if h.proc is not None:
            stop_process(h.proc, 30)
    markers = [str(h.data_dir) for h in hosts] + [str(containerd.socket_path(h.data_dir)) for h in hosts]
    with contextlib.suppress(AssertionError):
        wait_until("the nodes' processes to exit", lambda: not [
            pid for pid, args in _processes() if any(m in args for m in markers)], 20, 0.2)
    for pid, args in _processes():  # only processes of our two data dirs (shims of pods that outlived the agents)
        if any(m in args for m in markers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        mountpoint = line.split()[4]
        if any(mountpoint.startswith(str(h.data_dir) + "/") for h in hosts):
            subprocess.run(["umount", "-l", mountpoint], capture_output=True)
    for h in hosts:
        asyncio.run(hostfix.undo_hugetlb(containerd.state_dir(h.data_dir)))
        subprocess.run(["ip", "netns", "del", h.netns], capture_output=True)
    for uid in uids:  # normally gone with the pods already
        cgroups.remove_pod_cgroups(CGROUP_ROOT, uid)
    if made_cgroup_root:
        cgroups.remove_root(CGROUP_ROOT)
    for d, existed in run_dirs.items():
        if not existed:
            with contextlib.suppress(OSError):
                for sub in sorted(Path(d).glob("**/"), key=lambda p: len(p.parts), reverse=True):
                    sub.rmdir()


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    base = tmp_path_factory.mktemp("kyb-multinode")
    tag, net = secrets.token_hex(3), random.randrange(100, 200)
    a = Host(f"kybm-a{tag}", f"192.168.{net}.1", f"kybm-a-{tag}", base / "a")
    b = Host(f"kybm-b{tag}", f"192.168.{net}.2", f"kybm-b-{tag}", base / "b")
    made_cgroup_root = not (cgroups.CGROUP_FS / "memory" / CGROUP_ROOT.strip("/")).exists() and not (
        cgroups.CGROUP_FS / CGROUP_ROOT.strip("/")).exists()
    run_dirs = {d: Path(d).exists() for d in ("/run/kybernetes", "/run/containerd")}
    k: Kubectl | None = None
    try:
        for h in (a, b):
            subprocess.run(["ip", "netns", "add", h.netns], check=True)
            h.run("ip", "link", "set", "lo", "up")
        subprocess.run(["ip", "link", "add", f"kma{tag}", "netns", a.netns, "type", "veth", "peer", "name",
                        f"kmb{tag}", "netns", b.netns], check=True)
        for h, dev in ((a, f"kma{tag}"), (b, f"kmb{tag}")):
            h.run("ip", "addr", "add", f"{h.ip}/24", "dev", dev)
            h.run("ip", "link", "set", dev, "up")

        port = free_port()
        server_log = base / "server.log"
        a.proc = _kyb(a, server_log, "server", "--data-dir", str(a.data_dir), "--bind-address", "0.0.0.0",
                      "--https-listen-port", str(port), "--advertise-address", a.ip, "--node-name", a.node,
                      "--node-ip", a.ip, "--kubelet-port", str(free_port()), "--disable", "ingress,servicelb,dns")
        # kubectl in A's namespace: the API server is reachable only there
        wrapper = base / "kubectl-in-a"
        wrapper.write_text(f'#!/bin/sh\nexec nsenter --net=/run/netns/{a.netns} {kubectl_137()} "$@"\n')
        wrapper.chmod(0o755)
        home = base / "home"
        home.mkdir()
        k = kc = Kubectl(Cluster(a.data_dir, port, a.proc, home), str(wrapper), "1.37")

        def ready() -> bool:
            _alive(a, server_log)
            kubeconfig = a.data_dir / "kubeconfig.yaml"
            return kubeconfig.exists() and kc.run("get", "--raw", "/readyz", check=False).stdout == "ok"

        wait_until("kyb server in A's namespace to be ready", ready, 60, 0.2)
        wait_until(f"node {a.node} to be Ready", lambda: _alive(a, server_log) or _ready(kc, a.node), 120, 0.5)
        # the built-in images A just built: B imports the same archives instead of building them again
        shutil.copytree(a.data_dir / "agent" / "builtin-images", b.data_dir / "agent" / "builtin-images")
        agent_log = base / "agent-b.log"
        b.proc = _kyb(b, agent_log, "agent", "--server", f"https://{a.ip}:{port}", "--token",
                      (a.data_dir / "token").read_text().strip(), "--node-name", b.node, "--node-ip", b.ip,
                      "--data-dir", str(b.data_dir), "--kubelet-port", str(free_port()))
        wait_until(f"node {b.node} to be Ready", lambda: _alive(b, agent_log) or _ready(kc, b.node), 120, 0.5)
        yield TwoNodes(a, b, kc)
    finally:
        _teardown([a, b], k, made_cgroup_root, run_dirs)


def _ready(k: Kubectl, node: str) -> bool:
    p = k.run("get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False)
    return p.returncode == 0 and p.stdout == "True"


def _pod(name: str, node: str, script: str, restart: str = "Always", labels: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "restartPolicy": restart, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}}


def _fetch_from_a(t: TwoNodes, name: str, target: str) -> str:
    """Run a pod on node A that fetches ``http://<target>/`` and return what it printed."""
    t.k("apply", "-f", "-", input=json.dumps(_pod(name, t.a.node, FETCH_SCRIPT.format(target=target), "Never")))
    wait_until(f"pod {name} to finish", lambda: t.k("get", "pod", name, "-o", "jsonpath={.status.phase}")
               in ("Succeeded", "Failed"), 90, 0.5)
    phase, logs = t.k("get", "pod", name, "-o", "jsonpath={.status.phase}"), t.k("logs", name)
    assert phase == "Succeeded", f"{name} could not reach {target}: {logs}"
    return logs


def test_nodes_get_their_own_pod_ranges_and_routes_to_each_other(two_nodes: TwoNodes) -> None:
    t = two_nodes
    cidrs = {n: t.k("get", "node", n, "-o", "jsonpath={.spec.podCIDR} {.spec.podCIDRs[0]}").split()
             for n in (t.a.node, t.b.node)}
    assert cidrs == {t.a.node: ["10.42.0.0/24", "10.42.0.0/24"], t.b.node: ["10.42.1.0/24", "10.42.1.0/24"]}
    for here, there, cidr in ((t.a, t.b, "10.42.1.0/24"), (t.b, t.a, "10.42.0.0/24")):
        routes = json.loads(here.run("ip", "-json", "route", "show", "table", "main", "proto", "211").stdout)
        assert [(r["dst"], r["gateway"]) for r in routes] == [(cidr, there.ip)], f"routes on {here.node}: {routes}"
        conflist = json.loads(next((here.data_dir / "agent" / "etc" / "cni" / "net.d").glob("*.conflist")).read_text())
        own = "10.42.0.0/24" if here is t.a else "10.42.1.0/24"
        assert conflist["plugins"][0]["ipam"]["ranges"] == [[{"subnet": own, "gateway": own.replace(".0/24", ".1")}]]


def test_pod_on_a_reaches_pod_on_b_by_ip_and_through_a_cluster_ip(two_nodes: TwoNodes) -> None:
    t = two_nodes
    t.k("apply", "-f", "-", input=json.dumps(_pod("web-b", t.b.node, WEB_SCRIPT, labels={"app": "web-b"})))
    t.k("wait", "pod/web-b", "--for=condition=Ready", "--timeout=90s")
    ip = t.k("get", "pod", "web-b", "-o", "jsonpath={.status.podIP}")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.42.1.0/24")
    assert _fetch_from_a(t, "fetch-pod-ip", f"{ip}:8080").strip() == "web-b"

    t.k("expose", "pod", "web-b", "--port=80", "--target-port=8080", "--name=web-b")
    cluster_ip = t.k("get", "service", "web-b", "-o", "jsonpath={.spec.clusterIP}")
    wait_until("the Service's endpoint on B", lambda: t.k(
        "get", "endpointslices", "-l", "kubernetes.io/service-name=web-b",
        "-o", "jsonpath={.items[*].endpoints[*].addresses[0]}") == ip, 30, 0.2)
    assert _fetch_from_a(t, "fetch-cluster-ip", f"{cluster_ip}:80").strip() == "web-b"
    client_ip = t.k("get", "pod", "fetch-cluster-ip", "-o", "jsonpath={.status.podIP} {.spec.nodeName}").split()
    assert ipaddress.ip_address(client_ip[0]) in ipaddress.ip_network("10.42.0.0/24") and client_ip[1] == t.a.node
