"""``kyb server`` as a whole cluster on one node: Services reached from pods (ClusterIP), from the host
(NodePort, LoadBalancer through ServiceLB) and from a client namespace the test makes
(externalTrafficPolicy), readiness taking a pod out of the rotation and back, cluster DNS from pods,
the seed's multi-path Ingress through nginx, and the pod bridge's settings.

One server with its embedded agent for the module, driven by the real kubectl 1.32; real busybox pods
on our containerd. Pods cannot be exec'd into yet, so pods that probe the network run to completion
and the test reads their logs. Traffic goes only to 127.0.0.1, the test's pods and the test's netns.
On exit every pod is deleted (``agent_server``), the proxy's rules, the bridge and the netns removed,
the sysctls restored, and the host compared with how it was before.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import json
import os
import random
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kybernetes.ingress import nginx
from tests.e2e.conftest import DISPATCHER, NODE_SYSCTLS, Cluster, Kubectl, agent_server, free_port, wait_until
from tests.ingress import seed

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]

BRIDGE = "kyb0"
CLUSTER_DNS = "10.43.0.10"
# Each web pod serves its name at / and "<name> <client address>" at /cgi-bin/peer.
WEB_SCRIPT = """mkdir -p /www/cgi-bin
hostname > /www/index.html
cat > /www/cgi-bin/peer <<'EOF'
#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "$(hostname) $REMOTE_ADDR"
EOF
chmod +x /www/cgi-bin/peer
exec httpd -f -p 8080 -h /www
"""
# Ready unless the test drops a file named after the pod into the hostPath directory.
READINESS = ["sh", "-c", "test ! -e /ctl/$(hostname)"]
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Net:
    cluster: Cluster
    k: Kubectl
    ns: str
    ctl: Path  # readiness switches (hostPath of the web pods)
    http_port: int  # the ingress controller's nginx
    lb_port: int
    client_ns: str  # a netns outside the cluster, joined to the host by a veth
    host_ip: str  # the host's end of that veth
    client_ip: str
    web_pods: list[str]

    def node_port(self, service: str) -> int:
        return int(self.k("get", "service", service, "-n", self.ns, "-o", "jsonpath={.spec.ports[0].nodePort}"))


# --- host state -----------------------------------------------------------------------------------


def sh(*argv: str, check: bool = True) -> str:
    p = subprocess.run(argv, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


@dataclass(frozen=True)
class HostState:
    links: frozenset[str]
    netns: frozenset[str]
    nft_tables: frozenset[str]
    nat_chains: frozenset[str]
    sysctls: tuple[tuple[str, str], ...]

    @classmethod
    def take(cls) -> HostState:
        return cls(
            links=frozenset(line.split(":")[1].strip().split("@")[0] for line in sh("ip", "-o", "link").splitlines()),
            netns=frozenset(line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.strip()),
            nft_tables=frozenset(sh("nft", "list", "tables").splitlines()),
            nat_chains=frozenset(line.split()[1] for line in sh("iptables", "-t", "nat", "-S").splitlines()
                                 if line.startswith("-N ")),
            sysctls=tuple((k, Path("/proc/sys", k).read_text().strip()) for k in NODE_SYSCTLS))

    def leftovers(self, now: HostState) -> list[str]:
        out = [f"link {x}" for x in sorted(now.links - self.links)]
        out += [f"netns {x}" for x in sorted(now.netns - self.netns)]
        out += [f"nft {x}" for x in sorted(now.nft_tables - self.nft_tables)]
        out += [f"iptables nat chain {x}" for x in sorted(now.nat_chains - self.nat_chains)]
        out += [f"sysctl {k}={v} (was {dict(self.sysctls)[k]})" for k, v in now.sysctls if dict(self.sysctls)[k] != v]
        return out


def free_link_net() -> ipaddress.IPv4Network:
    """A /30 of 10.98.0.0/16 that no host route overlaps, for the client netns's veth."""
    used = []
    for line in sh("ip", "-4", "route", "show").splitlines():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.IPv4Network(line.split()[0], strict=False))
    candidates = list(ipaddress.IPv4Network("10.98.0.0/16").subnets(new_prefix=30))
    random.shuffle(candidates)
    return next(n for n in candidates if not any(n.overlaps(u) for u in used))


@contextlib.contextmanager
def client_netns(test_id: str) -> Iterator[tuple[str, str, str]]:
    """A network namespace outside the cluster with a veth to the host: (netns, host address, its address)."""
    ns, host_if = f"kybx{test_id}", f"kybxh{test_id}"
    net = free_link_net()
    host_ip, client_ip = (str(a) for a in net.hosts())
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        for argv in (("ip", "link", "set", "lo", "up"), ("ip", "addr", "add", f"{client_ip}/30", "dev", "eth0"),
                     ("ip", "link", "set", "eth0", "up"), ("ip", "route", "add", "default", "via", host_ip)):
            sh("ip", "netns", "exec", ns, *argv)
        yield ns, host_ip, client_ip
    finally:
        sh("ip", "netns", "del", ns, check=False)  # takes the veth pair with it
        sh("ip", "link", "del", host_if, check=False)


