"""Integration (root only): the kubelet's stats, log rotation and container events on real containers.

A busy container shows CPU in the kubelet's Summary and, through the API server, in metrics.k8s.io;
a chatty container's log rotates by size (gzip, at most N files, nothing lost) while ``logs`` reads the
current file and ``previous`` the last attempt's; kubelet events name their container (fieldPath).
"""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path
from typing import Any

from kybernetes.api.quantity import parse_quantity
from kybernetes.client.errors import ApiError
from kybernetes.client.rest import EVENTS
from kybernetes.kubelet import cgroupstats
from tests.kubelet.conftest import KubeletNode, eventually, status_of
from tests.kubelet.test_integration import fetch_logs, phase_is

BUSYBOX = "busybox"


def _container(summary: dict[str, Any], pod: str, name: str) -> dict[str, Any] | None:
    for p in summary.get("pods") or []:
        if p["podRef"]["name"] == pod:
            return next((c for c in p.get("containers") or [] if c["name"] == name), None)
    return None


async def test_busy_container_shows_cpu_in_summary_and_metrics_api(kubelet_node: KubeletNode) -> None:
    kn = kubelet_node
    kn.cfg = replace(kn.cfg, stats_period=1.0)
    await kn.restart_agent()
    await kn.create_pod("busy", {"containers": [
        {"name": "spin", "image": BUSYBOX, "command": ["sh", "-c", "while :; do :; done"]},
        {"name": "idle", "image": BUSYBOX, "command": ["sleep", "3600"]}]})
    pod = await kn.wait_pod("busy", phase_is("Running"), 60, "running")

    async def spinning() -> dict[str, Any] | None:
        c = _container(kn.agent.stats.summary(), "busy", "spin")
        return c if c is not None and c["cpu"].get("usageNanoCores", 0) > 200_000_000 else None

    spin = await eventually(spinning, within=30, what="the spinning container to use CPU in the summary")
    assert spin["memory"]["workingSetBytes"] > 0
    summary = kn.agent.stats.summary()
    busy = next(p for p in summary["pods"] if p["podRef"]["name"] == "busy")
    assert busy["podRef"]["uid"] == pod["metadata"]["uid"]
    assert busy["cpu"]["usageNanoCores"] >= spin["cpu"]["usageNanoCores"] * 0.8
    cgroup = cgroupstats.pod_cgroup(kn.cfg.cgroup_root, pod["metadata"]["uid"])
    assert cgroup is not None and cgroup.startswith(f"{kn.cfg.cgroup_root}/besteffort/pod")
    assert summary["node"]["cpu"]["usageNanoCores"] > 0 and summary["node"]["memory"]["availableBytes"] > 0
    assert summary["node"]["fs"]["capacityBytes"] > 0 and summary["node"]["rlimit"]["curproc"] > 0

    async def metrics() -> dict[str, Any] | None:
        try:
            got = await kn.client.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy")
        except ApiError:
            return None  # the apiserver caches summaries for a few seconds
        return got if got.get("containers") else None

    got = await eventually(metrics, within=30, what="PodMetrics of the busy pod")
    usage = {c["name"]: c["usage"] for c in got["containers"]}
    assert set(usage) == {"spin", "idle"} and usage["spin"]["cpu"] != "0"
    node = await kn.client.request("GET", f"/apis/metrics.k8s.io/v1beta1/nodes/{kn.name}")
    assert parse_quantity(node["usage"]["cpu"]).milli_value() > 0
    assert parse_quantity(node["usage"]["memory"]).int_value() > 0

    # container events name the container they are about
    await kn.agent.recorder.flush()
    events = (await kn.client.list(EVENTS, "default")).get("items") or []
    paths = {(e["reason"], e["involvedObject"].get("fieldPath")) for e in events
             if e["involvedObject"].get("name") == "busy"}
    for reason in ("Pulled", "Created", "Started"):
        assert (reason, "spec.containers{spin}") in paths and (reason, "spec.containers{idle}") in paths
    assert ("Scheduled", None) not in paths  # (the scheduler is not involved: nodeName is set)


def _records(data: bytes) -> list[int]:
    """Line numbers of ``line N`` records in CRI log content."""
    return [int(r.split(b" ", 3)[3].split()[1]) for r in data.splitlines() if r]


async def test_chatty_container_log_rotates_and_logs_still_read(kubelet_node: KubeletNode) -> None:
    kn = kubelet_node
    kn.cfg = replace(kn.cfg, container_log_max_size=8 * 1024, container_log_max_files=3,
                     container_log_monitor_period=1.0)
    await kn.restart_agent()
    # the first attempt talks (about 75 KB) and fails; later attempts only sleep
    script = ("[ -f /data/done ] && exec sleep 3600; i=0; while [ $i -lt 1500 ]; do echo line $i; i=$((i+1)); "
              "sleep 0.005; done; touch /data/done; exit 1")
    pod = await kn.create_pod("chatty", {"restartPolicy": "Always", "volumes": [{"name": "data", "emptyDir": {}}],
                                         "containers": [{"name": "talk", "image": BUSYBOX, "command": ["sh", "-c", script],
                                                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]})
    log_dir = kn.cfg.pod_logs_root / f"default_chatty_{pod['metadata']['uid']}" / "talk"

    def first_attempt_files() -> list[Path]:
        return sorted(p for p in log_dir.glob("0.log*") if not p.name.endswith(".tmp"))

    async def rotated_twice() -> list[Path] | None:
        files = first_attempt_files()
        assert len(files) <= 3, files  # never more than containerLogMaxFiles
        return files if len(files) == 3 and any(p.name.endswith(".gz") for p in files) else None

    files = await eventually(rotated_twice, within=60, what="two rotations of the first attempt's log")
    names = [p.name for p in files]
    # the current file, an older rotation gzipped, the newest rotation plain
    assert names[0] == "0.log" and names[1].endswith(".gz") and not names[2].endswith(".gz")
    assert names[1].removesuffix(".gz") < names[2]
    status, text = await fetch_logs(kn, "chatty", "talk")
    assert status == 200
    shown = [int(line.split()[1]) for line in text.splitlines()]
    # the current file only: it starts after what was rotated away, and runs on without a gap
    assert shown and shown[0] > 0 and shown == list(range(shown[0], shown[0] + len(shown)))

    await kn.wait_pod("chatty", lambda p: status_of(p, "talk").get("restartCount", 0) >= 1, 90, "restarted")
    # what the first attempt's kept files hold is one run of lines up to its last one
    rotated = sorted((p for p in first_attempt_files() if p.name != "0.log"), key=lambda p: p.name.split(".")[2])
    data = b"".join(gzip.open(p).read() if p.name.endswith(".gz") else p.read_bytes() for p in rotated)
    numbers = _records(data + (log_dir / "0.log").read_bytes())
    assert numbers[-1] == 1499 and numbers == list(range(numbers[0], 1500)) and numbers[0] > 0
    status, previous = await fetch_logs(kn, "chatty", "talk", "?previous=true")
    current = (log_dir / "0.log").read_bytes()
    # --previous shows the ended attempt's current file, as upstream's kubelet does ...
    assert status == 200 and previous == "".join(f"line {n}\n" for n in _records(current))
    # ... which ends with its last line, unless a rotation came just as the attempt ended (then empty)
    assert previous.endswith("line 1499\n") or not current
