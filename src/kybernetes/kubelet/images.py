"""Making a container's image present according to its ``imagePullPolicy``.

Role: :mod:`.containers` calls :meth:`ImageManager.ensure` before CreateContainer. ``IfNotPresent``
pulls only when CRI ImageStatus finds nothing, ``Never`` fails with ErrImageNeverPull, ``Always`` pulls
— except for the node's built-in offline images (``offline`` names, e.g. busybox and nginx built from
Debian packages), which are used as they are, since no registry can be reached for them. Failed pulls
back off per (pod, image) like the kubelet (ErrImagePull, then ImagePullBackOff). Events and messages are
the kubelet's: Pulling, Pulled, Failed, BackOff, ErrImageNeverPull. Upstream:
pkg/kubelet/images/image_manager.go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from kybernetes.kubelet.backoff import Backoff, go_duration
from kybernetes.runtime import cri, errors, images
from kybernetes.runtime.proto import cri_pb2 as api

__all__ = ["ERR_IMAGE_NEVER_PULL", "ERR_IMAGE_PULL", "IMAGE_PULL_BACKOFF", "ImageError", "ImageManager"]

Obj = dict[str, Any]
Recorder = Callable[[str, str, str], None]  # (type, reason, message) about the pod
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"


class ImageError(Exception):
    """The image is not available; ``reason`` is the container's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def default_policy(image: str) -> str:
    """The policy the API defaults to: Always for ``:latest`` (or no tag), else IfNotPresent."""
    last = image.rsplit("/", 1)[-1]
    if "@" in image:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


class ImageManager:
    """Pulls through CRI, with per-(pod, image) back-off."""

    def __init__(self, runtime: cri.RuntimeClient, backoff: Backoff, *, offline: Iterable[str] = ()) -> None:
        self.runtime = runtime
        self.backoff = backoff
        self.offline = frozenset(offline)

    def _is_offline(self, image: str) -> bool:
        try:
            return images.normalize(image) in self.offline
        except ValueError:
            return False

    async def ensure(self, pod: Obj, container: Obj, record: Recorder,
                     sandbox: api.PodSandboxConfig | None = None) -> str:
        """The image reference to create ``container`` from; raises :class:`ImageError`."""
        image = container.get("image") or ""
        if not image:
            raise ImageError(INVALID_IMAGE_NAME, "Failed to apply default image tag \"\": couldn't parse image name")
        policy = container.get("imagePullPolicy") or default_policy(image)
        try:
            present = await self.runtime.image_status(image)
        except errors.CRIError as e:
            raise ImageError("ImageInspectError", f'Failed to inspect image "{image}": {e.details}') from None
        if present is not None and (policy != "Always" or self._is_offline(image)):
            record("Normal", "Pulled", f'Container image "{image}" already present on machine')
            return str(present.id)
        if policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            record("Warning", ERR_IMAGE_NEVER_PULL, msg)
            raise ImageError(ERR_IMAGE_NEVER_PULL, msg)
        key = f"{pod['metadata']['uid']}_{image}"
        if self.backoff.in_backoff_since_update(key, self.backoff.clock()):
            msg = f'Back-off pulling image "{image}"'
            record("Normal", "BackOff", msg)
            raise ImageError(IMAGE_PULL_BACKOFF, msg)
        record("Normal", "Pulling", f'Pulling image "{image}"')
        t0 = time.monotonic()
        try:
            ref = await self.runtime.pull_image(image, sandbox_config=sandbox)
        except errors.CRIError as e:
            self.backoff.next(key, self.backoff.clock())
            msg = f"rpc error: code = {e.code.name.title().replace('_', '')} desc = {e.details}"
            record("Warning", "Failed", f'Failed to pull image "{image}": {msg}')
            raise ImageError(ERR_IMAGE_PULL, msg) from None
        took = go_duration(round(time.monotonic() - t0, 3))
        size = ""
        got = await self.runtime.image_status(ref)
        if got is not None:
            size = f" Image size: {got.size} bytes."
        record("Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including waiting).{size}')
        return ref