# --- objects ---------------------------------------------------------------------------------------
def apply(k: Kubectl, *docs: dict[str, Any]) -> None:
    k("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def web_deployment(ns: str, ctl: Path) -> dict[str, Any]:
    container = {"name": "web", "image": "busybox", "command": ["sh", "-c", WEB_SCRIPT],
                 "ports": [{"name": "http", "containerPort": 8080}],
                 "readinessProbe": {"exec": {"command": READINESS}, "periodSeconds": 1, "failureThreshold": 1},
                 "volumeMounts": [{"name": "ctl", "mountPath": "/ctl", "readOnly": True}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [container],
                                           "volumes": [{"name": "ctl", "hostPath": {"path": str(ctl),
                                                                                    "type": "Directory"}}]}}}}


def web_service(ns: str, name: str, type_: str = "ClusterIP", port: int = 80, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": type_, "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": port, "targetPort": "http"}], **spec}}


def run_pod(net: Net, name: str, script: str, ns: str | None = None) -> str:
    """Run ``script`` in a busybox pod to completion; its logs."""
    ns = ns or net.ns
    apply(net.k, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                  "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                           "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}})
    net.k("wait", f"pod/{name}", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s", timeout=130)
    return net.k("logs", name, "-n", ns)


# --- requests from the host and the client netns ---------------------------------------------------
def get(url: str, host: str = "") -> str:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    with NO_PROXY.open(req, timeout=5) as r:
        return r.read().decode()


def answers(url: str, n: int = 30) -> collections.Counter[str]:
    """Who answered ``n`` requests to ``url`` (the first word of each body; "ERR" for a failure)."""
    out: collections.Counter[str] = collections.Counter()
    for _ in range(n):
        try:
            out[get(url).split()[0]] += 1
        except (OSError, IndexError):
            out["ERR"] += 1
    return out


def from_client_netns(net: Net, url: str) -> str:
    # busybox wget -T crashes (research notes §10): bound it with timeout instead
    return sh("ip", "netns", "exec", net.client_ns, "timeout", "5", "busybox", "wget", "-q", "-O-", url)


def icmp_redirects_sent() -> int:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Icmp:")]
    return int(lines[1][lines[0].index("OutRedirects")])


# --- the cluster -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    before = HostState.take()
    test_id = uuid.uuid4().hex[:6]
    base = tmp_path_factory.mktemp("kyb-net")
    ctl = base / "readiness"
    ctl.mkdir()
    http_port, lb_port = free_port(), free_port()
    with client_netns(test_id) as (client_ns, host_ip, client_ip), \
            agent_server(base, f"kybnet-{test_id}", "--ingress-http-port", str(http_port),
                         "--ingress-https-port", str(free_port())) as cluster:
        k = Kubectl(cluster, DISPATCHER, "1.32")
        ns = f"kybnet-{test_id}"
        k("create", "namespace", ns)
        apply(k, web_deployment(ns, ctl), web_service(ns, "web"), web_service(ns, "web-np", "NodePort"),
              web_service(ns, "web-local", "NodePort", externalTrafficPolicy="Local"),
              web_service(ns, "web-lb", "LoadBalancer", port=lb_port))
        k("rollout", "status", "deployment/web", "-n", ns, "--timeout=120s", timeout=130)
        pods = k("get", "pods", "-n", ns, "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}").split()
        yield Net(cluster, k, ns, ctl, http_port, lb_port, client_ns, host_ip, client_ip, sorted(pods))
    # agent_server removed the pods, the proxy's rules and the bridge and restored the sysctls
    assert before.leftovers(HostState.take()) == []


# --- tests -----------------------------------------------------------------------------------------
def test_pods_resolve_cluster_names_through_kube_dns(net: Net) -> None:
    svc = json.loads(net.k("get", "service", "kube-dns", "-n", "kube-system", "-o", "json"))
    assert svc["spec"]["clusterIP"] == CLUSTER_DNS and svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    web_ip = net.k("get", "service", "web", "-n", net.ns, "-o", "jsonpath={.spec.clusterIP}")
    # busybox's nslookup (since 1.28.4) sends names as given, without the search path, on Kubernetes too:
    # it gets full names; the search path is exercised by wget (the libc resolver) with a short name
    logs = run_pod(net, "dns-check", "cat /etc/resolv.conf; echo @@; "
                                     "nslookup kubernetes.default.svc.cluster.local; echo @@; "
                                     f"nslookup web.{net.ns}.svc.cluster.local; echo @@; "
                                     f"timeout 5 wget -q -O- http://web.{net.ns}/")
    resolv, kubernetes, web, page = logs.split("@@\n")
    search, nameserver, options = resolv.splitlines()  # the node's own search domains come last
    assert search.startswith(f"search {net.ns}.svc.cluster.local svc.cluster.local cluster.local")
    assert (nameserver, options) == (f"nameserver {CLUSTER_DNS}", "options ndots:5")
    assert f"Server:\t\t{CLUSTER_DNS}" in kubernetes and "Address: 10.43.0.1\n" in kubernetes, kubernetes
    assert f"Name:\tweb.{net.ns}.svc.cluster.local\nAddress: {web_ip}\n" in web, web
    assert page.strip() in net.web_pods  # the search path resolved the short name for wget


def test_cluster_ip_spreads_requests_over_all_pods(net: Net) -> None:
    redirects = icmp_redirects_sent()
    logs = run_pod(net, "clusterip-client",
                   f"for i in $(seq 60); do timeout 5 wget -q -O- http://web.{net.ns}/ || echo FAIL; done")
    seen = collections.Counter(logs.split())
    assert set(seen) == set(net.web_pods), seen
    assert sum(seen.values()) == 60
    # the pod and its endpoints share the bridge: the node forwards in and out of it without telling
    # the pod to bypass it (send_redirects off)
    assert icmp_redirects_sent() == redirects


def test_node_port_and_load_balancer_answer_on_the_node_address(net: Net) -> None:
    node_port = net.node_port("web-np")
    wait_until("the NodePort to reach all pods", lambda: set(answers(f"http://127.0.0.1:{node_port}/"))
               == set(net.web_pods), 30)
    ingress = wait_until("ServiceLB to publish the load balancer", lambda: net.k(
        "get", "service", "web-lb", "-n", net.ns, "-o", "jsonpath={.status.loadBalancer.ingress}"), 30)
    assert json.loads(ingress) == [{"ip": "127.0.0.1", "ipMode": "VIP"}]  # the node's InternalIP
    wait_until("the load balancer to reach all pods", lambda: set(answers(f"http://127.0.0.1:{net.lb_port}/"))
               == set(net.web_pods), 30)


def test_external_traffic_policy_local_keeps_the_client_address(net: Net) -> None:
    cluster_port, local_port = net.node_port("web-np"), net.node_port("web-local")
    url = f"http://{net.host_ip}:{{}}/cgi-bin/peer"

    def peers(port: int) -> set[str]:
        out = set()
        for _ in range(6):
            with contextlib.suppress(AssertionError):
                pod, peer = from_client_netns(net, url.format(port)).split()
                assert pod in net.web_pods
                out.add(peer.strip("[]").removeprefix("::ffff:"))  # httpd on IPv6 says "[::ffff:a.b.c.d]"
        return out

    # Cluster: masqueraded to the node (its bridge address) on the way to the pod; Local: the client's own
    gateway = sh("ip", "-4", "-o", "addr", "show", "dev", BRIDGE).split()[3].split("/")[0]
    assert wait_until("answers through the Cluster-policy NodePort", lambda: peers(cluster_port), 30) == {gateway}
    assert wait_until("answers through the Local-policy NodePort", lambda: peers(local_port), 30) == {net.client_ip}


def test_a_pod_failing_readiness_leaves_the_rotation_and_returns(net: Net) -> None:
    url = f"http://127.0.0.1:{net.node_port('web-np')}/"
    down, *others = net.web_pods
    marker = net.ctl / down
    marker.touch()
    try:
        net.k("wait", f"pod/{down}", "-n", net.ns, "--for=condition=Ready=false", "--timeout=30s")
        wait_until(f"{down} to leave the rotation", lambda: set(answers(url)) == set(others), 30)
    finally:
        marker.unlink()
    net.k("wait", f"pod/{down}", "-n", net.ns, "--for=condition=Ready", "--timeout=30s")
    wait_until(f"{down} to return to the rotation", lambda: set(answers(url)) == set(net.web_pods), 30)


def seed_backend(service: str, ports: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    """A pod answering "<service>:<port> <path>" on every seed path routed to it, one httpd per port."""
    lines = []
    for _name, port in ports:
        for path, svc, p in seed.PATHS:
            if (svc, p) == (service, port):
                file = f"/www{port}{path}" + ("index.html" if path.endswith("/") else "")
                lines.append(f"mkdir -p $(dirname {file}) && echo '{service}:{port} {path}' > {file}")
        lines.append(f"httpd -p {port} -h /www{port}")
    lines.append("exec sleep 100000")
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": service, "namespace": seed.NAMESPACE, "labels": {"app": service}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "backend", "image": "busybox", "command": ["sh", "-c", "\n".join(lines)],
                "ports": [{"name": name, "containerPort": port} for name, port in ports]}]}}


