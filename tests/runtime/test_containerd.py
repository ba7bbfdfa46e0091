"""containerd config rendering, socket paths and the host checks (no daemon started here)."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest

from kybernetes.runtime import containerd, errors, hostfix

CRI = "io.containerd.grpc.v1.cri"


def test_config_for_data_dir(tmp_path: Path) -> None:
    cfg = containerd.ContainerdConfig.for_data_dir(tmp_path, stream_port=41234, restrict_oom_score_adj=True)
    doc = tomllib.loads(containerd.render_config(cfg))
    sd = tmp_path / "agent" / "containerd"
    assert doc["version"] == 2
    assert doc["root"] == str(sd / "root") and doc["state"] == str(sd / "state")
    assert doc["grpc"]["address"] == str(sd / "containerd.sock") == str(cfg.socket)
    assert cfg.config_path == sd / "config.toml"
    cri = doc["plugins"][CRI]
    assert cri["sandbox_image"] == "localhost/kybernetes/pause:3.10"
    assert cri["stream_server_address"] == "127.0.0.1" and cri["stream_server_port"] == "41234"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["netns_mounts_under_state_dir"] is True and cri["enable_tls_streaming"] is False
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": str(tmp_path / "agent/etc/cni/net.d"),
                          "max_conf_num": 1}
    assert cri["registry"]["config_path"] == str(sd / "certs.d")
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"] == {"SystemdCgroup": False, "Root": str(sd / "state" / "runc")}
    assert doc["plugins"]["io.containerd.internal.v1.opt"]["path"] == str(sd / "opt")


def test_config_flags_and_quoting(tmp_path: Path) -> None:
    odd = tmp_path / 'we"ird dir'
    cfg = containerd.ContainerdConfig.for_data_dir(odd, restrict_oom_score_adj=False)
    doc = tomllib.loads(containerd.render_config(cfg))
    assert doc["plugins"][CRI]["restrict_oom_score_adj"] is False
    assert doc["root"] == str(odd / "agent" / "containerd" / "root")


def test_long_data_dir_gets_a_short_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 80)
    sock = containerd.socket_path(deep)
    assert str(sock).startswith("/run/kybernetes/containerd-") and len(str(sock) + ".ttrpc") <= 104
    assert containerd.socket_path(deep) == sock  # stable
    assert containerd.socket_path(Path("/var/lib/kybernetes")) == \
        Path("/var/lib/kybernetes/agent/containerd/containerd.sock")


def test_free_port() -> None:
    assert 1024 < containerd.free_port() < 65536


STATUS_NO_SYS_RESOURCE = "Name:\tpython3\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n"
STATUS_FULL = "CapEff:\t000001ffffffffff\n"


def test_capability_check() -> None:
    assert hostfix.capability_missing(hostfix.CAP_SYS_RESOURCE, STATUS_NO_SYS_RESOURCE)
    assert not hostfix.capability_missing(hostfix.CAP_SYS_RESOURCE, STATUS_FULL)
    assert not hostfix.capability_missing(0, STATUS_NO_SYS_RESOURCE)


CGROUP_WITH_HUGETLB = "12:hugetlb:/\n11:memory:/x\n10:cpu,cpuacct:/\n0::/\n"
CGROUP_WITHOUT = "4:memory:/process_api/abc\n1:cpu:/\n0::/\n"
MOUNTINFO_BASE = (
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)
MOUNTINFO_HUGETLB = MOUNTINFO_BASE + "50 31 0:40 / /srv/cg\\040h rw,relatime shared:9 - cgroup cgroup rw,hugetlb\n"


def test_hugetlb_detection() -> None:
    assert hostfix.hugetlb_attached(CGROUP_WITH_HUGETLB)
    assert not hostfix.hugetlb_attached(CGROUP_WITHOUT)
    assert hostfix.hugetlb_mountpoints(MOUNTINFO_BASE) == []
    assert hostfix.hugetlb_mountpoints(MOUNTINFO_HUGETLB) == ["/srv/cg h"]
    assert hostfix.hugetlb_needs_mount(CGROUP_WITH_HUGETLB, MOUNTINFO_BASE)
    assert not hostfix.hugetlb_needs_mount(CGROUP_WITH_HUGETLB, MOUNTINFO_HUGETLB)
    assert not hostfix.hugetlb_needs_mount(CGROUP_WITHOUT, MOUNTINFO_BASE)


async def test_undo_hugetlb_only_if_we_mounted(tmp_path: Path) -> None:
    assert await hostfix.undo_hugetlb(tmp_path) is False  # no record: never touches the host


async def test_external_runtime_never_stops_anything() -> None:
    ext = containerd.ExternalRuntime("unix:///run/other/containerd.sock")
    assert ext.socket == Path("/run/other/containerd.sock")
    await ext.stop()


async def test_hugetlb_fix_is_idempotent_and_undone_only_by_us(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The mount/umount commands are recorded, not run: this host's cgroup layout is left alone."""
    mountpoint = tmp_path / "hugetlb"
    state = tmp_path / "state"
    host = {"/proc/self/cgroup": CGROUP_WITH_HUGETLB, "/proc/self/mountinfo": MOUNTINFO_BASE}
    calls: list[tuple[str, ...]] = []

    async def fake_run(*argv: str) -> None:
        calls.append(argv)

    monkeypatch.setattr(hostfix, "_read", lambda path: host[path])
    monkeypatch.setattr(hostfix, "_run", fake_run)
    mounted = MOUNTINFO_BASE + f"60 31 0:41 / {mountpoint} rw - cgroup cgroup rw,hugetlb\n"

    assert await hostfix.ensure_hugetlb(state, mountpoint) is True
    assert calls == [("mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", str(mountpoint))]
    assert mountpoint.is_dir()
    host["/proc/self/mountinfo"] = mounted
    assert await hostfix.ensure_hugetlb(state, mountpoint) is True  # already ours: nothing to do
    assert len(calls) == 1

    assert await hostfix.undo_hugetlb(state) is True
    assert calls[-1] == ("umount", str(mountpoint)) and not mountpoint.exists()
    assert await hostfix.undo_hugetlb(state) is False

    # mounted by someone else: neither claimed nor undone
    calls.clear()
    assert await hostfix.ensure_hugetlb(tmp_path / "other", mountpoint) is False
    assert await hostfix.undo_hugetlb(tmp_path / "other") is False
    assert calls == []


async def test_refuses_a_socket_someone_else_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_fix(state_dir: Path, mountpoint: Path = hostfix.HUGETLB_MOUNTPOINT) -> bool:
        return False

    monkeypatch.setattr(hostfix, "ensure_hugetlb", no_fix)
    cfg = containerd.ContainerdConfig.for_data_dir(tmp_path, stream_port=1)
    cfg.socket.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(cfg.socket))
        listener.listen(1)
        proc = containerd.Containerd(cfg, binary="/nonexistent/containerd")
        try:
            with pytest.raises(errors.ContainerdError, match="another containerd already serves"):
                await proc.start()
        finally:
            cfg.socket.unlink()
    assert proc.pid is None


async def test_missing_binary_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_fix(state_dir: Path, mountpoint: Path = hostfix.HUGETLB_MOUNTPOINT) -> bool:
        return False

    monkeypatch.setattr(hostfix, "ensure_hugetlb", no_fix)
    proc = containerd.Containerd(containerd.ContainerdConfig.for_data_dir(tmp_path, stream_port=1),
                                 binary="/nonexistent/containerd")
    with pytest.raises(errors.ContainerdError, match="install the containerd package"):
        await proc.start()
