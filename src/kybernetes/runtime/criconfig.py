"""Builders of CRI request configs that follow the kubelet's conventions.

Role: the kubelet describes a pod in Kubernetes terms (name, namespace, uid, QoS, host namespaces) and gets
back the ``PodSandboxConfig`` / ``ContainerConfig`` messages that :class:`.cri.RuntimeClient` sends. The
conventions are the real kubelet's, so tools that read runtime state (crictl, log shippers) see familiar
shapes: the ``io.kubernetes.*`` labels and annotations, the log layout
``/var/log/pods/<ns>_<pod>_<uid>/<container>/<restartCount>.log``, QoS cgroup parents and OOM scores, and
CPU shares/quota from millicores. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from kybernetes.runtime.proto import cri_pb2 as api

__all__ = [
    "CONTAINER_NAME_LABEL",
    "DEFAULT_POD_LOGS_ROOT",
    "POD_NAMESPACE_LABEL",
    "POD_NAME_LABEL",
    "POD_UID_LABEL",
    "RESTART_COUNT_ANNOTATION",
    "Mount",
    "QOSClass",
    "container_config",
    "container_labels",
    "container_log_path",
    "cpu_quota",
    "cpu_shares",
    "linux_resources",
    "namespace_options",
    "oom_score_adj",
    "pod_cgroup_parent",
    "pod_hostname",
    "pod_log_directory",
    "port_mapping",
    "sandbox_config",
    "sandbox_labels",
]

POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"

DEFAULT_POD_LOGS_ROOT = "/var/log/pods"
CPU_PERIOD = 100_000  # µs, the CFS period the kubelet uses
MIN_SHARES, MAX_SHARES = 2, 262_144
MIN_QUOTA = 1000  # µs

QOSClass = Literal["Guaranteed", "Burstable", "BestEffort"]

_PROTOCOLS = {"TCP": api.TCP, "UDP": api.UDP, "SCTP": api.SCTP}


# ---- names and paths ------------------------------------------------------------------------------------

def pod_log_directory(namespace: str, name: str, uid: str, root: str = DEFAULT_POD_LOGS_ROOT) -> str:
    """``<root>/<namespace>_<name>_<uid>``: the sandbox ``log_directory``."""
    return str(PurePosixPath(root) / f"{namespace}_{name}_{uid}")


def container_log_path(container: str, restart_count: int) -> str:
    """``<container>/<restartCount>.log``, relative to the sandbox's log directory."""
    return f"{container}/{restart_count}.log"


def pod_hostname(pod_name: str, hostname: str = "") -> str:
    """The sandbox hostname: ``spec.hostname`` or the pod name, cut to 63 characters without a trailing
    ``-``/``.``."""
    h = (hostname or pod_name)[:63]
    return h.rstrip("-.")


def pod_cgroup_parent(uid: str, qos: QOSClass, root: str = "/kubepods") -> str:
    """cgroupfs parent of a pod: ``/kubepods/pod<uid>`` (Guaranteed), ``/kubepods/burstable/pod<uid>``,
    ``/kubepods/besteffort/pod<uid>``."""
    base = PurePosixPath(root)
    if qos == "Burstable":
        base /= "burstable"
    elif qos == "BestEffort":
        base /= "besteffort"
    return str(base / f"pod{uid}")