@pytest.mark.skipif(nginx.find_binary() is None, reason="nginx is not installed (scripts/install installs it)")
def test_the_seed_ingress_routes_each_path_to_its_service(net: Net) -> None:
    k = net.k
    k("create", "namespace", seed.NAMESPACE)
    try:
        ing = seed.ingress(class_name=None)  # the seed names no class: the default IngressClass takes it
        ing["metadata"] = {"name": ing["metadata"]["name"], "namespace": seed.NAMESPACE}
        ing.pop("status")
        services = []
        for svc in seed.services():
            svc["metadata"] = {"name": svc["metadata"]["name"], "namespace": seed.NAMESPACE}
            svc["spec"] = {"ports": svc["spec"]["ports"], "selector": svc["spec"]["selector"]}
            services.append(svc)
        apply(k, *services, *(seed_backend(name, ports) for name, ports in seed.SERVICES.items()), ing)
        k("wait", "pods", "--all", "-n", seed.NAMESPACE, "--for=condition=Ready", "--timeout=120s", timeout=130)
        base = f"http://127.0.0.1:{net.http_port}"

        def routed() -> list[tuple[str, str]]:
            out = []
            for path, svc, port in seed.PATHS:
                try:
                    out.append((path, get(base + path, seed.HOST).strip()))
                except (OSError, urllib.error.HTTPError) as e:
                    out.append((path, f"{svc}:{port} failed: {e}"))
            return out

        want = [(path, f"{svc}:{port} {path}") for path, svc, port in seed.PATHS]
        wait_until("nginx to route every seed path to its service", lambda: routed() == want, 60)
        assert json.loads(k("get", "ingress", "www-kct-ingress", "-n", seed.NAMESPACE, "-o",
                            "jsonpath={.status.loadBalancer.ingress}")) == [{"ip": "127.0.0.1"}]
    finally:
        k("delete", "namespace", seed.NAMESPACE, "--wait=true", "--timeout=120s", timeout=130)


