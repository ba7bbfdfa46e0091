"""Bring a node's runtime up in one call: containerd (ours or an existing one), then its images.

Role: the kubelet's start-up step before it syncs any pod. :func:`bring_up` writes the registry hosts
from ``registries.yaml`` (:mod:`.registries`), starts our containerd (or connects to
``--container-runtime-endpoint``), makes sure the built-in offline images are present (the pause
image is required; busybox and nginx are best effort), and imports the tarballs dropped into
``<data-dir>/agent/images``. The returned :class:`NodeRuntime` owns the client and the process;
:meth:`NodeRuntime.close` stops containerd (pods keep running in their shims) unless it is external.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from kybernetes.runtime import containerd, cri, errors, images, registries

__all__ = ["NodeRuntime", "RuntimeOptions", "bring_up"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeOptions:
    """The agent flags that concern the runtime."""

    data_dir: Path
    container_runtime_endpoint: str = ""  # empty: start our own containerd
    cni_conf_dir: Path | None = None  # default <data-dir>/agent/etc/cni/net.d
    cni_bin_dir: Path = containerd.CNI_BIN_DIR
    stream_port: int = 0  # 0: a free port on 127.0.0.1
    builtin_images: tuple[str, ...] = ("pause", "busybox", "nginx")
    ready_timeout: float = 30.0
    registries: Path | None = None  # registries.yaml; default <data-dir>/agent/etc/registries.yaml

    @property
    def registries_file(self) -> Path:
        return self.registries or self.data_dir / "agent" / "etc" / "registries.yaml"


@dataclass
class NodeRuntime:
    """A ready runtime: ``client`` for CRI calls, ``runtime`` for its endpoint/socket and lifecycle."""

    runtime: containerd.Runtime
    client: cri.RuntimeClient
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def managed(self) -> containerd.Containerd | None:
        """Our containerd process, or None for an external runtime."""
        return self.runtime if isinstance(self.runtime, containerd.Containerd) else None

    async def close(self) -> None:
        """Close the client and stop our containerd (an external runtime is left running)."""
        try:
            await self.client.close()
        finally:
            await self.runtime.stop()


async def bring_up(opts: RuntimeOptions) -> NodeRuntime:
    """Start or connect to the runtime and provide images; see the module docstring."""
    t0 = time.monotonic()
    runtime: containerd.Runtime
    if opts.container_runtime_endpoint:
        runtime, client = await containerd.connect(opts.container_runtime_endpoint,
                                                   ready_timeout=opts.ready_timeout)
    else:
        overrides: dict[str, object] = {"cni_bin_dir": opts.cni_bin_dir, "stream_port": opts.stream_port}
        if opts.cni_conf_dir is not None:
            overrides["cni_conf_dir"] = opts.cni_conf_dir
        cfg = containerd.ContainerdConfig.for_data_dir(opts.data_dir, **overrides)
        regs = await asyncio.to_thread(registries.load, opts.registries_file)
        written = await asyncio.to_thread(registries.write_hosts, cfg.registry_config_dir, regs)
        if written:
            log.info("Registry hosts from %s: %s", opts.registries_file, ", ".join(p.parent.name for p in written))
        proc = containerd.Containerd(cfg)
        client = await proc.start(ready_timeout=opts.ready_timeout)
        runtime = proc
    node = NodeRuntime(runtime, client, {"runtime_ready": time.monotonic() - t0})
    try:
        t1 = time.monotonic()
        cache = images.builtin_cache_dir(opts.data_dir)
        for key in opts.builtin_images:
            try:
                await images.ensure_builtin_images(client, runtime.socket, cache, (key,))
            except errors.RuntimeLayerError as e:
                if key == "pause":
                    raise
                log.warning("Built-in image %s unavailable: %s", key, e)
        await images.import_directory(runtime.socket, images.airgap_dir(opts.data_dir))
        node.timings["images"] = time.monotonic() - t1
    except BaseException:
        await node.close()
        raise
    log.info("Runtime ready at %s (%.2fs, images %.2fs)", runtime.endpoint, node.timings["runtime_ready"],
             node.timings["images"])
    return node
