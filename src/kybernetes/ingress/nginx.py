"""The nginx process: start, test-then-swap configuration, graceful reload and stop, all by PID.

``ingress/controller.py`` owns one :class:`Nginx` and calls :meth:`Nginx.apply` with every rendered
configuration. A new configuration is written to a temp file and checked with ``nginx -t`` first;
only a configuration that passes is renamed over ``nginx.conf`` (one atomic step), and the master
process then gets SIGHUP: it starts workers with the new configuration while the old workers finish
the requests they hold, so no connection is dropped. A configuration that fails keeps the old one
running and raises :class:`ConfigError` carrying nginx's own message. Stopping sends SIGQUIT (finish
in-flight requests), then SIGTERM, then SIGKILL, each to the master PID this object started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path

__all__ = ["NGINX_BINARY", "ConfigError", "Nginx", "NginxError", "find_binary"]

log = logging.getLogger(__name__)

NGINX_BINARY = "/usr/sbin/nginx"
START_TIMEOUT = 10.0
RELOAD_TIMEOUT = 10.0
SHUTTING_DOWN = b"is shutting down"     # nginx's title for a worker that no longer accepts
POLL = 0.02


class NginxError(RuntimeError):
    """nginx could not be started (the message ends with its error log)."""


class ConfigError(ValueError):
    """``nginx -t`` rejected a configuration; the message is nginx's explanation."""


def find_binary() -> str | None:
    """The nginx binary: Debian's ``/usr/sbin/nginx`` (packages nginx-light / nginx), else one on PATH."""
    if os.access(NGINX_BINARY, os.X_OK):
        return NGINX_BINARY
    return shutil.which("nginx")


def _error_lines(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if any(t in ln for t in ("[emerg]", "[alert]", "[crit]", "[error]"))]
    return "\n".join(errors or lines) or "nginx -t failed without a message"


