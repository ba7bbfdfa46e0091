"""Managed /etc/hosts, resolv.conf per dnsPolicy, and resources → CRI mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kybernetes.kubelet import dns, hosts, resources
from kybernetes.runtime import criconfig


def test_managed_hosts_with_aliases() -> None:
    text = hosts.managed_hosts(["10.42.0.7"], "hostaliases-pod", "",
                               [{"ip": "10.1.2.3", "hostnames": ["foo.remote", "bar.remote"]}])
    assert text == ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
                    "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\n"
                    "fe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.42.0.7\thostaliases-pod\n\n"
                    "# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\tbar.remote\n")


def test_managed_hosts_with_subdomain() -> None:
    text = hosts.managed_hosts(["10.42.0.8"], "web-0", "nginx.default.svc.cluster.local")
    assert text.endswith("10.42.0.8\tweb-0.nginx.default.svc.cluster.local\tweb-0\n")


async def test_host_network_hosts_file(tmp_path: Path) -> None:
    node_hosts = tmp_path / "hosts"
    node_hosts.write_text("127.0.0.1 localhost\n10.0.0.1 node1\n")
    pod = {"spec": {"hostNetwork": True, "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["x"]}]}}
    path = await hosts.ensure_hosts_file(pod, tmp_path / "pod", ["10.0.0.1"], "node1", "", node_hosts)
    assert path == tmp_path / "pod" / "etc-hosts"
    assert path.read_text() == ("# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"
                                "10.0.0.1 node1\n\n# Entries added by HostAliases.\n1.2.3.4\tx\n")
    assert oct(path.stat().st_mode & 0o777) == "0o644"


HOST = dns.parse_resolv_conf("# comment\nnameserver 192.168.1.1\nnameserver 8.8.8.8\nsearch corp.example lan\n"
                             "options edns0 ndots:2\n")


def _pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop"}, "spec": spec}


def test_parse_resolv_conf() -> None:
    assert HOST == dns.DNSSettings(("192.168.1.1", "8.8.8.8"), ("corp.example", "lan"), ("edns0", "ndots:2"))


def test_cluster_first() -> None:
    d = dns.pod_dns(_pod(), HOST, ["10.43.0.10"], "cluster.local")
    assert d.servers == ("10.43.0.10",)
    assert d.searches == ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "lan")
    assert d.options == ("ndots:5",)


def test_cluster_first_on_host_network_uses_host_unless_with_host_net() -> None:
    assert dns.pod_dns(_pod(hostNetwork=True), HOST, ["10.43.0.10"], "cluster.local").servers == HOST.servers
    d = dns.pod_dns(_pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), HOST, ["10.43.0.10"], "cluster.local")
    assert d.servers == ("10.43.0.10",)


def test_default_and_none_and_merge() -> None:
    d = dns.pod_dns(_pod(dnsPolicy="Default"), HOST, ["10.43.0.10"], "cluster.local")
    assert d == HOST
    cfg = {"nameservers": ["1.1.1.1"], "searches": ["my.dns.search"],
           "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
    d = dns.pod_dns(_pod(dnsPolicy="None", dnsConfig=cfg), HOST, ["10.43.0.10"], "cluster.local")
    assert d == dns.DNSSettings(("1.1.1.1",), ("my.dns.search",), ("ndots:2", "edns0"))
    d = dns.pod_dns(_pod(dnsConfig=cfg), HOST, ["10.43.0.10"], "cluster.local")
    assert d.servers == ("10.43.0.10", "1.1.1.1") and d.options == ("ndots:2", "edns0")
    assert d.searches[-1] == "my.dns.search"


def test_nameservers_capped_at_three() -> None:
    cfg = {"nameservers": ["1.1.1.1", "1.0.0.1", "9.9.9.9"]}
    assert len(dns.pod_dns(_pod(dnsConfig=cfg), HOST, ["10.43.0.10"], "cluster.local").servers) == 3


def ctr(req: dict[str, str] | None = None, lim: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": "c", "resources": {"requests": req or {}, "limits": lim or {}}}


@pytest.mark.parametrize(("containers", "qos"), [
    ([ctr()], "BestEffort"),
    ([ctr({"cpu": "100m"})], "Burstable"),
    ([ctr({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], "Guaranteed"),
    ([ctr({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], "Burstable"),
    ([ctr({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}), ctr()], "Burstable"),
])
def test_qos_class(containers: list[dict[str, Any]], qos: str) -> None:
    assert resources.qos_class({"containers": containers}) == qos


def test_cgroup_parent_per_qos() -> None:
    assert resources.cgroup_parent("u", "Guaranteed", "/kt") == "/kt/podu"
    assert resources.cgroup_parent("u", "Burstable", "/kt") == "/kt/burstable/podu"
    assert resources.cgroup_parent("u", "BestEffort") == "/kubepods/besteffort/podu"


def test_container_resources_mapping() -> None:
    r = resources.container_resources(ctr({"cpu": "250m", "memory": "64Mi"}, {"cpu": "500m", "memory": "128Mi"}),
                                      "Burstable", memory_capacity=1 << 30)
    assert r.cpu_shares == 256 and r.cpu_quota == 50_000 and r.cpu_period == criconfig.CPU_PERIOD
    assert r.memory_limit_in_bytes == 128 << 20
    assert r.oom_score_adj == 1000 - (1000 * (64 << 20)) // (1 << 30)
    best = resources.container_resources(ctr(), "BestEffort", memory_capacity=1 << 30)
    assert best.cpu_shares == 2 and best.cpu_quota == 0 and best.memory_limit_in_bytes == 0
    assert best.oom_score_adj == 1000
    only_limit = resources.container_resources(ctr(lim={"cpu": "2"}), "Burstable", memory_capacity=1 << 30)
    assert only_limit.cpu_shares == 2048 and only_limit.cpu_quota == 200_000


def test_oom_score_clamped_where_containerd_cannot_lower_it() -> None:
    g = ctr({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})
    assert resources.container_resources(g, "Guaranteed", memory_capacity=1 << 34).oom_score_adj == -997
    assert resources.container_resources(g, "Guaranteed", memory_capacity=1 << 34,
                                         min_oom_score_adj=0).oom_score_adj == 0