def sandbox_labels(name: str, namespace: str, uid: str, pod_labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """The pod's labels plus the three ``io.kubernetes.pod.*`` labels."""
    out = dict(pod_labels or {})
    out.update({POD_NAME_LABEL: name, POD_NAMESPACE_LABEL: namespace, POD_UID_LABEL: uid})
    return out


def container_labels(container: str, name: str, namespace: str, uid: str) -> dict[str, str]:
    """``io.kubernetes.container.name`` plus the pod's identity labels."""
    return {CONTAINER_NAME_LABEL: container, POD_NAME_LABEL: name, POD_NAMESPACE_LABEL: namespace,
            POD_UID_LABEL: uid}


# ---- resources ------------------------------------------------------------------------------------------

def cpu_shares(request_millicores: int) -> int:
    """cgroup v1 ``cpu.shares`` for a CPU request (0 → the minimum, 2)."""
    if request_millicores <= 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, request_millicores * 1024 // 1000))


def cpu_quota(limit_millicores: int, period: int = CPU_PERIOD) -> int:
    """CFS quota (µs per ``period``) for a CPU limit; 0 = unlimited."""
    if limit_millicores <= 0:
        return 0
    return max(MIN_QUOTA, limit_millicores * period // 1000)


def oom_score_adj(qos: QOSClass, memory_request: int = 0, memory_capacity: int = 0) -> int:
    """The kubelet's OOM score policy: Guaranteed -997, BestEffort 1000, Burstable between 3 and 999 by how
    much of the node's memory the container requests. (containerd with ``restrict_oom_score_adj`` clamps
    negative values to its own score.)"""
    if qos == "Guaranteed":
        return -997
    if qos == "BestEffort":
        return 1000
    if memory_capacity <= 0:
        return 999
    score = 1000 - (1000 * memory_request) // memory_capacity
    return max(3, min(999, score))


def linux_resources(*, cpu_request_millicores: int = 0, cpu_limit_millicores: int = 0, memory_limit: int = 0,
                    oom_score: int = 0, hugepages: Mapping[str, int] | None = None) -> api.LinuxContainerResources:
    """``LinuxContainerResources`` for a container's requests/limits (memory in bytes, 0 = unlimited)."""
    res = api.LinuxContainerResources(cpu_shares=cpu_shares(cpu_request_millicores), oom_score_adj=oom_score,
                                      memory_limit_in_bytes=max(memory_limit, 0))
    quota = cpu_quota(cpu_limit_millicores)
    if quota:
        res.cpu_period, res.cpu_quota = CPU_PERIOD, quota
    for size, limit in sorted((hugepages or {}).items()):
        res.hugepage_limits.add(page_size=size, limit=limit)
    return res


# ---- namespaces, ports, mounts ----------------------------------------------------------------------------

def namespace_options(*, host_network: bool = False, host_pid: bool = False, host_ipc: bool = False,
                      share_process_namespace: bool = False, target_id: str = "") -> api.NamespaceOption:
    """Namespace modes for a pod: network/IPC are per pod unless host; PID is per container unless
    ``shareProcessNamespace`` (per pod), ``hostPID`` (node) or a target container (ephemeral containers)."""
    if host_pid:
        pid = api.NODE
    elif target_id:
        pid = api.TARGET
    elif share_process_namespace:
        pid = api.POD
    else:
        pid = api.CONTAINER
    return api.NamespaceOption(network=api.NODE if host_network else api.POD,
                               ipc=api.NODE if host_ipc else api.POD, pid=pid, target_id=target_id)


def port_mapping(container_port: int, host_port: int = 0, protocol: str = "TCP", host_ip: str = "") -> api.PortMapping:
    """One hostPort mapping (protocol ``TCP``/``UDP``/``SCTP``)."""
    return api.PortMapping(protocol=_PROTOCOLS[protocol.upper()], container_port=container_port,
                           host_port=host_port, host_ip=host_ip)


@dataclass(frozen=True)
class Mount:
    """A bind mount into a container."""

    container_path: str
    host_path: str
    readonly: bool = False
    propagation: int = api.PROPAGATION_PRIVATE
    selinux_relabel: bool = False

    def to_proto(self) -> api.Mount:
        return api.Mount(container_path=self.container_path, host_path=self.host_path, readonly=self.readonly,
                         propagation=self.propagation, selinux_relabel=self.selinux_relabel)  # type: ignore[arg-type]


# ---- the two configs ------------------------------------------------------------------------------------

def sandbox_config(*, name: str, namespace: str, uid: str, attempt: int = 0, hostname: str = "",
                   log_directory: str | None = None, logs_root: str = DEFAULT_POD_LOGS_ROOT,
                   dns_servers: Sequence[str] = (), dns_searches: Sequence[str] = (),
                   dns_options: Sequence[str] = (), port_mappings: Iterable[api.PortMapping] = (),
                   labels: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None,
                   cgroup_parent: str = "", namespaces: api.NamespaceOption | None = None,
                   sysctls: Mapping[str, str] | None = None, run_as_user: int | None = None,
                   run_as_group: int | None = None, supplemental_groups: Sequence[int] = (),
                   privileged: bool = False, seccomp_unconfined: bool = False) -> api.PodSandboxConfig:
    """A ``PodSandboxConfig`` for one attempt of a pod's sandbox.

    ``labels`` are the pod's labels (the ``io.kubernetes.pod.*`` ones are added), ``annotations`` the pod's
    annotations. ``log_directory`` defaults to :func:`pod_log_directory` under ``logs_root``. DNS settings
    become the pod's resolv.conf (only if any is given). ``cgroup_parent`` is usually
    :func:`pod_cgroup_parent`.
    """
    sc = api.LinuxSandboxSecurityContext(namespace_options=namespaces or namespace_options(),
                                         supplemental_groups=list(supplemental_groups), privileged=privileged)
    if run_as_user is not None:
        sc.run_as_user.value = run_as_user
    if run_as_group is not None:
        sc.run_as_group.value = run_as_group
    if seccomp_unconfined:
        sc.seccomp.profile_type = api.SecurityProfile.Unconfined
    cfg = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=name, namespace=namespace, uid=uid, attempt=attempt),
        hostname=pod_hostname(name, hostname),
        log_directory=log_directory if log_directory is not None else pod_log_directory(namespace, name, uid,
                                                                                          logs_root),
        port_mappings=list(port_mappings),
        labels=sandbox_labels(name, namespace, uid, labels),
        annotations=dict(annotations or {}),
        linux=api.LinuxPodSandboxConfig(cgroup_parent=cgroup_parent, security_context=sc,
                                        sysctls=dict(sysctls or {})),
    )
    if dns_servers or dns_searches or dns_options:
        cfg.dns_config.CopyFrom(api.DNSConfig(servers=list(dns_servers), searches=list(dns_searches),
                                              options=list(dns_options)))
    return cfg


