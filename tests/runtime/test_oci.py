"""The OCI archive writer: deterministic bytes, a valid image layout, correct digests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from kybernetes.runtime import oci


def _layer(tmp_path: Path) -> oci.Layer:
    host = tmp_path / "hostfile"
    host.write_bytes(b"#!/bin/sh\necho hi\n")
    host.chmod(0o755)
    layer = oci.Layer()
    layer.add_file("/etc/motd", b"hello\n")
    layer.add_host_file("/usr/local/bin/hi", host)
    layer.add_symlink("/bin/sh", "/bin/busybox")
    layer.add_dir("/tmp", 0o1777)
    return layer


def _members(path: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            f = tf.extractfile(m) if m.isfile() else None
            out[m.name] = f.read() if f else None
    return out


def test_same_input_same_bytes(tmp_path: Path) -> None:
    cfg = oci.ImageConfig(cmd=("sh",))
    a = oci.write_archive(tmp_path / "a.tar", [_layer(tmp_path)], cfg, ["docker.io/library/x:1"])
    b = oci.write_archive(tmp_path / "b.tar", [_layer(tmp_path)], cfg, ["docker.io/library/x:1"])
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert a.manifest_digest == b.manifest_digest and a.config_digest == b.config_digest
    c = oci.write_archive(tmp_path / "c.tar", [_layer(tmp_path)], oci.ImageConfig(cmd=("true",)),
                          ["docker.io/library/x:1"])
    assert c.config_digest != a.config_digest and c.layer_digests == a.layer_digests


def test_layout_and_digests(tmp_path: Path) -> None:
    names = ["docker.io/library/busybox:latest", "k8s.gcr.io/busybox:latest", "localhost/a/b"]
    info = oci.write_archive(tmp_path / "img.tar", [_layer(tmp_path)],
                             oci.ImageConfig(entrypoint=("/bin/sh",), user="65535:65535", stop_signal="SIGQUIT",
                                             exposed_ports=("80/tcp",)), names, architecture="amd64")
    files = _members(tmp_path / "img.tar")
    assert json.loads(files["oci-layout"] or b"") == {"imageLayoutVersion": "1.0.0"}
    assert files["blobs"] is None and files["blobs/sha256"] is None
    for name, data in files.items():  # every blob is named by its content's digest
        if name.startswith("blobs/sha256/"):
            assert data is not None and hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    index = json.loads(files["index.json"] or b"")
    assert index["schemaVersion"] == 2 and index["mediaType"] == oci.MEDIA_INDEX
    assert [d["annotations"][oci.ANNOTATION_IMAGE_NAME] for d in index["manifests"]] == names
    assert [d["annotations"][oci.ANNOTATION_REF_NAME] for d in index["manifests"]] == ["latest", "latest", "latest"]
    assert {d["digest"] for d in index["manifests"]} == {info.manifest_digest}
    assert index["manifests"][0]["platform"] == {"architecture": "amd64", "os": "linux"}

    manifest = json.loads(files["blobs/sha256/" + info.manifest_digest.split(":")[1]] or b"")
    assert manifest["mediaType"] == oci.MEDIA_MANIFEST and manifest["config"]["digest"] == info.config_digest
    layer_desc = manifest["layers"][0]
    assert layer_desc["mediaType"] == oci.MEDIA_LAYER_GZIP
    gz = files["blobs/sha256/" + layer_desc["digest"].split(":")[1]] or b""
    assert layer_desc["size"] == len(gz)
    raw = gzip.decompress(gz)
    config = json.loads(files["blobs/sha256/" + info.config_digest.split(":")[1]] or b"")
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}
    assert config["config"] == {"Entrypoint": ["/bin/sh"], "User": "65535:65535", "StopSignal": "SIGQUIT",
                                "ExposedPorts": {"80/tcp": {}},
                                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    assert config["os"] == "linux" and config["created"] == "1970-01-01T00:00:00Z"
    assert oci.read_archive_names(tmp_path / "img.tar") == names


def test_layer_tar_entries(tmp_path: Path) -> None:
    raw = _layer(tmp_path).tar()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        members = tf.getmembers()
        by_name = {m.name: m for m in members}
        assert [m.name for m in members] == sorted(by_name)  # sorted, parents first
        assert {"bin", "etc", "usr", "usr/local", "usr/local/bin"} <= set(by_name)  # implicit parents
        assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 and m.uname == "" for m in members)
        assert by_name["tmp"].isdir() and by_name["tmp"].mode == 0o1777
        assert by_name["bin/sh"].issym() and by_name["bin/sh"].linkname == "/bin/busybox"
        assert by_name["usr/local/bin/hi"].mode == 0o755
        f = tf.extractfile("etc/motd")
        assert f is not None and f.read() == b"hello\n"


def test_paths_are_checked() -> None:
    layer = oci.Layer()
    with pytest.raises(ValueError):
        layer.add_file("/../etc/passwd", b"")
    layer.add_file("/bin", b"not a dir")
    layer.add_file("/bin/sh", b"")
    with pytest.raises(ValueError, match="used as a directory"):
        layer.tar()


def test_architecture_names() -> None:
    assert oci.oci_architecture("x86_64") == "amd64"
    assert oci.oci_architecture("aarch64") == "arm64"
