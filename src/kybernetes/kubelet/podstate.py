"""What the container runtime says about one pod, in kubelet terms (no protobuf).

Role: :mod:`.pleg` reads CRI (ListPodSandbox, ListContainers, ContainerStatus, PodSandboxStatus)
into these frozen records; :mod:`.syncpod` decides from them what to start or kill and
:mod:`.status` turns them into ``pod.status``. Times are epoch seconds (0 = unset). Lists are sorted
newest first, as the kubelet's ``kubecontainer.PodStatus`` is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CONTAINER_HASH_ANNOTATION",
    "CONTAINER_IMAGE_ANNOTATION",
    "CREATED",
    "EXITED",
    "RUNNING",
    "TERMINATION_MESSAGE_PATH_ANNOTATION",
    "TERMINATION_MESSAGE_POLICY_ANNOTATION",
    "UNKNOWN",
    "ContainerInfo",
    "PodRuntime",
    "SandboxInfo",
]

CREATED, RUNNING, EXITED, UNKNOWN = "created", "running", "exited", "unknown"
CONTAINER_HASH_ANNOTATION = "io.kubernetes.container.hash"
#: the image as the pod spec names it, fully qualified: containerd reports the first of an image's tags,
#: another name when several tags share one image (as the built-in offline nginx tags do)
CONTAINER_IMAGE_ANNOTATION = "io.kubernetes.container.image"
TERMINATION_MESSAGE_PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY_ANNOTATION = "io.kubernetes.container.terminationMessagePolicy"


@dataclass(frozen=True)
class ContainerInfo:
    """One container (one attempt) of a pod, as the runtime reports it."""

    id: str
    name: str
    attempt: int
    state: str
    sandbox_id: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_ref: str = ""
    hash: str = ""
    log_path: str = ""

    @property
    def container_id(self) -> str:
        """``containerd://<id>`` as the API shows it."""
        return f"containerd://{self.id}"


@dataclass(frozen=True)
class SandboxInfo:
    """One sandbox (pause container + namespaces) of a pod."""

    id: str
    ready: bool
    attempt: int = 0
    created_at: float = 0.0
    ip: str = ""
    host_network: bool = False


@dataclass(frozen=True)
class PodRuntime:
    """All sandboxes and containers the runtime has for one pod UID."""

    uid: str
    name: str = ""
    namespace: str = ""
    sandboxes: tuple[SandboxInfo, ...] = field(default=())
    containers: tuple[ContainerInfo, ...] = field(default=())

    @property
    def sandbox(self) -> SandboxInfo | None:
        """The newest sandbox."""
        return self.sandboxes[0] if self.sandboxes else None

    @property
    def pod_ip(self) -> str:
        sb = self.sandbox
        return sb.ip if sb is not None and sb.ready else ""

    def of(self, name: str) -> list[ContainerInfo]:
        """Every attempt of container ``name``, newest first."""
        return [c for c in self.containers if c.name == name]

    def latest(self, name: str) -> ContainerInfo | None:
        attempts = self.of(name)
        return attempts[0] if attempts else None

    def running(self) -> list[ContainerInfo]:
        return [c for c in self.containers if c.state == RUNNING]

    @property
    def empty(self) -> bool:
        return not self.sandboxes and not self.containers