def test_the_pod_bridge_is_set_up_for_service_traffic(net: Net) -> None:
    def sysctl(key: str) -> str:
        return Path("/proc/sys", key).read_text().strip()

    assert sysctl(f"net/ipv4/conf/{BRIDGE}/send_redirects") == sysctl("net/ipv4/conf/all/send_redirects") == "0"
    assert sysctl("net/bridge/bridge-nf-call-iptables") == "1"
    # its address is set (3, NET_ADDR_SET), so no new pod's veth can change it under the pods' ARP caches
    assert Path(f"/sys/class/net/{BRIDGE}/addr_assign_type").read_text().strip() == "3"
    ports = sh("bridge", "-d", "link", "show", "master", BRIDGE)
    assert ports.count("hairpin on") == len([line for line in ports.splitlines() if "master " + BRIDGE in line]) > 0
    # the DNS server is the kube-dns endpoint at the node's pod gateway, which the pods route through
    sl = json.loads(net.k("get", "endpointslice", "kube-dns-server", "-n", "kube-system", "-o", "json"))
    gateway = sh("ip", "-4", "-o", "addr", "show", "dev", BRIDGE).split()[3].split("/")[0]
    assert [e["addresses"] for e in sl["endpoints"]] == [[gateway]]


def test_kubectl_expose_and_set_selector_move_traffic(net: Net) -> None:
    other = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "other", "namespace": net.ns,
                                                            "labels": {"app": "other"}},
             "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                 {"name": "web", "image": "busybox", "command": ["sh", "-c", WEB_SCRIPT],
                  "ports": [{"containerPort": 8080}]}]}}
    apply(net.k, other)
    net.k("wait", "pod/other", "-n", net.ns, "--for=condition=Ready", "--timeout=90s", timeout=100)
    net.k("expose", "deployment", "web", "--name=exposed", "--port=8081", "--target-port=8080", "-n", net.ns)
    fetch = f"for i in $(seq 20); do timeout 5 wget -q -O- http://exposed.{net.ns}:8081/ || echo FAIL; done"
    seen = collections.Counter(run_pod(net, "expose-client", fetch).split())
    assert set(seen) == set(net.web_pods), seen
    net.k("set", "selector", "service", "exposed", "app=other", "-n", net.ns)
    wait_until("the endpoints to follow the new selector", lambda: net.k(
        "get", "endpointslices", "-n", net.ns, "-l", "kubernetes.io/service-name=exposed",
        "-o", "jsonpath={.items[*].endpoints[*].targetRef.name}").split() == ["other"], 30, 0.2)
    seen = collections.Counter(run_pod(net, "selector-client", fetch).split())
    assert seen == collections.Counter({"other": 20}), seen
