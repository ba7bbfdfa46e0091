"""Async CRI client: one gRPC channel to a runtime socket, one method per ``runtime.v1`` call.

Role: the kubelet's only way to talk to containerd (or any CRI runtime). Each method builds the request
message, calls the runtime with a deadline, and returns the interesting part of the response (an ID, a URL,
a status message); a failed call raises the :mod:`.errors` class matching its gRPC code. Request configs
(PodSandboxConfig, ContainerConfig) come from :mod:`.criconfig`; the messages themselves are in
``kybernetes.runtime.proto.cri_pb2``.

Create the client inside the running event loop (``grpc.aio`` binds the channel to it) and close it when
done, or use it as an async context manager::

    async with cri.RuntimeClient("unix:///var/lib/kybernetes/agent/containerd/containerd.sock") as rt:
        sandbox_id = await rt.run_pod_sandbox(criconfig.sandbox_config(...))
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from kybernetes.runtime import errors
from kybernetes.runtime.proto import cri_pb2 as api
from kybernetes.runtime.proto import cri_pb2_grpc as api_grpc

__all__ = ["DEFAULT_TIMEOUT", "ExecResult", "RuntimeClient", "endpoint_url"]

log = logging.getLogger(__name__)

#: Deadline of an ordinary call, in seconds (the kubelet's default runtime request timeout is 2 min).
DEFAULT_TIMEOUT = 120.0
_MAX_MESSAGE = 16 << 20
_KUBE_RUNTIME_API_VERSION = "0.1.0"  # what the kubelet sends in VersionRequest


def endpoint_url(endpoint: str) -> str:
    """A gRPC target for ``endpoint``: a bare socket path becomes ``unix://<path>``."""
    if "://" in endpoint or endpoint.startswith("unix:"):
        return endpoint
    return "unix://" + endpoint


@dataclass(frozen=True)
class ExecResult:
    """Output of :meth:`RuntimeClient.exec_sync`."""

    stdout: bytes
    stderr: bytes
    exit_code: int


