"""The pod sandbox: PodSandboxConfig from a pod, and its run/stop/remove through CRI.

Role: :mod:`.syncpod` calls :func:`sandbox_config` (the same config again for every CreateContainer of
that sandbox) and :func:`run`/:func:`stop`/:func:`remove`. The config carries the pod's identity labels,
hostname (``spec.hostname``, ``setHostnameAsFQDN``; none for hostNetwork), the CRI log directory
``<log-root>/<ns>_<name>_<uid>``, resolv.conf from :mod:`.dns`, hostPort mappings, the cgroup parent from
:mod:`.resources`, namespace modes (hostNetwork, hostPID, hostIPC, shareProcessNamespace) and the pod
security context. Upstream: pkg/kubelet/kuberuntime/kuberuntime_sandbox.go.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.kubelet import dns, resources
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.runtime import cri, criconfig, errors
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["hostname_and_domain", "remove", "run", "sandbox_config", "stop"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def hostname_and_domain(pod: Obj, cluster_domain: str) -> tuple[str, str]:
    """The pod's hostname (``spec.hostname`` or its name, at most 63 characters) and, with a subdomain,
    its domain ``<subdomain>.<ns>.svc.<cluster domain>``."""
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    hostname = criconfig.pod_hostname(md.get("name", ""), spec.get("hostname") or "")
    domain = ""
    if spec.get("subdomain"):
        domain = f"{spec['subdomain']}.{md.get('namespace') or 'default'}.svc.{cluster_domain}"
    return hostname, domain


def _port_mappings(spec: Obj) -> list[api.PortMapping]:
    out = []
    for ctr in spec.get("containers") or []:
        for p in ctr.get("ports") or []:
            if p.get("hostPort"):
                out.append(criconfig.port_mapping(int(p["containerPort"]), int(p["hostPort"]),
                                                  str(p.get("protocol") or "TCP"), str(p.get("hostIP") or "")))
    return out


def sandbox_config(pod: Obj, attempt: int, cfg: KubeletConfig, host_dns: dns.DNSSettings) -> api.PodSandboxConfig:
    """The PodSandboxConfig of attempt ``attempt`` of ``pod``'s sandbox."""
    md, spec = pod["metadata"], pod.get("spec") or {}
    sc = spec.get("securityContext") or {}
    host_network = bool(spec.get("hostNetwork"))
    hostname, domain = hostname_and_domain(pod, cfg.cluster_domain)
    if spec.get("setHostnameAsFQDN") and domain:
        hostname = f"{hostname}.{domain}"[:64]
    settings = dns.pod_dns(pod, host_dns, cfg.cluster_dns, cfg.cluster_domain)
    qos = resources.qos_class(spec)
    ns_options = criconfig.namespace_options(host_network=host_network, host_pid=bool(spec.get("hostPID")),
                                             host_ipc=bool(spec.get("hostIPC")),
                                             share_process_namespace=bool(spec.get("shareProcessNamespace")))
    config = criconfig.sandbox_config(
        name=md["name"], namespace=md.get("namespace") or "default", uid=md["uid"], attempt=attempt,
        hostname=hostname, logs_root=str(cfg.pod_logs_root), dns_servers=settings.servers,
        dns_searches=settings.searches, dns_options=settings.options, port_mappings=_port_mappings(spec),
        labels=md.get("labels") or {}, annotations=md.get("annotations") or {},
        cgroup_parent=resources.cgroup_parent(md["uid"], qos, cfg.cgroup_root), namespaces=ns_options,
        sysctls={s["name"]: str(s.get("value", "")) for s in sc.get("sysctls") or []},
        run_as_user=sc.get("runAsUser"), run_as_group=sc.get("runAsGroup"),
        supplemental_groups=[int(g) for g in sc.get("supplementalGroups") or []],
        privileged=any((c.get("securityContext") or {}).get("privileged")
                       for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]))
    if host_network:
        config.hostname = ""
    return config


async def run(runtime: cri.RuntimeClient, config: api.PodSandboxConfig) -> str:
    """RunPodSandbox; returns the sandbox ID."""
    return await runtime.run_pod_sandbox(config)


async def stop(runtime: cri.RuntimeClient, sandbox_id: str) -> None:
    """StopPodSandbox (tears down the network, releases the IP); a missing sandbox is fine."""
    try:
        await runtime.stop_pod_sandbox(sandbox_id)
    except errors.NotFoundError:
        pass


async def remove(runtime: cri.RuntimeClient, sandbox_id: str) -> None:
    """RemovePodSandbox (with its containers); a missing sandbox is fine."""
    try:
        await runtime.remove_pod_sandbox(sandbox_id)
    except errors.NotFoundError:
        pass
