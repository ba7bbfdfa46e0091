"""The agent's own containerd: configuration, start, readiness, stop.

Role: the agent (via the kubelet) calls :func:`start` with its data directory; this module applies the host
fixes (:mod:`.hostfix`), writes ``<data-dir>/agent/containerd/config.toml`` (all state under the data
directory, our own socket, the CRI stream server on 127.0.0.1 at a free port, CNI from
``<data-dir>/agent/etc/cni/net.d`` with plugins in ``/usr/lib/cni``, the offline pause image, registry hosts
under ``certs.d``), starts ``containerd`` as a child in its own session with logs to ``containerd.log``, and
waits until the socket answers CRI ``Status`` with RuntimeReady. :meth:`Containerd.stop` ends it by PID
(SIGTERM, then SIGKILL). Pods keep running across a containerd restart: their shims are separate processes.

With ``--container-runtime-endpoint`` the agent uses an existing runtime instead: :func:`connect` returns an
:class:`ExternalRuntime` with the same surface that never starts or stops anything.

Next step for the caller: :func:`kybernetes.runtime.images.ensure_builtin_images`, then CRI calls through
:class:`kybernetes.runtime.cri.RuntimeClient` on ``.endpoint``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from kybernetes.runtime import cri, errors, hostfix

__all__ = [
    "CNI_BIN_DIR",
    "PAUSE_IMAGE",
    "Containerd",
    "ContainerdConfig",
    "ExternalRuntime",
    "Runtime",
    "connect",
    "free_port",
    "render_config",
    "socket_path",
    "start",
    "state_dir",
]

log = logging.getLogger(__name__)

#: The sandbox image; built offline and imported by :mod:`.images`.
PAUSE_IMAGE = "localhost/kybernetes/pause:3.10"
CNI_BIN_DIR = Path("/usr/lib/cni")
_MAX_SOCKET_PATH = 96  # containerd refuses > 104 bytes and also listens on "<socket>.ttrpc"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def state_dir(data_dir: Path) -> Path:
    """``<data-dir>/agent/containerd``: config, root, state, socket, log."""
    return Path(data_dir) / "agent" / "containerd"


def socket_path(data_dir: Path) -> Path:
    """The containerd socket for a data directory: ``<state>/containerd.sock``, or — if that path is too long
    for a unix socket — ``/run/kybernetes/containerd-<hash>.sock``."""
    p = state_dir(data_dir).absolute() / "containerd.sock"
    if len(str(p)) <= _MAX_SOCKET_PATH:
        return p
    digest = hashlib.sha256(str(p).encode()).hexdigest()[:12]
    return Path("/run/kybernetes") / f"containerd-{digest}.sock"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ContainerdConfig:
    """Everything that goes into config.toml. Build with :meth:`for_data_dir`."""

    state_dir: Path
    socket: Path
    cni_conf_dir: Path
    cni_bin_dir: Path = CNI_BIN_DIR
    sandbox_image: str = PAUSE_IMAGE
    stream_address: str = "127.0.0.1"
    stream_port: int = 0  # 0: chosen free by start()
    restrict_oom_score_adj: bool = False
    log_level: str = "info"
    max_container_log_line_size: int = 16384
    snapshotter: str = "overlayfs"
    extra_disabled_plugins: tuple[str, ...] = field(default=())

    @classmethod
    def for_data_dir(cls, data_dir: Path, **overrides: object) -> ContainerdConfig:
        """Defaults for a data directory; keyword arguments override fields."""
        data_dir = Path(data_dir).absolute()
        base = cls(state_dir=state_dir(data_dir), socket=socket_path(data_dir),
                   cni_conf_dir=data_dir / "agent" / "etc" / "cni" / "net.d")
        return replace(base, **overrides)  # type: ignore[arg-type]

    @property
    def config_path(self) -> Path:
        return self.state_dir / "config.toml"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "containerd.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "containerd.pid"

    @property
    def registry_config_dir(self) -> Path:
        """``certs.d``: one ``<host:port>/hosts.toml`` per registry, re-read at every pull."""
        return self.state_dir / "certs.d"

    @property
    def endpoint(self) -> str:
        return "unix://" + str(self.socket)


def _s(value: object) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(str(value))


def render_config(cfg: ContainerdConfig) -> str:
    """The config.toml text (containerd 1.6, config version 2)."""
    sd = cfg.state_dir
    cri_plugin = '[plugins."io.containerd.grpc.v1.cri"]'
    disabled = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                *cfg.extra_disabled_plugins]
    lines = [
        "# Written by kybernetes at every agent start; edits are overwritten.",
        "version = 2",
        f"root = {_s(sd / 'root')}",
        f"state = {_s(sd / 'state')}",
        "oom_score = 0",
        f"disabled_plugins = [{', '.join(_s(p) for p in disabled)}]",
        "",
        "[grpc]",
        f"  address = {_s(cfg.socket)}",
        "",
        "[ttrpc]",
        '  address = ""',
        "",
        "[debug]",
        f"  level = {_s(cfg.log_level)}",
        "",
        "[plugins]",
        '  [plugins."io.containerd.internal.v1.opt"]',
        f"    path = {_s(sd / 'opt')}",
        "",
        f"  {cri_plugin}",
        f"    sandbox_image = {_s(cfg.sandbox_image)}",
        f"    stream_server_address = {_s(cfg.stream_address)}",
        f"    stream_server_port = {_s(cfg.stream_port)}",
        "    enable_tls_streaming = false",
        "    netns_mounts_under_state_dir = true",
        "    systemd_cgroup = false",
        "    disable_apparmor = true",
        f"    restrict_oom_score_adj = {'true' if cfg.restrict_oom_score_adj else 'false'}",
        f"    max_container_log_line_size = {cfg.max_container_log_line_size}",
        "    stats_collect_period = 10",
        "",
        f"    {cri_plugin[:-1]}.containerd]",
        f"      snapshotter = {_s(cfg.snapshotter)}",
        '      default_runtime_name = "runc"',
        f"      {cri_plugin[:-1]}.containerd.runtimes.runc]",
        '        runtime_type = "io.containerd.runc.v2"',
        f"        {cri_plugin[:-1]}.containerd.runtimes.runc.options]",
        "          SystemdCgroup = false",
        f"          Root = {_s(sd / 'state' / 'runc')}",
        "",
        f"    {cri_plugin[:-1]}.cni]",
        f"      bin_dir = {_s(cfg.cni_bin_dir)}",
        f"      conf_dir = {_s(cfg.cni_conf_dir)}",
        "      max_conf_num = 1",
        "",
        f"    {cri_plugin[:-1]}.registry]",
        f"      config_path = {_s(cfg.registry_config_dir)}",
        "",
    ]
    return "\n".join(lines)


class Runtime(Protocol):
    """What the kubelet needs from a runtime, managed or external."""

    @property
    def endpoint(self) -> str: ...

    @property
    def socket(self) -> Path: ...

    async def stop(self) -> None: ...


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def wait_ready(endpoint: str, *, ready_timeout: float = 30.0, network: bool = False,
                     alive: Callable[[], bool] | None = None) -> cri.RuntimeClient:
    """Poll CRI ``Status`` on ``endpoint`` until RuntimeReady (and NetworkReady if ``network``); returns the
    connected client. ``alive`` may be a callable returning False when the daemon died (stop waiting)."""
    sock = Path(endpoint.removeprefix("unix://"))
    deadline = time.monotonic() + ready_timeout
    # Do not touch gRPC before the socket exists: a failed first connect starts the channel's backoff.
    while not await asyncio.to_thread(sock.exists):
        if alive is not None and not alive():
            raise errors.ContainerdError("containerd exited before creating its socket")
        if time.monotonic() > deadline:
            raise errors.ContainerdError(f"no socket at {sock} after {ready_timeout:.0f}s")
        await asyncio.sleep(0.02)
    client = cri.RuntimeClient(endpoint, timeout=5.0)
    try:
        last = ""
        while True:
            if alive is not None and not alive():
                raise errors.ContainerdError("containerd exited while starting")
            try:
                cond = await client.conditions()
                if cond.get("RuntimeReady") and (cond.get("NetworkReady") or not network):
                    client.timeout = cri.DEFAULT_TIMEOUT
                    return client
                last = f"conditions {cond}"
            except errors.CRIError as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise errors.ContainerdError(f"CRI on {endpoint} not ready after {ready_timeout:.0f}s: {last}")
            await asyncio.sleep(0.05)
    except BaseException:
        await client.close()
        raise


class Containerd:
    """A containerd process started and owned by this agent. Use :func:`start`."""

    def __init__(self, config: ContainerdConfig, *, binary: str = "containerd") -> None:
        self.config = config
        self.binary = binary
        self.host_fixes = hostfix.HostFixes(False, False)
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def endpoint(self) -> str:
        """``unix://<socket>`` for :class:`cri.RuntimeClient`."""
        return self.config.endpoint

    @property
    def socket(self) -> Path:
        """The socket path (for ``ctr --address``)."""
        return self.config.socket

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def stream_port(self) -> int:
        return self.config.stream_port

    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self, *, ready_timeout: float = 30.0) -> cri.RuntimeClient:
        """Apply host fixes, write the config, start the daemon and wait for CRI; returns a ready client
        (the caller owns it). Raises :class:`errors.ContainerdError` with the log's tail on failure."""
        if self.running():
            raise errors.ContainerdError("containerd is already running")
        cfg = self.config
        await asyncio.to_thread(cfg.state_dir.mkdir, parents=True, exist_ok=True)
        hugetlb = await hostfix.ensure_hugetlb(cfg.state_dir)
        restrict = cfg.restrict_oom_score_adj or await asyncio.to_thread(hostfix.capability_missing,
                                                                         hostfix.CAP_SYS_RESOURCE)
        self.host_fixes = hostfix.HostFixes(restrict_oom_score_adj=restrict, hugetlb_mounted_by_us=hugetlb)
        port = cfg.stream_port or free_port(cfg.stream_address)
        cfg = self.config = replace(cfg, stream_port=port, restrict_oom_score_adj=restrict)
        await self._stop_stale()
        await asyncio.to_thread(self._prepare_files, cfg)
        logf = await asyncio.to_thread(cfg.log_path.open, "ab")
        try:
            t0 = time.monotonic()
            self._proc = await asyncio.create_subprocess_exec(
                self.binary, "--config", str(cfg.config_path), stdin=asyncio.subprocess.DEVNULL,
                stdout=logf, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PATH": _PATH + ":" + os.environ.get("PATH", "")})
        except OSError as e:
            raise errors.ContainerdError(f"cannot run {self.binary!r}: {e}; install the containerd package "
                                         "(scripts/install)") from e
        finally:
            await asyncio.to_thread(logf.close)
        await asyncio.to_thread(cfg.pid_path.write_text, f"{self._proc.pid}\n")
        log.info("Running containerd (pid %d) --config %s, stream server %s:%d", self._proc.pid,
                 cfg.config_path, cfg.stream_address, port)
        try:
            client = await wait_ready(cfg.endpoint, ready_timeout=ready_timeout, alive=self.running)
        except errors.ContainerdError as e:
            await self.stop()
            raise errors.ContainerdError(f"{e}; log {cfg.log_path}:\n{_tail(cfg.log_path)}") from None
        log.info("containerd ready in %.2fs", time.monotonic() - t0)
        return client

    @staticmethod
    def _prepare_files(cfg: ContainerdConfig) -> None:
        for d in (cfg.state_dir, cfg.cni_conf_dir, cfg.registry_config_dir, cfg.socket.parent):
            d.mkdir(parents=True, exist_ok=True)
        cfg.config_path.write_text(render_config(cfg))
        if cfg.socket.exists():
            if _socket_answers(cfg.socket):
                raise errors.ContainerdError(f"another containerd already serves {cfg.socket}; stop it, or pass "
                                             "its socket as --container-runtime-endpoint")
            cfg.socket.unlink()  # stale socket of a dead daemon

    async def _stop_stale(self) -> None:
        """Stop a containerd left running with our config by an earlier agent (its pods keep running)."""
        try:
            pid = int((await asyncio.to_thread(self.config.pid_path.read_text)).strip())
            cmdline = await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_bytes)
        except (OSError, ValueError):
            return
        if str(self.config.config_path).encode() not in cmdline.split(b"\0"):
            return
        log.info("Stopping containerd (pid %d) left by an earlier run", pid)
        await _terminate_pid(pid, 10.0)

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the daemon, wait up to ``grace`` seconds, then SIGKILL. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                log.warning("containerd (pid %d) ignored SIGTERM for %.0fs; killing it", proc.pid, grace)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        log.info("Stopped containerd (pid %d, exit %s)", proc.pid, proc.returncode)
        sock = self.config.socket
        for leftover in (self.config.pid_path, sock, sock.with_name(sock.name + ".ttrpc")):
            with contextlib.suppress(OSError):  # containerd leaves its ttrpc socket file behind
                await asyncio.to_thread(leftover.unlink, missing_ok=True)

    async def undo_host_fixes(self) -> None:
        """Full teardown only: undo the hugetlb mount if we made it. Call after every pod is gone."""
        await hostfix.undo_hugetlb(self.config.state_dir)