def container_config(*, name: str, image: str, sandbox: api.PodSandboxConfig, restart_count: int = 0,
                     command: Sequence[str] = (), args: Sequence[str] = (), working_dir: str = "",
                     env: Mapping[str, str] | Iterable[tuple[str, str]] = (), mounts: Iterable[Mount] = (),
                     annotations: Mapping[str, str] | None = None,
                     resources: api.LinuxContainerResources | None = None, namespaces: api.NamespaceOption | None = None,
                     run_as_user: int | None = None, run_as_group: int | None = None,
                     run_as_username: str = "", supplemental_groups: Sequence[int] = (),
                     readonly_rootfs: bool = False, privileged: bool = False,
                     add_capabilities: Sequence[str] = (), drop_capabilities: Sequence[str] = (),
                     no_new_privs: bool = False, stdin: bool = False, stdin_once: bool = False,
                     tty: bool = False, user_image: str = "") -> api.ContainerConfig:
    """A ``ContainerConfig`` for attempt ``restart_count`` of container ``name`` in ``sandbox``.

    ``image`` is what the runtime resolves (a name or image ID); ``user_image`` the name as written in the
    pod spec. ``command``/``args`` override the image's entrypoint/cmd (empty = keep). The log path is
    :func:`container_log_path`; labels are :func:`container_labels`; ``annotations`` get the restart count.
    ``namespaces`` defaults to the sandbox's.
    """
    md = sandbox.metadata
    envs = list(env.items()) if isinstance(env, Mapping) else list(env)
    ann = dict(annotations or {})
    ann[RESTART_COUNT_ANNOTATION] = str(restart_count)
    sc = api.LinuxContainerSecurityContext(
        namespace_options=namespaces or sandbox.linux.security_context.namespace_options,
        run_as_username=run_as_username, readonly_rootfs=readonly_rootfs, privileged=privileged,
        supplemental_groups=list(supplemental_groups), no_new_privs=no_new_privs,
        capabilities=api.Capability(add_capabilities=list(add_capabilities),
                                    drop_capabilities=list(drop_capabilities)))
    if run_as_user is not None:
        sc.run_as_user.value = run_as_user
    if run_as_group is not None:
        sc.run_as_group.value = run_as_group
    return api.ContainerConfig(
        metadata=api.ContainerMetadata(name=name, attempt=restart_count),
        image=api.ImageSpec(image=image, user_specified_image=user_image or image),
        command=list(command), args=list(args), working_dir=working_dir,
        envs=[api.KeyValue(key=k, value=v) for k, v in envs],
        mounts=[m.to_proto() for m in mounts],
        labels=container_labels(name, md.name, md.namespace, md.uid),
        annotations=ann,
        log_path=container_log_path(name, restart_count),
        stdin=stdin, stdin_once=stdin_once, tty=tty,
        linux=api.LinuxContainerConfig(resources=resources or api.LinuxContainerResources(), security_context=sc),
    )
