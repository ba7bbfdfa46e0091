"""Cgroup v1 readings and the Summary API the kubelet builds from them, on a fake cgroup tree."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kybernetes.kubelet import cgroupstats
from kybernetes.kubelet.cgroupstats import CgroupSample
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.stats import StatsProvider
from kybernetes.runtime.proto import cri_pb2 as api

UNLIMITED = 9223372036854771712
GiB = 1 << 30


def write_cgroup(base: Path, path: str, *, cpu: int, usage: int, inactive_file: int = 0, limit: int = UNLIMITED,
                 pids: int | None = None, rss: int = 0) -> None:
    rel = path.strip("/")
    (base / "cpuacct" / rel).mkdir(parents=True, exist_ok=True)
    (base / "cpuacct" / rel / "cpuacct.usage").write_text(f"{cpu}\n")
    mem = base / "memory" / rel
    mem.mkdir(parents=True, exist_ok=True)
    (mem / "memory.usage_in_bytes").write_text(f"{usage}\n")
    (mem / "memory.limit_in_bytes").write_text(f"{limit}\n")
    (mem / "memory.stat").write_text(f"cache 1\nrss 2\ninactive_file 7\ntotal_rss {rss}\n"
                                     f"total_inactive_file {inactive_file}\ntotal_pgfault 11\ntotal_pgmajfault 3\n")
    if pids is not None:
        (base / "pids" / rel).mkdir(parents=True, exist_ok=True)
        (base / "pids" / rel / "pids.current").write_text(f"{pids}\n")


def sample(t: float, cpu: int) -> CgroupSample:
    return CgroupSample(time=t, cpu_usage_ns=cpu, memory_usage=0, working_set=0)


def test_working_set_is_usage_minus_inactive_file():
    assert cgroupstats.working_set(1000, {"total_inactive_file": 300, "inactive_file": 5}) == 700
    assert cgroupstats.working_set(1000, {"inactive_file": 300}) == 700  # cgroup v2 spelling
    assert cgroupstats.working_set(100, {"total_inactive_file": 300}) == 0


def test_nano_cores_is_the_rate_between_two_samples():
    assert cgroupstats.nano_cores(sample(100.0, 5_000_000_000), sample(110.0, 7_500_000_000)) == 250_000_000
    assert cgroupstats.nano_cores(sample(100.0, 0), sample(100.0, 10)) is None
    assert cgroupstats.nano_cores(sample(100.0, 10), sample(110.0, 5)) is None  # counter reset: cgroup recreated


def test_read_sample(tmp_path: Path):
    write_cgroup(tmp_path, "/kp/burstable/podu1", cpu=123, usage=10_000, inactive_file=4_000, limit=64 << 20,
                 pids=3, rss=2_000)
    s = cgroupstats.read_sample("/kp/burstable/podu1", tmp_path, now=42.0)
    assert s == CgroupSample(time=42.0, cpu_usage_ns=123, memory_usage=10_000, working_set=6_000, rss=2_000,
                             page_faults=11, major_page_faults=3, memory_limit=64 << 20, pids=3)
    write_cgroup(tmp_path, "/", cpu=9, usage=50)
    root = cgroupstats.read_sample("/", tmp_path, now=1.0)
    assert root is not None and root.memory_limit is None and root.pids is None
    assert cgroupstats.read_sample("/kp/gone", tmp_path) is None


def test_pod_cgroup_finds_the_qos_directory(tmp_path: Path):
    write_cgroup(tmp_path, "/kp/besteffort/podb", cpu=1, usage=1)
    write_cgroup(tmp_path, "/kp/podg", cpu=1, usage=1)
    assert cgroupstats.pod_cgroup("/kp", "b", tmp_path) == "/kp/besteffort/podb"
    assert cgroupstats.pod_cgroup("/kp", "g", tmp_path) == "/kp/podg"
    assert cgroupstats.pod_cgroup("/kp", "x", tmp_path) is None


def test_proc_fallback_and_rlimit(tmp_path: Path):
    (tmp_path / "sys/kernel").mkdir(parents=True)
    (tmp_path / "stat").write_text("cpu  100 0 50 1000 20 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8\n")
    (tmp_path / "meminfo").write_text("MemTotal:  1000 kB\nMemFree:  100 kB\nMemAvailable:  400 kB\n")
    (tmp_path / "sys/kernel/pid_max").write_text("32768\n")
    (tmp_path / "sys/kernel/threads-max").write_text("20000\n")
    (tmp_path / "loadavg").write_text("0.10 0.20 0.30 2/97 1234\n")
    s = cgroupstats.proc_sample(tmp_path, now=5.0)
    assert s.cpu_usage_ns == 150 * 1_000_000_000 // os.sysconf("SC_CLK_TCK")  # user+system, not idle/iowait
    assert s.working_set == 600 * 1024
    assert cgroupstats.rlimit(tmp_path) == (20000, 97)


class FakeRuntime:
    """ListPodSandbox / ListContainers / ImageFsInfo of one ready pod with two running containers."""

    def __init__(self, image_mount: str) -> None:
        self.image_mount = image_mount

    async def list_pod_sandbox(self, **kw: Any) -> list[Any]:
        return [api.PodSandbox(id="sb1", metadata=api.PodSandboxMetadata(name="web", namespace="ns", uid="u1"),
                               created_at=1_700_000_000 * 10**9)]

    async def list_containers(self, **kw: Any) -> list[Any]:
        return [api.Container(id=cid, pod_sandbox_id="sb1", metadata=api.ContainerMetadata(name=name),
                              created_at=1_700_000_001 * 10**9)
                for cid, name in (("c-app", "app"), ("c-side", "sidecar"))]

    async def image_fs_info(self) -> Any:
        fs = api.FilesystemUsage(fs_id=api.FilesystemIdentifier(mountpoint=self.image_mount),
                                 used_bytes=api.UInt64Value(value=12345))
        return SimpleNamespace(image_filesystems=[fs])


@pytest.fixture
def provider(tmp_path: Path) -> tuple[StatsProvider, Path, list[float]]:
    base, proc = tmp_path / "cgroup", tmp_path / "proc"
    proc.mkdir()
    (proc / "uptime").write_text("100.0 50.0\n")
    (proc / "loadavg").write_text("0 0 0 1/50 9\n")
    cfg = KubeletConfig.for_data_dir("n1", "127.0.0.1", tmp_path / "data", cgroup_root="/kp")
    cfg.data_dir.mkdir(parents=True)
    now = [1000.0]
    p = StatsProvider(cfg, FakeRuntime(str(tmp_path)), base=base, proc=proc,  # type: ignore[arg-type]
                      clock=lambda: now[0])
    p.memory_capacity = 8 * GiB
    return p, base, now


def write_pass(base: Path, k: int) -> None:
    """The k-th reading: the app container burns half a core, the sidecar nothing."""
    write_cgroup(base, "/", cpu=k * 20_000_000_000, usage=3 * GiB, inactive_file=1 * GiB)
    write_cgroup(base, "/kp", cpu=k * 6_000_000_000, usage=300 << 20)
    write_cgroup(base, "/kp/besteffort/podu1", cpu=k * 5_000_000_000, usage=200 << 20, inactive_file=50 << 20,
                 pids=4)
    write_cgroup(base, "/kp/besteffort/podu1/c-app", cpu=k * 5_000_000_000, usage=150 << 20,
                 inactive_file=50 << 20, limit=512 << 20)
    write_cgroup(base, "/kp/besteffort/podu1/c-side", cpu=7, usage=10 << 20)


async def test_summary_after_one_pass_has_no_rates(provider):
    p, base, _ = provider
    write_pass(base, 1)
    await p.sample()
    s = p.summary()
    assert "usageNanoCores" not in s["node"]["cpu"]
    assert s["node"]["cpu"]["usageCoreNanoSeconds"] == 20_000_000_000
    assert s["node"]["memory"]["workingSetBytes"] == 2 * GiB
    assert s["node"]["memory"]["availableBytes"] == 6 * GiB  # node memory minus the working set
    app = s["pods"][0]["containers"][0]
    assert app["name"] == "app" and "usageNanoCores" not in app["cpu"]


async def test_summary_rates_between_passes(provider):
    p, base, now = provider
    write_pass(base, 1)
    await p.sample()
    now[0] += 10.0
    write_pass(base, 2)
    await p.sample()
    s = p.summary()
    node = s["node"]
    assert node["nodeName"] == "n1" and node["cpu"]["usageNanoCores"] == 2_000_000_000
    assert node["systemContainers"][0]["name"] == "pods"
    assert node["systemContainers"][0]["cpu"]["usageNanoCores"] == 600_000_000
    assert node["fs"]["capacityBytes"] > 0 and node["fs"]["inodes"] > 0
    assert node["runtime"]["imageFs"]["usedBytes"] == 12345
    assert node["rlimit"]["curproc"] == 50
    [pod] = s["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "ns", "uid": "u1"}
    assert pod["startTime"] == "2023-11-14T22:13:20Z"
    assert pod["cpu"]["usageNanoCores"] == 500_000_000
    assert pod["memory"]["workingSetBytes"] == 150 << 20
    assert pod["process_stats"] == {"process_count": 4}
    app, side = pod["containers"]
    assert (app["name"], side["name"]) == ("app", "sidecar")
    assert app["cpu"] == {"time": "1970-01-01T00:16:50Z", "usageCoreNanoSeconds": 10_000_000_000,
                          "usageNanoCores": 500_000_000}
    assert app["memory"]["workingSetBytes"] == 100 << 20
    assert app["memory"]["availableBytes"] == (512 - 100) << 20  # limited container
    assert "availableBytes" not in side["memory"]
    assert side["cpu"]["usageNanoCores"] == 0


async def test_a_recreated_cgroup_starts_its_rate_afresh(provider):
    p, base, now = provider
    write_pass(base, 5)
    await p.sample()
    now[0] += 10.0
    write_pass(base, 1)  # counters went back: the pod's cgroups were recreated
    await p.sample()
    pod = p.summary()["pods"][0]
    assert "usageNanoCores" not in pod["cpu"]