async def _terminate_pid(pid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for _ in range(int(grace / 0.05) + 1):
        if not _pid_alive(pid) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class ExternalRuntime:
    """A runtime someone else runs (``--container-runtime-endpoint``); :meth:`stop` leaves it alone."""

    endpoint: str

    @property
    def socket(self) -> Path:
        return Path(self.endpoint.removeprefix("unix://"))

    async def stop(self) -> None:
        return None


async def start(data_dir: Path, *, ready_timeout: float = 30.0, binary: str = "containerd",
                **overrides: object) -> tuple[Containerd, cri.RuntimeClient]:
    """Start our own containerd for ``data_dir`` (config fields may be overridden, e.g. ``stream_port``,
    ``cni_conf_dir``); returns the process handle and a ready client."""
    proc = Containerd(ContainerdConfig.for_data_dir(data_dir, **overrides), binary=binary)
    client = await proc.start(ready_timeout=ready_timeout)
    return proc, client


async def connect(endpoint: str, *, ready_timeout: float = 30.0) -> tuple[ExternalRuntime, cri.RuntimeClient]:
    """Use an existing CRI runtime at ``endpoint`` (path or ``unix://`` URL); waits until it is ready."""
    url = cri.endpoint_url(endpoint)
    client = await wait_ready(url, ready_timeout=ready_timeout)
    return ExternalRuntime(url), client
