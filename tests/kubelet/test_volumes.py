"""Volume layout under <pods-dir>/<uid>/volumes, the ..data atomic swap, and every source type — with a fake
API (no mounts: tmpfs is exercised by the integration tests)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kybernetes.kubelet import atomicwriter, volumes
from kybernetes.kubelet.atomicwriter import FileProjection


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


class FakeApi:
    def __init__(self) -> None:
        self.configmaps: dict[str, Any] = {"kube-root-ca.crt": {"data": {"ca.crt": "CA"}},
                                           "cfg": {"data": {"game.properties": "lives=3", "ui": "color=red"},
                                                   "binaryData": {"blob": b64("\x00\x01")}}}
        self.secrets: dict[str, Any] = {"user": {"data": {"username": b64("admin")}},
                                        "pass": {"data": {"password": b64("1f2d1e2e67df")}}}
        self.token_requests: list[dict[str, Any]] = []

    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.configmaps.get(name)

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get(name)

    async def token(self, namespace: str, service_account: str, *, audiences: list[str], expiration: int,
                    pod_name: str, pod_uid: str) -> tuple[str, float]:
        self.token_requests.append({"ns": namespace, "sa": service_account, "audiences": audiences,
                                    "expiration": expiration, "pod": pod_name, "uid": pod_uid})
        import time

        return f"token-{len(self.token_requests)}", time.time() + expiration


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[volumes.VolumeManager, FakeApi]:
    mounts: list[Path] = []

    async def no_tmpfs(self: volumes.VolumeManager, path: Path, size: Any) -> None:
        mounts.append(path)

    monkeypatch.setattr(volumes.VolumeManager, "_ensure_tmpfs", no_tmpfs)
    api = FakeApi()
    m = volumes.VolumeManager(tmp_path / "pods", api, api, host_ip="127.0.0.1",
                              allocatable={"cpu": "2", "memory": "1Gi"})
    m.mounts = mounts  # type: ignore[attr-defined]
    return m, api


def pod(*vols: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1", "labels": {"zone": "us", "rack": "a"}},
            "spec": {"serviceAccountName": "default", "volumes": list(vols),
                     "containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]}}


def read(path: Path) -> str:
    return path.read_text()


async def test_empty_dir_layout(manager: Any) -> None:
    m, _ = manager
    p = pod({"name": "cache", "emptyDir": {}}, {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
    await m.setup(p, [])
    d = m.pods_dir / "uid-1" / "volumes" / "kubernetes.io~empty-dir" / "cache"
    assert d.is_dir() and stat.S_IMODE(d.stat().st_mode) == 0o777
    assert m.host_path(p, "cache") == d
    assert m.mounts == [m.pods_dir / "uid-1" / "volumes" / "kubernetes.io~empty-dir" / "mem"]


async def test_config_map_items_modes_and_atomic_layout(manager: Any) -> None:
    m, api = manager
    p = pod({"name": "config", "configMap": {"name": "cfg", "defaultMode": 0o600,
                                              "items": [{"key": "game.properties", "path": "conf/game"},
                                                        {"key": "ui", "path": "ui.txt", "mode": 0o644}]}})
    await m.setup(p, [])
    d = m.pods_dir / "uid-1" / "volumes" / "kubernetes.io~configmap" / "config"
    assert os.readlink(d / "..data").startswith("..20")
    assert os.readlink(d / "conf") == "..data/conf" and os.readlink(d / "ui.txt") == "..data/ui.txt"
    assert read(d / "conf" / "game") == "lives=3" and read(d / "ui.txt") == "color=red"
    assert stat.S_IMODE((d / "conf" / "game").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "ui.txt").stat().st_mode) == 0o644
    first = os.readlink(d / "..data")
    api.configmaps["cfg"]["data"]["ui"] = "color=blue"
    await m.setup(p, [], force=True)
    assert read(d / "ui.txt") == "color=blue"
    second = os.readlink(d / "..data")
    assert second != first and not (d / first).exists()
    assert sorted(e.name for e in d.iterdir()) == sorted(["..data", second, "conf", "ui.txt"])


async def test_config_map_without_items_and_binary_data(manager: Any) -> None:
    m, _ = manager
    p = pod({"name": "v", "configMap": {"name": "cfg"}})
    await m.setup(p, [])
    d = m.host_path(p, "v")
    assert sorted(x.name for x in d.iterdir() if not x.name.startswith("..")) == ["blob", "game.properties", "ui"]
    assert (d / "blob").read_bytes() == b"\x00\x01"


async def test_missing_objects(manager: Any) -> None:
    m, _ = manager
    with pytest.raises(volumes.VolumeError) as e:
        await m.setup(pod({"name": "v", "configMap": {"name": "nope"}}), [])
    assert str(e.value) == 'MountVolume.SetUp failed for volume "v" : configmap "nope" not found'
    with pytest.raises(volumes.VolumeError) as e:
        await m.setup(pod({"name": "s", "secret": {"secretName": "nope"}}), [])
    assert str(e.value) == 'MountVolume.SetUp failed for volume "s" : secret "nope" not found'
    with pytest.raises(volumes.VolumeError) as e:
        await m.setup(pod({"name": "v", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "k"}]}}), [])
    assert "configmap references non-existent config key: k" in str(e.value)
    await m.setup(pod({"name": "o", "configMap": {"name": "nope", "optional": True}}), [])


async def test_secret_is_tmpfs_and_decoded(manager: Any) -> None:
    m, _ = manager
    p = pod({"name": "creds", "secret": {"secretName": "user"}})
    await m.setup(p, [])
    d = m.pods_dir / "uid-1" / "volumes" / "kubernetes.io~secret" / "creds"
    assert read(d / "username") == "admin"
    assert m.mounts == [d]


async def test_downward_api(manager: Any) -> None:
    m, _ = manager
    p = pod({"name": "podinfo", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}}]}})
    await m.setup(p, [])
    d = m.pods_dir / "uid-1" / "volumes" / "kubernetes.io~downward-api" / "podinfo"
    assert read(d / "labels") == 'rack="a"\nzone="us"'
    assert read(d / "name") == "p" and read(d / "mem") == "64"


async def test_projected_with_service_account_token(manager: Any) -> None:
    m, api = manager
    p = pod({"name": "kube-api-access-x", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        {"secret": {"name": "user"}}, {"secret": {"name": "pass", "items": [{"key": "password", "path": "pw"}]}}]}},
        {"name": "aud", "projected": {"sources": [
            {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "vault-token"}}]}})
    await m.setup(p, [])
    d = m.pods_dir / "uid-1" / "volumes" / "kubernetes.io~projected" / "kube-api-access-x"
    assert (read(d / "token"), read(d / "ca.crt"), read(d / "namespace")) == ("token-1", "CA", "default")
    assert (read(d / "username"), read(d / "pw")) == ("admin", "1f2d1e2e67df")
    assert api.token_requests[0] == {"ns": "default", "sa": "default", "audiences": [], "expiration": 3607,
                                     "pod": "p", "uid": "uid-1"}
    assert api.token_requests[1]["audiences"] == ["vault"]
    await m.setup(p, [], force=True)
    assert len(api.token_requests) == 2  # still fresh: not requested again
    for tok in m._tokens.values():  # 90 % of their lifetime has passed
        shift = 0.9 * (tok.expires - tok.issued)
        tok.issued -= shift
        tok.expires -= shift
    await m.setup(p, [])
    assert len(api.token_requests) == 4 and read(d / "token") == "token-3"


async def test_host_path_types(manager: Any, tmp_path: Path) -> None:
    m, _ = manager
    new_dir, new_file = tmp_path / "made" / "dir", tmp_path / "made" / "file"
    p = pod({"name": "a", "hostPath": {"path": str(new_dir), "type": "DirectoryOrCreate"}},
            {"name": "b", "hostPath": {"path": str(new_file), "type": "FileOrCreate"}})
    await m.setup(p, [])
    assert new_dir.is_dir() and new_file.is_file()
    assert m.host_path(p, "a") == new_dir
    with pytest.raises(volumes.VolumeError) as e:
        await m.setup(pod({"name": "c", "hostPath": {"path": str(new_file), "type": "Directory"}}), [])
    assert f"hostPath type check failed: {new_file} is not a directory" in str(e.value)
    with pytest.raises(volumes.VolumeError):
        await m.setup(pod({"name": "d", "hostPath": {"path": str(tmp_path / "nope"), "type": "File"}}), [])


async def test_teardown_removes_everything(manager: Any) -> None:
    m, _ = manager
    await m.setup(pod({"name": "cache", "emptyDir": {}}, {"name": "v", "configMap": {"name": "cfg"}}), [])
    await m.teardown("uid-1")
    assert not (m.pods_dir / "uid-1" / "volumes").exists()


def test_atomic_writer_rejects_escapes_and_is_idempotent(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        atomicwriter.write_payload(tmp_path / "v", {"../x": FileProjection(b"")})
    payload = {"a": FileProjection(b"1"), "d/b": FileProjection(b"2", 0o600)}
    assert atomicwriter.write_payload(tmp_path / "v", payload) is True
    assert atomicwriter.write_payload(tmp_path / "v", payload) is False
    assert atomicwriter.read_payload(tmp_path / "v") == payload
    assert atomicwriter.write_payload(tmp_path / "v", {"a": FileProjection(b"1")}) is True
    assert not (tmp_path / "v" / "d").exists()


class FakeClaims:
    def __init__(self, claims: dict[str, Any], volumes_: dict[str, Any]) -> None:
        self.claims, self.volumes = claims, volumes_

    async def pvc(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.claims.get(f"{namespace}/{name}")

    async def pv(self, name: str) -> dict[str, Any] | None:
        return self.volumes.get(name)


def _bound(volume: str, phase: str = "Bound") -> dict[str, Any]:
    return {"spec": {"volumeName": volume}, "status": {"phase": phase}}


async def test_persistent_volume_claims_resolve_to_hostpath_and_local_volumes(tmp_path: Path) -> None:
    host_dir, local_dir = tmp_path / "storage" / "pvc-1_default_data", tmp_path / "disk"
    local_dir.mkdir()
    claims = FakeClaims({"default/data": _bound("pvc-1"), "default/fast": _bound("local-1"),
                         "default/pending": {"spec": {}, "status": {"phase": "Pending"}},
                         "default/nfs": _bound("nfs-1")},
                        {"pvc-1": {"spec": {"hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"}}},
                         "local-1": {"spec": {"local": {"path": str(local_dir)}}},
                         "nfs-1": {"spec": {"nfs": {"server": "x", "path": "/"}, "capacity": {"storage": "1Gi"}}}})
    api = FakeApi()
    m = volumes.VolumeManager(tmp_path / "pods", api, api, claims=claims)

    def pod(claim: str, read_only: bool = False) -> dict[str, Any]:
        return {"metadata": {"name": "p", "namespace": "default", "uid": f"u-{claim}"},
                "spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim,
                                                                             "readOnly": read_only}}]}}

    await m.setup(pod("data"), [])
    assert host_dir.is_dir()  # DirectoryOrCreate, as the hostPath plugin does
    assert m.host_path(pod("data"), "v") == host_dir and not m.read_only(pod("data"), "v")
    await m.setup(pod("fast", read_only=True), [])
    assert m.host_path(pod("fast"), "v") == local_dir and m.read_only(pod("fast"), "v")
    failures = {}
    for claim in ("pending", "missing", "nfs"):
        with pytest.raises(volumes.VolumeError) as e:
            await m.setup(pod(claim), [])
        failures[claim] = str(e.value)
    assert failures == {
        "pending": 'MountVolume.SetUp failed for volume "v" : error processing PVC default/pending: PVC is not bound',
        "missing": 'MountVolume.SetUp failed for volume "v" : error processing PVC default/missing: failed to fetch '
                   'PVC from API server: persistentvolumeclaims "missing" not found',
        "nfs": 'MountVolume.SetUp failed for volume "v" : volume type nfs of PersistentVolume nfs-1 is not supported '
               "by this kubelet"}
    with pytest.raises(volumes.VolumeError):
        m.host_path(pod("pending"), "v")
    await m.teardown("u-data")
    assert host_dir.is_dir()  # the data outlives the pod
    with pytest.raises(volumes.VolumeError):
        m.host_path(pod("data"), "v")
