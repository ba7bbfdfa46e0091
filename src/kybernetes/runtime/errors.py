"""Errors raised by the runtime layer.

Role: every failed CRI call surfaces as a :class:`CRIError` subclass chosen by its gRPC status code, so the
kubelet catches classes (``except errors.NotFoundError``) and never matches message text. Failures of the
containerd process or of image building/import have their own classes. Raised by :mod:`.cri`,
:mod:`.containerd` and :mod:`.images`.
"""

from __future__ import annotations

import grpc

__all__ = [
    "AlreadyExistsError",
    "CRIError",
    "ContainerdError",
    "DeadlineExceededError",
    "ImageBuildError",
    "ImageImportError",
    "NotFoundError",
    "RuntimeLayerError",
    "UnavailableError",
    "UnimplementedError",
    "from_rpc_error",
]


class RuntimeLayerError(Exception):
    """Base class of everything this package raises on purpose."""


class CRIError(RuntimeLayerError):
    """A CRI call failed. ``code`` is the gRPC status code, ``details`` the runtime's message."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        self.method = method
        self.code = code
        self.details = details
        super().__init__(f"{method}: {code.name}: {details}")


class NotFoundError(CRIError):
    """NOT_FOUND: the sandbox, container or image does not exist (e.g. PullImage of a missing image)."""


class AlreadyExistsError(CRIError):
    """ALREADY_EXISTS."""


class DeadlineExceededError(CRIError):
    """DEADLINE_EXCEEDED: the call's deadline passed — for ExecSync this is how a command timeout shows."""


class UnavailableError(CRIError):
    """UNAVAILABLE: the runtime socket does not answer (containerd not started or gone)."""


class UnimplementedError(CRIError):
    """UNIMPLEMENTED: the runtime does not offer this call (e.g. GetContainerEvents on containerd 1.6)."""


_BY_CODE: dict[grpc.StatusCode, type[CRIError]] = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}


def from_rpc_error(method: str, err: grpc.RpcError) -> CRIError:
    """The :class:`CRIError` subclass for a failed call (``err`` is a ``grpc.aio.AioRpcError``)."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = (err.details() if hasattr(err, "details") else "") or ""
    return _BY_CODE.get(code, CRIError)(method, code, details)


class ContainerdError(RuntimeLayerError):
    """containerd could not be configured, started, reached or stopped; the message names the log file."""


class ImageBuildError(RuntimeLayerError):
    """A built-in image could not be built from the host's packages; the message names the missing package."""


class ImageImportError(RuntimeLayerError):
    """``ctr images import`` failed; the message carries ctr's output."""