class Nginx:
    """One nginx master process running ``<state_dir>/nginx.conf``."""

    def __init__(self, state_dir: Path, binary: str | None = None, reload_timeout: float = RELOAD_TIMEOUT) -> None:
        self.state_dir = state_dir
        self.reload_timeout = reload_timeout
        self.binary = binary or find_binary() or NGINX_BINARY
        self.conf = state_dir / "nginx.conf"
        self.pid_file = state_dir / "nginx.pid"
        self.error_log = state_dir / "error.log"
        self.current: str | None = None        # the configuration nginx runs (or will at start)
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The master PID, while the process this object started is alive."""
        if self._proc is None or self._proc.returncode is not None:
            return None
        return self._proc.pid

    def _args(self, conf: Path) -> list[str]:
        return ["-c", str(conf), "-p", f"{self.state_dir}/", "-e", str(self.error_log)]

    async def test(self, conf: Path) -> None:
        """Run ``nginx -t`` on ``conf``; raise :class:`ConfigError` with nginx's message if it fails."""
        proc = await asyncio.create_subprocess_exec(self.binary, "-t", "-q", *self._args(conf),
                                                    stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise ConfigError(_error_lines(out.decode(errors="replace")))

    async def apply(self, text: str) -> bool:
        """Make ``text`` the running configuration; False when it already is.

        Raises :class:`ConfigError` (old configuration untouched) or :class:`NginxError`.
        """
        async with self._lock:
            if text == self.current and self.pid is not None:
                return False
            tmp = self.state_dir / "nginx.conf.tmp"
            await asyncio.to_thread(self._write, tmp, text)
            try:
                await self.test(tmp)
            except ConfigError:
                await asyncio.to_thread(tmp.unlink, True)
                raise
            os.replace(tmp, self.conf)
            self.current = text
            if self.pid is None:
                await self._start()
            else:
                await self._reload(self.pid)
            return True

    async def _reload(self, pid: int) -> None:
        """SIGHUP the master, then wait until new workers run and every old one has stopped accepting.

        If the master refuses the configuration (it logs ``[emerg]`` and keeps its old workers),
        raise :class:`NginxError`; nginx then still serves the previous configuration, whole.
        """
        offset = self.error_log.stat().st_size if self.error_log.exists() else 0
        old = await asyncio.to_thread(_workers, pid)
        os.kill(pid, signal.SIGHUP)
        log.info("Reloading nginx (pid %d)", pid)
        done = await asyncio.to_thread(_wait_reloaded, pid, set(old), self.error_log, offset, self.reload_timeout)
        if not done:
            self.current = None        # the master kept its previous configuration
            raise NginxError(f"nginx (pid {pid}) did not reload: {await self._log_tail(offset)}")

    @staticmethod
    def _write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    async def _start(self) -> None:
        await asyncio.to_thread(self._stop_stale)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        log_offset = self.error_log.stat().st_size if self.error_log.exists() else 0
        self._proc = await asyncio.create_subprocess_exec(
            self.binary, *self._args(self.conf), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        exited = asyncio.ensure_future(self._proc.wait())
        try:
            # nginx writes its pid file once it listens: that is "started"
            while self._read_pid() != self._proc.pid:
                if exited.done():
                    raise NginxError(f"nginx exited with {exited.result()}: {await self._log_tail(log_offset)}")
                if loop.time() > deadline:
                    await self.stop()
                    raise NginxError(f"nginx did not write {self.pid_file} in {START_TIMEOUT:.0f}s")
                await asyncio.wait({exited}, timeout=POLL)
        finally:
            exited.cancel()
        log.info("Started nginx (pid %d) with %s", self._proc.pid, self.conf)

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip() or 0) or None
        except (FileNotFoundError, ValueError):
            return None

    async def _log_tail(self, offset: int, limit: int = 2000) -> str:
        """What nginx wrote to its error log since ``offset``, errors first (at most ``limit`` chars)."""
        def read() -> str:
            with open(self.error_log, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        try:
            text = await asyncio.to_thread(read)
        except FileNotFoundError:
            return "(no error log)"
        return _error_lines(text)[-limit:]

    def _stop_stale(self) -> None:
        """Stop an nginx left running on this state dir by an earlier controller (its pid file names it).

        Blocking (polls /proc); runs in a thread.
        """
        pid = self._read_pid()
        if pid is None:
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        # nginx rewrites its title to "nginx: master process <argv joined by spaces>"
        if b"nginx" not in cmdline or str(self.conf).encode() not in cmdline.replace(b"\0", b" "):
            return
        log.warning("Stopping stale nginx (pid %d) left on %s", pid, self.state_dir)
        for sig, wait in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(POLL)
            if not Path(f"/proc/{pid}").exists():
                return

    async def wait(self) -> int:
        """Wait for the master process to exit; its exit status."""
        if self._proc is None:
            raise NginxError("nginx is not running")
        return await self._proc.wait()

    async def stop(self, grace: float = 10.0) -> None:
        """Graceful stop (SIGQUIT), then SIGTERM, then SIGKILL to the master PID."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        for sig, wait in ((signal.SIGQUIT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), wait)
                break
            except TimeoutError:
                log.warning("nginx (pid %d) still running after %s", proc.pid, signal.Signals(sig).name)
        log.info("Stopped nginx (pid %d)", proc.pid)



def _workers(master: int) -> dict[int, bytes]:
    """The master's child processes and their titles (``nginx: worker process``)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return {}
    out: dict[int, bytes] = {}
    for child in children:
        try:
            out[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
    return out


def _wait_reloaded(master: int, old: set[int], error_log: Path, offset: int, timeout: float) -> bool:
    """Poll until a new worker exists and each old one is gone or shutting down (blocking; run in a thread).

    nginx starts the new workers, then sends the old ones QUIT; an old worker retitles itself
    "is shutting down" in the same step that closes its listening sockets. False when the master
    logs a final ``[emerg]`` (it refused the configuration), exits, or the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _workers(master)
        if not Path(f"/proc/{master}").exists():
            return False
        fresh = [pid for pid in now if pid not in old]
        if fresh and all(pid not in now or SHUTTING_DOWN in now[pid] or not now[pid] for pid in old):
            return True
        if _reload_refused(error_log, offset):
            return False
        time.sleep(POLL)
    return False


def _reload_refused(error_log: Path, offset: int) -> bool:
    """Whether the master logged a final ``[emerg]`` since ``offset`` (bind errors are retried first)."""
    try:
        with open(error_log, "rb") as f:
            f.seek(offset)
            lines = [ln for ln in f.read().splitlines() if b"[emerg]" in ln]
    except FileNotFoundError:
        return False
    return any(b"bind()" not in ln or b"still could not bind()" in ln for ln in lines)
