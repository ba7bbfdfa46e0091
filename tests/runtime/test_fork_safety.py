"""Spawning subprocesses next to live gRPC channels must not run gRPC's fork handlers.

uvloop forks for every subprocess; gRPC's handlers around that fork can deadlock (the child never execs and
libuv blocks the whole event loop waiting for it). With a gRPC server and channel busy in the process, gRPC
reports each fork it sees ("skipping fork() handlers" or its handler work), so its silence proves the
handlers are off.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import asyncio, os, sys
    import kybernetes  # first, as in every kybernetes process
    import grpc, uvloop

    async def main():
        server = grpc.aio.server()
        echo = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Echo", {"Echo": echo}),))
        server.add_insecure_port("unix://" + sys.argv[1])
        await server.start()
        async with grpc.aio.insecure_channel("unix://" + sys.argv[1]) as channel:
            assert await channel.unary_unary("/t.Echo/Echo")(b"x") == b"x"
            for _ in range(3):
                proc = await asyncio.create_subprocess_exec("true")
                assert await proc.wait() == 0
        await server.stop(None)
        print("spawned", os.environ["GRPC_ENABLE_FORK_SUPPORT"])

    uvloop.run(main())
""")


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    full_env.update(GRPC_VERBOSITY="INFO", GRPC_TRACE="fork", **env)
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "echo.sock")], capture_output=True,
                          text=True, env=full_env, timeout=60, check=True)


def test_grpc_fork_handlers_are_off_in_kybernetes_processes(tmp_path: Path) -> None:
    p = run(tmp_path)
    assert p.stdout.strip() == "spawned false"
    assert "fork_posix" not in p.stderr, p.stderr


def test_the_setting_is_only_a_default(tmp_path: Path) -> None:
    """A user who wants gRPC's fork support keeps it — and then gRPC does see the forks (which also shows
    the first test would notice the handlers)."""
    p = run(tmp_path, GRPC_ENABLE_FORK_SUPPORT="true")
    assert p.stdout.strip() == "spawned true"
    assert "fork_posix" in p.stderr, p.stderr
