"""Dead-container GC while a pod lives: older attempts, their log files and links, and stale sandboxes go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kybernetes.kubelet import podstate, termination
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.podstate import ContainerInfo, PodRuntime, SandboxInfo


class FakeRuntime:
    def __init__(self) -> None:
        self.removed: list[str] = []
        self.removed_sandboxes: list[str] = []

    async def remove_container(self, cid: str) -> None:
        self.removed.append(cid)

    async def remove_pod_sandbox(self, sid: str) -> None:
        self.removed_sandboxes.append(sid)


class FakePleg:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def forget(self, ids: Any) -> None:
        self.forgotten.extend(ids)


class Kc:
    def __init__(self, cfg: KubeletConfig) -> None:
        self.cfg, self.runtime, self.pleg = cfg, FakeRuntime(), FakePleg()


async def test_gc_keeps_newest_attempts(tmp_path: Path) -> None:
    cfg = KubeletConfig.for_data_dir("n", "127.0.0.1", tmp_path, containers_log_dir=tmp_path / "links")
    cfg.containers_log_dir.mkdir()
    logs = []
    containers = []
    for attempt in range(4):
        log = tmp_path / f"{attempt}.log"
        log.write_text("x")
        logs.append(log)
        link = cfg.containers_log_dir / f"p_default_c-id{attempt}.log"
        link.symlink_to(log)
        state = podstate.RUNNING if attempt == 3 else podstate.EXITED
        containers.append(ContainerInfo(id=f"id{attempt}", name="c", attempt=attempt, state=state,
                                        sandbox_id="sb2" if attempt else "sb1", log_path=str(log)))
    rt = PodRuntime("u", "p", "default", (SandboxInfo("sb2", True), SandboxInfo("sb1", False), SandboxInfo("sb0", False)),
                    tuple(reversed(containers)))
    kc = Kc(cfg)
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u"}}
    await termination.gc_dead(kc, pod, rt, keep=2)  # type: ignore[arg-type]
    assert kc.runtime.removed == ["id1", "id0"] and kc.pleg.forgotten == ["id1", "id0"]
    assert [p.exists() for p in logs] == [False, False, True, True]
    assert sorted(p.name for p in cfg.containers_log_dir.iterdir()) == ["p_default_c-id2.log", "p_default_c-id3.log"]
    assert kc.runtime.removed_sandboxes == ["sb1", "sb0"]
