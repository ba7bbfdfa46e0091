"""CRI config builders follow the kubelet's conventions."""

from __future__ import annotations

import pytest

from kybernetes.runtime import criconfig
from kybernetes.runtime.proto import cri_pb2 as api


def test_sandbox_config() -> None:
    cfg = criconfig.sandbox_config(
        name="web", namespace="default", uid="u-1", attempt=2, labels={"app": "web"}, annotations={"a": "b"},
        cgroup_parent=criconfig.pod_cgroup_parent("u-1", "Burstable"),
        port_mappings=[criconfig.port_mapping(8080, 18080, host_ip="127.0.0.1")],
        dns_servers=["10.43.0.10"], dns_searches=["default.svc.cluster.local"], dns_options=["ndots:5"],
        namespaces=criconfig.namespace_options(share_process_namespace=True), run_as_user=1000,
        sysctls={"net.ipv4.ip_unprivileged_port_start": "0"})
    assert (cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid, cfg.metadata.attempt) == \
        ("web", "default", "u-1", 2)
    assert cfg.hostname == "web"
    assert cfg.log_directory == "/var/log/pods/default_web_u-1"
    assert dict(cfg.labels) == {"app": "web", "io.kubernetes.pod.name": "web",
                                "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": "u-1"}
    assert dict(cfg.annotations) == {"a": "b"}
    assert cfg.linux.cgroup_parent == "/kubepods/burstable/podu-1"
    ns = cfg.linux.security_context.namespace_options
    assert (ns.network, ns.pid, ns.ipc) == (api.POD, api.POD, api.POD)
    assert cfg.linux.security_context.run_as_user.value == 1000
    assert cfg.linux.security_context.HasField("run_as_user")
    assert not cfg.linux.security_context.HasField("run_as_group")
    pm = cfg.port_mappings[0]
    assert (pm.protocol, pm.container_port, pm.host_port, pm.host_ip) == (api.TCP, 8080, 18080, "127.0.0.1")
    assert list(cfg.dns_config.options) == ["ndots:5"]
    assert dict(cfg.linux.sysctls) == {"net.ipv4.ip_unprivileged_port_start": "0"}


def test_sandbox_without_dns_has_no_dns_config() -> None:
    cfg = criconfig.sandbox_config(name="p", namespace="n", uid="u", logs_root="/logs")
    assert not cfg.HasField("dns_config")
    assert cfg.log_directory == "/logs/n_p_u"


def test_container_config() -> None:
    sandbox = criconfig.sandbox_config(name="web", namespace="default", uid="u-1")
    cfg = criconfig.container_config(
        name="app", image="docker.io/library/nginx:1.7.9", user_image="nginx:1.7.9", sandbox=sandbox,
        restart_count=3, command=["nginx"], args=["-g", "daemon off;"], env={"A": "1"},
        mounts=[criconfig.Mount("/data", "/srv/data", readonly=True)],
        resources=criconfig.linux_resources(cpu_request_millicores=250, cpu_limit_millicores=500,
                                            memory_limit=64 << 20, oom_score=criconfig.oom_score_adj("BestEffort")),
        run_as_user=0, readonly_rootfs=True, add_capabilities=["NET_ADMIN"])
    assert (cfg.metadata.name, cfg.metadata.attempt) == ("app", 3)
    assert cfg.log_path == "app/3.log"
    assert cfg.image.image == "docker.io/library/nginx:1.7.9" and cfg.image.user_specified_image == "nginx:1.7.9"
    assert dict(cfg.labels) == {"io.kubernetes.container.name": "app", "io.kubernetes.pod.name": "web",
                                "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": "u-1"}
    assert cfg.annotations["io.kubernetes.container.restartCount"] == "3"
    assert [(e.key, e.value) for e in cfg.envs] == [("A", "1")]
    assert (cfg.mounts[0].container_path, cfg.mounts[0].host_path, cfg.mounts[0].readonly) == \
        ("/data", "/srv/data", True)
    r = cfg.linux.resources
    assert (r.cpu_shares, r.cpu_period, r.cpu_quota, r.memory_limit_in_bytes, r.oom_score_adj) == \
        (256, 100_000, 50_000, 64 << 20, 1000)
    sc = cfg.linux.security_context
    assert sc.HasField("run_as_user") and sc.run_as_user.value == 0
    assert sc.readonly_rootfs and list(sc.capabilities.add_capabilities) == ["NET_ADMIN"]
    assert sc.namespace_options.pid == api.CONTAINER  # inherited from the sandbox


@pytest.mark.parametrize(("millis", "shares"), [(0, 2), (1, 2), (100, 102), (1000, 1024), (10**9, 262_144)])
def test_cpu_shares(millis: int, shares: int) -> None:
    assert criconfig.cpu_shares(millis) == shares


@pytest.mark.parametrize(("millis", "quota"), [(0, 0), (5, 1000), (500, 50_000), (2000, 200_000)])
def test_cpu_quota(millis: int, quota: int) -> None:
    assert criconfig.cpu_quota(millis) == quota


def test_oom_score_adj() -> None:
    assert criconfig.oom_score_adj("Guaranteed") == -997
    assert criconfig.oom_score_adj("BestEffort") == 1000
    gib = 1 << 30
    assert criconfig.oom_score_adj("Burstable", gib, 4 * gib) == 750
    assert criconfig.oom_score_adj("Burstable", 4 * gib, 4 * gib) == 3
    assert criconfig.oom_score_adj("Burstable", 0, 4 * gib) == 999


def test_namespaces_and_names() -> None:
    ns = criconfig.namespace_options(host_network=True, host_pid=True, host_ipc=True)
    assert (ns.network, ns.pid, ns.ipc) == (api.NODE, api.NODE, api.NODE)
    assert criconfig.namespace_options(target_id="abc").pid == api.TARGET
    assert criconfig.pod_hostname("x" * 70) == "x" * 63
    assert criconfig.pod_hostname("pod", "my-host.") == "my-host"
    assert criconfig.pod_cgroup_parent("u", "Guaranteed") == "/kubepods/podu"
    assert criconfig.pod_cgroup_parent("u", "BestEffort", root="/kyb") == "/kyb/besteffort/podu"
    assert criconfig.port_mapping(53, protocol="udp").protocol == api.UDP
