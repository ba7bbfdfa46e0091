"""Running kernel tools (``nft``, ``iptables-restore``, ``sysctl``) without blocking the loop,
optionally inside a network namespace (``nsenter --net=``, never ``ip netns exec``: research notes §3).

The backends build text; a ``Runner`` feeds it to the tool. Tests substitute a recording runner.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


class CommandError(RuntimeError):
    """A tool exited non-zero; ``stderr`` says why."""

    def __init__(self, argv: list[str], rc: int, stderr: str) -> None:
        super().__init__(f"{' '.join(argv)} exited {rc}: {stderr.strip()[:2000]}")
        self.argv = argv
        self.rc = rc
        self.stderr = stderr


@dataclass(frozen=True, slots=True)
class Result:
    rc: int
    stdout: str
    stderr: str


def netns_path(netns: str) -> str:
    """``/run/netns/<name>`` for a bare name; paths are kept as they are."""
    return netns if netns.startswith("/") else f"/run/netns/{netns}"


class Runner:
    """Runs commands in one network namespace (``netns``) or in the caller's (None)."""

    def __init__(self, netns: str | None = None, timeout: float = 30.0) -> None:
        self.netns = netns
        self.timeout = timeout

    def argv(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net={netns_path(self.netns)}", *argv] if self.netns else list(argv)

    async def run(self, argv: list[str], stdin: bytes | None = None, check: bool = True) -> Result:
        """Run ``argv`` (feeding ``stdin``); raise ``CommandError`` on failure when ``check``."""
        full = self.argv(argv)
        try:
            proc = await asyncio.create_subprocess_exec(
                *full, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except FileNotFoundError as e:
            if check:
                raise CommandError(full, 127, str(e)) from e
            return Result(127, "", str(e))
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CommandError(full, -1, f"timed out after {self.timeout}s") from None
        res = Result(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and res.rc != 0:
            raise CommandError(full, res.rc, res.stderr or res.stdout)
        return res

    async def sysctl(self, key: str, value: str) -> None:
        """Set a sysctl in this runner's namespace (``/proc/sys/net`` is per netns)."""
        await self.run(["sysctl", "-q", "-w", f"{key}={value}"])
