"""The node's container runtime layer: the only code that talks to containerd.

Used by the kubelet only (the composition roots wire it in). Modules:

- :mod:`.bootstrap` — :func:`~.bootstrap.bring_up`: the kubelet's one call at start (runtime + images);
- :mod:`.containerd` — configure, start (with the host fixes of :mod:`.hostfix`), wait for and stop our own
  containerd, or connect to an existing CRI runtime;
- :mod:`.cri` — :class:`~.cri.RuntimeClient`, the async CRI client; errors in :mod:`.errors`;
- :mod:`.criconfig` — PodSandboxConfig / ContainerConfig builders with the kubelet's conventions;
- :mod:`.images` — offline pause/busybox/nginx images from host packages, ``ctr`` import, airgap directory;
- :mod:`.oci` — the deterministic OCI archive writer behind the images;
- :mod:`.crilog` — reading CRI container log files.

Generated protobuf messages live in ``kybernetes.runtime.proto.cri_pb2``.
"""

from kybernetes.runtime.bootstrap import NodeRuntime, RuntimeOptions, bring_up
from kybernetes.runtime.containerd import PAUSE_IMAGE, Containerd, ContainerdConfig, ExternalRuntime, Runtime
from kybernetes.runtime.cri import ExecResult, RuntimeClient
from kybernetes.runtime.errors import (
    ContainerdError,
    CRIError,
    DeadlineExceededError,
    ImageBuildError,
    ImageImportError,
    NotFoundError,
    RuntimeLayerError,
    UnavailableError,
    UnimplementedError,
)

__all__ = [
    "PAUSE_IMAGE",
    "CRIError",
    "Containerd",
    "ContainerdConfig",
    "ContainerdError",
    "DeadlineExceededError",
    "ExecResult",
    "ExternalRuntime",
    "ImageBuildError",
    "ImageImportError",
    "NodeRuntime",
    "NotFoundError",
    "Runtime",
    "RuntimeClient",
    "RuntimeLayerError",
    "RuntimeOptions",
    "UnavailableError",
    "UnimplementedError",
    "bring_up",
]