class RuntimeClient:
    """CRI RuntimeService + ImageService over one ``grpc.aio`` channel.

    ``endpoint`` is a socket path or ``unix://`` URL. ``timeout`` is the default per-call deadline in seconds;
    calls that may legitimately take long (PullImage, ExecSync, StopContainer with a grace period) extend it
    themselves.
    """

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint_url(endpoint)
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            self.endpoint,
            options=[("grpc.max_receive_message_length", _MAX_MESSAGE),
                     ("grpc.max_send_message_length", _MAX_MESSAGE)])
        self._rt = api_grpc.RuntimeServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._im = api_grpc.ImageServiceStub(self._channel)  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> RuntimeClient:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _call(self, stub: Any, method: str, request: Any, deadline: float | None = None) -> Any:
        try:
            return await getattr(stub, method)(request,
                                               timeout=deadline if deadline is not None else self.timeout)
        except grpc.aio.AioRpcError as e:
            raise errors.from_rpc_error(method, e) from e

    # ---- runtime ---------------------------------------------------------------------------------------

    async def version(self) -> api.VersionResponse:
        """Runtime name/version and the CRI version it speaks (``runtime_api_version`` = ``v1``)."""
        resp: api.VersionResponse = await self._call(self._rt, "Version", api.VersionRequest(version=_KUBE_RUNTIME_API_VERSION))
        return resp

    async def status(self, verbose: bool = False) -> api.StatusResponse:
        """Runtime conditions (RuntimeReady, NetworkReady); ``verbose`` adds JSON ``info`` (config, CNI)."""
        resp: api.StatusResponse = await self._call(self._rt, "Status", api.StatusRequest(verbose=verbose))
        return resp

    async def conditions(self) -> dict[str, bool]:
        """``{"RuntimeReady": True, "NetworkReady": False, …}`` from :meth:`status`."""
        st = await self.status()
        return {c.type: c.status for c in st.status.conditions}

    # ---- sandboxes -------------------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: api.PodSandboxConfig, runtime_handler: str = "") -> str:
        """Create and start a pod sandbox (pause container, network namespace, CNI); returns its ID."""
        resp = await self._call(self._rt, "RunPodSandbox",
                                api.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler))
        return str(resp.pod_sandbox_id)

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        """Stop the sandbox and force-stop its containers; releases the pod IP. Idempotent."""
        await self._call(self._rt, "StopPodSandbox", api.StopPodSandboxRequest(pod_sandbox_id=pod_sandbox_id))

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        """Remove a stopped sandbox and its containers. Removing a missing sandbox is not an error."""
        await self._call(self._rt, "RemovePodSandbox",
                         api.RemovePodSandboxRequest(pod_sandbox_id=pod_sandbox_id))

    async def pod_sandbox_status(self, pod_sandbox_id: str, verbose: bool = False) -> api.PodSandboxStatusResponse:
        """State, pod IP (``.status.network.ip``), namespaces; ``verbose`` adds ``info["info"]`` JSON (pid, spec)."""
        resp: api.PodSandboxStatusResponse = await self._call(
            self._rt, "PodSandboxStatus", api.PodSandboxStatusRequest(pod_sandbox_id=pod_sandbox_id, verbose=verbose))
        return resp

    async def list_pod_sandbox(self, *, id: str = "", state: int | None = None,
                               labels: Mapping[str, str] | None = None) -> list[api.PodSandbox]:
        """Sandboxes, optionally filtered by ID (prefix), state (``api.SANDBOX_READY``…) and labels."""
        flt = api.PodSandboxFilter(id=id, label_selector=dict(labels or {}))
        if state is not None:
            flt.state.state = state  # type: ignore[assignment]
        resp = await self._call(self._rt, "ListPodSandbox", api.ListPodSandboxRequest(filter=flt))
        return list(resp.items)

    # ---- containers ------------------------------------------------------------------------------------

    async def create_container(self, pod_sandbox_id: str, config: api.ContainerConfig,
                               sandbox_config: api.PodSandboxConfig) -> str:
        """Create a container in a sandbox (pass the sandbox's own config again, as the kubelet does)."""
        resp = await self._call(self._rt, "CreateContainer", api.CreateContainerRequest(
            pod_sandbox_id=pod_sandbox_id, config=config, sandbox_config=sandbox_config))
        return str(resp.container_id)

    async def start_container(self, container_id: str) -> None:
        """Start a created container."""
        await self._call(self._rt, "StartContainer", api.StartContainerRequest(container_id=container_id))

    async def stop_container(self, container_id: str, grace_period: int) -> None:
        """Send the stop signal, wait up to ``grace_period`` seconds (CRI ``timeout``), then SIGKILL.
        Stopping a stopped container is not an error."""
        await self._call(self._rt, "StopContainer", api.StopContainerRequest(container_id=container_id,
                                                                             timeout=grace_period),
                         deadline=self.timeout + max(grace_period, 0))

    async def remove_container(self, container_id: str) -> None:
        """Remove a container (force-stops a running one). The log file stays."""
        await self._call(self._rt, "RemoveContainer", api.RemoveContainerRequest(container_id=container_id))

    async def list_containers(self, *, id: str = "", pod_sandbox_id: str = "", state: int | None = None,
                              labels: Mapping[str, str] | None = None) -> list[api.Container]:
        """Containers, optionally filtered by ID (prefix), sandbox, state (``api.CONTAINER_RUNNING``…) and labels."""
        flt = api.ContainerFilter(id=id, pod_sandbox_id=pod_sandbox_id, label_selector=dict(labels or {}))
        if state is not None:
            flt.state.state = state  # type: ignore[assignment]
        resp = await self._call(self._rt, "ListContainers", api.ListContainersRequest(filter=flt))
        return list(resp.containers)

    async def container_status(self, container_id: str) -> api.ContainerStatus:
        """State, exit code, reason (``Completed``/``Error``/``OOMKilled``), timestamps (ns), log path."""
        resp = await self._call(self._rt, "ContainerStatus", api.ContainerStatusRequest(container_id=container_id))
        status: api.ContainerStatus = resp.status
        return status

    async def container_status_verbose(self, container_id: str) -> api.ContainerStatusResponse:
        """The whole verbose response: ``.status`` plus ``.info["info"]`` (JSON with pid and runtime spec)."""
        resp: api.ContainerStatusResponse = await self._call(
            self._rt, "ContainerStatus", api.ContainerStatusRequest(container_id=container_id, verbose=True))
        return resp

    async def update_container_resources(self, container_id: str, linux: api.LinuxContainerResources) -> None:
        """Change cgroup limits of a running container."""
        await self._call(self._rt, "UpdateContainerResources",
                         api.UpdateContainerResourcesRequest(container_id=container_id, linux=linux))

    async def reopen_container_log(self, container_id: str) -> None:
        """Make the runtime reopen the container's log file (after the kubelet renamed it for rotation)."""
        await self._call(self._rt, "ReopenContainerLog", api.ReopenContainerLogRequest(container_id=container_id))

    # ---- exec, attach, port-forward ----------------------------------------------------------------------

    async def exec_sync(self, container_id: str, cmd: Iterable[str], timeout_seconds: int = 0) -> ExecResult:
        """Run ``cmd`` in the container and collect its output (a non-zero exit is a result, not an error).
        ``timeout_seconds`` (0 = none) expiring raises :class:`errors.DeadlineExceededError`; a command that
        cannot start raises :class:`errors.CRIError` (UNKNOWN, with runc's message)."""
        deadline = self.timeout + timeout_seconds if timeout_seconds else 24 * 3600.0
        resp = await self._call(self._rt, "ExecSync", api.ExecSyncRequest(container_id=container_id,
                                                                          cmd=list(cmd), timeout=timeout_seconds),
                                deadline=deadline)
        return ExecResult(stdout=bytes(resp.stdout), stderr=bytes(resp.stderr), exit_code=int(resp.exit_code))

    async def exec(self, container_id: str, cmd: Iterable[str], *, stdin: bool = False, stdout: bool = True,
                   stderr: bool = True, tty: bool = False) -> str:
        """A single-use streaming URL (``http://<stream server>/exec/<token>``) for an interactive exec.
        With ``tty`` stderr must be False (the TTY merges it into stdout)."""
        resp = await self._call(self._rt, "Exec", api.ExecRequest(container_id=container_id, cmd=list(cmd),
                                                                  tty=tty, stdin=stdin, stdout=stdout,
                                                                  stderr=stderr and not tty))
        return str(resp.url)

    async def attach(self, container_id: str, *, stdin: bool = False, stdout: bool = True, stderr: bool = True,
                     tty: bool = False) -> str:
        """A single-use streaming URL to attach to the container's main process."""
        resp = await self._call(self._rt, "Attach", api.AttachRequest(container_id=container_id, stdin=stdin,
                                                                      tty=tty, stdout=stdout,
                                                                      stderr=stderr and not tty))
        return str(resp.url)

    async def port_forward(self, pod_sandbox_id: str, ports: Iterable[int] = ()) -> str:
        """A single-use streaming URL forwarding into the sandbox's network namespace."""
        resp = await self._call(self._rt, "PortForward",
                                api.PortForwardRequest(pod_sandbox_id=pod_sandbox_id, port=list(ports)))
        return str(resp.url)

    # ---- stats -------------------------------------------------------------------------------------------

    async def container_stats(self, container_id: str) -> api.ContainerStats:
        """CPU (cumulative ns), memory working set and writable-layer usage of one container."""
        resp = await self._call(self._rt, "ContainerStats", api.ContainerStatsRequest(container_id=container_id))
        stats: api.ContainerStats = resp.stats
        return stats

    async def list_container_stats(self, *, id: str = "", pod_sandbox_id: str = "",
                                   labels: Mapping[str, str] | None = None) -> list[api.ContainerStats]:
        """Stats of many containers at once."""
        flt = api.ContainerStatsFilter(id=id, pod_sandbox_id=pod_sandbox_id, label_selector=dict(labels or {}))
        resp = await self._call(self._rt, "ListContainerStats", api.ListContainerStatsRequest(filter=flt))
        return list(resp.stats)

    async def pod_sandbox_stats(self, pod_sandbox_id: str) -> api.PodSandboxStats:
        """Pod-level CPU, memory, network (eth0 rx/tx) and process counts."""
        resp = await self._call(self._rt, "PodSandboxStats",
                                api.PodSandboxStatsRequest(pod_sandbox_id=pod_sandbox_id))
        stats: api.PodSandboxStats = resp.stats
        return stats

    async def list_pod_sandbox_stats(self, *, id: str = "",
                                     labels: Mapping[str, str] | None = None) -> list[api.PodSandboxStats]:
        """Pod-level stats of many sandboxes."""
        flt = api.PodSandboxStatsFilter(id=id, label_selector=dict(labels or {}))
        resp = await self._call(self._rt, "ListPodSandboxStats", api.ListPodSandboxStatsRequest(filter=flt))
        return list(resp.stats)

    # ---- images ------------------------------------------------------------------------------------------

    async def pull_image(self, image: str, *, auth: api.AuthConfig | None = None,
                         sandbox_config: api.PodSandboxConfig | None = None,
                         deadline: float | None = None) -> str:
        """Pull ``image`` through the runtime (registry config under the runtime's ``certs.d``); returns the
        image reference (ID). A missing image raises :class:`errors.NotFoundError`. Default deadline 1 h."""
        req = api.PullImageRequest(image=api.ImageSpec(image=image), auth=auth, sandbox_config=sandbox_config)
        resp = await self._call(self._im, "PullImage", req, deadline=deadline if deadline is not None else 3600.0)
        return str(resp.image_ref)

    async def image_status(self, image: str) -> api.Image | None:
        """The image (``id``, ``repo_tags``, ``size``, ``uid``/``username``) or None if not present."""
        resp = await self._call(self._im, "ImageStatus", api.ImageStatusRequest(image=api.ImageSpec(image=image)))
        return resp.image if resp.HasField("image") else None

    async def list_images(self, image: str = "") -> list[api.Image]:
        """Images in the runtime's store, optionally only those matching ``image``."""
        req = api.ListImagesRequest(filter=api.ImageFilter(image=api.ImageSpec(image=image))) if image else \
            api.ListImagesRequest()
        resp = await self._call(self._im, "ListImages", req)
        return list(resp.images)

    async def remove_image(self, image: str) -> None:
        """Remove an image by name or ID; removing a missing image is not an error."""
        await self._call(self._im, "RemoveImage", api.RemoveImageRequest(image=api.ImageSpec(image=image)))

    async def image_fs_info(self) -> api.ImageFsInfoResponse:
        """Usage of the filesystem holding images (and, on newer runtimes, container layers)."""
        resp: api.ImageFsInfoResponse = await self._call(self._im, "ImageFsInfo", api.ImageFsInfoRequest())
        return resp
