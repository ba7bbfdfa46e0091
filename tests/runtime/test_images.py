"""Offline image recipes and name normalisation (no containerd needed)."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from kybernetes.runtime import errors, images, oci


@pytest.mark.parametrize(("ref", "full"), [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:latest", "docker.io/library/busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
    ("k8s.gcr.io/busybox", "k8s.gcr.io/busybox:latest"),
    ("nginx:1.7.9", "docker.io/library/nginx:1.7.9"),
    ("bitnami/nginx", "docker.io/bitnami/nginx:latest"),
    ("localhost/kybernetes/pause:3.10", "localhost/kybernetes/pause:3.10"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
    ("nginx@sha256:abc", "docker.io/library/nginx@sha256:abc"),
])
def test_normalize(ref: str, full: str) -> None:
    assert images.normalize(ref) == full


def test_seed_names_are_covered() -> None:
    names = set(images.BUSYBOX_NAMES) | set(images.NGINX_NAMES)
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox:latest", "k8s.gcr.io/busybox",
                "k8s.gcr.io/busybox:latest", "nginx", "nginx:latest", "docker.io/library/nginx:latest",
                "nginx:1.7.9", "nginx:1.25", "nginx:1.26", "nginx:1.27", "nginx:1.28"):
        assert images.normalize(ref) in names, ref


def test_static_elf_detection() -> None:
    assert not images._is_static_elf(Path(sys.executable).resolve())  # a dynamically linked interpreter
    if Path("/bin/busybox").exists():
        assert images._is_static_elf(Path("/bin/busybox")) in (True, False)


def _layer_files(archive: Path) -> tuple[dict[str, tarfile.TarInfo], dict[str, object], tarfile.TarFile]:
    with tarfile.open(archive) as tf:
        index = json.load(tf.extractfile("index.json"))  # type: ignore[arg-type]
        digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.load(tf.extractfile(f"blobs/sha256/{digest}"))  # type: ignore[arg-type]
        cfg = json.load(tf.extractfile("blobs/sha256/" + manifest["config"]["digest"].split(":")[1]))  # type: ignore[arg-type]
        blob = tf.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1])
        assert blob is not None
        layer = tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.read())))
    return {m.name: m for m in layer.getmembers()}, cfg, layer


def _need(path: str, package: str) -> None:
    if not Path(path).exists():
        pytest.skip(f"{path} missing: install {package} (scripts/install)")


async def test_busybox_image(tmp_path: Path) -> None:
    _need("/bin/busybox", "busybox-static")
    archive = await images.build_archive("busybox", tmp_path)
    assert archive.name == "busybox-r1.oci.tar"
    assert oci.read_archive_names(archive) == list(images.BUSYBOX_NAMES)
    files, cfg, layer = _layer_files(archive)
    assert files["bin/busybox"].isfile() and files["bin/busybox"].mode == 0o755
    for applet in ("bin/sh", "bin/ls", "bin/sleep", "usr/sbin/httpd"):
        assert files[applet].issym() and files[applet].linkname == "/bin/busybox", applet
    assert files["tmp"].mode == 0o1777
    passwd = layer.extractfile("etc/passwd").read().decode()  # type: ignore[union-attr]
    assert passwd.startswith("root:x:0:0:") and "nobody:x:65534:" in passwd
    assert "etc/hosts" in files and "etc/group" in files
    assert cfg["config"]["Cmd"] == ["sh"]  # type: ignore[index]
    mtime = archive.stat().st_mtime_ns
    assert await images.build_archive("busybox", tmp_path) == archive  # cached: not rebuilt
    assert archive.stat().st_mtime_ns == mtime


def _pause_tool_present() -> bool:
    return Path("/usr/bin/catatonit").exists() or shutil.which("gcc") is not None


async def test_pause_image(tmp_path: Path) -> None:
    if not _pause_tool_present():
        pytest.skip("neither catatonit nor gcc: install catatonit (scripts/install)")
    archive = await images.build_archive("pause", tmp_path)
    assert oci.read_archive_names(archive) == ["localhost/kybernetes/pause:3.10"]
    files, cfg, _ = _layer_files(archive)
    config = cfg["config"]
    assert config["User"] == "65535:65535"  # type: ignore[index]
    entry = config["Entrypoint"]  # type: ignore[index]
    assert entry in (["/pause", "-P"], ["/pause"])  # catatonit in pause mode, or our own program
    assert files["pause"].mode == 0o755
    assert images._is_static_elf(Path("/usr/bin/catatonit")) if entry[1:] == ["-P"] else True


async def test_nginx_image(tmp_path: Path) -> None:
    _need("/usr/sbin/nginx", "nginx-light")
    _need("/bin/busybox", "busybox-static")
    archive = await images.build_archive("nginx", tmp_path)
    assert oci.read_archive_names(archive) == list(images.NGINX_NAMES)
    files, cfg, layer = _layer_files(archive)
    config = cfg["config"]
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]  # type: ignore[index]
    assert config["StopSignal"] == "SIGQUIT" and config["ExposedPorts"] == {"80/tcp": {}}  # type: ignore[index]
    assert files["usr/sbin/nginx"].isfile()
    assert any(n.startswith(("lib64/ld-linux", "lib/ld-linux", "usr/lib64/ld-linux")) for n in files)
    assert any("libc.so" in n for n in files)
    index = layer.extractfile("usr/share/nginx/html/index.html").read()  # type: ignore[union-attr]
    assert b"Welcome to nginx!" in index
    conf = layer.extractfile("etc/nginx/conf.d/default.conf").read()  # type: ignore[union-attr]
    assert b"listen       80;" in conf
    assert files["var/log/nginx/access.log"].linkname == "/dev/stdout"
    passwd = layer.extractfile("etc/passwd").read()  # type: ignore[union-attr]
    assert b"\nnginx:x:101:101:" in passwd and b"\nwww-data:x:33:" in passwd
    assert files["bin/sh"].issym()  # busybox for `kubectl exec`


def test_unknown_image_key() -> None:
    with pytest.raises(KeyError):
        images.BUILTIN["nope"]


async def test_pause_falls_back_to_gcc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without catatonit the pause program is compiled statically; it sleeps until SIGTERM."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    monkeypatch.setattr(images, "CATATONIT", tmp_path / "no-catatonit")
    try:
        archive = await images.build_archive("pause", tmp_path)
    except errors.ImageBuildError as e:  # e.g. no static libc (libc6-dev) on this host
        pytest.skip(f"gcc -static unavailable: {e}")
    _files, cfg, layer = _layer_files(archive)
    assert cfg["config"]["Entrypoint"] == ["/pause"]  # type: ignore[index]
    binary = tmp_path / "pause"
    binary.write_bytes(layer.extractfile("pause").read())  # type: ignore[union-attr]
    binary.chmod(0o755)
    assert images._is_static_elf(binary)
    proc = await asyncio.create_subprocess_exec(str(binary))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), 0.2)  # still pausing
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 5) == 0
