"""The real kubelet's settings: one frozen :class:`KubeletConfig`, built by the agent from its flags.

Role: every kubelet module reads its directories, periods and limits from here instead of module
globals, so two agents (or a test agent beside a real one) can run in one process without sharing
paths, cgroups or log roots. :func:`KubeletConfig.for_data_dir` fills the defaults of one data
directory; tests override the roots (``pod_logs_root``, ``containers_log_dir``, ``cgroup_root``) and
shorten the back-off base.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["DEFAULT_CLUSTER_DNS", "DEFAULT_CLUSTER_DOMAIN", "DEFAULT_EVICTION_HARD", "KubeletConfig"]

DEFAULT_CLUSTER_DNS = "10.43.0.10"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
#: the first node's pod range with the default cluster CIDR (what a single-node server gets)
DEFAULT_POD_CIDR = "10.42.0.0/24"
#: the kubelet's default ``evictionHard`` on Linux
DEFAULT_EVICTION_HARD = {"memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%",
                         "imagefs.available": "15%"}


@dataclass(frozen=True)
class KubeletConfig:
    """Everything a node agent needs to know about where and how to run pods."""

    node_name: str
    node_ip: str
    data_dir: Path
    #: ``<data-dir>/agent/pods/<uid>/…`` (volumes, etc-hosts, termination logs)
    pods_dir: Path = Path()
    #: CRI log directories ``<root>/<ns>_<pod>_<uid>/<container>/<restart>.log``
    pod_logs_root: Path = Path("/var/log/pods")
    #: ``<pod>_<ns>_<container>-<id>.log`` symlinks for log shippers
    containers_log_dir: Path = Path("/var/log/containers")
    #: cgroupfs parent of all pods; ``<root>/<qos>/pod<uid>`` per pod (Guaranteed pods sit at the root)
    cgroup_root: str = "/kubepods"
    cluster_dns: tuple[str, ...] = (DEFAULT_CLUSTER_DNS,)
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    host_resolv_conf: Path = Path("/etc/resolv.conf")
    host_hosts_file: Path = Path("/etc/hosts")
    #: CrashLoopBackOff and image pull back-off: first delay, cap (reset after 2xcap of clean running)
    backoff_base: float = 10.0
    backoff_max: float = 300.0
    #: attempts of a container kept in the runtime (the running or last one, and the previous one)
    container_attempts_kept: int = 2
    pleg_period: float = 1.0
    resync_period: float = 30.0
    volume_refresh_period: float = 60.0
    lease_duration: int = 40
    lease_interval: float = 10.0
    status_interval: float = 60.0
    #: kubelet HTTPS server (logs); 0 picks a free port
    server_address: str = ""
    server_port: int = 10250
    client_ca_file: Path | None = None
    #: lowest oom_score_adj we ask for: 0 where containerd clamps (no CAP_SYS_RESOURCE), else -1000
    min_oom_score_adj: int = -1000
    max_pods: int = 110
    control_plane: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    #: images never pulled when present (the built-in offline images), as containerd names them
    offline_images: frozenset[str] = frozenset()
    #: CNI: bridge name and pod subnet used when the agent writes its own conflist; an empty subnet
    #: means the Node's ``spec.podCIDR`` (the agent waits for the controller manager to assign it)
    cni_bridge: str = "kyb0"
    pod_cidr: str = ""
    #: seconds between cgroup samples (cAdvisor's housekeeping); CPU rates span two samples
    stats_period: float = 10.0
    #: container log rotation (``containerLogMaxSize``, ``containerLogMaxFiles``, monitor period)
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    container_log_monitor_period: float = 10.0
    #: hard eviction thresholds (``evictionHard``) that set the node's pressure conditions
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    #: how long a pressure condition stays after its threshold stopped being met
    eviction_pressure_transition_period: float = 300.0
    #: k3s-style registries.yaml (mirrors, plain-HTTP endpoints, TLS, auth); None: <data-dir>/agent/etc/registries.yaml
    registries: Path | None = None

    @classmethod
    def for_data_dir(cls, node_name: str, node_ip: str, data_dir: Path, **overrides: object) -> KubeletConfig:
        """Defaults for ``data_dir``; keyword arguments override fields."""
        data_dir = Path(data_dir).absolute()
        base = cls(node_name=node_name, node_ip=node_ip, data_dir=data_dir, pods_dir=data_dir / "agent" / "pods")
        return replace(base, **overrides)  # type: ignore[arg-type]

    @property
    def agent_dir(self) -> Path:
        return self.data_dir / "agent"

    def pod_dir(self, uid: str) -> Path:
        """``<pods-dir>/<uid>``: everything the kubelet keeps for one pod."""
        return self.pods_dir / uid

    def volumes_dir(self, uid: str) -> Path:
        return self.pod_dir(uid) / "volumes"

    @property
    def cni_conf_dir(self) -> Path:
        return self.agent_dir / "etc" / "cni" / "net.d"

    @property
    def tls_dir(self) -> Path:
        return self.agent_dir / "tls"
