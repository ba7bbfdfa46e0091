"""Fixtures for the kubelet integration tests (root only): a real ``kyb server`` (no embedded agent) per
module, and per test our own containerd in a temp dir (R's runtime layer, with its host-cleanup helpers)
plus a running node agent whose roots (pod logs, /var/log/containers links, cgroups, CNI bridge and pod
subnet) are unique to the test."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import random
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kybernetes.client.errors import NotFoundError
from kybernetes.client.rest import EVENTS, PODS, Client, load_kubeconfig
from kybernetes.kubelet import agent as agent_mod
from kybernetes.kubelet import cni
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.runtime import bootstrap, containerd, images
from tests.e2e.conftest import Cluster, free_port, start_server, stop_process, wait_ready
from tests.runtime import node as nodes

T = TypeVar("T")
TEST_RANGE = ipaddress.IPv4Network("10.42.251.0/24")


@pytest.fixture(scope="session")
def kubelet_image_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubelet-images")


@pytest.fixture(scope="module")
def kyb_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    nodes.require_root()
    base = tmp_path_factory.mktemp("kyb-kubelet")
    port = free_port()
    c = Cluster(base / "data", port, start_server(base / "data", port), base / "home")
    try:
        wait_ready(c)
        yield c
    finally:
        stop_process(c.proc)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float, what: str,
                     interval: float = 0.1) -> T:
    return await nodes.eventually(probe, within=within, what=what, interval=interval)


@dataclass
class KubeletNode:
    """A running agent on our own containerd, with helpers for the tests."""

    cluster: Cluster
    client: Client
    rt_node: nodes.Node
    cfg: KubeletConfig
    agent: agent_mod.Agent
    stop: asyncio.Event
    task: asyncio.Task[None]
    tmp: Path
    subnet: ipaddress.IPv4Network
    created: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.cfg.node_name

    async def create_pod(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"nodeName": self.name, "terminationGracePeriodSeconds": 2, **spec}}
        pod = await self.client.create(PODS, body, "default")
        self.created.append(pod)
        return pod

    async def pod(self, name: str) -> dict[str, Any]:
        return await self.client.get(PODS, name, "default")

    async def wait_pod(self, name: str, check: Callable[[dict[str, Any]], bool], within: float, what: str,
                       ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            p = await self.pod(name)
            return p if check(p) else None

        return await eventually(probe, within=within, what=f"pod {name}: {what}")

    async def events(self, name: str) -> list[tuple[str, str]]:
        await self.agent.recorder.flush()
        items = (await self.client.list(EVENTS, "default")).get("items") or []
        return [(e["reason"], e["message"]) for e in items if e["involvedObject"].get("name") == name]

    async def restart_agent(self) -> None:
        """Stop the agent (pods keep running) and start a fresh one on the same runtime."""
        await stop_agent(self.stop, self.task)
        runtime = bootstrap.NodeRuntime(self.rt_node.proc, self.rt_node.client)
        self.agent, self.stop, self.task = await start_agent(self.client, self.cfg, runtime)


def status_of(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        if s["name"] == container:
            return dict(s)
    return {}


async def start_agent(client: Client, cfg: KubeletConfig, runtime: bootstrap.NodeRuntime,
                      ) -> tuple[agent_mod.Agent, asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    a = agent_mod.Agent(client, cfg, runtime, owns_runtime=False)
    task = asyncio.create_task(a.run(stop), name=f"test-agent-{cfg.node_name}")
    ready = asyncio.create_task(a.ready.wait())
    done, _ = await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert ready in done, "agent did not become ready in 60s"
    return a, stop, task


async def stop_agent(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 30)


def free_subnet() -> ipaddress.IPv4Network:
    """A /28 of :data:`TEST_RANGE` that no host route overlaps (tests may run beside others)."""
    used = []
    for line in subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True,
                               check=False).stdout.splitlines():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.IPv4Network(line.split()[0], strict=False))
    candidates = list(TEST_RANGE.subnets(new_prefix=28))
    random.shuffle(candidates)
    return next(n for n in candidates if not any(n.overlaps(u) for u in used))


@pytest.fixture
async def kubelet_node(kyb_cluster: Cluster, tmp_path: Path, kubelet_image_cache: Path) -> AsyncIterator[KubeletNode]:
    test_id = secrets.token_hex(2)
    bridge, cgroup_name = f"kybk{test_id}", f"kybk-{test_id}"
    before = await asyncio.to_thread(nodes.HostSnapshot.take)
    subnet = await asyncio.to_thread(free_subnet)
    data = tmp_path / "data"
    conf_dir = data / "agent" / "etc" / "cni" / "net.d"
    conf_dir.mkdir(parents=True)
    (conf_dir / "10-kybk.conflist").write_text(json.dumps(cni.conflist(bridge, str(subnet), tmp_path / "cni-ipam")))
    proc = containerd.Containerd(containerd.ContainerdConfig.for_data_dir(data, cni_conf_dir=conf_dir,
                                                                          stream_port=containerd.free_port()))
    try:
        rt_client = await proc.start()
    except BaseException:
        await proc.stop()
        raise
    rt_node = nodes.Node(data_dir=data, test_id=test_id, proc=proc, client=rt_client, host_before=before,
                         bridge=bridge, cgroup_name=cgroup_name, subnet=subnet)
    client = Client(load_kubeconfig(kyb_cluster.kubeconfig, user_agent="kubelet-test"))
    kn: KubeletNode | None = None
    try:
        await images.ensure_builtin_images(rt_client, proc.socket, kubelet_image_cache, ("pause", "busybox"))
        cfg = KubeletConfig.for_data_dir(
            f"kt-{test_id}", "127.0.0.1", data, pod_logs_root=tmp_path / "pod-logs",
            containers_log_dir=tmp_path / "containers", cgroup_root=f"/{cgroup_name}", backoff_base=1.0,
            backoff_max=8.0, pleg_period=0.2, container_attempts_kept=10, resync_period=5.0, server_port=0,
            lease_interval=2.0,
            min_oom_score_adj=0 if proc.host_fixes.restrict_oom_score_adj else -1000,
            client_ca_file=kyb_cluster.data_dir / "server" / "tls" / "server-ca.crt",
            offline_images=agent_mod.offline_images(), cni_bridge=bridge, pod_cidr=str(subnet))
        runtime = bootstrap.NodeRuntime(proc, rt_client)
        a, stop, task = await start_agent(client, cfg, runtime)
        kn = KubeletNode(kyb_cluster, client, rt_node, cfg, a, stop, task, tmp_path, subnet)
        yield kn
    finally:
        if kn is not None:
            await _delete_pods(kn)
            await stop_agent(kn.stop, kn.task)
        await client.close()
        await nodes.stop_node(rt_node)
        assert nodes.leftovers(rt_node) == []


async def _delete_pods(kn: KubeletNode) -> None:
    """Delete the test's pods through the API and let the agent terminate them (bounded wait)."""
    for pod in kn.created:
        with contextlib.suppress(NotFoundError):
            await kn.client.delete(PODS, pod["metadata"]["name"], "default", gracePeriodSeconds=1)
    deadline = time.monotonic() + 30
    for pod in kn.created:
        while time.monotonic() < deadline:
            try:
                await kn.pod(pod["metadata"]["name"])
            except NotFoundError:
                break
            await asyncio.sleep(0.1)
